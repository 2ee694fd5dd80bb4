"""The whole path through ``App.build(config)`` on SQLite and PostgreSQL: files -> articles ->
stories -> topic alerts -> console, each exactly once."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import CONTRACT_TOPIC, SEED_FIRST, SEED_UPDATE, UNRELATED_ARTICLE, copy_seeds
from sqlalchemy import func, select

from monitor.app import App
from monitor.config import Config, FolderSourceConfig
from monitor.model import AlertStatus
from monitor.notify.console import Console
from monitor.polling import ingest_paths
from monitor.sources.folder import FolderSource
from monitor.store.tables import (
    AlertRow,
    ArticleRow,
    ArticleSourceRow,
    Base,
    SourceFileRow,
    StoryRow,
    StoryTopicRow,
)

TABLES: tuple[type[Base], ...] = (ArticleRow, ArticleSourceRow, StoryRow, StoryTopicRow, AlertRow)


def _counts(app: App) -> dict[str, int]:
    with app.sessions() as session:
        return {
            table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0
            for table in TABLES
        }


def _alerts(app: App) -> list[AlertRow]:
    with app.sessions() as session:
        return list(session.scalars(select(AlertRow).order_by(AlertRow.id)))


def _inbox(config: Config) -> Path:
    return Path(config.sources[0].location)


@pytest.fixture
def seeded(contract_config: Config, build_app: Callable[[Config], App]) -> App:
    """An app whose inbox holds both seeds, polled once."""
    copy_seeds(_inbox(contract_config))
    app = build_app(contract_config)
    outcome = app.poll("inbox")
    assert outcome.error is None
    assert outcome.report.stored == 2
    return app


def test_seeds_become_tracked_stories_with_one_new_story_alert_each(seeded: App) -> None:
    with seeded.sessions() as session:
        stories = list(session.scalars(select(StoryRow)))
        articles = list(session.scalars(select(ArticleRow).order_by(ArticleRow.id)))
        tracked = {(row.story_id, row.topic) for row in session.scalars(select(StoryTopicRow))}
    assert articles[0].role == "first"
    assert all(a.story_id is not None for a in articles)
    assert stories and all((story.id, CONTRACT_TOPIC) in tracked for story in stories)

    alerts = _alerts(seeded)
    assert {alert.topic for alert in alerts} == {CONTRACT_TOPIC}
    assert {(alert.notifier, alert.destination) for alert in alerts} == {("console", "stdout")}
    assert all(alert.status == AlertStatus.PENDING for alert in alerts)
    roots = [alert.story_id for alert in alerts if alert.kind == "new_story"]
    assert sorted(roots) == sorted(story.id for story in stories)


def test_seeds_are_one_story_opened_by_000_and_updated_by_002(seeded: App) -> None:
    with seeded.sessions() as session:
        stories = list(session.scalars(select(StoryRow)))
        roles = {
            Path(origin).name: (article.role, article.story_id)
            for article, origin in session.execute(
                select(ArticleRow, ArticleSourceRow.origin).join(
                    ArticleSourceRow, ArticleSourceRow.article_id == ArticleRow.id
                )
            )
        }
    assert len(stories) == 1
    assert roles == {SEED_FIRST: ("first", stories[0].id), SEED_UPDATE: ("update", stories[0].id)}
    new_story = [alert for alert in _alerts(seeded) if alert.kind == "new_story"]
    assert [(alert.story_id, alert.topic, alert.notifier) for alert in new_story] == [
        (stories[0].id, CONTRACT_TOPIC, "console")
    ]


def test_polling_the_same_files_again_stores_and_alerts_nothing(
    seeded: App, contract_config: Config, build_app: Callable[[Config], App]
) -> None:
    before = _counts(seeded)
    folder = contract_config.sources[0]
    assert isinstance(folder, FolderSourceConfig)

    again = seeded.poll("inbox")
    # A restarted worker has no memory but the database.
    restarted = build_app(contract_config).poll("inbox")
    # `monitor ingest` of the same files goes through the same ledger.
    by_hand = ingest_paths(
        seeded.sessions,
        seeded.pipeline,
        FolderSource(folder),
        [_inbox(contract_config)],
        seeded.clock,
    )

    for outcome in (again, restarted, by_hand):
        assert (outcome.report.stored, outcome.report.alerts, outcome.report.stories_created) == (0, 0, 0)
    assert by_hand.report.known == 2
    assert _counts(seeded) == before


def test_a_renamed_copy_of_a_seed_does_nothing(seeded: App, contract_config: Config) -> None:
    before = _counts(seeded)
    inbox = _inbox(contract_config)
    shutil.copy(inbox / SEED_FIRST, inbox / "renamed-copy.txt")

    outcome = seeded.poll("inbox")

    assert (outcome.report.stored, outcome.report.alerts) == (0, 0)
    assert outcome.report.known == 1
    assert _counts(seeded) == before
    with seeded.sessions() as session:
        statuses = {Path(row.path).name: row.status for row in session.scalars(select(SourceFileRow))}
    assert statuses == {SEED_FIRST: "ingested", SEED_UPDATE: "ingested", "renamed-copy.txt": "copy"}


def test_an_article_off_topic_is_stored_but_alerts_nobody(
    contract_config: Config, build_app: Callable[[Config], App]
) -> None:
    (_inbox(contract_config) / "council.txt").write_text(UNRELATED_ARTICLE, encoding="utf-8")
    app = build_app(contract_config)

    outcome = app.poll("inbox")

    assert (outcome.report.stored, outcome.report.stories_created, outcome.report.alerts) == (1, 1, 0)
    counts = _counts(app)
    assert (counts["articles"], counts["stories"], counts["story_topics"], counts["alerts"]) == (1, 1, 0, 0)


def test_the_outbox_delivers_through_the_console_once(seeded: App) -> None:
    stream = io.StringIO()
    seeded.notifiers["console"] = Console(
        "console", seeded.config.notifiers["console"].settings, stream=stream
    )
    pending = _alerts(seeded)
    with seeded.sessions() as session:
        titles = {story.id: story.title for story in session.scalars(select(StoryRow))}

    report = seeded.outbox.deliver_due()
    # An update waits for its story's root; the next pass sends it.
    report.sent += seeded.outbox.deliver_due().sent

    assert report.sent == len(pending) and report.failed == 0
    printed = stream.getvalue()
    for alert in pending:
        if alert.kind == "new_story":
            assert f"[{CONTRACT_TOPIC}] NEW STORY #{alert.story_id}: {titles[alert.story_id]}" in printed
    assert printed.count(f"[{CONTRACT_TOPIC}]") == len(pending)
    assert f"{os.sep}{SEED_FIRST}" in printed
    sent = _alerts(seeded)
    assert all(alert.status == AlertStatus.SENT and alert.sent_at is not None for alert in sent)
    assert all(alert.attempts == 1 for alert in sent)

    again = seeded.outbox.deliver_due()

    assert (again.sent, again.failed) == (0, 0)
    assert stream.getvalue() == printed
