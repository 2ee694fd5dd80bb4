"""The drop folder: bad files are recorded with their reason and never stop the good ones, a file
still being written waits, handled files can be moved away, and a missing folder fails the source."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SEED_FIRST, SEED_UPDATE, SEEDS_DIR, UNRELATED_ARTICLE, copy_seeds
from sqlalchemy import select

from monitor import defaults
from monitor.app import App
from monitor.batch import IngestReport
from monitor.cli import admin, inspect, worker  # noqa: F401  (registers the commands)
from monitor.cli.main import cli
from monitor.config import Config, FolderSourceConfig, load_config
from monitor.sources.folder import FolderSource
from monitor.store import repo
from monitor.store.tables import ArticleRow, SourceFileRow, SourceRow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MB = 1024 * 1024


def _png(path: Path) -> None:
    path.write_bytes(PNG_MAGIC + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00")


def _twenty_megabytes(path: Path) -> None:
    with path.open("wb") as handle:
        handle.truncate(20 * MB)


def _undecodable(path: Path) -> None:
    # Not UTF-8, and 0x81 / 0x8D are the bytes cp1252 leaves undefined.
    path.write_bytes(b" date 2026-02-18 Talks in Geneva \x81 resumed on Wednesday \x8d today.\n")


BAD_FILES: dict[str, tuple[Callable[[Path], object], str]] = {
    "empty.txt": (lambda path: path.write_bytes(b""), "empty file"),
    "picture.txt": (_png, "binary file (PNG image signature)"),
    "huge.txt": (_twenty_megabytes, "file too large (20,971,520 bytes; the limit is 5,242,880)"),
    "cp1252-undefined.txt": (_undecodable, "undecodable: not valid UTF-8, and byte 0x81"),
}


def _failed(app: App) -> dict[str, str | None]:
    with app.sessions() as session:
        return {Path(row.path).name: row.reason for row in repo.failed_files(session)}


def _ingested(app: App) -> dict[str, int | None]:
    with app.sessions() as session:
        rows = session.scalars(select(SourceFileRow).where(SourceFileRow.status == "ingested"))
        return {Path(row.path).name: row.article_id for row in rows}


def _warnings_naming(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING and name in record.getMessage()
    ]


@pytest.fixture
def inbox_config(tmp_path: Path, write_config: Callable[..., Path]) -> Config:
    return load_config(write_config(tmp_path))


def _roles_by_file(app: App) -> dict[str, str | None]:
    with app.sessions() as session:
        rows = session.execute(
            select(SourceFileRow.path, ArticleRow.role).join(
                ArticleRow, ArticleRow.id == SourceFileRow.article_id
            )
        )
        return {Path(path).name: role for path, role in rows}


def _drop_seeds_numbered(inbox: Path, first: int, update: int) -> tuple[str, str]:
    """Seed 000 as file number ``first`` and seed 002 as number ``update``, unpadded."""
    inbox.mkdir(parents=True, exist_ok=True)
    names = (f"{first}_5d930837eff73e1e.txt", f"{update}_fa0feb96f6a484b8.txt")
    for seed, name in zip((SEED_FIRST, SEED_UPDATE), names, strict=True):
        shutil.copy2(SEEDS_DIR / seed, inbox / name)
    return names


def test_files_arrive_in_the_numeric_order_of_their_prefix_however_many_digits(
    inbox_config: Config, build_app: Callable[[Config], App]
) -> None:
    inbox = Path(inbox_config.sources[0].location)
    first, update = _drop_seeds_numbered(inbox, 999, 1000)  # by name alone, "1000_" sorts first
    app = build_app(inbox_config)
    assert app.poll("inbox").report.stored == 2
    ingested = _ingested(app)
    assert ingested[first] < ingested[update]  # type: ignore[operator]
    assert _roles_by_file(app) == {first: "first", update: "update"}


def test_ingest_takes_a_folder_in_the_numeric_order_of_its_prefixes(
    inbox_config: Config, build_app: Callable[[Config], App], tmp_path: Path
) -> None:
    folder = tmp_path / "history"
    first, update = _drop_seeds_numbered(folder, 9, 10)
    result = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "monitor.yaml"), "ingest", "--no-deliver", str(folder)]
    )
    assert result.exit_code == 0, result.output
    assert _roles_by_file(build_app(inbox_config)) == {first: "first", update: "update"}


@pytest.mark.parametrize("name", BAD_FILES)
def test_a_bad_file_is_recorded_with_its_reason_and_the_good_one_still_ingested(
    name: str, inbox_config: Config, build_app: Callable[[Config], App], caplog: pytest.LogCaptureFixture
) -> None:
    inbox = Path(inbox_config.sources[0].location)
    copy_seeds(inbox, (SEED_FIRST,))
    make, reason = BAD_FILES[name]
    make(inbox / name)
    app = build_app(inbox_config)

    with caplog.at_level(logging.INFO):
        outcome = app.poll("inbox")

    assert outcome.error is None
    assert (outcome.report.stored, outcome.report.rejected) == (1, 1)
    failed = _failed(app)
    assert list(failed) == [name]
    assert reason in (failed[name] or "")
    assert list(_ingested(app)) == [SEED_FIRST]
    [message] = _warnings_naming(caplog, name)
    assert reason in message


def test_all_bad_files_together_each_recorded_while_the_others_are_processed(
    inbox_config: Config, build_app: Callable[[Config], App]
) -> None:
    inbox = Path(inbox_config.sources[0].location)
    copy_seeds(inbox)
    for name, (make, _reason) in BAD_FILES.items():
        make(inbox / name)
    (inbox / "unrelated.txt").write_text(UNRELATED_ARTICLE, encoding="utf-8")
    app = build_app(inbox_config)

    outcome = app.poll("inbox")

    assert (outcome.report.stored, outcome.report.rejected) == (3, len(BAD_FILES))
    failed = _failed(app)
    assert sorted(failed) == sorted(BAD_FILES)
    for name, (_make, reason) in BAD_FILES.items():
        assert reason in (failed[name] or ""), name
    assert sorted(_ingested(app)) == sorted([SEED_FIRST, SEED_UPDATE, "unrelated.txt"])


def test_a_configured_max_file_size_rejects_larger_files(
    tmp_path: Path, write_config: Callable[..., Path], build_app: Callable[[Config], App]
) -> None:
    config = load_config(write_config(tmp_path, source={"max_file_size": "1KB"}))
    inbox = Path(config.sources[0].location)
    copy_seeds(inbox, (SEED_FIRST,))
    (inbox / "short.txt").write_text(UNRELATED_ARTICLE, encoding="utf-8")
    assert len(UNRELATED_ARTICLE.encode()) < 1000 < (inbox / SEED_FIRST).stat().st_size
    app = build_app(config)

    outcome = app.poll("inbox")

    assert (outcome.report.stored, outcome.report.rejected) == (1, 1)
    size = (inbox / SEED_FIRST).stat().st_size
    assert _failed(app) == {SEED_FIRST: f"file too large ({size:,} bytes; the limit is 1,000)"}
    assert list(_ingested(app)) == ["short.txt"]


def test_a_rejected_file_is_reported_once_not_on_every_pass(
    inbox_config: Config, build_app: Callable[[Config], App], caplog: pytest.LogCaptureFixture
) -> None:
    inbox = Path(inbox_config.sources[0].location)
    (inbox / "empty.txt").write_bytes(b"")
    _png(inbox / "picture.txt")
    app = build_app(inbox_config)

    with caplog.at_level(logging.INFO):
        first = app.poll("inbox")
        second = app.poll("inbox")
        third = app.poll("inbox")
        # A restarted worker reads the ledger and stays quiet too.
        restarted = build_app(inbox_config).poll("inbox")

    assert first.report.rejected == 2
    assert second.report.rejected == third.report.rejected == restarted.report.rejected == 0
    assert len(_warnings_naming(caplog, "empty.txt")) == 1
    assert len(_warnings_naming(caplog, "picture.txt")) == 1
    with app.sessions() as session:
        assert len(repo.failed_files(session)) == 2


def test_an_impossible_date_marker_is_stored_estimated_and_warned_of_once(
    inbox_config: Config, build_app: Callable[[Config], App], caplog: pytest.LogCaptureFixture
) -> None:
    inbox = Path(inbox_config.sources[0].location)
    inbox.mkdir(parents=True, exist_ok=True)
    name = "001_0123456789abcdef.txt"
    (inbox / name).write_text(
        " date 2026-13-45 Delegations met again in Geneva on Wednesday.", encoding="utf-8"
    )
    app = build_app(inbox_config)

    with caplog.at_level(logging.INFO):
        first = app.poll("inbox")
        second = app.poll("inbox")

    assert (first.report.stored, first.report.rejected, second.report.stored) == (1, 0, 0)
    with app.sessions() as session:
        article = session.scalars(select(ArticleRow)).one()
    assert article.title == "Delegations met again in Geneva on Wednesday."
    assert article.published_estimated
    [message] = _warnings_naming(caplog, name)
    assert "invalid date marker '2026-13-45' ignored" in message


def test_a_file_still_being_written_waits_for_a_later_pass(
    inbox_config: Config, build_app: Callable[[Config], App]
) -> None:
    inbox = Path(inbox_config.sources[0].location)
    growing = inbox / "growing.txt"
    growing.write_text(" date 2026-02-18 Ukraine and Russia resumed talks in Geneva on Wednesday.\n")
    app = build_app(inbox_config)
    stop = threading.Event()
    lines_written = [0]

    def writer() -> None:
        with growing.open("a", encoding="utf-8") as handle:
            while not stop.is_set():
                lines_written[0] += 1
                handle.write(f"Paragraph {lines_written[0]} of a report the desk is still writing.\n")
                handle.flush()
                time.sleep(0.003)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        while lines_written[0] < 5:
            time.sleep(0.001)
        during = app.poll("inbox")
    finally:
        stop.set()
        thread.join(timeout=5)

    assert str(growing) in during.busy
    assert during.report.stored == 0
    assert _ingested(app) == {}
    assert _failed(app) == {}

    after = app.poll("inbox")

    assert after.busy == []
    assert after.report.stored == 1
    with app.sessions() as session:
        article = session.scalars(select(ArticleRow)).one()
    # The whole file, not the part that existed during the first pass.
    assert f"Paragraph {lines_written[0]} of a report" in article.body
    assert article.body.count("\n") == lines_written[0]


def test_a_backlog_larger_than_one_step_is_stored_in_one_poll_a_step_at_a_time(
    inbox_config: Config, build_app: Callable[[Config], App], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = Path(inbox_config.sources[0].location)
    copy_seeds(inbox)
    (inbox / "001_copy-of-000.txt").write_bytes((inbox / SEED_FIRST).read_bytes())
    (inbox / "003_empty.txt").write_bytes(b"")
    (inbox / "004_unrelated.txt").write_text(UNRELATED_ARTICLE, encoding="utf-8")
    monkeypatch.setattr(defaults, "FOLDER_FILES_PER_STEP", 1)
    app = build_app(inbox_config)
    stored_per_call: list[int] = []
    ingest = app.pipeline.ingest

    def ingest_and_count(*args: Any, **kwargs: Any) -> IngestReport:
        report = ingest(*args, **kwargs)
        stored_per_call.append(report.stored)
        return report

    monkeypatch.setattr(app.pipeline, "ingest", ingest_and_count)

    outcome = app.poll("inbox")

    assert (outcome.report.stored, outcome.report.known, outcome.report.rejected) == (3, 1, 1)
    # One file read per step; the copy, read in a step after its original, stores nothing.
    assert stored_per_call == [1, 0, 1, 0, 1]
    assert _roles_by_file(app) == {SEED_FIRST: "first", SEED_UPDATE: "update", "004_unrelated.txt": "first"}
    assert list(_failed(app)) == ["003_empty.txt"]
    assert app.poll("inbox").report.stored == 0


def test_a_pass_asks_the_ledger_only_about_files_it_has_not_seen_in_the_folder(inbox_config: Config) -> None:
    inbox = Path(inbox_config.sources[0].location)
    copy_seeds(inbox)
    first, update = str(inbox / SEED_FIRST), str(inbox / SEED_UPDATE)
    stat = (inbox / SEED_FIRST).stat()
    asked: list[list[str]] = []

    def ledger(paths: list[str]) -> set[tuple[str, int, int]]:
        asked.append(sorted(paths))
        return {(first, stat.st_size, stat.st_mtime_ns)} & {
            (path, stat.st_size, stat.st_mtime_ns) for path in paths
        }

    folder_config = inbox_config.sources[0]
    assert isinstance(folder_config, FolderSourceConfig)
    source = FolderSource(folder_config)

    def one_pass() -> list[str]:
        [scan] = source.scan_steps(lambda hashes: set(), ledger, 100)
        source.mark_handled(item.file for item in scan.incoming if item.file is not None)
        return [item.article.origin for item in scan.incoming]

    assert one_pass() == [update]  # the ledger says seed 000 was handled before
    assert one_pass() == []
    (inbox / SEED_FIRST).unlink()
    (inbox / "004_unrelated.txt").write_text(UNRELATED_ARTICLE, encoding="utf-8")
    assert one_pass() == [str(inbox / "004_unrelated.txt")]
    # Seed 000 is forgotten once gone: dropped again, the ledger is asked about it again.
    shutil.copy2(SEEDS_DIR / SEED_FIRST, inbox / SEED_FIRST)
    assert one_pass() == []
    assert asked == [sorted([first, update]), [str(inbox / "004_unrelated.txt")], [first]]


def test_move_files_files_handled_files_under_processed_and_failed(
    tmp_path: Path, write_config: Callable[..., Path], build_app: Callable[[Config], App]
) -> None:
    config = load_config(write_config(tmp_path, source={"move_files": True}))
    inbox = Path(config.sources[0].location)
    copy_seeds(inbox, (SEED_FIRST,))
    (inbox / "copy-of-000.txt").write_bytes((inbox / SEED_FIRST).read_bytes())
    (inbox / "empty.txt").write_bytes(b"")
    app = build_app(config)

    outcome = app.poll("inbox")

    assert outcome.report.stored == 1
    assert sorted(p.name for p in inbox.glob("*.txt")) == []
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == sorted(["copy-of-000.txt", SEED_FIRST])
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == ["empty.txt"]
    assert app.poll("inbox").report.stored == 0


def test_a_missing_folder_fails_the_source_as_a_whole(
    tmp_path: Path, write_config: Callable[..., Path], build_app: Callable[[Config], App]
) -> None:
    missing = tmp_path / "no-such-folder"
    config = load_config(write_config(tmp_path, source={"folder": str(missing)}))
    app = build_app(config)

    outcome = app.poll("inbox")

    assert outcome.error is not None
    assert str(missing) in outcome.error and "does not exist" in outcome.error
    with app.sessions() as session:
        row = session.scalars(select(SourceRow)).one()
        assert (row.consecutive_failures, row.last_error) == (1, outcome.error)


def test_once_exits_1_with_a_clear_message_when_the_folder_is_missing(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    missing = tmp_path / "no-such-folder"
    path = write_config(tmp_path, source={"folder": str(missing)})

    result = CliRunner().invoke(cli, ["--config", str(path), "once"])

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()[-1:]
    assert line.startswith("monitor: inbox: ")
    assert f"folder {missing} does not exist" in line
    assert result.stdout == ""
