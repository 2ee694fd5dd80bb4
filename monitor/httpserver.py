"""The worker's status endpoints over HTTP: ``/healthz`` (JSON) and ``/metrics`` (Prometheus).

A stdlib threading server on a daemon thread: each request gets a thread of its own, so a
slow scrape never delays a health probe. Responses are HTTP/1.0 (one request per
connection). Only GET and HEAD are served; anything else is 404 or 405.
``--http HOST:PORT`` is read by :func:`parse_listen`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from monitor.health import HealthReport

log = logging.getLogger(__name__)

#: The host ``:PORT`` (no host) listens on: every IPv4 interface, as in most servers' syntax.
ANY_HOST = "0.0.0.0"

#: How often the serving loop looks for a stop request: ``stop()`` returns within this.
STOP_POLL_SECONDS = 0.1

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def parse_listen(text: str) -> tuple[str, int]:
    """Read ``HOST:PORT`` into (host, port).

    HOST is an IPv4 address, an IPv6 address in brackets (``[::1]:9100``), a host name
    (``localhost:9100``), or empty: ``:9100`` listens on every IPv4 interface (0.0.0.0).
    PORT is 0 to 65535; 0 lets the system pick a free port.
    """
    value = text.strip()
    if not value:
        raise ValueError("listen address is empty; expected HOST:PORT such as 127.0.0.1:9100")
    if "://" in value or "/" in value:
        raise ValueError(f"listen address {text!r}: expected HOST:PORT, not a URL or path")
    if value.startswith("["):
        close = value.find("]")
        if close < 0:
            raise ValueError(f"listen address {text!r}: missing ']' after the IPv6 address")
        host, rest = value[1:close], value[close + 1 :]
        if not rest.startswith(":"):
            raise ValueError(f"listen address {text!r}: expected ':PORT' after ']'")
        try:
            if ipaddress.ip_address(host).version != 6:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"listen address {text!r}: {host!r} in brackets is not an IPv6 address"
            ) from None
        return host, _port(rest[1:], text)
    if value.count(":") > 1:
        raise ValueError(f"listen address {text!r}: put an IPv6 address in brackets, as in [::1]:9100")
    host, colon, port = value.rpartition(":")
    if not colon:
        raise ValueError(f"listen address {text!r}: no port; expected HOST:PORT such as 127.0.0.1:9100")
    if not host:
        return ANY_HOST, _port(port, text)
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"listen address {text!r}: {host!r} is not an IPv4 address") from None
    elif not _HOSTNAME.match(host):
        raise ValueError(f"listen address {text!r}: {host!r} is not a host name or IP address")
    return host, _port(port, text)


def _port(port: str, text: str) -> int:
    if not port.isascii() or not port.isdigit():
        raise ValueError(f"listen address {text!r}: port {port!r} is not a number")
    number = int(port)
    if number > 65535:
        raise ValueError(f"listen address {text!r}: port {number} is out of range (0-65535)")
    return number


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        health: Callable[[], HealthReport],
        render_metrics: Callable[[], tuple[bytes, str]],
    ) -> None:
        self.health = health
        self.render_metrics = render_metrics
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "monitor"
    #: A client that sends nothing for this long is dropped, so idle connections cannot pile up threads.
    timeout = 10
    routes: ClassVar[dict[str, str]] = {"/healthz": "_healthz", "/metrics": "_metrics"}

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        route = self.routes.get(path)
        if route is None:
            self._send(
                HTTPStatus.NOT_FOUND, b"not found: try /healthz or /metrics\n", "text/plain; charset=utf-8"
            )
            return
        try:
            getattr(self, route)()
        except Exception:
            log.exception("serving %s failed", path)
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error\n", "text/plain; charset=utf-8")

    def do_HEAD(self) -> None:
        self.do_GET()

    def _not_allowed(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"only GET and HEAD\n", "text/plain; charset=utf-8")

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed

    def _healthz(self) -> None:
        report = self.server.health()
        status = HTTPStatus.OK if report.healthy else HTTPStatus.SERVICE_UNAVAILABLE
        body = json.dumps(report.as_json(), indent=2).encode() + b"\n"
        self._send(status, body, "application/json")

    def _metrics(self) -> None:
        body, content_type = self.server.render_metrics()
        self._send(HTTPStatus.OK, body, content_type)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # Probes and scrapes arrive every few seconds; they belong at debug level, not in the log.
        log.debug("%s - %s", self.address_string(), format % args)


class StatusServer:
    """A running status server; :meth:`stop` shuts it down and frees its port."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(STOP_POLL_SECONDS,), name="http-status", daemon=True
        )
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def start(
    host: str,
    port: int,
    *,
    health: Callable[[], HealthReport],
    render_metrics: Callable[[], tuple[bytes, str]],
) -> tuple[StatusServer, int]:
    """Listen on ``host:port`` (port 0 picks a free one) and serve until ``stop()``.

    Returns the server and the port it actually listens on. Raises ``OSError`` when the
    address cannot be bound (port in use, address not on this host).
    """
    server = StatusServer(_Server((host, port), health, render_metrics))
    log.info("serving /healthz and /metrics on %s", _display(server.host, server.port))
    return server, server.port


def _display(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
