"""Retention prunes bodies and old stories but keeps what stops an article alerting twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import copy_seeds
from sqlalchemy import func, insert, select

from monitor.app import App
from monitor.config import Config, load_config
from monitor.retention import prune
from monitor.store.repo import IN_LIST_LIMIT
from monitor.store.tables import AlertRow, ArticleRow, StoryRow


def _ingest_seeds(app: App, inbox: Path) -> None:
    copy_seeds(inbox)
    assert app.poll("inbox").error is None


def test_prune_keeps_identities_so_a_redropped_copy_still_does_nothing(
    tmp_path: Path, database_url: str, write_config: Callable[..., Path], build_app: Callable[[Config], App]
) -> None:
    config = load_config(write_config(tmp_path, database=database_url))
    app = build_app(config)
    _ingest_seeds(app, tmp_path / "inbox")
    app.deliver()

    later = datetime.now(UTC) + timedelta(days=100)
    report = prune(app.sessions, 90 * 86400, later)

    assert report.bodies_pruned == 2
    assert report.stories_deleted == 1
    with app.sessions() as session:
        bodies = session.scalars(select(ArticleRow.body)).all()
        assert bodies == ["", ""]
        assert session.scalar(select(func.count(StoryRow.id))) == 0
        assert session.scalar(select(func.count(AlertRow.id))) == 0
    # A copy of seed 000 under a new name is still recognised by its stored identity.
    (tmp_path / "inbox" / "copy.txt").write_bytes(
        (tmp_path / "inbox" / "000_5d930837eff73e1e.txt").read_bytes()
    )
    outcome = app.poll("inbox")
    assert outcome.report.stored == 0 and outcome.report.alerts == 0


def test_prune_spares_recent_rows_and_stories_with_pending_alerts(
    tmp_path: Path, database_url: str, write_config: Callable[..., Path], build_app: Callable[[Config], App]
) -> None:
    config = load_config(write_config(tmp_path, database=database_url))
    app = build_app(config)
    _ingest_seeds(app, tmp_path / "inbox")

    assert prune(app.sessions, 90 * 86400, datetime.now(UTC)).bodies_pruned == 0
    # Alerts not delivered yet keep their story alive, however old.
    report = prune(app.sessions, 90 * 86400, datetime.now(UTC) + timedelta(days=100))
    assert report.stories_deleted == 0
    with app.sessions() as session:
        assert session.scalar(select(func.count(StoryRow.id))) == 1


def test_prune_deletes_more_old_stories_than_one_statement_lists(
    tmp_path: Path, database_url: str, write_config: Callable[..., Path], build_app: Callable[[Config], App]
) -> None:
    app = build_app(load_config(write_config(tmp_path, database=database_url)))
    old = datetime(2026, 1, 1, tzinfo=UTC)
    count = 2 * IN_LIST_LIMIT + 1
    rows = [
        {
            "title": f"story {number}",
            "first_seen_at": old,
            "updated_at": old,
            "article_count": 0,
            "source_count": 0,
        }
        for number in range(count)
    ]
    with app.sessions.begin() as session:
        session.execute(insert(StoryRow), rows)

    report = prune(app.sessions, 30 * 86400, old + timedelta(days=31))

    assert report.stories_deleted == count
    with app.sessions() as session:
        assert session.scalar(select(func.count(StoryRow.id))) == 0
