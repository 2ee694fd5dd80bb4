"""A local HTTP server that serves feed documents, for tests and the feed benchmark.

Each path is configured with a :class:`Route`: body, status, headers, a delay before the
answer, gzip/deflate, a redirect, an endless or trickling body, an ETag / Last-Modified that
turns a matching conditional request into 304, a Retry-After. Every request is recorded
with its headers, so tests can assert what the client sent.

The server listens only on loopback. ``hosts=N`` starts one listener on each of
127.0.0.1 ... 127.0.0.N (all loopback on Linux), so clients see N distinct hosts::

    with FeedServer() as server:
        url = server.route("/feed.xml", rss_bytes, etag='"v1"')
        ...
        assert server.requests("/feed.xml")[0].headers["if-none-match"] == '"v1"'
"""

from __future__ import annotations

import gzip
import socketserver
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "data" / "feeds"

#: An endless body stops after this much even if the client keeps reading.
_ENDLESS_LIMIT = 1024 * 1024 * 1024
_CHUNK = 64 * 1024


def fixture(name: str) -> bytes:
    """The bytes of ``tests/data/feeds/<name>``."""
    return (FIXTURES / name).read_bytes()


@dataclass(frozen=True)
class Route:
    """How the server answers one path. ``delay=None`` uses the server's default delay."""

    body: bytes = b""
    status: int = 200
    content_type: str | None = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float | None = None
    gzip: bool = False
    deflate: bool = False
    redirect_to: str | None = None
    endless: bool = False
    trickle: float = 0.0
    etag: str | None = None
    last_modified: str | None = None
    retry_after: str | None = None
    encoded: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    host: str
    headers: dict[str, str]
    at: float


class FeedServer:
    """Threaded HTTP/1.1 server(s) on loopback; use as a context manager or start()/stop()."""

    def __init__(self, hosts: int = 1, *, delay: float = 0.0) -> None:
        if not 1 <= hosts <= 254:
            raise ValueError("hosts must be between 1 and 254")
        self.default_delay = delay
        self._routes: dict[str, Route] = {}
        self._recorded: list[RecordedRequest] = []
        self._in_flight: dict[str, int] = {}
        self._peak_in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self._servers = [_Server((f"127.0.0.{i}", 0), self) for i in range(1, hosts + 1)]
        self._threads: list[threading.Thread] = []

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> FeedServer:
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- configuration ----------------------------------------------------------------
    @property
    def host_count(self) -> int:
        return len(self._servers)

    def url(self, path: str, host: int = 0) -> str:
        """The absolute URL of ``path`` on listener number ``host`` (0-based)."""
        address, port = self._servers[host].server_address[:2]
        return f"http://{address!s}:{port}{path}"

    def route(self, path: str, body: bytes | str = b"", host: int = 0, **options: Any) -> str:
        """Serve ``body`` at ``path`` (on every listener) as ``Route(**options)``; return its URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        route = Route(body=data, **options)
        if route.gzip:
            route.encoded["gzip"] = gzip.compress(data, compresslevel=6, mtime=0)
        if route.deflate:
            route.encoded["deflate"] = zlib.compress(data)
        with self._lock:
            self._routes[path] = route
        return self.url(path, host)

    def serve_fixture(self, path: str, name: str, host: int = 0, **options: Any) -> str:
        """Serve ``tests/data/feeds/<name>`` at ``path``; return its URL."""
        return self.route(path, fixture(name), host, **options)

    def update(self, path: str, **changes: Any) -> None:
        """Change some options (or the body) of an existing route."""
        with self._lock:
            current = self._routes[path]
        body = changes.pop("body", current.body)
        options = {k: v for k, v in current.__dict__.items() if k not in ("body", "encoded")}
        options.update(changes)
        self.route(path, body, **options)

    def body(self, path: str) -> bytes:
        """The body served at ``path``, before any compression."""
        with self._lock:
            return self._routes[path].body

    def route_for(self, path: str) -> Route | None:
        with self._lock:
            return self._routes.get(path)

    # -- what clients sent ------------------------------------------------------------
    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._recorded if path is None or r.path == path]

    def clear_requests(self) -> None:
        with self._lock:
            self._recorded.clear()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._recorded.append(request)

    def peak_in_flight(self, host: str | None = None) -> int:
        """The most requests answered at once, on listener address ``host`` or overall."""
        with self._lock:
            if host is not None:
                return self._peak_in_flight.get(host, 0)
            return self._peak_in_flight.get("*", 0)

    def reset_peaks(self) -> None:
        with self._lock:
            self._peak_in_flight.clear()

    def enter(self, host: str) -> None:
        with self._lock:
            for key in (host, "*"):
                self._in_flight[key] = self._in_flight.get(key, 0) + 1
                self._peak_in_flight[key] = max(self._peak_in_flight.get(key, 0), self._in_flight[key])

    def leave(self, host: str) -> None:
        with self._lock:
            for key in (host, "*"):
                self._in_flight[key] -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: FeedServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, a slow reverse DNS query per listener.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-body (timeouts, size limits) are expected here.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        headers = {k.lower(): v for k, v in self.headers.items()}
        host = str(self.server.server_address[0])
        owner.record(RecordedRequest("GET", self.path, host, headers, time.time()))
        route = owner.route_for(self.path)
        if route is None:
            route = Route(body=b"not found", status=404, content_type="text/plain")
        delay = owner.default_delay if route.delay is None else route.delay
        owner.enter(host)
        try:
            if delay:
                time.sleep(delay)
            self._answer(route, headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            owner.leave(host)

    def _answer(self, route: Route, request_headers: dict[str, str]) -> None:
        extra = dict(route.headers)
        if route.etag:
            extra["ETag"] = route.etag
        if route.last_modified:
            extra["Last-Modified"] = route.last_modified
        if route.retry_after is not None:
            extra["Retry-After"] = route.retry_after
        if route.redirect_to is not None:
            status = route.status if 300 <= route.status < 400 else 302
            self._send(status, {"Location": route.redirect_to, **extra}, b"")
            return
        if self._not_modified(route, request_headers):
            self._send(304, extra, b"")
            return
        if route.content_type:
            extra["Content-Type"] = route.content_type
        body = route.body
        accepted = request_headers.get("accept-encoding", "")
        for coding in ("gzip", "deflate"):
            if coding in route.encoded and coding in accepted:
                body = route.encoded[coding]
                extra["Content-Encoding"] = coding
                break
        if route.endless:
            extra.pop("Content-Encoding", None)
            self._send_endless(route.status, extra, route.body)
        elif route.trickle:
            self._send(route.status, extra, body, trickle=route.trickle)
        else:
            self._send(route.status, extra, body)

    @staticmethod
    def _not_modified(route: Route, request_headers: dict[str, str]) -> bool:
        if route.status != 200:
            return False
        if route.etag and "if-none-match" in request_headers:
            tags = [t.strip() for t in request_headers["if-none-match"].split(",")]
            return "*" in tags or route.etag in tags or f"W/{route.etag}" in tags
        return bool(route.last_modified) and request_headers.get("if-modified-since") == route.last_modified

    def _send(self, status: int, headers: dict[str, str], body: bytes, trickle: float = 0.0) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not trickle:
            self.wfile.write(body)
            return
        for start in range(0, len(body), 16):
            self.wfile.write(body[start : start + 16])
            self.wfile.flush()
            time.sleep(trickle)

    def _send_endless(self, status: int, headers: dict[str, str], start: bytes) -> None:
        """The body ``start`` followed by filler for ever: no Content-Length, then close."""
        self.close_connection = True
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(start)
        filler = b"<!-- " + b"x" * (_CHUNK - 9) + b" -->"
        sent = len(start)
        while sent < _ENDLESS_LIMIT:
            self.wfile.write(filler)
            sent += len(filler)
