"""The worker as a real process: ``run`` alerts, stops cleanly on SIGTERM or SIGINT, never alerts
twice across a restart, and the whole ``once`` path works on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CONTRACT_TOPIC, SEED_FIRST, SEED_UPDATE, copy_seeds
from sqlalchemy import func, select
from workerproc import WorkerProcess, environment

import monitor.cli.admin  # registers `db upgrade`
import monitor.cli.worker  # noqa: F401  (registers `once`)
from monitor.cli.main import cli
from monitor.scheduler import FORCED_EXIT_STATUS
from monitor.store import db
from monitor.store.tables import AlertRow, ArticleSourceRow, SourceFileRow

pytestmark = pytest.mark.slow

#: On-topic, and about another event than the seeds.
FRESH_ARTICLE = (
    " date 2026-03-02 Russian and Ukrainian envoys agreed in Istanbul on Monday to a prisoner exchange "
    "of 500 soldiers each.\n"
    "The Kremlin said the swap, brokered by Turkey, would take place at the Belarus border within a week.\n"
    "Kyiv confirmed the talks and said lists of names had already been handed over.\n"
)


class Worker(WorkerProcess):
    """``python -m monitor run`` whose stop may send several signals in a row."""

    def stop(self, *signals: signal.Signals, timeout: float = 10.0) -> int:  # type: ignore[override]
        for signum in signals:
            self.send(signum)
        return self.wait(timeout)


@pytest.fixture
def start_worker() -> Iterator[Callable[[Path], Worker]]:
    started: list[Worker] = []

    def start(config: Path) -> Worker:
        worker = Worker(config)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


@pytest.fixture
def seeded_config(tmp_path: Path, write_config: Callable[..., Path]) -> Path:
    path = write_config(tmp_path)
    copy_seeds(tmp_path / "inbox")
    return path


def _all_sent(database_url: str, *, files: int, timeout: float) -> bool:
    """Wait until ``files`` files are ingested and every alert in the outbox is sent."""
    engine = db.create_db_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                ingested = connection.scalar(
                    select(func.count()).select_from(SourceFileRow).where(SourceFileRow.status == "ingested")
                )
                statuses = connection.scalars(select(AlertRow.status)).all()
            if ingested == files and statuses and set(statuses) == {"sent"}:
                return True
            time.sleep(0.1)
        return False
    finally:
        engine.dispose()


def _drop(folder: Path, name: str, text: str) -> None:
    # Written under another name first, so the worker never sees half a file.
    partial = folder / f"{name}.partial"
    partial.write_text(text, encoding="utf-8")
    partial.rename(folder / name)


def test_run_alerts_stops_on_sigterm_and_never_repeats_after_a_restart(
    seeded_config: Path, start_worker: Callable[[Path], Worker]
) -> None:
    worker = start_worker(seeded_config)
    assert worker.wait_for(worker.stdout, f"{os.sep}{SEED_FIRST}", timeout=10), "".join(worker.stderr)
    assert any(line.startswith(f"[{CONTRACT_TOPIC}] NEW STORY #") for line in worker.stdout)
    assert worker.wait_for(worker.stderr, "monitor running", timeout=1)
    # Stop only once every alert the seeds caused is out, so a restart has nothing left to send.
    assert _all_sent(f"sqlite:///{seeded_config.parent / 'monitor.db'}", files=2, timeout=10)

    started = time.monotonic()
    assert worker.stop(signal.SIGTERM) == 0, "".join(worker.stderr)
    assert time.monotonic() - started < 5
    assert any("SIGTERM received" in line for line in worker.stderr)
    assert any("monitor stopped" in line for line in worker.stderr)
    assert not any("Traceback" in line for line in worker.stderr)
    first_run_alerts = [line for line in worker.stdout if line.startswith(f"[{CONTRACT_TOPIC}]")]

    restarted = start_worker(seeded_config)
    assert restarted.wait_for(restarted.stderr, "monitor running", timeout=10), "".join(restarted.stderr)
    time.sleep(3)  # three polls and three delivery passes
    assert restarted.stdout == []

    # The restarted worker is alive and alerting: only the new article comes out.
    _drop(seeded_config.parent / "inbox", "fresh.txt", FRESH_ARTICLE)
    assert restarted.wait_for(restarted.stdout, f"{os.sep}fresh.txt", timeout=10), "".join(restarted.stderr)
    assert restarted.stop(signal.SIGINT) == 0, "".join(restarted.stderr)
    assert any("SIGINT received" in line for line in restarted.stderr)
    printed = "".join(restarted.stdout)
    assert SEED_FIRST not in printed and SEED_UPDATE not in printed
    assert first_run_alerts and not set(first_run_alerts) & set(restarted.stdout)


def test_a_second_signal_while_stopping_exits_at_once(
    seeded_config: Path, start_worker: Callable[[Path], Worker]
) -> None:
    worker = start_worker(seeded_config)
    assert worker.wait_for(worker.stderr, "monitor running", timeout=10), "".join(worker.stderr)

    # Two different signals, so Python cannot fold them into one handler call.
    code = worker.stop(signal.SIGTERM, signal.SIGINT, timeout=5)

    assert code == FORCED_EXIT_STATUS, "".join(worker.stderr)
    assert any("exiting now" in line for line in worker.stderr)
    assert not any("monitor stopped" in line for line in worker.stderr)


@pytest.mark.postgres
def test_once_end_to_end_on_postgresql(
    postgres_url: str, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = write_config(tmp_path, database=postgres_url)
    copy_seeds(tmp_path / "inbox")

    def monitor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env=environment(),
        )

    # The schema is PostgreSQL's to upgrade on purpose, never implicitly.
    before_upgrade = CliRunner().invoke(cli, ["--config", str(config), "once"])
    assert before_upgrade.exit_code == 1
    assert "run `monitor db upgrade` first" in before_upgrade.stderr
    upgrade = CliRunner().invoke(cli, ["--config", str(config), "db", "upgrade"])
    assert upgrade.exit_code == 0, upgrade.stderr

    first = monitor("once")
    second = monitor("once")

    assert first.returncode == 0, first.stderr
    assert f"[{CONTRACT_TOPIC}] NEW STORY #" in first.stdout
    assert f"{os.sep}{SEED_FIRST}" in first.stdout
    assert "Traceback" not in first.stderr
    assert (second.returncode, second.stdout) == (0, "")
    engine = db.create_db_engine(postgres_url)
    with engine.connect() as connection:
        origins = connection.scalars(select(ArticleSourceRow.origin)).all()
        alerts = connection.execute(select(AlertRow.kind, AlertRow.status)).all()
    engine.dispose()
    assert sorted(Path(origin).name for origin in origins) == [SEED_FIRST, SEED_UPDATE]
    assert alerts and all(status == "sent" for _kind, status in alerts)
