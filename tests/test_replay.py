"""``monitor replay`` shows what a topic would have alerted, and sends nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CONTRACT_QUERY, copy_seeds
from sqlalchemy import func, select, update

from monitor.cli.main import cli, main
from monitor.config import load_config
from monitor.replay import replay
from monitor.store import db
from monitor.store.tables import ArticleRow
from monitor.stories import StoryEngine


def _run(config: Path, *args: str) -> tuple[int, str, str]:
    main  # noqa: B018  (importing main registers every command)
    from monitor.cli import admin, inspect, worker  # noqa: F401

    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def ingested(tmp_path: Path, write_config: Callable[..., Path]) -> Path:
    """The config of a database holding the seeds, ingested without delivering anything."""
    config = write_config(tmp_path)
    copy_seeds(tmp_path / "inbox")
    assert _run(config, "ingest", "--no-deliver", str(tmp_path / "inbox"))[0] == 0
    return config


def test_replay_shows_the_seeds_story_and_its_update_without_sending(ingested: Path) -> None:
    config = ingested
    code, out, _ = _run(config, "replay", "--topic", "russia-ukraine-talks", "--json")
    assert code == 0
    alerts = json.loads(out)
    assert [a["kind"] for a in alerts] == ["new_story", "update"]
    assert alerts[0]["story"] == alerts[1]["story"]
    assert any("not fair" in s for s in alerts[1]["novel_sentences"])
    # Seed 000 has a date marker; seed 002 has none, so its date is when it was received.
    assert (alerts[0]["published"][:10], alerts[0]["published_estimated"]) == ("2026-02-18", False)
    assert alerts[1]["published_estimated"] is True
    code, out, _ = _run(config, "replay", "--topic", "russia-ukraine-talks")
    article_lines = [line for line in out.splitlines() if line.lstrip().startswith("article ")]
    assert "(2026-02-18)" in article_lines[0] and "(received 20" in article_lines[1]

    # Nothing was sent: the two queued alerts are still pending.
    code, out, _ = _run(config, "alerts", "--json")
    assert {a["status"] for a in json.loads(out)} == {"pending"}


def test_replay_of_a_narrower_query_finds_nothing(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    topics = [
        {"name": "talks", "query": CONTRACT_QUERY, "notify": ["console"]},
        {"name": "sport", "query": "football OR tennis", "notify": ["console"]},
    ]
    config = write_config(tmp_path, topics=topics)
    copy_seeds(tmp_path / "inbox")
    _run(config, "ingest", "--no-deliver", str(tmp_path / "inbox"))
    code, out, _ = _run(config, "replay", "--topic", "sport", "--json")
    assert code == 0 and json.loads(out) == []


def test_replay_of_an_unknown_topic_is_a_usage_error(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    code, _, err = _run(write_config(tmp_path), "replay", "--topic", "nope")
    assert code == 2
    assert "no topic named 'nope'" in err


def test_replay_since_leaves_out_articles_stored_before_it(ingested: Path) -> None:
    config = ingested
    engine = db.create_db_engine(f"sqlite:///{config.parent / 'monitor.db'}")
    with engine.begin() as connection:
        # Seed 000 was stored ten days ago; seed 002 just now.
        connection.execute(
            update(ArticleRow)
            .where(ArticleRow.id == select(func.min(ArticleRow.id)).scalar_subquery())
            .values(first_seen_at=datetime.now(UTC) - timedelta(days=10))
        )
    engine.dispose()

    everything = json.loads(_run(config, "replay", "--topic", "russia-ukraine-talks", "--json")[1])
    code, out, _ = _run(config, "replay", "--topic", "russia-ukraine-talks", "--since", "7d", "--json")

    assert [a["kind"] for a in everything] == ["new_story", "update"]
    assert code == 0
    # Without seed 000 in the window, seed 002 opens the story itself.
    [alert] = json.loads(out)
    assert (alert["kind"], alert["article_id"]) == ("new_story", everything[1]["article_id"])


def test_replay_since_takes_a_duration_or_says_what_is_wrong(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    code, _, err = _run(
        write_config(tmp_path), "replay", "--topic", "russia-ukraine-talks", "--since", "a week"
    )
    assert code == 2
    assert err.startswith("monitor: --since: ") and "'a week'" in err and "Traceback" not in err


def test_replay_quotes_as_many_new_sentences_as_the_config_allows(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = write_config(tmp_path, stories={"max_novel_sentences": 2})
    copy_seeds(tmp_path / "inbox")
    assert _run(config, "ingest", "--no-deliver", str(tmp_path / "inbox"))[0] == 0

    code, out, _ = _run(config, "replay", "--topic", "russia-ukraine-talks", "--json")

    assert code == 0
    update = json.loads(out)[1]
    assert update["kind"] == "update" and len(update["novel_sentences"]) == 2


def test_replay_forgets_stories_as_the_window_passes(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config_path = write_config(tmp_path)
    inbox = tmp_path / "history"
    inbox.mkdir()
    events = [
        "Floods cut the rail line between Lyon and Marseille after three days of storms.",
        "Shareholders of Nordvik Shipping approved the sale of its tanker fleet to a Greek buyer.",
        "The city of Porto opened a new bridge over the Douro to pedestrians and cyclists.",
    ]
    for number, (day, sentence) in enumerate(zip(("01", "11", "21"), events, strict=True)):
        (inbox / f"{number:03d}_000000000000000{number}.txt").write_text(
            f" date 2026-01-{day} {sentence}\nOfficials gave details on the day.", encoding="utf-8"
        )
    assert _run(config_path, "ingest", "--no-deliver", str(inbox))[0] == 0
    config = load_config(config_path)
    story_engine = StoryEngine(config.stories)
    database = db.create_db_engine(config.database)
    try:
        with db.session_factory(database)() as session:
            list(replay(session, config, config.topics[0], None, story_engine))
    finally:
        database.dispose()

    # Each report came ten days after the last, beyond the 3-day window: only the newest story is held.
    assert len(story_engine) == 1
