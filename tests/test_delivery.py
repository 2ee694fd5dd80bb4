"""Delivery end to end: articles in a drop folder -> App -> outbox -> Slack / e-mail.

Everything is real: the App built from a config, the pipeline, the outbox, the notifiers,
slack-sdk's client talking to the local Web API stand-in (tests/slackapi.py) and smtplib
talking to aiosmtpd (tests/smtpserver.py). Time is an injected clock, so backoffs and digest
periods pass without waiting; Slack's per-channel pacing is shortened to keep the suite fast
(bench/delivery.py measures it at its real 1 post/s).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import smtpserver
from click.testing import CliRunner
from coined import distinct_articles, title_of
from conftest import CONTRACT_QUERY, CONTRACT_TOPIC, SEED_FIRST, SEED_UPDATE, SEEDS_DIR
from slackapi import SlackAPI
from smtpserver import SMTPServer
from sqlalchemy.orm import Session

from monitor import defaults
from monitor.app import App
from monitor.cli import admin, inspect, worker  # noqa: F401  (registers the commands)
from monitor.cli.main import cli
from monitor.config import load_config
from monitor.model import AlertKind, AlertStatus
from monitor.notify.pacing import Pacer
from monitor.notify.slack import Slack
from monitor.outbox import Outbox, lead_of
from monitor.store import db, repo
from monitor.store.tables import AlertRow, StoryRow

#: The seeds are dated 2026-02-18; the story window is measured against the clock, so the
#: clock stands on that day for every test that needs 000 and 002 to be one story.
SEED_DAY = datetime(2026, 2, 18, 13, 0, tzinfo=UTC)

#: Seed 002 carries no date marker: its publication time is its file's modification time,
#: which is set to the day of 000, as a file dropped on that day would have.
SEED_UPDATE_MTIME = datetime(2026, 2, 18, 12, 0, tzinfo=UTC)

DESK = "#ukraine-desk"
DESK_ADDRESS = "desk@example.com"

#: A pause between posts to one channel short enough for tests, long enough to keep order visible.
TEST_PACING_SECONDS = 0.02

SEEDS_ONE_STORY = "seeds 000 and 002 must be one story: a root and an update"


class Clock:
    """Wall time that starts at ``start`` and runs on, and can be moved forward at will."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime.now(UTC)
        self._began = time.monotonic()
        self._skipped = timedelta()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._began) + self._skipped

    def advance(self, seconds: float) -> None:
        self._skipped += timedelta(seconds=seconds)


# --- building apps -------------------------------------------------------------------------


@dataclass
class Desk:
    """One App under test with its drop folder and config file."""

    app: App
    clock: Clock
    config_path: Path
    inbox: Path

    def drop(self, name: str, text: str) -> None:
        (self.inbox / name).write_text(text, encoding="utf-8")

    def drop_seed(self, name: str) -> None:
        target = Path(shutil.copy2(SEEDS_DIR / name, self.inbox / name))
        if name == SEED_UPDATE:
            stamp = SEED_UPDATE_MTIME.timestamp()
            os.utime(target, (stamp, stamp))

    def poll(self) -> None:
        outcome = self.app.poll("inbox")
        assert outcome.error is None, outcome.error

    def alerts(self) -> list[AlertRow]:
        with self.app.sessions() as session:
            rows = [row for status in AlertStatus for row in repo.alerts_with_status(session, status)]
        return sorted(rows, key=lambda row: row.id)

    def pending(self) -> list[AlertRow]:
        return [row for row in self.alerts() if row.status == AlertStatus.PENDING]

    def deliver_until_idle(self, *, horizon: float = 120.0, timeout: float = 30.0) -> None:
        """Deliver pass after pass; skip the clock over waits; stop when nothing is due within ``horizon``."""
        deadline = time.monotonic() + timeout
        while True:
            self.app.outbox.deliver_due()
            waiting = [row.next_attempt_at for row in self.pending()]
            if not waiting:
                return
            wait = (min(waiting) - self.clock()).total_seconds()
            if wait > horizon:
                return
            assert time.monotonic() < deadline, f"still pending after {timeout}s: {self.pending()}"
            if wait > 0:
                self.clock.advance(wait)


@pytest.fixture
def make_desk(
    tmp_path: Path, database_url: str, write_config: Callable[..., Path]
) -> Iterator[Callable[..., Desk]]:
    built: list[App] = []

    def make(*, notifiers: dict[str, Any], topics: list[dict[str, Any]], clock: Clock | None = None) -> Desk:
        config_path = write_config(
            tmp_path,
            database=database_url,
            notifiers=notifiers,
            topics=topics,
            delivery={"every": "1s", "backoff_base": "1s", "backoff_cap": "10s"},
        )
        config = load_config(config_path)
        engine = db.create_db_engine(config.database)
        try:
            db.upgrade(engine)
        finally:
            engine.dispose()
        clock = clock or Clock()
        app = App.build(config, clock=clock)
        built.append(app)
        for notifier in app.notifiers.values():
            if isinstance(notifier, Slack):
                notifier.pacer = Pacer(TEST_PACING_SECONDS)
        return Desk(app, clock, config_path, tmp_path / "inbox")

    yield make
    for app in built:
        app.close()


@pytest.fixture
def slack_api() -> Iterator[SlackAPI]:
    with SlackAPI(channels=["ukraine-desk", "news-alerts"]) as api:
        yield api


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


def slack_notifier(api: SlackAPI) -> dict[str, Any]:
    return {"slack": {"token": api.token, "api_url": api.url, "timeout": "5s"}}


def email_notifier(port: int) -> dict[str, Any]:
    return {
        "email": {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "sender": "Monitor <monitor@example.com>",
            "timeout": "5s",
        }
    }


def contract_topic(*notify: Any, name: str = CONTRACT_TOPIC, query: str = CONTRACT_QUERY) -> dict[str, Any]:
    return {"name": name, "query": query, "notify": list(notify)}


def posts(api: SlackAPI, channel: str | None = None) -> list[Any]:
    """Successful chat.postMessage calls, optionally to one channel (as the notifier named it)."""
    calls = [call for call in api.calls_to("chat.postMessage") if call.answer.get("ok")]
    return [call for call in calls if channel is None or call.body.get("channel") == channel]


def strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


# --- 1. Slack threading -------------------------------------------------------------------------


def test_seeds_become_one_slack_root_with_a_threaded_update_and_never_repeat(
    make_desk: Callable[..., Desk], slack_api: SlackAPI
) -> None:
    desk = make_desk(
        notifiers=slack_notifier(slack_api), topics=[contract_topic({"slack": DESK})], clock=Clock(SEED_DAY)
    )
    desk.drop_seed(SEED_FIRST)
    desk.poll()
    desk.deliver_until_idle()
    desk.drop_seed(SEED_UPDATE)
    desk.poll()
    desk.deliver_until_idle()

    alerts = desk.alerts()
    assert all(row.status == AlertStatus.SENT for row in alerts), alerts
    messages = slack_api.messages(DESK)
    assert len(messages) == len(alerts) == len(posts(slack_api))

    # Ingesting and delivering again sends nothing.
    desk.poll()
    desk.deliver_until_idle()
    desk.app.outbox.deliver_due()
    assert len(posts(slack_api)) == len(alerts)
    assert len(desk.alerts()) == len(alerts)

    roots = [message for message in messages if message["thread_ts"] is None]
    assert len(roots) == 1, SEEDS_ONE_STORY
    (root,) = roots
    replies = slack_api.replies(DESK, root["ts"])
    assert len(messages) == 2 and len(replies) == 1
    assert "What's new" in " ".join(strings(replies[0]["blocks"]))
    assert [row.kind for row in alerts] == [AlertKind.NEW_STORY, AlertKind.UPDATE]
    assert alerts[1].thread_ref == alerts[0].thread_ref == f"{slack_api.channel_id(DESK)}/{root['ts']}"
    # The root was edited in place with the story's running counts.
    edits = [call for call in slack_api.calls_to("chat.update") if call.answer.get("ok")]
    assert [call.body["ts"] for call in edits] == [root["ts"]]
    assert root["edits"] == 1
    root_text = " ".join(strings(root["blocks"]))
    assert "2 articles" in root_text and "1 update" in root_text
    # Seed 000 gives its date; seed 002 gives none, so the reply says when it was received.
    assert " · 2026-02-18 · " in root_text and "00:00" not in root_text and "received" not in root_text
    assert "received 20" in " ".join(strings(replies[0]["blocks"]))


# --- 2. e-mail threading ----------------------------------------------------------------------


def test_seeds_become_one_email_and_a_reply_to_it(make_desk: Callable[..., Desk], smtp: SMTPServer) -> None:
    desk = make_desk(
        notifiers=email_notifier(smtp.port),
        topics=[contract_topic({"email": {"to": [DESK_ADDRESS]}})],
        clock=Clock(SEED_DAY),
    )
    desk.drop_seed(SEED_FIRST)
    desk.poll()
    desk.deliver_until_idle()
    desk.drop_seed(SEED_UPDATE)
    desk.poll()
    desk.deliver_until_idle()
    desk.poll()
    desk.deliver_until_idle()

    alerts = desk.alerts()
    assert all(row.status == AlertStatus.SENT for row in alerts), alerts
    assert len(smtp.received) == len(alerts)
    assert all(item.rcpt_tos == [DESK_ADDRESS] for item in smtp.received)
    assert len(alerts) == 2, SEEDS_ONE_STORY
    first, reply = smtp.messages
    assert not str(first["Subject"]).startswith("Re:")
    assert str(reply["Subject"]) == f"Re: {first['Subject']}"
    assert reply["In-Reply-To"] == first["Message-ID"]
    assert reply["References"] == first["Message-ID"]
    assert alerts[0].thread_ref == first["Message-ID"]
    first_text, reply_text = (_plain_text(message) for message in (first, reply))
    assert " · 2026-02-18 · " in first_text and "00:00" not in first_text and "received" not in first_text
    assert "received 20" in reply_text


def _plain_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


# --- 3. escaping end to end ---------------------------------------------------------------------

HOSTILE = "<!channel> <!here> <@U123> <https://evil.example|click>"


def test_a_hostile_article_pings_no_one_and_injects_no_link(
    make_desk: Callable[..., Desk], slack_api: SlackAPI
) -> None:
    desk = make_desk(notifiers=slack_notifier(slack_api), topics=[contract_topic({"slack": DESK})])
    desk.drop(
        "hostile.txt",
        f" date 2026-02-18 Kyiv and Moscow resume talks {HOSTILE} in Geneva.\n"
        f"Russian and Ukrainian negotiators met again on Tuesday {HOSTILE} and said the ceasefire holds.\n"
        f"Officials asked readers to click {HOSTILE} for details.\n",
    )
    desk.poll()
    desk.deliver_until_idle()

    (post,) = posts(slack_api, DESK)
    text = list(strings(post.body))
    assert any("&lt;!channel&gt;" in piece for piece in text), text  # the text did arrive, escaped
    for piece in text:
        for forbidden in ("<!", "<@", "<http", "|click>"):
            assert forbidden not in piece, piece
    assert not post.body.get("link_names") and post.body.get("parse") != "full"
    (message,) = slack_api.messages(DESK)
    assert not any("evil.example" in element.get("url", "") for element in _elements(message["blocks"]))


def _elements(blocks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for block in blocks:
        yield from block.get("elements", [])


# --- 4. rate limits and errors keep every story, once, in order ----------------------------------


def test_rate_limits_and_server_errors_lose_nothing_and_keep_story_order(
    make_desk: Callable[..., Desk], slack_api: SlackAPI
) -> None:
    articles = distinct_articles(12, marker=lambda index: "near Odesa" if index % 2 == 0 else "")
    desk = make_desk(
        notifiers=slack_notifier(slack_api),
        topics=[
            contract_topic({"slack": DESK}),
            contract_topic({"slack": "#news-alerts"}, name="odesa", query="Odesa"),
        ],
    )
    # The first post to each channel fails with 500 through all in-process retries, so the
    # outbox itself must retry it while later stories wait; then every third post is rate
    # limited with Retry-After: 1 (the first dozen posts or so, to keep the test quick).
    failing_chain = defaults.SLACK_INLINE_RETRIES + 1
    slack_api.fail_next("chat.postMessage", status=500, times=2 * failing_chain)
    for _ in range(4):
        slack_api.fail_next("chat.postMessage", status=429, retry_after=1, skip=2)
    for index, article in enumerate(articles):
        desk.drop(f"{index:03d}.txt", article)
    desk.poll()
    desk.deliver_until_idle()

    alerts = desk.alerts()
    assert len({row.story_id for row in alerts}) == 12, "the generated articles must be distinct stories"
    assert all(row.status == AlertStatus.SENT for row in alerts), alerts
    statuses = [call.status for call in slack_api.calls_to("chat.postMessage")]
    assert statuses.count(500) == 2 * failing_chain and statuses.count(429) == 4
    assert any(row.attempts >= 2 for row in alerts), "the outbox itself retried a first post"
    with desk.app.sessions() as session:
        titles = {row.story_id: _story_title(session, row.story_id) for row in alerts}
    for channel, expected in ((DESK, 12), ("#news-alerts", 6)):
        alert_of_story = {row.story_id: row.id for row in alerts if row.destination == channel}
        sent = [alert_of_story[story_of(message["text"], titles)] for message in slack_api.messages(channel)]
        assert len(sent) == expected and sorted(set(sent)) == sorted(alert_of_story.values()), sent
        assert sent == sorted(sent), f"{channel} received stories out of order: {sent}"


def _story_title(session: Session, story_id: int) -> str:
    story = session.get(StoryRow, story_id)
    assert story is not None
    return story.title


def story_of(text: str, titles: dict[int, str]) -> int:
    """The story whose title a message's fallback text carries."""
    found = [story_id for story_id, title in titles.items() if title[:60] in text]
    assert len(found) == 1, (text, found)
    return found[0]


# --- 5. a wrong channel fails once, visibly, and can be retried -------------------------------------


def test_a_wrong_channel_fails_permanently_without_holding_up_the_good_one(
    make_desk: Callable[..., Desk], slack_api: SlackAPI
) -> None:
    desk = make_desk(
        notifiers=slack_notifier(slack_api),
        topics=[
            contract_topic({"slack": "#does-not-exist"}, name="misrouted"),
            contract_topic({"slack": DESK}),
        ],
    )
    desk.drop_seed(SEED_FIRST)
    desk.poll()
    desk.deliver_until_idle()

    by_topic = {row.topic: row for row in desk.alerts()}
    bad, good = by_topic["misrouted"], by_topic[CONTRACT_TOPIC]
    assert bad.status == AlertStatus.FAILED and "channel_not_found" in (bad.last_error or "")
    assert good.status == AlertStatus.SENT and len(slack_api.messages(DESK)) == 1
    tries = len(slack_api.calls_to("chat.postMessage"))
    for _ in range(3):  # no loop: a failed alert is not tried again
        desk.clock.advance(3600)
        desk.app.outbox.deliver_due()
    assert len(slack_api.calls_to("chat.postMessage")) == tries

    runner = CliRunner()
    listed = runner.invoke(cli, ["--config", str(desk.config_path), "alerts", "--failed"])
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.output.splitlines() if line.startswith("#")]
    assert len(lines) == 1 and f"#{bad.id} failed" in lines[0]
    assert "#does-not-exist" in lines[0] and "channel_not_found" in lines[0]
    assert " · failed after 1 attempt — " in lines[0]

    slack_api.add_channel("does-not-exist")
    retried = runner.invoke(cli, ["--config", str(desk.config_path), "alerts", "retry"])
    assert retried.exit_code == 0 and "1 alert(s) re-queued" in retried.output, retried.output
    assert {row.id: row.status for row in desk.pending()} == {bad.id: AlertStatus.PENDING}
    desk.deliver_until_idle()
    assert len(slack_api.messages("#does-not-exist")) == 1
    assert all(row.status == AlertStatus.SENT for row in desk.alerts())


# --- 6. an update never overtakes its root --------------------------------------------------------


def test_an_update_waits_for_its_root_that_is_being_retried(
    make_desk: Callable[..., Desk], slack_api: SlackAPI
) -> None:
    desk = make_desk(
        notifiers=slack_notifier(slack_api), topics=[contract_topic({"slack": DESK})], clock=Clock(SEED_DAY)
    )
    desk.drop_seed(SEED_FIRST)
    desk.drop_seed(SEED_UPDATE)
    desk.poll()
    assert [row.kind for row in desk.alerts()] == [AlertKind.NEW_STORY, AlertKind.UPDATE], SEEDS_ONE_STORY
    slack_api.fail_next("chat.postMessage", status=500, times=defaults.SLACK_INLINE_RETRIES + 1)

    report = desk.app.outbox.deliver_due()
    assert (report.sent, report.retried) == (0, 1)
    assert slack_api.messages(DESK) == []
    root, update = desk.alerts()
    assert root.status == update.status == AlertStatus.PENDING
    assert update.attempts == 0 and update.next_attempt_at >= root.next_attempt_at

    desk.deliver_until_idle()
    first, second = slack_api.messages(DESK)
    assert first["thread_ts"] is None and second["thread_ts"] == first["ts"]


def test_an_update_goes_out_standalone_when_its_root_failed_for_good(
    make_desk: Callable[..., Desk], slack_api: SlackAPI
) -> None:
    desk = make_desk(
        notifiers=slack_notifier(slack_api), topics=[contract_topic({"slack": DESK})], clock=Clock(SEED_DAY)
    )
    desk.drop_seed(SEED_FIRST)
    desk.drop_seed(SEED_UPDATE)
    desk.poll()
    assert [row.kind for row in desk.alerts()] == [AlertKind.NEW_STORY, AlertKind.UPDATE], SEEDS_ONE_STORY
    slack_api.fail_next("chat.postMessage", error="invalid_blocks")

    desk.deliver_until_idle()
    root, update = desk.alerts()
    assert root.status == AlertStatus.FAILED and update.status == AlertStatus.SENT
    (message,) = slack_api.messages(DESK)
    assert message["thread_ts"] is None
    header = message["blocks"][0]
    assert header["type"] == "header" and header["text"]["text"].startswith("Update: ")


# --- 7. SMTP down -------------------------------------------------------------------------------------


def test_an_alert_waits_while_the_smtp_server_is_down_and_goes_out_when_it_is_back(
    make_desk: Callable[..., Desk], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = smtpserver.free_port()
    desk = make_desk(
        notifiers=email_notifier(port), topics=[contract_topic({"email": {"to": [DESK_ADDRESS]}})]
    )
    desk.drop_seed(SEED_FIRST)
    desk.poll()
    desk.app.outbox.deliver_due()
    desk.clock.advance(60)
    desk.app.outbox.deliver_due()
    (alert,) = desk.alerts()
    assert alert.status == AlertStatus.PENDING and alert.attempts == 2
    assert "cannot reach" in (alert.last_error or "")

    monkeypatch.setattr(smtpserver, "free_port", lambda: port)
    with SMTPServer() as server:
        assert server.port == port
        desk.deliver_until_idle()
        (alert,) = desk.alerts()
        assert alert.status == AlertStatus.SENT
        assert len(server.received) == 1


# --- 9. e-mail digests ------------------------------------------------------------------------------


def test_a_digest_target_gets_one_email_per_period_grouped_by_story(
    make_desk: Callable[..., Desk], smtp: SMTPServer
) -> None:
    clock = Clock(datetime(2026, 2, 18, 10, 15, tzinfo=UTC))
    desk = make_desk(
        notifiers=email_notifier(smtp.port),
        topics=[
            contract_topic({"email": {"to": [DESK_ADDRESS], "digest": "hourly"}}),
            # The same address also follows a topic without a digest: that one must not wait.
            contract_topic({"email": {"to": [DESK_ADDRESS]}}, name="witkoff", query="Witkoff"),
        ],
        clock=clock,
    )
    other = distinct_articles(1, seed=11)[0]
    desk.drop_seed(SEED_FIRST)
    desk.drop("other.txt", other)
    desk.poll()
    desk.drop_seed(SEED_UPDATE)
    desk.poll()

    digest_rows = [row for row in desk.alerts() if row.topic == CONTRACT_TOPIC]
    assert {row.next_attempt_at for row in digest_rows} == {datetime(2026, 2, 18, 11, 0, tzinfo=UTC)}
    desk.app.outbox.deliver_due()
    immediate = [row for row in desk.alerts() if row.topic == "witkoff"]
    assert immediate and all(row.status == AlertStatus.SENT for row in immediate)
    assert all(row.status == AlertStatus.PENDING for row in desk.alerts() if row.topic == CONTRACT_TOPIC)
    assert not any("Digest" in str(message["Subject"]) for message in smtp.messages)
    before = len(smtp.received)

    # The period ends; the first try meets a busy server, so all of them are retried together.
    smtp.fail_next_data("451 4.3.0 Try again later")
    clock.advance(45 * 60 + 1)
    desk.app.outbox.deliver_due()
    retry_times = {row.next_attempt_at for row in desk.alerts() if row.topic == CONTRACT_TOPIC}
    assert len(retry_times) == 1 and len(smtp.received) == before
    desk.deliver_until_idle()

    assert all(row.status == AlertStatus.SENT for row in desk.alerts())
    (digest,) = smtp.messages[before:]
    assert "Digest" in str(digest["Subject"])
    body = digest.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    stories = {row.story_id for row in digest_rows}
    assert len(stories) >= 2
    assert title_of(other)[:40] in text and "US envoy Steve Witkoff" in text
    # Nothing is sent twice, and the next period starts empty.
    clock.advance(3600)
    desk.deliver_until_idle()
    assert len(smtp.received) == before + 1


# --- stopping, and two workers sharing one outbox --------------------------------------------------


def _backlog(desk: Desk, count: int, pacing: float) -> None:
    for index, article in enumerate(distinct_articles(count, seed=5)):
        desk.drop(f"{index:03d}.txt", article)
    desk.poll()
    for notifier in desk.app.notifiers.values():
        if isinstance(notifier, Slack):
            notifier.pacer = Pacer(pacing)


def test_stop_gives_back_the_claimed_backlog_after_the_send_under_way(
    make_desk: Callable[..., Desk], slack_api: SlackAPI
) -> None:
    desk = make_desk(notifiers=slack_notifier(slack_api), topics=[contract_topic({"slack": DESK})])
    _backlog(desk, 6, pacing=0.3)
    delivery = threading.Thread(target=desk.app.outbox.deliver_due)
    delivery.start()
    deadline = time.monotonic() + 10
    while not slack_api.messages(DESK):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    desk.app.outbox.stop()
    delivery.join(timeout=2)
    assert not delivery.is_alive()

    sent = len(slack_api.messages(DESK))
    assert 1 <= sent < 6
    pending = desk.pending()
    assert len(pending) == 6 - sent
    assert all(row.lease_owner is None and row.next_attempt_at <= desk.clock() for row in pending)
    assert desk.app.outbox.deliver_due().sent == 0  # a stopped outbox claims nothing


def test_two_workers_draining_one_outbox_send_each_alert_once(
    make_desk: Callable[..., Desk], slack_api: SlackAPI
) -> None:
    desk = make_desk(notifiers=slack_notifier(slack_api), topics=[contract_topic({"slack": DESK})])
    _backlog(desk, 8, pacing=0.15)
    # Leases far shorter than the backlog takes: rows queued in one worker expire and the other
    # claims them; renewing the lease right before each send keeps every row to one sender.
    workers = [
        Outbox(
            desk.app.sessions,
            desk.app.config,
            desk.app.notifiers,
            clock=desk.clock,
            owner=name,
            lease_seconds=0.3,
        )
        for name in ("worker-a", "worker-b")
    ]

    def drain(outbox: Outbox) -> None:
        deadline = time.monotonic() + 20
        while desk.pending() and time.monotonic() < deadline:
            outbox.deliver_due()
            time.sleep(0.05)

    threads = [threading.Thread(target=drain, args=(outbox,)) for outbox in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(row.status == AlertStatus.SENT for row in desk.alerts())
    texts = [message["text"] for message in slack_api.messages(DESK)]
    assert len(texts) == len(set(texts)) == 8


@pytest.mark.parametrize(
    ("body", "title", "lead"),
    [
        (
            "Talks resume. Delegates met at noon.\nA second paragraph.",
            "Talks resume.",
            "Delegates met at noon.\nA second paragraph.",
        ),
        ("Talks resume.\nDelegates met at noon.", "Talks resume.", "Delegates met at noon."),
        # A title that only begins the first word is no sentence of the body.
        ("Talksmen resume work.", "Talks", "Talksmen resume work."),
        ("Delegates met at noon.", "Talks resume in Geneva", "Delegates met at noon."),
        ("Talks resume.", "Talks resume.", ""),
    ],
)
def test_an_alerts_lead_leaves_out_the_title_the_body_opens_with(body: str, title: str, lead: str) -> None:
    assert lead_of(body, title) == lead
