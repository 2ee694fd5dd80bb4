"""One contract for every notifier kind in ``Notifier.registry``.

Each kind needs a factory here that starts its local stand-in and says how to read back
what arrived. The contract: a new story and then an update (given the returned thread
reference) both arrive; kinds that thread put the update under the story, the others
mark it "Update:"; a hostile title is neutralised (no markup takes effect, no header or
recipient is injected).
"""

from __future__ import annotations

import importlib
import io
import pkgutil
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from notify_samples import HEADER_HOSTILE, SLACK_HOSTILE, new_story, update
from pydantic import ValidationError
from slackapi import SlackAPI
from smtpserver import SMTPServer

import monitor.notify
from monitor.notify.base import Notifier
from monitor.notify.email import Email, EmailSettings
from monitor.notify.pacing import Pacer
from monitor.notify.slack import Slack, SlackSettings
from monitor.notify.slack_webhook import SlackWebhook, SlackWebhookSettings

# Every kind registers itself on import, so load them all (including ones added later).
for module in pkgutil.iter_modules(monitor.notify.__path__):
    importlib.import_module(f"monitor.notify.{module.name}")

#: Slack markup, a header injection and a terminal escape (clear screen) in one title.
HOSTILE_TITLE = f"{SLACK_HOSTILE} {HEADER_HOSTILE} \x1b[2J"
#: Markup that must never reach a place where it is interpreted.
LIVE_MARKUP = ("<!channel>", "<!here>", "<@U123>", "<https://evil.example|click>")


@dataclass(frozen=True)
class Arrived:
    """One message as its destination received it, reduced to what the contract checks."""

    ref: str | None  # its own id (Slack ts, Message-ID)
    reply_to: str | None  # the id it threads under, if any
    single_lines: list[str]  # fields that must stay one line (Slack header, e-mail Subject)
    interpreted: list[str]  # text read as markup (Slack payload, e-mail HTML and headers)
    readable: str  # everything a person reads, joined
    recipients_ok: bool  # no one but the destination received it


@dataclass(frozen=True)
class Harness:
    notifier: Notifier
    destination: str
    arrived: Callable[[], list[Arrived]]


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "url":
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _slack_arrived(api: SlackAPI, channel: str) -> list[Arrived]:
    found = []
    for message in api.messages(channel):
        texts = list(_strings({"text": message["text"], "blocks": message["blocks"]}))
        headers = [b["text"]["text"] for b in message["blocks"] if b["type"] == "header"]
        # The bot notifier's thread reference is "<channel ID>/<ts>".
        channel_id = api.channel_id(channel)
        reply_to = f"{channel_id}/{message['thread_ts']}" if message["thread_ts"] else None
        ref = f"{channel_id}/{message['ts']}"
        found.append(Arrived(ref, reply_to, headers, texts, "\n".join(texts), True))
    return found


@contextmanager
def slack_harness() -> Iterator[Harness]:
    with SlackAPI() as api:
        settings = SlackSettings(token=api.token, channel="#news-alerts", api_url=api.url, timeout=5)
        notifier = Slack("slack", settings, pacer=Pacer(0))
        yield Harness(notifier, notifier.default_destination(), lambda: _slack_arrived(api, "#news-alerts"))


@contextmanager
def slack_webhook_harness() -> Iterator[Harness]:
    with SlackAPI() as api:
        settings = SlackWebhookSettings(url=api.add_webhook("T1/B1/x", "#news-alerts"), timeout=5)
        notifier = SlackWebhook("slack_webhook", settings, pacer=Pacer(0))
        yield Harness(notifier, notifier.default_destination(), lambda: _slack_arrived(api, "#news-alerts"))


def _email_arrived(server: SMTPServer, destination: str) -> list[Arrived]:
    found = []
    for received in server.received:
        message = received.message
        html = message.get_body(preferencelist=("html",))
        text = message.get_body(preferencelist=("plain",))
        assert html is not None and text is not None
        found.append(
            Arrived(
                ref=message["Message-ID"],
                reply_to=message["In-Reply-To"],
                single_lines=[str(message["Subject"]).strip()],
                # Headers carry text, not markup: they are checked as single lines instead.
                interpreted=[html.get_content()],
                readable=f"{message['Subject']}\n{text.get_content()}",
                recipients_ok=received.rcpt_tos == [destination] and message["Bcc"] is None,
            )
        )
    return found


@contextmanager
def email_harness() -> Iterator[Harness]:
    with SMTPServer() as server:
        settings = EmailSettings(
            host=server.host,
            port=server.port,
            security="none",
            sender="News Monitor <monitor@example.com>",
            to=["desk@example.com"],
            timeout=5,
        )
        notifier = Email("email", settings)
        yield Harness(notifier, "desk@example.com", lambda: _email_arrived(server, "desk@example.com"))


def _console_arrived(stream: io.StringIO) -> list[Arrived]:
    found = []
    for block in re.split(r"^(?=\[)", stream.getvalue(), flags=re.MULTILINE):
        if not block.strip():
            continue
        first_line = block.splitlines()[0]
        story_id = re.search(r"(?:NEW STORY|UPDATE to story) #(\d+)", first_line)
        assert story_id is not None, first_line
        ref = f"story-{story_id.group(1)}"
        is_reply = "UPDATE to story" in first_line and "(standalone)" not in first_line
        found.append(
            Arrived(
                ref=None if is_reply else ref,
                reply_to=ref if is_reply else None,
                single_lines=[first_line],
                # A terminal reads escape sequences, not Slack or HTML markup (checked for all kinds).
                interpreted=[],
                readable=block,
                recipients_ok=True,
            )
        )
    return found


@contextmanager
def console_harness() -> Iterator[Harness]:
    from monitor.notify.console import Console, ConsoleSettings

    stream = io.StringIO()
    notifier = Console("console", ConsoleSettings(), stream=stream)
    yield Harness(notifier, notifier.default_destination(), lambda: _console_arrived(stream))


FACTORIES: dict[str, Callable[[], AbstractContextManager[Harness]]] = {
    "slack": slack_harness,
    "slack_webhook": slack_webhook_harness,
    "email": email_harness,
    "console": console_harness,
}


@pytest.fixture(params=sorted(Notifier.registry))
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    kind: str = request.param
    if kind not in FACTORIES:
        pytest.fail(f"notifier kind {kind!r} has no factory in tests/test_notify_contract.py::FACTORIES")
    with FACTORIES[kind]() as built:
        assert built.notifier.kind == kind
        yield built


def test_the_registry_holds_the_builtin_kinds() -> None:
    assert {"slack", "slack_webhook", "email"} <= set(Notifier.registry)


def test_new_story_then_update_both_arrive_threaded_where_possible(harness: Harness) -> None:
    notifier, destination = harness.notifier, harness.destination
    root = notifier.send(new_story(), destination)
    reply = notifier.send(update(), destination, root.thread_ref)

    first, second = harness.arrived()
    assert "Russia and Ukraine resume talks in Istanbul" in first.readable
    assert "A prisoner exchange was agreed." in second.readable
    if notifier.threads:
        assert root.thread_ref is not None and root.thread_ref == first.ref
        assert second.reply_to == root.thread_ref
        assert reply.thread_ref == root.thread_ref
    else:
        assert root.thread_ref is None
        assert second.reply_to is None
        assert "Update: Russia and Ukraine resume talks in Istanbul" in second.readable


def test_an_update_says_what_it_adds_to_which_story(harness: Harness) -> None:
    notifier, destination = harness.notifier, harness.destination
    root = notifier.send(new_story(), destination)
    message = update(sentences=("One.", "Two.", "Three.", "Four."), origin="inbox/005_0123456789abcdef.txt")
    notifier.send(message, destination, root.thread_ref)

    readable = harness.arrived()[1].readable
    # The new sentences the alert carries (as many as stories.max_novel_sentences), in article order.
    assert (
        readable.index("One.") < readable.index("Two.") < readable.index("Three.") < readable.index("Four.")
    )
    # The article: title, source, date and origin.
    article = message.article
    for detail in (article.title, article.source, "2024-05-01", article.origin):
        assert detail in readable, detail
    # The story: id, title, article and source counts, first-seen time.
    story = message.story
    assert story.title in readable or notifier.threads
    assert f"story #{story.id} · first seen 2024-05-01 14:03 UTC · 2 articles · 2 sources" in readable


def test_a_hostile_title_is_neutralised(harness: Harness) -> None:
    notifier, destination = harness.notifier, harness.destination
    root = notifier.send(new_story(HOSTILE_TITLE, title=HOSTILE_TITLE, lead=SLACK_HOSTILE), destination)
    notifier.send(
        update(HOSTILE_TITLE, sentences=(SLACK_HOSTILE,), title=HOSTILE_TITLE), destination, root.thread_ref
    )

    arrived = harness.arrived()
    assert len(arrived) == 2
    for message in arrived:
        assert message.recipients_ok
        for line in message.single_lines:
            assert "\r" not in line and "\n" not in line
        for text in message.interpreted:
            for markup in LIVE_MARKUP:
                assert markup not in text
        assert "\x1b" not in message.readable
        assert "Talks" in message.readable  # neutralised, not dropped


def test_sending_to_the_default_destination_works(harness: Harness) -> None:
    destination: Any = harness.notifier.default_destination()
    harness.notifier.send(new_story(), harness.notifier.normalise_destination(destination))
    assert len(harness.arrived()) == 1


def test_the_documented_settings_validate_and_unknown_keys_are_refused() -> None:
    documented = yaml.safe_load(
        (Path(__file__).parent / "data" / "notify_config.yaml").read_text(encoding="utf-8")
    )
    for kind, section in documented["notifiers"].items():
        settings_model = Notifier.by_kind(kind).Settings
        settings = settings_model.model_validate(section)
        assert settings.model_dump()["timeout"] == 30.0
        with pytest.raises(ValidationError, match="Extra inputs"):
            settings_model.model_validate({**section, "colour": "red"})
