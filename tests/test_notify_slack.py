"""The Slack bot notifier against the local Web API stand-in (tests/slackapi.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from notify_samples import SLACK_HOSTILE, new_story, story, update
from pydantic import ValidationError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slackapi import SlackAPI

from monitor.errors import ConfigError, DeliveryError
from monitor.notify.pacing import Pacer
from monitor.notify.slack import Slack, SlackSettings, split_thread_ref

CHANNEL = "#news-alerts"


class Sleeps:
    """Records the waits the notifier asks for instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def api() -> Iterator[SlackAPI]:
    with SlackAPI(
        channels=["news-alerts", "ukraine-desk"], archived=["old-news"], not_member=["private"]
    ) as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_slack(
    api_url: str, token: str = "xoxb-test-token", sleep: Sleeps | None = None, **extra: Any
) -> Slack:
    settings = SlackSettings(token=token, channel=CHANNEL, api_url=api_url, timeout=5, **extra)
    return Slack("slack", settings, pacer=Pacer(0), sleep=sleep or Sleeps())


@pytest.fixture
def slack(api: SlackAPI, sleeps: Sleeps) -> Slack:
    return make_slack(api.url, api.token, sleeps)


def strings(value: object, skip_keys: frozenset[str] = frozenset({"url"})) -> Iterator[str]:
    """Every string in a JSON document except the values of ``skip_keys``."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in skip_keys:
                yield from strings(item, skip_keys)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, skip_keys)


def text_objects(blocks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for block in blocks:
        if isinstance(block.get("text"), dict):
            yield block["text"]
        for element in block.get("elements", []):
            if element.get("type") in ("mrkdwn", "plain_text"):
                yield element


# --- new stories, updates, root edits -----------------------------------------------------


def test_new_story_posts_a_block_kit_root_and_returns_its_ts(api: SlackAPI, slack: Slack) -> None:
    delivered = slack.send(new_story(), CHANNEL)

    [root] = api.messages(CHANNEL)
    assert delivered.thread_ref == f"{api.channel_id(CHANNEL)}/{root['ts']}"
    blocks = root["blocks"]
    assert [block["type"] for block in blocks] == ["header", "context", "section", "actions"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Russia and Ukraine resume talks in Istanbul"}
    context = blocks[1]["elements"][0]["text"]
    assert context == "Reuters · 2024-05-01 14:03 UTC · russia-ukraine-talks · 1 source"
    assert blocks[2]["text"]["text"].startswith("Delegations from Russia and Ukraine met in Istanbul")
    [button] = blocks[3]["elements"]
    assert button["url"] == "https://example.com/world/talks?id=1&lang=en"
    assert "Russia and Ukraine resume talks" in root["text"]
    [call] = api.calls_to("chat.postMessage")
    assert call.headers["authorization"] == "Bearer xoxb-test-token"
    assert call.body["unfurl_links"] is False


def test_a_story_without_url_or_lead_has_no_button_or_section(api: SlackAPI, slack: Slack) -> None:
    slack.send(new_story(url=None, lead=""), CHANNEL)
    [root] = api.messages(CHANNEL)
    assert [block["type"] for block in root["blocks"]] == ["header", "context"]


def test_a_javascript_link_never_becomes_a_button(api: SlackAPI, slack: Slack) -> None:
    slack.send(new_story(url="javascript:alert(1)"), CHANNEL)
    [root] = api.messages(CHANNEL)
    assert "actions" not in [block["type"] for block in root["blocks"]]


@pytest.mark.parametrize("broadcast", [True, False])
def test_update_replies_in_the_thread_with_whats_new(api: SlackAPI, slack: Slack, broadcast: bool) -> None:
    root = slack.send(new_story(), CHANNEL).thread_ref
    delivered = slack.send(update(options={"reply_broadcast": broadcast}), CHANNEL, root)

    assert delivered.thread_ref == root
    [reply] = api.replies(CHANNEL, split_thread_ref(root or "")[1])
    assert reply["reply_broadcast"] is broadcast
    section = reply["blocks"][0]["text"]["text"]
    assert section == "*What's new*\n• A prisoner exchange was agreed.\n• Talks continue on Thursday."
    assert reply["blocks"][1]["elements"][0]["text"] == (
        "Prisoner swap agreed as talks continue · AP · 2024-05-01 14:03 UTC · https://example.com/world/talks"
    )
    assert reply["blocks"][2]["elements"][0]["text"] == (
        "story #7 · first seen 2024-05-01 14:03 UTC · 2 articles · 2 sources"
    )
    assert reply["blocks"][3]["elements"][0]["url"] == "https://example.org/ap/swap"


def test_update_lists_every_new_sentence_the_alert_carries(api: SlackAPI, slack: Slack) -> None:
    root = slack.send(new_story(), CHANNEL).thread_ref
    slack.send(update(sentences=("One.", "Two.", "Three.", "Four.")), CHANNEL, root)
    reply = api.replies(CHANNEL, split_thread_ref(root or "")[1])[0]
    assert reply["blocks"][0]["text"]["text"] == "*What's new*\n• One.\n• Two.\n• Three.\n• Four."


def test_update_lists_only_as_many_long_sentences_as_one_section_holds(api: SlackAPI, slack: Slack) -> None:
    root = slack.send(new_story(), CHANNEL).thread_ref
    sentences = tuple(f"Fact {number}: " + "word " * 250 for number in range(1, 7))

    slack.send(update(sentences=sentences), CHANNEL, root)

    section = api.replies(CHANNEL, split_thread_ref(root or "")[1])[0]["blocks"][0]["text"]["text"]
    assert len(section) <= 3000  # Slack's limit, which the stand-in enforces as Slack does
    assert [line[:9] for line in section.splitlines()[1:]] == ["• Fact 1:", "• Fact 2:", "• Fact 3:"]


def test_update_without_a_root_posts_standalone_and_becomes_the_thread(api: SlackAPI, slack: Slack) -> None:
    delivered = slack.send(update(), CHANNEL, None)

    [message] = api.messages(CHANNEL)
    assert message["thread_ts"] is None
    assert message["blocks"][0]["text"]["text"] == "Update: Russia and Ukraine resume talks in Istanbul"
    assert message["text"].startswith("Update: Russia and Ukraine resume talks in Istanbul")
    assert delivered.thread_ref == f"{api.channel_id(CHANNEL)}/{message['ts']}"


def test_update_root_edits_the_root_with_running_counts(api: SlackAPI, slack: Slack) -> None:
    first = new_story()
    root = slack.send(first, CHANNEL).thread_ref
    assert root is not None
    grown = replace(first, story=story(article_count=5, source_count=3, update_count=2))

    slack.update_root(grown, CHANNEL, root)

    [message] = api.messages(CHANNEL)
    assert message["edits"] == 1
    assert message["blocks"][1]["elements"][0]["text"].endswith("5 articles, 3 sources, 2 updates")
    # The root still shows the first article, not whatever caused the edit.
    assert message["blocks"][2]["text"]["text"].startswith("Delegations from Russia")
    [call] = api.calls_to("chat.update")
    assert call.body["channel"] == api.channel_id(CHANNEL)


def test_update_root_given_the_update_keeps_the_first_article(api: SlackAPI, slack: Slack) -> None:
    root = slack.send(new_story(), CHANNEL).thread_ref
    assert root is not None
    the_update = update()
    slack.send(the_update, CHANNEL, root)

    slack.update_root(the_update, CHANNEL, root)

    message = api.messages(CHANNEL)[0]
    assert message["edits"] == 1
    context = message["blocks"][1]["elements"][0]["text"]
    assert (
        context == "Reuters · 2024-05-01 14:03 UTC · russia-ukraine-talks · 2 articles, 2 sources, 1 update"
    )
    assert message["blocks"][2]["text"]["text"].startswith("Delegations from Russia")


def test_update_root_after_a_restart_leaves_an_unknown_root_alone(api: SlackAPI, slack: Slack) -> None:
    root = slack.send(new_story(), CHANNEL).thread_ref
    assert root is not None
    restarted = make_slack(api.url)
    restarted.update_root(update(), CHANNEL, root)
    assert api.calls_to("chat.update") == []
    assert api.messages(CHANNEL)[0]["edits"] == 0


def test_channels_are_paced_separately(api: SlackAPI, sleeps: Sleeps) -> None:
    clock = [0.0]
    pacer = Pacer(1.0, clock=lambda: clock[0], sleep=sleeps)
    slack = Slack("slack", SlackSettings(token=api.token, channel=CHANNEL, api_url=api.url), pacer=pacer)
    slack.send(new_story(), CHANNEL)
    slack.send(new_story(), "#ukraine-desk")
    assert sleeps.waits == []
    slack.send(new_story(), CHANNEL)
    assert sleeps.waits == [1.0]


# --- untrusted text -------------------------------------------------------------------------


def test_hostile_article_text_neither_pings_nor_links(api: SlackAPI, slack: Slack) -> None:
    hostile_story = new_story(
        SLACK_HOSTILE,
        title=SLACK_HOSTILE,
        source="Wire <!everyone>",
        lead=SLACK_HOSTILE + "\n\n" + SLACK_HOSTILE,
    )
    root = slack.send(hostile_story, CHANNEL).thread_ref
    slack.send(update(SLACK_HOSTILE, sentences=(SLACK_HOSTILE,), title=SLACK_HOSTILE), CHANNEL, root)
    slack.send(update(SLACK_HOSTILE, sentences=(SLACK_HOSTILE,)), CHANNEL, None)

    calls = api.calls_to("chat.postMessage")
    assert len(calls) == 3
    for call in calls:
        for text in strings(call.body):
            assert "<" not in text and ">" not in text, text
        for obj in text_objects(call.body["blocks"]):
            if obj["type"] == "mrkdwn":
                assert obj["verbatim"] is True
        buttons = [e for b in call.body["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert all("evil.example" not in button["url"] for button in buttons)
    header = calls[0].body["blocks"][0]["text"]["text"]
    assert header.startswith("Talks &lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt;")
    assert "&lt;https://evil.example|click&gt; &amp; more" in calls[0].body["blocks"][2]["text"]["text"]


def test_long_text_is_trimmed_to_slack_limits(api: SlackAPI, slack: Slack) -> None:
    long_title = "Talks & " * 60
    long_lead = "Negotiators <met> & talked. " * 400
    slack.send(new_story(long_title, lead=long_lead), CHANNEL)

    [root] = api.messages(CHANNEL)  # the stand-in rejects over-long blocks with invalid_blocks
    assert len(root["blocks"][0]["text"]["text"]) <= 150
    assert len(root["blocks"][2]["text"]["text"]) <= 3000
    assert root["blocks"][2]["text"]["text"].endswith("…")
    assert len(root["text"]) <= 4000


# --- check(), secrets and settings ------------------------------------------------------------


def test_check_passes_with_a_good_token(api: SlackAPI, slack: Slack) -> None:
    slack.check()
    assert [call.method for call in api.calls] == ["auth.test"]


def test_check_with_a_bad_token_is_permanent_and_names_the_variable(api: SlackAPI) -> None:
    slack = make_slack(api.url, token="xoxb-wrong-secret")
    with pytest.raises(DeliveryError) as caught:
        slack.check()
    assert caught.value.permanent
    assert str(caught.value) == "slack: invalid_auth — check SLACK_BOT_TOKEN"
    assert "wrong-secret" not in str(caught.value)


def test_an_empty_token_is_a_missing_secret(api: SlackAPI) -> None:
    assert make_slack(api.url, token="").missing_secret() == "token"
    assert make_slack(api.url).missing_secret() is None


def test_settings_reject_unknown_keys_and_normalise_the_api_url() -> None:
    with pytest.raises(ValidationError, match="webhook"):
        SlackSettings.model_validate({"token": "x", "webhook": "y"})
    assert SlackSettings(token="x", api_url="http://127.0.0.1:9/api").api_url == "http://127.0.0.1:9/api/"
    with pytest.raises(ValidationError, match="http"):
        SlackSettings(token="x", api_url="slack.com/api/")


def test_destinations(api: SlackAPI) -> None:
    slack = make_slack(api.url)
    assert slack.default_destination() == CHANNEL
    assert slack.normalise_destination(" #ukraine-desk ") == "#ukraine-desk"
    with pytest.raises(ConfigError, match="one channel"):
        slack.normalise_destination(["#a", "#b"])
    no_default = Slack("slack", SlackSettings(token="x", api_url=api.url))
    with pytest.raises(ConfigError, match="no default channel"):
        no_default.default_destination()


# --- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "code"),
    [("#nowhere", "channel_not_found"), ("#old-news", "is_archived"), ("#private", "not_in_channel")],
)
def test_channel_problems_are_permanent(api: SlackAPI, slack: Slack, channel: str, code: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        slack.send(new_story(), channel)
    assert caught.value.permanent
    assert str(caught.value).startswith(f"slack: {code}")
    assert len(api.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize(
    "code",
    [
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "invalid_blocks",
        "invalid_arguments",
        "msg_too_long",
        "no_permission",
        "missing_scope",
    ],
)
def test_scripted_permanent_errors_are_not_retried(api: SlackAPI, slack: Slack, code: str) -> None:
    api.fail_next("chat.postMessage", error=code)
    with pytest.raises(DeliveryError) as caught:
        slack.send(new_story(), CHANNEL)
    assert caught.value.permanent
    assert str(caught.value).startswith(f"slack: {code}")
    assert len(api.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize("code", ["internal_error", "fatal_error", "service_unavailable", "ratelimited"])
def test_slack_side_trouble_is_transient(api: SlackAPI, slack: Slack, code: str) -> None:
    api.fail_next("chat.postMessage", error=code)
    with pytest.raises(DeliveryError) as caught:
        slack.send(new_story(), CHANNEL)
    assert not caught.value.permanent
    assert code in str(caught.value)


def test_one_429_waits_exactly_its_retry_after_then_succeeds(
    api: SlackAPI, slack: Slack, sleeps: Sleeps
) -> None:
    api.fail_next("chat.postMessage", status=429, retry_after=3)
    delivered = slack.send(new_story(), CHANNEL)
    assert sleeps.waits == [3.0]
    assert len(api.calls_to("chat.postMessage")) == 2
    posted = api.messages(CHANNEL)[0]
    assert delivered.thread_ref == f"{api.channel_id(CHANNEL)}/{posted['ts']}"


def test_a_429_really_sleeps_for_retry_after(api: SlackAPI) -> None:
    slack = Slack("slack", SlackSettings(token=api.token, api_url=api.url, timeout=5), pacer=Pacer(0))
    api.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    slack.send(new_story(), CHANNEL)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 1.8


def test_persistent_429_goes_back_to_the_outbox_with_retry_after(api: SlackAPI, sleeps: Sleeps) -> None:
    pacer = Pacer(0)
    slack = Slack("slack", SlackSettings(token=api.token, api_url=api.url), pacer=pacer, sleep=sleeps)
    api.fail_next("chat.postMessage", status=429, retry_after=2, times=10)
    with pytest.raises(DeliveryError) as caught:
        slack.send(new_story(), CHANNEL)
    assert not caught.value.permanent
    assert caught.value.retry_after == 2.0
    assert sleeps.waits == [2.0, 2.0]  # two in-process retries, then the outbox takes over
    assert len(api.calls_to("chat.postMessage")) == 3
    assert pacer.delay(CHANNEL) > 1.5  # the channel is held for its Retry-After


def test_a_long_retry_after_is_not_slept_on(api: SlackAPI, slack: Slack, sleeps: Sleeps) -> None:
    api.fail_next("chat.postMessage", status=429, retry_after=600)
    with pytest.raises(DeliveryError) as caught:
        slack.send(new_story(), CHANNEL)
    assert caught.value.retry_after == 600.0
    assert sleeps.waits == []
    assert len(api.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_is_retried_in_process(
    api: SlackAPI, slack: Slack, sleeps: Sleeps, status: int
) -> None:
    api.fail_next("chat.postMessage", status=status)
    slack.send(new_story(), CHANNEL)
    assert len(api.calls_to("chat.postMessage")) == 2
    assert len(sleeps.waits) == 1
    assert len(api.messages(CHANNEL)) == 1


def test_persistent_server_errors_are_transient(api: SlackAPI, slack: Slack) -> None:
    api.fail_next("chat.postMessage", status=500, times=10)
    with pytest.raises(DeliveryError) as caught:
        slack.send(new_story(), CHANNEL)
    assert not caught.value.permanent
    assert "HTTP 500" in str(caught.value)
    assert len(api.calls_to("chat.postMessage")) == 3


def test_an_unreachable_api_is_transient() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    slack = make_slack(f"http://127.0.0.1:{port}/api/")
    with pytest.raises(DeliveryError) as caught:
        slack.send(new_story(), CHANNEL)
    assert not caught.value.permanent
    assert str(caught.value).startswith(f"slack: cannot reach 127.0.0.1:{port}")


# --- the stand-in itself speaks both body formats ---------------------------------------------


def test_stand_in_accepts_form_bodies_with_json_blocks(api: SlackAPI) -> None:
    client = WebClient(token=api.token, base_url=api.url)
    blocks = '[{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]'
    response = client.api_call("chat.postMessage", data={"channel": CHANNEL, "text": "hi", "blocks": blocks})
    assert response["ok"] is True
    [call] = api.calls
    assert call.content_type.startswith("application/x-www-form-urlencoded")
    assert call.body["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]
    assert api.messages(CHANNEL)[0]["blocks"][0]["text"]["text"] == "hello"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_stand_in_answers_like_slack_for_missing_token_and_text(api: SlackAPI) -> None:
    anonymous = WebClient(token=None, base_url=api.url)
    with pytest.raises(SlackApiError, match="not_authed"):
        anonymous.api_call("auth.test", params={})
    client = WebClient(token=api.token, base_url=api.url)
    with pytest.raises(SlackApiError, match="no_text"):
        client.chat_postMessage(channel=CHANNEL)
    first, second = (client.chat_postMessage(channel=CHANNEL, text=t)["ts"] for t in ("a", "b"))
    assert (first, second) == ("1700000000.000101", "1700000000.000102")
