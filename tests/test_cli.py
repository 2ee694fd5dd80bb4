"""The command line, end to end: alerts on stdout, logs on stderr, exit codes, one-line config
errors, and the JSON shape of ``stories``. Mostly through click's runner, once as a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner, Result
from conftest import (
    CONTRACT_TOPIC,
    SEED_FIRST,
    SEED_UPDATE,
    SHIPPED_CONFIG,
    UNRELATED_ARTICLE,
    copy_seeds,
)
from sqlalchemy import func, select, text, update

from monitor.cli import admin, inspect, worker  # noqa: F401  (registers the commands)
from monitor.cli.main import cli
from monitor.store import db
from monitor.store.tables import ArticleRow, StoryRow

DATA = Path(__file__).parent / "data"
BAD_CONFIGS: list[dict[str, str]] = yaml.safe_load((DATA / "config_errors.yaml").read_text(encoding="utf-8"))

STORY_KEYS = {"id", "title", "topics", "first_seen", "updated", "articles"}
ARTICLE_KEYS = {
    "id",
    "title",
    "source",
    "origin",
    "published",
    "published_estimated",
    "role",
    "sources",
    "copies",
    "novel_sentences",
}
ROLES = {"first", "update", "duplicate", "related"}


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def _stories(config: Path) -> list[dict[str, Any]]:
    result = invoke("--config", str(config), "stories", "--json")
    assert result.exit_code == 0, result.stderr
    stories: list[dict[str, Any]] = json.loads(result.stdout)
    return stories


def _story_of(stories: list[dict[str, Any]], seed: str) -> dict[str, Any]:
    return next(s for s in stories if any(Path(a["origin"]).name == seed for a in s["articles"]))


def _alert_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(f"[{CONTRACT_TOPIC}]")]


@pytest.fixture
def seeded_config(tmp_path: Path, write_config: Callable[..., Path]) -> Path:
    path = write_config(tmp_path)
    copy_seeds(tmp_path / "inbox")
    return path


def test_once_prints_alerts_on_stdout_and_logs_on_stderr(seeded_config: Path) -> None:
    result = invoke("--config", str(seeded_config), "once")

    assert result.exit_code == 0, result.stderr
    story = _story_of(_stories(seeded_config), SEED_FIRST)
    assert f"[{CONTRACT_TOPIC}] NEW STORY #{story['id']}: {story['title']}" in result.stdout
    assert story["title"].startswith("US envoy Steve Witkoff has said that talks between Ukraine and Russia")
    assert f"{os.sep}{SEED_FIRST}" in result.stdout
    # Logs stay off stdout, which carries alerts only.
    assert "INFO" not in result.stdout and "monitor.outbox" not in result.stdout
    assert "monitor.outbox: sent new_story alert" in result.stderr


def test_a_new_story_alert_gives_a_seed_files_opening_sentence_once(seeded_config: Path) -> None:
    # A seed file's title is its first sentence, which also opens its body.
    result = invoke("--config", str(seeded_config), "once")

    assert result.exit_code == 0, result.stderr
    title = _story_of(_stories(seeded_config), SEED_FIRST)["title"]
    new_story = result.stdout.split("NEW STORY", 1)[1].split(f"[{CONTRACT_TOPIC}]", 1)[0]
    assert new_story.count(title) == 1
    lead = new_story.splitlines()[2].strip()
    assert lead.startswith("\"President Trump's success in bringing both sides")


def test_an_alert_marks_a_date_that_was_only_received_not_given(seeded_config: Path) -> None:
    # Seed 000 opens with a date marker; seed 002 has none, so its date is its arrival.
    os.utime(seeded_config.parent / "inbox" / SEED_UPDATE, (1_700_000_000, 1_700_000_000))

    result = invoke("--config", str(seeded_config), "once")

    assert result.exit_code == 0, result.stderr
    details = [line for line in result.stdout.splitlines() if " · " in line]
    first = next(line for line in details if line.endswith(SEED_FIRST))
    update = next(line for line in details if line.endswith(SEED_UPDATE))
    assert " · 2026-02-18 · " in first and "received" not in first
    assert " · received 2023-11-14 · " in update


def test_a_second_once_prints_no_alert(seeded_config: Path) -> None:
    first = invoke("--config", str(seeded_config), "once")
    assert first.exit_code == 0 and _alert_lines(first.stdout)

    second = invoke("--config", str(seeded_config), "once")

    assert second.exit_code == 0, second.stderr
    assert second.stdout == ""


def test_a_renamed_copy_of_a_seed_prints_no_alert(seeded_config: Path) -> None:
    assert invoke("--config", str(seeded_config), "once").exit_code == 0
    inbox = seeded_config.parent / "inbox"
    shutil.copy(inbox / SEED_FIRST, inbox / "000-again-under-another-name.txt")

    result = invoke("--config", str(seeded_config), "once")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    engine = db.create_db_engine(f"sqlite:///{seeded_config.parent / 'monitor.db'}")
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(ArticleRow)) == 2
    engine.dispose()


def test_stories_json_has_the_documented_shape(seeded_config: Path) -> None:
    assert invoke("--config", str(seeded_config), "once").exit_code == 0

    stories = _stories(seeded_config)

    assert stories
    for story in stories:
        assert set(story) >= STORY_KEYS
        assert isinstance(story["id"], int) and isinstance(story["title"], str) and story["title"]
        assert story["topics"] == [CONTRACT_TOPIC]
        for moment in (story["first_seen"], story["updated"]):
            assert datetime.fromisoformat(moment).utcoffset() is not None
        assert story["articles"]
        for article in story["articles"]:
            assert set(article) >= ARTICLE_KEYS
            assert isinstance(article["id"], int) and article["title"]
            assert article["source"] == "inbox"
            assert Path(article["origin"]).name in {SEED_FIRST, SEED_UPDATE}
            assert datetime.fromisoformat(article["published"]).utcoffset() is not None
            assert article["role"] in ROLES
    origins = sorted(Path(a["origin"]).name for s in stories for a in s["articles"])
    assert origins == [SEED_FIRST, SEED_UPDATE]
    first = _story_of(stories, SEED_FIRST)
    assert first["articles"][0]["role"] == "first"
    assert first["articles"][0]["published"] == "2026-02-18T00:00:00+00:00"
    estimated = {Path(a["origin"]).name: a["published_estimated"] for s in stories for a in s["articles"]}
    assert estimated == {SEED_FIRST: False, SEED_UPDATE: True}


def test_stories_lists_counts_sources_times_and_roles(seeded_config: Path) -> None:
    inbox = seeded_config.parent / "inbox"
    wire_copy = (inbox / SEED_FIRST).read_text(encoding="utf-8").replace("terrible", "dreadful", 1)
    assert wire_copy != (inbox / SEED_FIRST).read_text(encoding="utf-8")
    (inbox / "003_0000000000000003.txt").write_text(wire_copy, encoding="utf-8")
    (inbox / "004_0000000000000004.txt").write_text(UNRELATED_ARTICLE, encoding="utf-8")
    assert invoke("--config", str(seeded_config), "once").exit_code == 0
    by_id = {story["id"]: story for story in _stories(seeded_config)}

    result = invoke("--config", str(seeded_config), "stories")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    blocks = [lines[start : start + 3] for start in range(0, len(lines), 3)]  # three lines a story
    assert len(blocks) == len(by_id) == 2
    [talks] = [block for block in blocks if "Witkoff" in block[0]]
    [council] = [block for block in blocks if block is not talks]
    talks_story = by_id[int(talks[0].split()[0].lstrip("#"))]
    assert talks[0] == f"#{talks_story['id']} {talks_story['title']} [{CONTRACT_TOPIC}]"
    day = talks_story["first_seen"][:10]
    assert talks[1].startswith(f"    3 articles from 1 source (inbox) · first seen {day} ")
    assert " · updated " in talks[1] and talks[1].endswith(" UTC")
    assert talks[2] == "    roles: first 1, update 1, duplicate 1"
    assert council[1].startswith("    1 article from 1 source (inbox) · ")
    assert council[2] == "    roles: first 1"
    assert "[" not in council[0]  # the council story is tracked by no topic


def test_stories_json_shows_the_seeds_as_one_story_first_then_update(seeded_config: Path) -> None:
    result = invoke("--config", str(seeded_config), "once")
    assert len(_alert_lines(result.stdout)) >= 1

    stories = _stories(seeded_config)

    assert len(stories) == 1
    roles = [(Path(a["origin"]).name, a["role"]) for a in stories[0]["articles"]]
    assert roles == [(SEED_FIRST, "first"), (SEED_UPDATE, "update")]
    assert sum("NEW STORY" in line for line in _alert_lines(result.stdout)) == 1


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=lambda case: case["name"])
def test_a_bad_config_exits_2_with_one_readable_line(case: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(case["yaml"].replace("{inbox}", str(tmp_path)), encoding="utf-8")

    result = invoke("--config", str(path), "once")

    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"monitor: {path}")
    assert case["message"] in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_a_missing_config_file_exits_2_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"

    result = invoke("--config", str(missing), "once")

    assert result.exit_code == 2
    assert result.stderr == f"monitor: {missing}: config file not found\n"


def test_config_defaults_to_the_environment_variable(seeded_config: Path) -> None:
    result = invoke("check", env={"MONITOR_CONFIG": str(seeded_config)})

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"{seeded_config}: OK\n")
    assert f"topic {CONTRACT_TOPIC}: → console" in result.stdout


def test_without_option_or_variable_the_config_is_config_monitor_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)

    result = invoke("check")

    assert result.exit_code == 2
    assert result.stderr == f"monitor: {Path('config/monitor.yaml')}: config file not found\n"


def test_check_accepts_the_shipped_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)

    result = invoke("--config", str(SHIPPED_CONFIG), "check")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"{SHIPPED_CONFIG}: OK\n")
    assert "source seeds: folder seeds every 30s" in result.stdout
    assert "notifier slack: slack, disabled (secret missing)" in result.stdout
    assert f"topic {CONTRACT_TOPIC}: → console, slack #ukraine-desk" in result.stdout


def test_only_commands_that_deliver_warn_of_a_disabled_notifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    copy_seeds(tmp_path / "seeds")
    warning = "notifier 'slack' is disabled: its token is empty"

    delivering = invoke("--config", str(SHIPPED_CONFIG), "once")
    assert delivering.exit_code == 0, delivering.stderr
    assert warning in delivering.stderr

    for command in (["stories"], ["alerts"], ["sources"], ["replay", "--topic", CONTRACT_TOPIC]):
        result = invoke("--config", str(SHIPPED_CONFIG), *command)
        assert result.exit_code == 0, (command, result.stderr)
        assert result.stdout, command
        assert warning not in result.stderr, command


def test_ingest_takes_files_and_folders_and_shares_the_drop_folders_ledger(
    tmp_path: Path, write_config: Callable[..., Path], seeds_dir: Path
) -> None:
    config = write_config(tmp_path)

    one_file = invoke("--config", str(config), "ingest", str(seeds_dir / SEED_FIRST))

    assert one_file.exit_code == 0, one_file.stderr
    assert "1 stored, 0 already known, 0 rejected, 1 new stories, 1 alerts" in one_file.stderr
    assert [line for line in _alert_lines(one_file.stdout) if "NEW STORY" in line]

    folder = invoke("--config", str(config), "ingest", str(seeds_dir))

    assert folder.exit_code == 0, folder.stderr
    assert "1 stored, 1 already known, 0 rejected" in folder.stderr
    assert f"{os.sep}{SEED_FIRST}" not in folder.stdout

    # The same files dropped in the folder later are already known: no alert.
    copy_seeds(tmp_path / "inbox")
    dropped = invoke("--config", str(config), "once")
    assert dropped.exit_code == 0, dropped.stderr
    assert dropped.stdout == ""
    # ...and each is listed as a copy of the article it repeats.
    articles = [a for story in _stories(config) for a in story["articles"]]
    assert {Path(a["origin"]).name: [Path(c) for c in a["copies"]] for a in articles} == {
        SEED_FIRST: [tmp_path / "inbox" / SEED_FIRST],
        SEED_UPDATE: [tmp_path / "inbox" / SEED_UPDATE],
    }


def test_identical_files_in_one_ingest_are_one_article_listing_the_copies(
    tmp_path: Path, write_config: Callable[..., Path], database_url: str
) -> None:
    config = write_config(tmp_path, database=database_url)
    folder = tmp_path / "history"
    copy_seeds(folder, (SEED_FIRST,))
    for name in ("again.txt", "and-again.txt"):
        shutil.copy(folder / SEED_FIRST, folder / name)
    assert invoke("--config", str(config), "db", "upgrade").exit_code == 0  # PostgreSQL needs it

    result = invoke("--config", str(config), "ingest", "--no-deliver", str(folder))

    assert result.exit_code == 0, result.stderr
    assert "1 stored, 2 already known, 0 rejected" in result.stderr
    [story] = _stories(config)
    [article] = story["articles"]
    assert Path(article["origin"]).name == SEED_FIRST
    assert article["copies"] == [str(folder / "again.txt"), str(folder / "and-again.txt")]


def test_ingest_of_a_missing_path_is_a_usage_error(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    result = invoke("--config", str(write_config(tmp_path)), "ingest", str(tmp_path / "nothing-here.txt"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_db_upgrade_creates_the_schema_once(
    database_url: str, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = write_config(tmp_path, database=database_url)
    engine = db.create_db_engine(database_url)
    assert db.needs_upgrade(engine)

    first = invoke("--config", str(config), "db", "upgrade")
    second = invoke("--config", str(config), "db", "upgrade")

    assert (first.exit_code, second.exit_code) == (0, 0), first.stderr + second.stderr
    assert first.stdout == second.stdout == "database schema is up to date\n"
    assert not db.needs_upgrade(engine)
    engine.dispose()


@pytest.mark.slow
def test_once_in_a_real_process(seeded_config: Path) -> None:
    command = [sys.executable, "-m", "monitor", "--config", str(seeded_config), "once"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("MONITOR_")}

    first = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, cwd=seeded_config.parent
    )

    assert first.returncode == 0, first.stderr
    story = _story_of(_stories(seeded_config), SEED_FIRST)
    assert f"[{CONTRACT_TOPIC}] NEW STORY #{story['id']}: {story['title']}" in first.stdout
    assert "INFO" not in first.stdout
    assert "monitor.outbox: sent new_story alert" in first.stderr
    assert "Traceback" not in first.stderr
    second = invoke("--config", str(seeded_config), "once")
    assert (second.exit_code, second.stdout) == (0, "")


def test_db_stats_counts_rows_and_sizes_every_table(
    database_url: str, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = write_config(tmp_path, database=database_url)
    copy_seeds(tmp_path / "inbox")
    assert invoke("--config", str(config), "db", "upgrade").exit_code == 0
    assert invoke("--config", str(config), "once").exit_code == 0

    result = invoke("--config", str(config), "db", "stats")

    assert result.exit_code == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    assert rows["articles"][:2] == ["2", "rows"] and rows["stories"][:2] == ["1", "row"]
    assert rows["alerts"][:2] == ["2", "rows"] and rows["article_revisions"][:2] == ["0", "rows"]
    kilobytes = {name: float(cells[-2]) * (1000 if cells[-1] == "MB" else 1) for name, cells in rows.items()}
    assert all(cells[-1] in ("kB", "MB") for cells in rows.values())
    assert kilobytes["articles"] > kilobytes["story_threads"] > 0
    assert sum(size for name, size in kilobytes.items() if name != "total") <= kilobytes["total"] + len(rows)


def test_table_sizes_count_each_index_with_its_table(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = write_config(tmp_path)
    copy_seeds(tmp_path / "inbox")
    assert invoke("--config", str(config), "once").exit_code == 0
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    try:
        sizes = db.table_sizes(engine)
        with engine.connect() as connection:
            indexes = set(connection.scalars(text("SELECT name FROM sqlite_master WHERE type = 'index'")))
            every_page = connection.scalar(text("SELECT SUM(pgsize) FROM dbstat"))
    finally:
        engine.dispose()
    assert indexes and not indexes & set(sizes)
    assert "articles" in sizes and sum(sizes.values()) == every_page  # every page, once


def test_stories_topic_and_limit_narrow_the_list(seeded_config: Path) -> None:
    (seeded_config.parent / "inbox" / "004_0000000000000004.txt").write_text(
        UNRELATED_ARTICLE, encoding="utf-8"
    )
    assert invoke("--config", str(seeded_config), "once").exit_code == 0
    every = _stories(seeded_config)
    assert len(every) == 2

    tracked = invoke("--config", str(seeded_config), "stories", "--topic", CONTRACT_TOPIC, "--json")
    untracked = invoke("--config", str(seeded_config), "stories", "--topic", "sport", "--json")
    latest = invoke("--config", str(seeded_config), "stories", "--limit", "1", "--json")

    [talks] = json.loads(tracked.stdout)
    assert talks["topics"] == [CONTRACT_TOPIC] and len(talks["articles"]) == 2
    assert json.loads(untracked.stdout) == []
    [newest] = json.loads(latest.stdout)
    assert newest["id"] == max(story["id"] for story in every)
    both = invoke("--config", str(seeded_config), "stories", "--limit", "2", "--json")
    assert [story["id"] for story in json.loads(both.stdout)] == [story["id"] for story in every]


def test_stories_are_printed_page_by_page_exactly_as_one_list(
    seeded_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (seeded_config.parent / "inbox" / "004_0000000000000004.txt").write_text(
        UNRELATED_ARTICLE, encoding="utf-8"
    )
    assert invoke("--config", str(seeded_config), "once").exit_code == 0
    whole = {args: invoke("--config", str(seeded_config), "stories", *args).stdout for args in _LISTINGS}

    monkeypatch.setattr(inspect, "STORIES_PER_PAGE", 1)
    paged = {args: invoke("--config", str(seeded_config), "stories", *args).stdout for args in _LISTINGS}

    assert paged == whole
    stories = json.loads(whole[("--json",)])
    assert len(stories) == 2 and all(story["articles"] for story in stories)
    assert whole[("--json",)] == json.dumps(stories, indent=2, ensure_ascii=False) + "\n"
    assert whole[("--json", "--topic", "no-such-topic")] == "[]\n"


_LISTINGS = [("--json",), ("--articles",), ("--json", "--topic", "no-such-topic")]


def test_stories_refuses_a_negative_limit(seeded_config: Path) -> None:
    assert invoke("--config", str(seeded_config), "once").exit_code == 0
    result = invoke("--config", str(seeded_config), "stories", "--limit", "-1")
    assert result.exit_code == 2
    assert "--limit" in result.stderr and result.stdout == ""


def test_db_prune_applies_retention_or_says_it_is_not_set(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    without = write_config(tmp_path)
    refused = invoke("--config", str(without), "db", "prune")
    assert refused.exit_code == 2
    assert "retention is not set" in refused.stderr

    config = write_config(tmp_path, retention="1d")
    copy_seeds(tmp_path / "inbox")
    assert invoke("--config", str(config), "once").exit_code == 0
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    with engine.begin() as connection:
        connection.execute(update(ArticleRow).values(first_seen_at=datetime.now(UTC) - timedelta(days=3)))
        connection.execute(update(StoryRow).values(updated_at=datetime.now(UTC) - timedelta(days=3)))
    engine.dispose()

    result = invoke("--config", str(config), "db", "prune")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("pruned 2 article bodies, 0 revisions, ")
    # The pruned seeds are still known: dropping them again alerts nothing.
    copy_seeds(tmp_path / "inbox")
    again = invoke("--config", str(config), "once")
    assert (again.exit_code, again.stdout) == (0, "")


def test_alerts_say_when_each_was_sent_or_is_due(seeded_config: Path) -> None:
    inbox = seeded_config.parent / "inbox"
    assert invoke("--config", str(seeded_config), "ingest", "--no-deliver", str(inbox)).exit_code == 0

    queued = invoke("--config", str(seeded_config), "alerts")
    assert invoke("--config", str(seeded_config), "once").exit_code == 0
    delivered = invoke("--config", str(seeded_config), "alerts")

    assert queued.exit_code == delivered.exit_code == 0
    assert [line.split(" · ", 1)[1] for line in queued.stdout.splitlines()] == ["due now", "due now"]
    sent = [
        json_alert["sent"]
        for json_alert in json.loads(invoke("--config", str(seeded_config), "alerts", "--json").stdout)
    ]
    expected = [
        f"sent {datetime.fromisoformat(moment).astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" for moment in sent
    ]
    assert [line.split(" · ", 1)[1] for line in delivered.stdout.splitlines()] == expected


def test_stories_articles_lists_each_report_with_its_role_and_what_it_added(seeded_config: Path) -> None:
    inbox = seeded_config.parent / "inbox"
    wire_copy = (inbox / SEED_FIRST).read_text(encoding="utf-8").replace("terrible", "dreadful", 1)
    (inbox / "003_0000000000000003.txt").write_text(wire_copy, encoding="utf-8")
    assert invoke("--config", str(seeded_config), "once").exit_code == 0
    [story] = _stories(seeded_config)

    result = invoke("--config", str(seeded_config), "stories", "--articles")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[2] == "    roles: first 1, update 1, duplicate 1"
    listed = [line for line in lines[3:] if not line.startswith("        + ")]
    added = [line.removeprefix("        + ") for line in lines[3:] if line.startswith("        + ")]
    assert [line.split()[0] for line in listed] == ["first", "update", "duplicate"]
    for line, article in zip(listed, story["articles"], strict=True):
        assert line.endswith(f" · inbox · {article['title']} ({article['origin']})")
    assert listed[0].split()[1] == "2026-02-18"  # seed 000's date marker
    assert listed[1].split()[1] == "received"  # seed 002 has none
    [update] = [article for article in story["articles"] if article["role"] == "update"]
    assert added == update["novel_sentences"] and any("not fair" in sentence for sentence in added)


@pytest.mark.parametrize("most", [0, 1, 5])
def test_an_update_alert_quotes_as_many_new_sentences_as_the_config_allows(
    most: int, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = write_config(tmp_path, stories={"max_novel_sentences": most})
    copy_seeds(tmp_path / "inbox")

    result = invoke("--config", str(config), "once")

    assert result.exit_code == 0, result.stderr
    [update] = [article for article in _stories(config)[0]["articles"] if article["role"] == "update"]
    stored = update["novel_sentences"]  # the story keeps every one
    assert len(stored) > 5
    lines = result.stdout.splitlines()
    quoted = [line.removeprefix("   - ") for line in lines if line.startswith("   - ")]
    assert quoted == stored[:most]
    assert ("  What's new:" in lines) is (most > 0)


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            paths.extend(_command_paths(command, (*prefix, name)))
        else:
            paths.append((*prefix, name))
    return paths


@pytest.mark.parametrize("path", _command_paths(cli), ids=lambda path: " ".join(path) or "monitor")
def test_help_text_is_plain_text_without_docstring_markup(path: tuple[str, ...]) -> None:
    # Help is read in a terminal: reStructuredText literals (``x``) would show as-is.
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert "``" not in result.output
