"""The health check on a real database (SQLite and PostgreSQL): scheduler, database, last poll."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from monitor.health import Check, HealthCheck
from monitor.store import db, repo

NOW = datetime(2026, 2, 18, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    created = db.create_db_engine(database_url)
    db.upgrade(created)
    yield created
    created.dispose()


def _source(engine: Engine, name: str, last_success_at: datetime | None, failures: int = 0) -> None:
    with db.session_factory(engine).begin() as session:
        row = repo.ensure_source(session, name=name, kind="folder", location=f"./{name}", now=NOW)
        row.last_success_at = last_success_at
        row.consecutive_failures = failures


def test_healthy_when_the_scheduler_runs_and_the_database_answers(engine: Engine) -> None:
    report = HealthCheck(engine, lambda: True, clock=clock)()
    assert report.healthy
    assert report.checks["scheduler"].ok and report.checks["database"].ok
    assert report.checks["database"].detail is not None and "answered in" in report.checks["database"].detail
    assert report.last_poll_age_seconds is None  # nothing polled yet
    body = report.as_json()
    assert body["status"] == "ok"
    assert body["scheduler"] is True and body["database"] is True
    assert body["last_poll_age_seconds"] is None
    assert set(body["checks"]) == {"scheduler", "database"}


def test_last_poll_age_is_measured_from_the_newest_success_of_any_source(engine: Engine) -> None:
    _source(engine, "old", NOW - timedelta(hours=2))
    _source(engine, "newest", NOW - timedelta(seconds=12.25))
    _source(engine, "never", None, failures=3)
    report = HealthCheck(engine, lambda: True, clock=clock)()
    assert report.last_poll_age_seconds == pytest.approx(12.25)
    assert report.as_json()["last_poll_age_seconds"] == 12.25


def test_a_stopped_scheduler_is_unhealthy(engine: Engine) -> None:
    report = HealthCheck(engine, lambda: False, clock=clock)()
    assert not report.healthy
    assert report.checks["scheduler"].ok is False
    assert report.checks["scheduler"].detail == "the scheduler is not running"
    assert report.checks["database"].ok is True
    assert report.as_json()["status"] == "unhealthy"


def test_a_scheduler_probe_that_raises_is_unhealthy_not_a_crash(engine: Engine) -> None:
    def broken() -> bool:
        raise RuntimeError("scheduler gone")

    report = HealthCheck(engine, broken, clock=clock)()
    assert not report.healthy
    assert report.checks["scheduler"].detail == "cannot tell: RuntimeError('scheduler gone')"


def test_a_database_without_the_schema_is_unhealthy(database_url: str) -> None:
    engine = db.create_db_engine(database_url)  # never upgraded: no sources table
    try:
        report = HealthCheck(engine, lambda: True, clock=clock)()
    finally:
        engine.dispose()
    assert not report.healthy
    assert report.checks["database"].ok is False
    assert report.checks["scheduler"].ok is True
    assert report.last_poll_age_seconds is None


def test_an_unopenable_sqlite_file_is_unhealthy(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    engine = create_engine(f"sqlite:///{blocker / 'monitor.db'}")
    try:
        report = HealthCheck(engine, lambda: True, clock=clock)()
    finally:
        engine.dispose()
    assert not report.healthy
    detail = report.checks["database"].detail
    assert detail is not None and "unable to open database file" in detail
    assert report.as_json()["database"] is False


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_refused_postgresql_connection_is_unhealthy() -> None:
    engine = db.create_db_engine(f"postgresql://monitor@127.0.0.1:{_closed_port()}/monitor")
    try:
        report = HealthCheck(engine, lambda: True, clock=clock)()
    finally:
        engine.dispose()
    assert not report.healthy
    detail = report.checks["database"].detail
    assert detail is not None and "OperationalError" in detail


def test_a_database_that_never_answers_fails_within_the_timeout() -> None:
    # A listener that never accepts: the driver connects and then waits for ever for a greeting.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    engine = db.create_db_engine(f"postgresql://monitor@127.0.0.1:{silent.getsockname()[1]}/monitor")
    check = HealthCheck(engine, lambda: True, timeout=0.3, clock=clock)
    try:
        started = time.monotonic()
        first = check()
        first_took = time.monotonic() - started
        started = time.monotonic()
        second = check()
        second_took = time.monotonic() - started
    finally:
        silent.close()
    assert not first.healthy
    assert first.checks["database"].detail == "no answer within 0.3s"
    assert 0.25 <= first_took < 2.0
    # The first probe is still stuck: the second check says so at once instead of waiting again.
    assert second.checks["database"].detail == "an earlier probe is still waiting for the database"
    assert second_took < 0.2
    # Once the stuck probe gives up, checks probe again (and find the database gone).
    deadline = time.monotonic() + 10
    while True:
        third = check()
        if third.checks["database"].detail != "an earlier probe is still waiting for the database":
            break
        assert time.monotonic() < deadline, "the stuck probe never ended after the server closed"
        time.sleep(0.05)
    engine.dispose()
    assert third.checks["database"].ok is False
    assert third.checks["database"].detail != "no answer within 0.3s"


def test_max_poll_age_fails_a_stale_store_and_passes_a_fresh_or_unpolled_one(engine: Engine) -> None:
    check = HealthCheck(engine, lambda: True, max_poll_age=600, clock=clock)
    unpolled = check()
    assert unpolled.healthy and unpolled.checks["polling"].ok

    _source(engine, "inbox", NOW - timedelta(seconds=599))
    assert check().healthy

    _source(engine, "inbox", NOW - timedelta(seconds=601))
    stale = check()
    assert not stale.healthy
    assert stale.checks["polling"].detail == "no source polled successfully for 601s (limit 600s)"
    assert stale.as_json()["checks"]["polling"] == {
        "ok": False,
        "detail": "no source polled successfully for 601s (limit 600s)",
    }


def test_max_poll_age_is_unknown_when_the_database_is_down(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'monitor.db'}")
    try:
        report = HealthCheck(engine, lambda: True, max_poll_age=60, clock=clock)()
    finally:
        engine.dispose()
    assert report.checks["polling"] == Check(False, "unknown: the database did not answer")
