"""Is this worker healthy? The scheduler is alive and the database answers, within a deadline.

:class:`HealthCheck` is called for every ``/healthz`` request. The database is probed on a
thread of its own with a deadline, so a database that hangs (a stuck connect, a held lock)
makes the check fail quickly instead of hanging the probe; while an earlier probe is still
stuck, later checks fail at once rather than starting one more stuck thread each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, text

from monitor.clock import utcnow
from monitor.store.tables import SourceRow

#: How long the database probe may take before the worker counts as unhealthy: far above a
#: healthy round trip, well below the timeouts of container and load-balancer health probes.
DATABASE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Check:
    """One check's verdict; ``detail`` says what went wrong, or how it went."""

    ok: bool
    detail: str | None = None


@dataclass(frozen=True)
class HealthReport:
    """The answer of ``/healthz``: healthy only when every check passed."""

    checks: dict[str, Check]
    #: Seconds since the newest successful poll of any source; None if none ever succeeded.
    last_poll_age_seconds: float | None
    checked_at: datetime = field(default_factory=utcnow)

    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "scheduler": self.checks["scheduler"].ok,
            "database": self.checks["database"].ok,
            "last_poll_age_seconds": (
                None if self.last_poll_age_seconds is None else round(self.last_poll_age_seconds, 3)
            ),
            "checked_at": self.checked_at.isoformat(),
            "checks": {name: {"ok": check.ok, "detail": check.detail} for name, check in self.checks.items()},
        }


class HealthCheck:
    """Builds a :class:`HealthReport` on each call (the ``health`` callable of the HTTP server)."""

    def __init__(
        self,
        engine: Engine,
        scheduler_alive: Callable[[], bool],
        *,
        timeout: float = DATABASE_TIMEOUT_SECONDS,
        max_poll_age: float | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``max_poll_age`` (seconds), when set, adds a ``polling`` check that fails once the
        newest successful poll of any source is older; a store never polled yet passes it."""
        self.engine = engine
        self.scheduler_alive = scheduler_alive
        self.timeout = timeout
        self.max_poll_age = max_poll_age
        self.clock = clock
        self._probe_lock = threading.Lock()
        self._stuck_probe: threading.Thread | None = None

    def __call__(self) -> HealthReport:
        checks = {"scheduler": self._check_scheduler()}
        database, last_success = self._check_database()
        checks["database"] = database
        now = self.clock()
        age = None if last_success is None else max(0.0, (now - last_success).total_seconds())
        if self.max_poll_age is not None:
            if not database.ok:
                checks["polling"] = Check(False, "unknown: the database did not answer")
            elif age is not None and age > self.max_poll_age:
                checks["polling"] = Check(
                    False, f"no source polled successfully for {age:.0f}s (limit {self.max_poll_age:.0f}s)"
                )
            else:
                checks["polling"] = Check(True)
        return HealthReport(checks, age, now)

    def _check_scheduler(self) -> Check:
        try:
            alive = self.scheduler_alive()
        except Exception as exc:  # a broken probe means we cannot vouch for the scheduler
            return Check(False, f"cannot tell: {exc!r}")
        return Check(True) if alive else Check(False, "the scheduler is not running")

    def _check_database(self) -> tuple[Check, datetime | None]:
        with self._probe_lock:
            if self._stuck_probe is not None and self._stuck_probe.is_alive():
                return Check(False, "an earlier probe is still waiting for the database"), None
            answer: list[tuple[Check, datetime | None]] = []
            probe = threading.Thread(
                target=lambda: answer.append(self._probe()), name="health-db", daemon=True
            )
            probe.start()
            probe.join(self.timeout)
            if probe.is_alive():
                self._stuck_probe = probe
                return Check(False, f"no answer within {self.timeout:g}s"), None
            self._stuck_probe = None
        return answer[0]

    def _probe(self) -> tuple[Check, datetime | None]:
        started = time.perf_counter()
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                last_success = connection.scalar(select(func.max(SourceRow.last_success_at)))
        except Exception as exc:  # any failure to answer is the finding, not a crash
            return Check(False, _describe(exc)), None
        elapsed_ms = (time.perf_counter() - started) * 1000
        return Check(True, f"answered in {elapsed_ms:.1f} ms"), last_success


def _describe(exc: BaseException) -> str:
    """The first line of the driver's message (no SQL, no traceback)."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0]}" if lines else type(original).__name__
