"""The storage contract, run unchanged on SQLite and on PostgreSQL: schema upgrades, conflict-free
inserts, UTC datetimes, one row per article text and one alert per key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from conftest import CONTRACT_QUERY, CONTRACT_TOPIC
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import parse_config
from monitor.model import Incoming, RawArticle
from monitor.pipeline import Pipeline
from monitor.store import db, repo
from monitor.store.tables import AlertRow, ArticleRow, ArticleSourceRow, Base, SourceRow, StoryRow
from monitor.tracking import Target

NOW = datetime(2026, 2, 18, 12, 0, tzinfo=UTC)

BODY = (
    "Ukrainian and Russian negotiators met in Geneva on Wednesday for a second day of talks.\n"
    "The US envoy said both sides agreed to report back to their leaders before the next round.\n"
    "Neither delegation said whether a ceasefire was any closer after six hours of discussion.\n"
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    created = db.create_db_engine(database_url)
    yield created
    created.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    db.upgrade(engine)
    return db.session_factory(engine)


def _source(sessions: sessionmaker[Session], name: str = "inbox") -> SourceRow:
    with sessions.begin() as session:
        return repo.ensure_source(session, name=name, kind="folder", location=f"./{name}", now=NOW)


def _story(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as session:
        story = StoryRow(
            title="Talks in Geneva", first_seen_at=NOW, updated_at=NOW, article_count=0, source_count=0
        )
        session.add(story)
        session.flush()
        return story.id


def _alert_values(story_id: int, key: str, status: str = "pending") -> dict[str, object]:
    return {
        "key": key,
        "kind": "new_story",
        "topic": CONTRACT_TOPIC,
        "story_id": story_id,
        "notifier": "console",
        "destination": "stdout",
        "status": status,
        "attempts": 0,
        "next_attempt_at": NOW,
        "created_at": NOW,
    }


def _count(sessions: sessionmaker[Session], table: type[Base]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_upgrade_creates_every_table_and_is_idempotent(engine: Engine) -> None:
    assert db.needs_upgrade(engine) is True
    db.upgrade(engine)
    assert db.needs_upgrade(engine) is False
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables

    db.upgrade(engine)
    assert db.needs_upgrade(engine) is False
    assert set(inspect(engine).get_table_names()) == tables
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1


def test_the_recorded_schema_head_is_the_newest_migration(engine: Engine) -> None:
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    alembic_config = AlembicConfig()
    alembic_config.set_main_option("script_location", str(db.MIGRATIONS))
    assert ScriptDirectory.from_config(alembic_config).get_current_head() == db.SCHEMA_HEAD
    db.upgrade(engine)
    assert db.current_revision(engine) == db.SCHEMA_HEAD


def test_a_database_at_an_older_revision_needs_an_upgrade(engine: Engine) -> None:
    db.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    assert db.needs_upgrade(engine) is True


def test_insert_ignoring_conflict_ignores_a_duplicate_alert_key(sessions: sessionmaker[Session]) -> None:
    story_id = _story(sessions)
    with sessions.begin() as session:
        assert repo.insert_ignoring_conflict(session, AlertRow, _alert_values(story_id, "k1")) is True
    with sessions.begin() as session:
        # Same key, different content: nothing is written and the first row is untouched.
        assert (
            repo.insert_ignoring_conflict(session, AlertRow, _alert_values(story_id, "k1", "sent")) is False
        )
        assert repo.insert_ignoring_conflict(session, AlertRow, _alert_values(story_id, "k2")) is True
    with sessions() as session:
        rows = session.scalars(select(AlertRow).order_by(AlertRow.key)).all()
        assert [(row.key, row.status) for row in rows] == [("k1", "pending"), ("k2", "pending")]


def test_alert_keys_are_unique_in_the_schema(sessions: sessionmaker[Session]) -> None:
    story_id = _story(sessions)
    key = repo.alert_key("new_story", CONTRACT_TOPIC, story_id, "root", "console", "stdout")
    assert key == repo.alert_key("new_story", CONTRACT_TOPIC, story_id, "root", "console", "stdout")
    assert key != repo.alert_key("new_story", CONTRACT_TOPIC, story_id, "root", "console", "stderr")
    assert key != repo.alert_key("new_story", "other-topic", story_id, "root", "console", "stdout")
    with sessions.begin() as session:
        session.add(AlertRow(**_alert_values(story_id, key)))
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(AlertRow(**_alert_values(story_id, key)))
    assert _count(sessions, AlertRow) == 1


def test_aware_datetimes_round_trip_as_utc(sessions: sessionmaker[Session]) -> None:
    kyiv_noon = datetime(2026, 2, 18, 12, 0, 30, 123456, tzinfo=timezone(timedelta(hours=2)))
    with sessions.begin() as session:
        row = repo.ensure_source(session, name="inbox", kind="folder", location="./inbox", now=kyiv_noon)
        row.next_poll_at = datetime(2026, 7, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    with sessions() as session:
        stored = repo.source_by_name(session, "inbox")
        assert stored is not None
        assert stored.created_at == datetime(2026, 2, 18, 10, 0, 30, 123456, tzinfo=UTC)
        assert stored.created_at.utcoffset() == timedelta(0)
        assert stored.next_poll_at == datetime(2026, 7, 2, 4, 30, tzinfo=UTC)
        assert stored.next_poll_at is not None and stored.next_poll_at.utcoffset() == timedelta(0)
        # Comparisons in SQL see the same instant, whatever zone it was written in.
        assert session.scalar(select(func.count()).where(SourceRow.created_at < NOW)) == 1


def test_naive_datetime_is_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(StatementError, match="naive datetime"), sessions.begin() as session:
        repo.ensure_source(
            session, name="inbox", kind="folder", location="./inbox", now=datetime(2026, 2, 18)
        )
    assert _count(sessions, SourceRow) == 0


def _raw(source_name: str, external_id: str, title: str = "Talks resume in Geneva") -> RawArticle:
    return RawArticle(
        source_name=source_name,
        origin=f"{source_name}/{external_id}.txt",
        external_id=external_id,
        title=title,
        body=BODY,
        published=NOW,
    )


def _pipeline(sessions: sessionmaker[Session]) -> Pipeline:
    """A pipeline tracking the contract topic on the console, its clock stopped at NOW."""
    config = parse_config(
        {
            "notifiers": {"console": {}},
            "topics": [{"name": CONTRACT_TOPIC, "query": CONTRACT_QUERY, "notify": ["console"]}],
        }
    )
    return Pipeline(
        sessions, config, targets={CONTRACT_TOPIC: [Target("console", "stdout", None)]}, clock=lambda: NOW
    )


def test_an_article_is_stored_once_however_often_it_arrives(sessions: sessionmaker[Session]) -> None:
    pipeline = _pipeline(sessions)
    inbox, other = _source(sessions, "inbox"), _source(sessions, "other")

    first = pipeline.ingest(inbox, [Incoming(_raw("inbox", "a1"))])
    assert (first.stored, first.stories_created, first.alerts) == (1, 1, 1)

    again = pipeline.ingest(inbox, [Incoming(_raw("inbox", "a1"))])
    assert (again.stored, again.known, again.alerts) == (0, 1, 0)

    # The same text from another source, under another title, joins the stored row.
    elsewhere = pipeline.ingest(other, [Incoming(_raw("other", "b7", title="Geneva talks, day two"))])
    assert (elsewhere.stored, elsewhere.merged, elsewhere.alerts) == (0, 1, 0)

    assert _count(sessions, ArticleRow) == 1
    assert _count(sessions, StoryRow) == 1
    assert _count(sessions, AlertRow) == 1
    with sessions() as session:
        links = (
            session.execute(select(ArticleSourceRow.external_id).order_by(ArticleSourceRow.id))
            .scalars()
            .all()
        )
        assert links == ["a1", "b7"]
        article = session.scalars(select(ArticleRow)).one()
        assert article.text_hash == repo.text_hash("Talks resume in Geneva", BODY)
        assert article.title == "Talks resume in Geneva"


def test_text_hash_is_unique_in_the_schema(sessions: sessionmaker[Session]) -> None:
    def article() -> ArticleRow:
        return ArticleRow(
            text_hash=repo.text_hash("t", BODY), title="t", body=BODY, published_at=NOW, first_seen_at=NOW
        )

    with sessions.begin() as session:
        session.add(article())
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(article())
    assert _count(sessions, ArticleRow) == 1


def test_a_restarted_worker_rebuilds_only_the_story_window(sessions: sessionmaker[Session]) -> None:
    """Start-up reads the articles the window holds, whether their dates are real or estimated
    (a file's modification time), and none of the older history, however recently stored."""
    config = parse_config({"stories": {"window": "3d"}})
    first = Pipeline(sessions, config, targets={}, clock=lambda: NOW)
    inbox = _source(sessions, "inbox")
    ages = {
        "dated-old": (10, False),
        "estimated-old": (10, True),
        "dated-new": (1, False),
        "estimated-new": (1, True),
    }
    for name, (days, estimated) in ages.items():
        raw = RawArticle(
            source_name="inbox",
            origin=f"inbox/{name}.txt",
            external_id=name,
            title=f"Report {name} on a separate event",
            # Words of its own, so that each article starts a story of its own.
            body=" ".join(f"{name.replace('-', '')}{word} report." for word in range(40)),
            published=NOW - timedelta(days=days),
            published_estimated=estimated,
        )
        assert first.ingest(inbox, [Incoming(raw)]).stored == 1

    restarted = Pipeline(sessions, config, targets={}, clock=lambda: NOW)
    with sessions.begin() as session:
        restarted._sync_story_window(session)
        titles = {
            title
            for story_id in session.scalars(select(StoryRow.id))
            if (title := restarted.engine.title(story_id)) is not None
        }
    assert titles == {"Report dated-new on a separate event", "Report estimated-new on a separate event"}


def test_lookups_by_more_values_than_one_statement_may_bind(sessions: sessionmaker[Session]) -> None:
    # PostgreSQL refuses a statement with more than 65,535 parameters; `stories` over a large
    # store and a drop folder's backlog look up more ids and hashes than that.
    pipeline = _pipeline(sessions)
    inbox = _source(sessions)
    assert pipeline.ingest(inbox, [Incoming(_raw("inbox", "a1"))]).stored == 1
    missing = 70_000
    with sessions.begin() as session:
        article = session.scalars(select(ArticleRow)).one()
        assert article.story_id is not None
        repo.record_file(
            session,
            source_id=inbox.id,
            path="inbox/a1.txt",
            content_hash="f" * 64,
            size=len(BODY),
            mtime_ns=0,
            status="ingested",
            reason=None,
            article_id=article.id,
            now=NOW,
        )
        article_ids = [*range(10**6, 10**6 + missing), article.id]
        story_ids = [*range(10**6, 10**6 + missing), article.story_id]
        hashes = [f"{number:064x}" for number in range(missing)]

        assert repo.article_sources_of(session, article_ids) == {article.id: [("inbox", "inbox/a1.txt")]}
        assert [row.id for row in repo.story_articles(session, story_ids)[article.story_id]] == [article.id]
        assert repo.topics_by_story(session, story_ids) == {article.story_id: [CONTRACT_TOPIC]}
        assert repo.copies_of(session, article_ids) == {}
        assert repo.ingested_content_hashes(session, [*hashes, "f" * 64]) == {"f" * 64}
        assert set(repo.articles_by_text_hash(session, [*hashes, article.text_hash])) == {article.text_hash}
