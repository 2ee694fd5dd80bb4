"""The Slack incoming-webhook notifier against the stand-in's ``/webhook/<id>`` endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from notify_samples import SLACK_HOSTILE, new_story, update
from pydantic import ValidationError
from slackapi import SlackAPI

from monitor.errors import ConfigError, DeliveryError
from monitor.notify.pacing import Pacer
from monitor.notify.slack_webhook import SlackWebhook, SlackWebhookSettings

CHANNEL = "#news-alerts"


@pytest.fixture
def api() -> Iterator[SlackAPI]:
    with SlackAPI(channels=["news-alerts"], archived=["old-news"]) as server:
        yield server


def make_webhook(url: str, waits: list[float] | None = None) -> SlackWebhook:
    sink = waits if waits is not None else []
    return SlackWebhook("hook", SlackWebhookSettings(url=url, timeout=5), pacer=Pacer(0), sleep=sink.append)


@pytest.fixture
def hook(api: SlackAPI) -> SlackWebhook:
    return make_webhook(api.add_webhook("T1/B1/secret", CHANNEL))


def test_new_story_is_posted_to_the_webhook_channel(api: SlackAPI, hook: SlackWebhook) -> None:
    delivered = hook.send(new_story(), "webhook")
    assert delivered.thread_ref is None
    [message] = api.messages(CHANNEL)
    assert message["blocks"][0]["text"]["text"] == "Russia and Ukraine resume talks in Istanbul"
    [call] = api.calls_to("webhook")
    assert call.body["unfurl_links"] is False


def test_update_cannot_thread_so_it_is_headed_update(api: SlackAPI, hook: SlackWebhook) -> None:
    hook.send(update(), "webhook", thread_ref="1700000000.000101")
    [message] = api.messages(CHANNEL)
    assert message["blocks"][0]["text"]["text"] == "Update: Russia and Ukraine resume talks in Istanbul"
    assert message["text"].startswith("Update: Russia and Ukraine resume talks in Istanbul")
    assert "What's new" in message["blocks"][1]["text"]["text"]


def test_hostile_text_is_escaped(api: SlackAPI, hook: SlackWebhook) -> None:
    hook.send(new_story(SLACK_HOSTILE, lead=SLACK_HOSTILE), "webhook")
    [call] = api.calls_to("webhook")
    assert "<" not in str(call.body["text"]) and "<" not in str(call.body["blocks"])


@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [
        (404, "no_service", True),
        (400, "invalid_payload", True),
        (403, "action_prohibited", True),
        (410, "channel_is_archived", True),
        (500, "internal_error", False),
        (503, "service_unavailable", False),
    ],
)
def test_webhook_errors_are_never_success(
    api: SlackAPI, hook: SlackWebhook, status: int, body: str, permanent: bool
) -> None:
    api.fail_next("webhook", status=status, body=body, times=5)
    with pytest.raises(DeliveryError) as caught:
        hook.send(new_story(), "webhook")
    assert caught.value.permanent is permanent
    assert str(caught.value).startswith(f"slack_webhook: {body}")
    assert api.messages(CHANNEL) == []
    # Permanent answers are not retried; server errors get the in-process retries.
    assert len(api.calls_to("webhook")) == (1 if permanent else 3)


def test_an_unknown_webhook_answers_no_service(api: SlackAPI) -> None:
    api.add_webhook("T1/B1/secret", CHANNEL)
    hook = make_webhook(f"{api.base}/webhook/T1/B1/zz-secret-part")
    with pytest.raises(DeliveryError) as caught:
        hook.send(new_story(), "webhook")
    assert caught.value.permanent
    assert "no_service" in str(caught.value) and "zz-secret-part" not in str(caught.value)


def test_an_archived_channel_is_permanent(api: SlackAPI) -> None:
    hook = make_webhook(api.add_webhook("T1/B2/x", "#old-news"))
    with pytest.raises(DeliveryError, match="channel_is_archived") as caught:
        hook.send(new_story(), "webhook")
    assert caught.value.permanent


def test_429_waits_its_retry_after_then_succeeds(api: SlackAPI) -> None:
    waits: list[float] = []
    hook = make_webhook(api.add_webhook("T1/B1/secret", CHANNEL), waits)
    api.fail_next("webhook", status=429, body="rate_limited", retry_after=4)
    hook.send(new_story(), "webhook")
    assert waits == [4.0]
    assert len(api.messages(CHANNEL)) == 1


def test_persistent_429_is_transient_with_retry_after(api: SlackAPI) -> None:
    waits: list[float] = []
    hook = make_webhook(api.add_webhook("T1/B1/secret", CHANNEL), waits)
    api.fail_next("webhook", status=429, body="rate_limited", retry_after=7, times=10)
    with pytest.raises(DeliveryError) as caught:
        hook.send(new_story(), "webhook")
    assert not caught.value.permanent
    assert caught.value.retry_after == 7.0


def test_settings_and_destinations(api: SlackAPI) -> None:
    with pytest.raises(ValidationError):
        SlackWebhookSettings.model_validate({"url": "https://x", "channel": "#a"})
    with pytest.raises(ValidationError, match="http"):
        SlackWebhookSettings(url="hooks.slack.com/services/x")
    assert make_webhook("").missing_secret() == "url"
    hook = make_webhook(api.add_webhook())
    assert hook.missing_secret() is None
    assert hook.default_destination() == "webhook"
    assert hook.normalise_destination(None) == "webhook"
    with pytest.raises(ConfigError, match="channel its URL was made for"):
        hook.normalise_destination("#elsewhere")
