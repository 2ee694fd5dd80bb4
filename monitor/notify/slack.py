"""The Slack notifier: posts alerts with a bot token through the Web API, threading updates.

A new story becomes a root message (``chat.postMessage``) whose ``ts`` is the thread
reference; updates are replies in that thread, and :meth:`Slack.update_root` edits the
root's running counts (``chat.update``). Posting is paced per channel, transient failures
are retried a couple of times in-process and then handed to the outbox as
``DeliveryError(permanent=False)``; configuration problems raise ``permanent=True``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from http.client import HTTPException
from typing import Any

from pydantic import Field, field_validator
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from monitor import defaults
from monitor.errors import ConfigError, DeliveryError
from monitor.model import AlertKind, AlertMessage
from monitor.notify import slack_blocks
from monitor.notify.base import Delivered, Notifier, NotifierSettings
from monitor.notify.pacing import Pacer
from monitor.notify.slack_http import api_error, bypasses_proxy, retry_handlers, transport_error


class SlackSettings(NotifierSettings):
    """``notifiers.slack`` in the configuration file."""

    #: Bot token (``xoxb-…``); empty means the secret is missing and the notifier stays off.
    token: str
    #: Channel used when a topic names ``slack`` without one.
    channel: str | None = None
    api_url: str = defaults.SLACK_API_URL
    timeout: float = Field(defaults.NOTIFY_TIMEOUT_SECONDS, gt=0)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"api_url must be an http(s) URL, got {value!r}")
        return value if value.endswith("/") else value + "/"

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("channel must not be empty")
        return value.strip() if value else value


class Slack(Notifier):
    kind = "slack"
    Settings = SlackSettings
    threads = True

    def __init__(
        self,
        name: str,
        settings: NotifierSettings,
        *,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(settings, SlackSettings):
            raise TypeError(f"Slack needs SlackSettings, got {type(settings).__name__}")
        super().__init__(name, settings)
        self.config = settings
        #: Shared with the outbox if it wants to pick work for idle channels (``ready_at``).
        self.pacer = pacer or Pacer(defaults.SLACK_POST_INTERVAL_SECONDS, sleep=sleep)
        self.client = WebClient(
            token=settings.token,
            base_url=settings.api_url,
            timeout=math.ceil(settings.timeout),
            retry_handlers=retry_handlers(
                retries=defaults.SLACK_INLINE_RETRIES,
                max_wait=defaults.SLACK_MAX_INLINE_WAIT_SECONDS,
                sleep=sleep,
            ),
        )
        if bypasses_proxy(settings.api_url):
            self.client.proxy = None
        # chat.update wants a channel ID where topics name channels; remember what Slack told us.
        self._channel_ids: dict[str, str] = {}

    def missing_secret(self) -> str | None:
        return "token" if not self.config.token.strip() else None

    def default_destination(self) -> str:
        if self.config.channel is None:
            raise ConfigError(
                f"notifier {self.name!r}: no default channel; set notifiers.slack.channel "
                "or name a channel on the topic"
            )
        return self.config.channel

    def normalise_destination(self, destination: object) -> str:
        channel = str(destination).strip()
        if not channel or isinstance(destination, list | tuple | dict):
            raise ConfigError(
                f"notifier {self.name!r}: a Slack destination is one channel, got {destination!r}"
            )
        return channel

    def check(self) -> None:
        """``auth.test``: a bad token raises ``DeliveryError(permanent=True)`` naming SLACK_BOT_TOKEN."""
        self._call(self.client.auth_test)

    def send(self, message: AlertMessage, destination: str, thread_ref: str | None = None) -> Delivered:
        """Post a root (new story) or a thread reply (update); see the module docstring.

        Returns the reference later updates should reply under: the new root's ``ts`` for
        a new story, the given ``thread_ref`` for a reply, and the standalone post's ``ts``
        when an update had no thread to go to.
        """
        if message.kind is AlertKind.NEW_STORY:
            return Delivered(thread_ref=self._post(destination, slack_blocks.new_story(message)))
        threaded = thread_ref is not None
        body = slack_blocks.update(message, threaded=threaded)
        extra: dict[str, Any] = {}
        if threaded:
            extra["thread_ts"] = thread_ref
            extra["reply_broadcast"] = bool(message.options.get("reply_broadcast", False))
        ts = self._post(destination, body, **extra)
        return Delivered(thread_ref=thread_ref if threaded else ts)

    def update_root(self, message: AlertMessage, destination: str, thread_ref: str) -> None:
        """Edit the root with running counts.

        ``message.article`` must be the article the root shows (the story's first) and
        ``message.story`` the current counts, including ``update_count``.
        """
        body = slack_blocks.new_story(message, running_counts=True)
        channel_id = self._channel_ids.get(destination, destination)
        self._call(self.client.chat_update, channel=channel_id, ts=thread_ref, **body.payload())

    def close(self) -> None:
        """Nothing to release: the Web API client opens one connection per request."""

    # --- internals -------------------------------------------------------------------

    def _post(self, channel: str, body: slack_blocks.SlackMessage, **extra: Any) -> str:
        self.pacer.wait(channel)
        response = self._call(
            self.client.chat_postMessage,
            channel=channel,
            unfurl_links=False,
            unfurl_media=False,
            **body.payload(),
            **extra,
        )
        channel_id = response.get("channel")
        if isinstance(channel_id, str):
            self._channel_ids[channel] = channel_id
        ts = response.get("ts")
        if not isinstance(ts, str):
            raise DeliveryError("slack: chat.postMessage answered without a message ts")
        return ts

    def _call(self, method: Callable[..., SlackResponse], **kwargs: Any) -> SlackResponse:
        try:
            return method(**kwargs)
        except SlackApiError as error:
            failure = api_error(error)
        except (OSError, HTTPException, SlackClientError) as error:
            failure = transport_error(error, "slack", self.config.api_url)
        channel = kwargs.get("channel")
        if failure.retry_after and isinstance(channel, str):
            self.pacer.push_back(channel, failure.retry_after)
        raise failure
