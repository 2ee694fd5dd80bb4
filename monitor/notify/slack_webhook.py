"""The Slack incoming-webhook notifier: one fixed channel, no threads, no edits.

Webhooks answer ``ok`` on success and a plain-text error code with an HTTP status
otherwise (404 ``no_service``, 400 ``invalid_payload``, 403 ``action_prohibited``,
410 ``channel_is_archived``, 429, 5xx); anything but ``200 ok`` is a failure. Updates are
posted standalone, headed "Update: <story title>".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.client import HTTPException
from typing import TYPE_CHECKING

from pydantic import field_validator

from monitor import defaults
from monitor.durations import Duration
from monitor.errors import ConfigError, DeliveryError
from monitor.model import AlertKind, AlertMessage
from monitor.notify import slack_blocks
from monitor.notify.base import Delivered, Notifier, NotifierSettings
from monitor.notify.pacing import Pacer

if TYPE_CHECKING:
    from slack_sdk.webhook import WebhookClient

#: The destination string of a webhook: it has exactly one channel, fixed by its URL.
WEBHOOK_DESTINATION = "webhook"


class SlackWebhookSettings(NotifierSettings):
    """``notifiers.slack_webhook`` in the configuration file."""

    #: The incoming-webhook URL; empty means the secret is missing and the notifier stays off.
    url: str
    #: ``30s``, ``1m`` or a number of seconds.
    timeout: Duration = defaults.NOTIFY_TIMEOUT_SECONDS

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        return value


class SlackWebhook(Notifier):
    kind = "slack_webhook"
    Settings = SlackWebhookSettings
    threads = False

    def __init__(
        self,
        name: str,
        settings: NotifierSettings,
        *,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(settings, SlackWebhookSettings):
            raise TypeError(f"SlackWebhook needs SlackWebhookSettings, got {type(settings).__name__}")
        super().__init__(name, settings)
        self.config = settings
        self.pacer = pacer or Pacer(defaults.SLACK_POST_INTERVAL_SECONDS, sleep=sleep)
        self._sleep = sleep
        self._client: WebhookClient | None = None
        self._client_lock = threading.Lock()

    @property
    def client(self) -> WebhookClient:
        """The webhook client, made on first use (slack-sdk is slow to load; see ``Slack.client``)."""
        with self._client_lock:
            if self._client is None:
                from slack_sdk.webhook import WebhookClient

                from monitor.notify.slack_http import bypasses_proxy, client_options

                client = WebhookClient(
                    url=self.config.url, **client_options(self.config.timeout, self._sleep)
                )
                if bypasses_proxy(self.config.url):
                    client.proxy = None
                self._client = client
            return self._client

    def missing_secret(self) -> str | None:
        return "url" if not self.config.url else None

    def default_destination(self) -> str:
        return WEBHOOK_DESTINATION

    def normalise_destination(self, destination: object) -> str:
        # The URL decides the channel; a channel written on the topic cannot be honoured.
        if destination in (None, "", WEBHOOK_DESTINATION):
            return WEBHOOK_DESTINATION
        raise ConfigError(
            f"notifier {self.name!r}: a webhook posts to the channel its URL was made for, "
            f"so the destination {destination!r} cannot be used; use the slack notifier for that"
        )

    def send(self, message: AlertMessage, destination: str, thread_ref: str | None = None) -> Delivered:
        if message.kind is AlertKind.NEW_STORY:
            body = slack_blocks.new_story(message)
        else:
            body = slack_blocks.update(message, threaded=False)
        from slack_sdk.errors import SlackClientError

        from monitor.notify.slack_http import status_error, transport_error

        self.pacer.wait(self.config.url)
        try:
            response = self.client.send(
                text=body.text, blocks=body.blocks, unfurl_links=False, unfurl_media=False
            )
        except (OSError, HTTPException, SlackClientError) as error:
            raise transport_error(error, "slack_webhook", self.config.url) from error
        text = (response.body or "").strip()
        if response.status_code == 200 and text == "ok":
            return Delivered(thread_ref=None)
        if response.status_code == 200:
            raise DeliveryError(f"slack_webhook: unexpected answer {text[:100]!r}")
        failure = status_error("slack_webhook", response.status_code, text[:100], response.headers)
        if failure.retry_after:
            self.pacer.push_back(self.config.url, failure.retry_after)
        raise failure
