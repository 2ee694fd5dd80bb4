"""A local stand-in for Slack's Web API and incoming webhooks, for tests.

It speaks the documented wire format on 127.0.0.1: ``POST /api/<method>`` with JSON
(``application/json; charset=utf-8``) or form (``application/x-www-form-urlencoded``,
where ``blocks`` arrives as a JSON string) bodies, Bearer-token auth, and the usual
``{"ok": false, "error": "..."}`` answers; ``POST /webhook/<id>`` answers ``ok`` or a
plain-text error with an HTTP status, as hooks.slack.com does. Every call is recorded,
failures can be scripted (``fail_next``), and posted messages can be read back per channel.

    api = SlackAPI(channels=["news-alerts"]).start()
    ...  # WebClient(token=api.token, base_url=api.url)
    api.messages("#news-alerts")
    api.stop()
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

JSONObject = dict[str, Any]

#: Form fields that carry JSON documents as strings.
_JSON_FIELDS = ("blocks", "attachments", "metadata")
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
TEXT_LIMIT = 40_000


@dataclass(frozen=True)
class Call:
    """One request as the stand-in saw it, and what it answered."""

    method: str  # "chat.postMessage", "auth.test", "webhook/<id>"
    headers: dict[str, str]
    content_type: str
    body: JSONObject
    status: int
    answer: Any


@dataclass
class Failure:
    """A scripted answer: HTTP ``status`` with ``Retry-After`` and/or a Slack ``error`` code."""

    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    body: str | None = None
    times: int = 1
    skip: int = 0


@dataclass
class Channel:
    id: str
    name: str
    archived: bool = False
    member: bool = True
    messages: list[JSONObject] = field(default_factory=list)


class SlackAPI:
    """The stand-in server; ``start()`` / ``stop()`` or use it as a context manager."""

    def __init__(
        self,
        *,
        token: str = "xoxb-test-token",
        channels: Iterable[str] = ("news-alerts", "ukraine-desk"),
        archived: Iterable[str] = (),
        not_member: Iterable[str] = (),
    ) -> None:
        self.token = token
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._failures: dict[str, list[Failure]] = {}
        self._channels: dict[str, Channel] = {}
        self._webhooks: dict[str, str] = {}
        self._ts_counter = 100
        for name in channels:
            self.add_channel(name)
        for name in archived:
            self.add_channel(name).archived = True
        for name in not_member:
            self.add_channel(name).member = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> SlackAPI:
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="slackapi", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SlackAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        if self._server is None:
            raise RuntimeError("SlackAPI is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The Web API base URL, for ``WebClient(base_url=...)`` / ``notifiers.slack.api_url``."""
        return f"{self.base}/api/"

    # --- set-up ------------------------------------------------------------------------

    def add_channel(self, name: str) -> Channel:
        name = name.lstrip("#")
        with self._lock:
            if name not in self._channels:
                self._channels[name] = Channel(id=f"C{len(self._channels) + 1:08d}", name=name)
            return self._channels[name]

    def add_webhook(self, hook_id: str = "T0001/B0001/secret", channel: str = "news-alerts") -> str:
        """Create an incoming webhook posting to ``channel``; returns its URL."""
        self.add_channel(channel)
        with self._lock:
            self._webhooks[hook_id] = channel.lstrip("#")
        return f"{self.base}/webhook/{hook_id}"

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        body: str | None = None,
        times: int = 1,
        skip: int = 0,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (after letting ``skip`` through) with a failure.

        ``method`` is a Web API method or ``"webhook"``. ``status=429, retry_after=1`` gives
        a rate limit; ``status=500`` a server error; ``error="channel_not_found"`` an
        ``ok: false`` answer (for webhooks, ``error`` is the plain-text body).
        """
        if error is None and status == 200:
            raise ValueError("a scripted failure needs a non-200 status or an error code")
        failure = Failure(status, error, retry_after, body, times, skip)
        with self._lock:
            self._failures.setdefault(method, []).append(failure)

    # --- inspection --------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method or call.method.startswith(method + "/")]

    def channel_id(self, channel: str) -> str:
        found = self._find_channel(channel)
        if found is None:
            raise KeyError(channel)
        return found.id

    def messages(self, channel: str) -> list[JSONObject]:
        """Messages in ``channel`` (name, ``#name`` or ID), oldest first, as currently edited."""
        found = self._find_channel(channel)
        if found is None:
            raise KeyError(channel)
        with self._lock:
            return [dict(message) for message in found.messages]

    def replies(self, channel: str, thread_ts: str) -> list[JSONObject]:
        return [m for m in self.messages(channel) if m.get("thread_ts") == thread_ts]

    # --- request handling (called from the server threads) ------------------------------

    def _find_channel(self, key: str) -> Channel | None:
        key = key.strip()
        with self._lock:
            for channel in self._channels.values():
                if key in (channel.id, channel.name, "#" + channel.name):
                    return channel
        return None

    def _scripted(self, method: str) -> Failure | None:
        with self._lock:
            queue = self._failures.get(method, [])
            if not queue:
                return None
            failure = queue[0]
            if failure.skip > 0:
                failure.skip -= 1
                return None
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            return failure

    def _next_ts(self) -> str:
        with self._lock:
            self._ts_counter += 1
            return f"1700000000.{self._ts_counter:06d}"

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def web_api(
        self, method: str, headers: dict[str, str], args: JSONObject
    ) -> tuple[int, JSONObject, dict[str, str]]:
        """Answer one Web API call: (HTTP status, JSON body, extra headers)."""
        failure = self._scripted(method)
        if failure is not None:
            answer: JSONObject = {"ok": False, "error": failure.error or "internal_error"}
            extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            return failure.status, answer, extra
        return (*self._answer_call(method, headers, args), {})

    def _answer_call(self, method: str, headers: dict[str, str], args: JSONObject) -> tuple[int, JSONObject]:
        auth = headers.get("authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else str(args.get("token", ""))
        if not token:
            return 200, {"ok": False, "error": "not_authed"}
        if token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return 200, {
                "ok": True,
                "url": "https://monitor-test.slack.com/",
                "team": "Monitor Test",
                "user": "monitor",
                "team_id": "T00000001",
                "user_id": "U00000001",
                "bot_id": "B00000001",
            }
        if method == "chat.postMessage":
            return 200, self._post_message(args)
        if method == "chat.update":
            return 200, self._update_message(args)
        return 404, {"ok": False, "error": "unknown_method"}

    def _validate_content(self, args: JSONObject) -> str | None:
        blocks = args.get("blocks")
        text = args.get("text")
        if not text and not blocks and not args.get("attachments"):
            return "no_text"
        if isinstance(text, str) and len(text) > TEXT_LIMIT:
            return "msg_too_long"
        if blocks is None:
            return None
        if not isinstance(blocks, list) or not all(isinstance(b, dict) and "type" in b for b in blocks):
            return "invalid_blocks"
        for block in blocks:
            limit = {"header": HEADER_LIMIT, "section": SECTION_LIMIT}.get(block["type"])
            text_obj = block.get("text")
            if limit is not None:
                if not isinstance(text_obj, dict) or not text_obj.get("text"):
                    return "invalid_blocks"
                if len(text_obj["text"]) > limit:
                    return "invalid_blocks"
            if (
                block["type"] == "header"
                and isinstance(text_obj, dict)
                and text_obj.get("type") != "plain_text"
            ):
                return "invalid_blocks"
        return None

    def _post_message(self, args: JSONObject) -> JSONObject:
        channel = self._find_channel(str(args.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel.archived:
            return {"ok": False, "error": "is_archived"}
        if not channel.member:
            return {"ok": False, "error": "not_in_channel"}
        problem = self._validate_content(args)
        if problem:
            return {"ok": False, "error": problem}
        message = {
            "ts": self._next_ts(),
            "text": args.get("text", ""),
            "blocks": args.get("blocks", []),
            "thread_ts": args.get("thread_ts"),
            "reply_broadcast": _truthy(args.get("reply_broadcast")),
            "edits": 0,
        }
        with self._lock:
            channel.messages.append(message)
        return {"ok": True, "channel": channel.id, "ts": message["ts"], "message": dict(message)}

    def _update_message(self, args: JSONObject) -> JSONObject:
        # Like Slack, chat.update takes a channel ID, not a name.
        channel_key = str(args.get("channel", ""))
        channel = self._find_channel(channel_key)
        if channel is None or channel.id != channel_key:
            return {"ok": False, "error": "channel_not_found"}
        problem = self._validate_content(args)
        if problem:
            return {"ok": False, "error": problem}
        with self._lock:
            for message in channel.messages:
                if message["ts"] == args.get("ts"):
                    message["text"] = args.get("text", message["text"])
                    message["blocks"] = args.get("blocks", message["blocks"])
                    message["edits"] += 1
                    return {"ok": True, "channel": channel.id, "ts": message["ts"], "text": message["text"]}
        return {"ok": False, "error": "message_not_found"}

    def webhook(self, hook_id: str, payload: JSONObject | None) -> tuple[int, str, dict[str, str]]:
        """Answer one webhook post: (HTTP status, plain-text body, extra headers)."""
        failure = self._scripted("webhook")
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            return failure.status, failure.body or failure.error or "internal_error", headers
        with self._lock:
            channel_name = self._webhooks.get(hook_id)
        if channel_name is None:
            return 404, "no_service", {}
        if payload is None:
            return 400, "invalid_payload", {}
        if not payload.get("text") and not payload.get("blocks"):
            return 400, "no_text", {}
        if self._validate_content(payload):
            return 400, "invalid_blocks", {}
        channel = self._find_channel(channel_name)
        assert channel is not None
        if channel.archived:
            return 410, "channel_is_archived", {}
        message = {
            "ts": self._next_ts(),
            "text": payload.get("text", ""),
            "blocks": payload.get("blocks", []),
            "thread_ts": None,
            "reply_broadcast": False,
            "edits": 0,
        }
        with self._lock:
            channel.messages.append(message)
        return 200, "ok", {}


def _truthy(value: object) -> bool:
    return value in (True, 1, "1", "true", "True")


def parse_body(content_type: str, raw: bytes) -> JSONObject | None:
    """A request body as a dict; ``None`` when it is not valid for its content type."""
    kind = content_type.split(";")[0].strip().lower()
    text = raw.decode("utf-8", "replace")
    if kind == "application/json":
        try:
            parsed = json.loads(text) if text else {}
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    if kind in ("application/x-www-form-urlencoded", ""):
        fields: JSONObject = dict(parse_qsl(text, keep_blank_values=True))
        for name in _JSON_FIELDS:
            if isinstance(fields.get(name), str):
                try:
                    fields[name] = json.loads(fields[name])
                except json.JSONDecodeError:
                    return None
        return fields
    return None


class _Handler(BaseHTTPRequestHandler):
    api: SlackAPI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``SlackAPI.calls`` instead of the server log."""

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        headers = {name.lower(): value for name, value in self.headers.items()}
        body = parse_body(content_type, raw)
        query = dict(parse_qsl(parts.query))
        if parts.path.startswith("/api/"):
            method = parts.path[len("/api/") :]
            extra: dict[str, str] = {}
            answer: JSONObject = {"ok": False, "error": "invalid_form_data"}
            status = 200
            if body is not None:
                status, answer, extra = self.api.web_api(method, headers, {**query, **body})
            self.api._record(Call(method, headers, content_type, body or {}, status, answer))
            self._answer(status, json.dumps(answer), "application/json; charset=utf-8", extra)
        elif parts.path.startswith("/webhook/"):
            hook_id = parts.path[len("/webhook/") :]
            status, text, extra = self.api.webhook(hook_id, body)
            self.api._record(Call(f"webhook/{hook_id}", headers, content_type, body or {}, status, text))
            self._answer(status, text, "text/html", extra)
        else:
            self._answer(404, "not found", "text/plain", {})

    def _answer(self, status: int, text: str, content_type: str, headers: dict[str, str]) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
