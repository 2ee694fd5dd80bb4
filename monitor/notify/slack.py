"""The Slack notifier: posts alerts with a bot token through the Web API, threading updates.

A new story becomes a root message (``chat.postMessage``) whose ``ts`` is the thread
reference; updates are replies in that thread, and :meth:`Slack.update_root` edits the
root's running counts (``chat.update``). Posting is paced per channel, transient failures
are retried a couple of times in-process and then handed to the outbox as
``DeliveryError(permanent=False)``; configuration problems raise ``permanent=True``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from http.client import HTTPException
from typing import TYPE_CHECKING, Any

from pydantic import field_validator

from monitor import defaults
from monitor.durations import Duration
from monitor.errors import ConfigError, DeliveryError
from monitor.model import AlertKind, AlertMessage
from monitor.notify import slack_blocks
from monitor.notify.base import Delivered, Notifier, NotifierSettings
from monitor.notify.pacing import Pacer

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.web import SlackResponse

log = logging.getLogger(__name__)

#: Roots kept for update_root: a few hundred live stories is plenty, and each entry is small.
ROOTS_REMEMBERED = 1000


class SlackSettings(NotifierSettings):
    """``notifiers.slack`` in the configuration file."""

    #: Bot token (``xoxb-…``); empty means the secret is missing and the notifier stays off.
    token: str
    #: Channel used when a topic names ``slack`` without one.
    channel: str | None = None
    api_url: str = defaults.SLACK_API_URL
    #: ``30s``, ``1m`` or a number of seconds.
    timeout: Duration = defaults.NOTIFY_TIMEOUT_SECONDS

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
        self._sleep = sleep
        self._client: WebClient | None = None
        self._client_lock = threading.Lock()
        # chat.update wants a channel ID where topics name channels; remember what Slack told us.
        self._channel_ids: dict[str, str] = {}
        # Roots posted by this process, so update_root can re-render them from an update alert.
        self._roots: OrderedDict[tuple[str, str], AlertMessage] = OrderedDict()
        self._roots_lock = threading.Lock()

    @property
    def client(self) -> WebClient:
        """The Web API client, made on first use: slack-sdk takes a tenth of a second to load,
        which commands that never post (``ingest``, ``stories``) need not pay."""
        with self._client_lock:
            if self._client is None:
                from slack_sdk import WebClient

                from monitor.notify.slack_http import bypasses_proxy, client_options

                client = WebClient(
                    token=self.config.token,
                    base_url=self.config.api_url,
                    **client_options(self.config.timeout, self._sleep),
                )
                if bypasses_proxy(self.config.api_url):
                    client.proxy = None
                self._client = client
            return self._client

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
            ts = self._post(destination, slack_blocks.new_story(message))
            self._remember_root(message, destination, ts)
            return Delivered(thread_ref=self._thread_ref(destination, ts))
        threaded = thread_ref is not None
        body = slack_blocks.update(message, threaded=threaded)
        extra: dict[str, Any] = {}
        if thread_ref is not None:
            extra["thread_ts"] = split_thread_ref(thread_ref)[1]
            extra["reply_broadcast"] = bool(message.options.get("reply_broadcast", False))
        ts = self._post(destination, body, **extra)
        return Delivered(thread_ref=thread_ref if threaded else self._thread_ref(destination, ts))

    def _thread_ref(self, destination: str, ts: str) -> str:
        # The channel ID travels with the ts: chat.update needs the ID, and after a restart
        # the name-to-ID memory of this process is gone.
        channel_id = self._channel_ids.get(destination)
        return f"{channel_id}/{ts}" if channel_id else ts

    def update_root(self, message: AlertMessage, destination: str, thread_ref: str) -> None:
        """Edit the root so it shows the story's current counts (``message.story``).

        Given the story's new-story alert, the root is re-rendered from it. Given the update
        that was just sent, the root posted by this process is re-rendered with the new
        counts; a root posted before a restart is then left as it is (logged), because its
        first article is not in the update and ``chat.update`` replaces the whole message.
        """
        channel_id, ts = split_thread_ref(thread_ref)
        root = self._root_alert(message, destination, ts)
        if root is None:
            log.info(
                "slack: root %s in %s predates this process; its counts stay as posted",
                thread_ref,
                destination,
            )
            return
        body = slack_blocks.new_story(root, running_counts=True)
        channel = channel_id or self._channel_ids.get(destination, destination)
        self._call(self.client.chat_update, channel=channel, ts=ts, **body.payload())

    def close(self) -> None:
        """Nothing to release: the Web API client opens one connection per request."""

    # --- internals -------------------------------------------------------------------

    def _remember_root(self, message: AlertMessage, destination: str, ts: str) -> None:
        with self._roots_lock:
            self._roots[(destination, ts)] = message
            while len(self._roots) > ROOTS_REMEMBERED:
                self._roots.popitem(last=False)

    def _root_alert(self, message: AlertMessage, destination: str, ts: str) -> AlertMessage | None:
        if message.kind is AlertKind.NEW_STORY:
            return message
        with self._roots_lock:
            root = self._roots.get((destination, ts))
        return None if root is None else replace(root, story=message.story)

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
        from slack_sdk.errors import SlackApiError, SlackClientError

        from monitor.notify.slack_http import api_error, transport_error

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


def split_thread_ref(thread_ref: str) -> tuple[str | None, str]:
    """``C0123/1700000000.000100`` -> (channel ID, ts); a bare ts has no channel ID."""
    channel_id, _, ts = thread_ref.rpartition("/")
    return (channel_id or None), ts
