"""Slack HTTP plumbing shared by the bot and webhook notifiers.

Two jobs: the in-process retry handlers given to slack-sdk's clients (a 429 waits exactly
its ``Retry-After``, a 5xx or dropped connection is retried after a short backoff, all
bounded), and the translation of whatever finally failed into a
:class:`~monitor.errors.DeliveryError` that tells the outbox whether to retry.
"""

from __future__ import annotations

import math
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from monitor import defaults
from monitor.errors import DeliveryError

Sleep = Callable[[float], None]

#: Slack error codes worth retrying later; any other ``ok: false`` is a configuration problem.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)

#: What a person should do about the permanent errors we expect to meet.
_HINTS = {
    "invalid_auth": "check SLACK_BOT_TOKEN",
    "not_authed": "check SLACK_BOT_TOKEN",
    "account_inactive": "the token's app or user was deactivated; check SLACK_BOT_TOKEN",
    "token_revoked": "the token was revoked; check SLACK_BOT_TOKEN",
    "token_expired": "the token expired; check SLACK_BOT_TOKEN",
    "channel_not_found": "check the channel name and that the app can see it",
    "not_in_channel": "invite the app to the channel",
    "is_archived": "the channel is archived",
    "missing_scope": "the app needs the chat:write scope",
    "no_permission": "the app may not post there",
    "msg_too_long": "the message is too long",
    "invalid_blocks": "Slack rejected the message layout",
    "no_service": "the webhook was removed; check SLACK_WEBHOOK_URL",
    "channel_is_archived": "the webhook's channel is archived",
    "action_prohibited": "a workspace admin blocks this webhook",
    "invalid_token": "the webhook URL is wrong; check SLACK_WEBHOOK_URL",
}


def retry_after_seconds(headers: Mapping[str, object]) -> float | None:
    """The ``Retry-After`` header in seconds, whatever its case and whether it is a list."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(0.0, float(str(raw).strip()))
            except ValueError:
                return None
    return None


class ExactRateLimitHandler(RateLimitErrorRetryHandler):
    """Retry a 429 once its ``Retry-After`` has passed, with no jitter; long waits go to the outbox."""

    def __init__(self, *, max_retry_count: int, max_wait: float, sleep: Sleep = time.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait
        self.sleep = sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after_seconds(response.headers)
        return wait is None or wait <= self.max_wait

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = retry_after_seconds(response.headers) if response is not None else None
        state.next_attempt_requested = True
        self.sleep(1.0 if wait is None else wait)
        state.increment_current_attempt()


class _BackoffSleepMixin(RetryHandler):
    """The stock exponential backoff, but through an injectable sleep so tests stay fast."""

    sleep: Sleep

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self.sleep(self.interval_calculator.calculate_sleep_duration(state.current_attempt))
        state.increment_current_attempt()


class AnyServerErrorHandler(_BackoffSleepMixin, ServerErrorRetryHandler):
    """Retry every 5xx, not only the 500 and 503 of the stock handler (proxies answer 502/504)."""

    def __init__(self, *, max_retry_count: int, sleep: Sleep = time.sleep) -> None:
        ServerErrorRetryHandler.__init__(self, max_retry_count=max_retry_count)
        self.sleep = sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and 500 <= response.status_code < 600


class ConnectionResetHandler(_BackoffSleepMixin, ConnectionErrorRetryHandler):
    """The stock connection-error handler with the injectable sleep."""

    def __init__(self, *, max_retry_count: int, sleep: Sleep = time.sleep) -> None:
        ConnectionErrorRetryHandler.__init__(self, max_retry_count=max_retry_count)
        self.sleep = sleep


def retry_handlers(*, retries: int, max_wait: float, sleep: Sleep = time.sleep) -> list[RetryHandler]:
    """Handlers for one client; slack-sdk counts attempts across them, so ``retries`` bounds the total."""
    return [
        ExactRateLimitHandler(max_retry_count=retries, max_wait=max_wait, sleep=sleep),
        AnyServerErrorHandler(max_retry_count=retries, sleep=sleep),
        ConnectionResetHandler(max_retry_count=retries, sleep=sleep),
    ]


def client_options(timeout: float, sleep: Sleep) -> dict[str, Any]:
    """What both Slack clients are made with: a timeout in whole seconds (slack-sdk's unit)
    and our retry handlers."""
    return {
        "timeout": math.ceil(timeout),
        "retry_handlers": retry_handlers(
            retries=defaults.SLACK_INLINE_RETRIES,
            max_wait=defaults.SLACK_MAX_INLINE_WAIT_SECONDS,
            sleep=sleep,
        ),
    }


def bypasses_proxy(url: str) -> bool:
    """Whether ``NO_PROXY`` exempts ``url``'s host (slack-sdk reads ``HTTPS_PROXY`` but not ``NO_PROXY``)."""
    host = urlsplit(url).hostname or ""
    return bool(host) and bool(urllib.request.proxy_bypass(host))


def describe(prefix: str, code: str, detail: str = "") -> str:
    hint = _HINTS.get(code)
    message = f"{prefix}: {code}"
    if hint:
        message += f" — {hint}"
    if detail:
        message += f" ({detail})"
    return message


def status_error(prefix: str, status: int, code: str, headers: Mapping[str, object]) -> DeliveryError:
    """An HTTP failure: 429 and 5xx are transient, every other 4xx permanent."""
    code = code.strip() or f"HTTP {status}"
    if status == 429:
        wait = retry_after_seconds(headers)
        return DeliveryError(describe(prefix, "rate limited", f"retry after {wait}s"), retry_after=wait)
    if status >= 500:
        return DeliveryError(describe(prefix, code, f"HTTP {status}"))
    return DeliveryError(describe(prefix, code, f"HTTP {status}"), permanent=True)


def api_error(error: SlackApiError, prefix: str = "slack") -> DeliveryError:
    """Translate a Web API failure that survived the in-process retries."""
    response = error.response
    status = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or "")
    if status != 200:
        return status_error(prefix, status, code, response.headers)
    if code in TRANSIENT_ERRORS:
        wait = retry_after_seconds(response.headers)
        return DeliveryError(describe(prefix, code), retry_after=wait)
    if not data or code.startswith("Received a response in a non-JSON format"):
        return DeliveryError(f"{prefix}: unexpected response from Slack: {code or 'empty body'}")
    return DeliveryError(describe(prefix, code, _details(data)), permanent=True)


def _details(data: Mapping[str, object]) -> str:
    parts: list[str] = []
    needed = data.get("needed")
    if needed:
        parts.append(f"needed: {needed}")
    errors = data.get("errors")
    if isinstance(errors, Sequence) and not isinstance(errors, str):
        parts.append("; ".join(str(item) for item in errors[:3]))
    return ", ".join(parts)


def transport_error(error: Exception, prefix: str, url: str) -> DeliveryError:
    """A failure below HTTP (refused, reset, timed out, TLS) or a client-side misuse."""
    host = urlsplit(url).netloc or url
    if isinstance(error, SlackClientError) and not isinstance(error, OSError):
        return DeliveryError(f"{prefix}: {error}", permanent=True)
    reason = getattr(error, "reason", None) or error
    return DeliveryError(f"{prefix}: cannot reach {host}: {reason}")
