"""The daemon: APScheduler 3 jobs for every source and for delivery, signals, reload.

- The first SIGTERM or SIGINT lets the running jobs finish and exits 0; a second exits at
  once.
- SIGHUP re-reads the config. A valid one replaces the running one between jobs, with no
  state lost (it all lives in the database); an invalid one is logged and ignored.
- Every job has ``max_instances=1`` and coalescing, so a slow poll never piles up. Drop
  folders are also watched for filesystem events, which wake their job at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from monitor import defaults
from monitor.app import App
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.health import HealthCheck
from monitor.httpserver import StatusServer
from monitor.httpserver import start as start_status_server
from monitor.retention import prune
from monitor.watch import FolderWatcher

log = logging.getLogger(__name__)

#: Exit status after a second signal: the conventional "terminated by signal" code.
FORCED_EXIT_STATUS = 130


class _Gate:
    """Jobs pass through freely; a reload closes the gate and waits until none is inside."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._inside = 0
        self._closed = False

    def enter(self) -> None:
        with self._condition:
            self._condition.wait_for(lambda: not self._closed)
            self._inside += 1

    def leave(self) -> None:
        with self._condition:
            self._inside -= 1
            self._condition.notify_all()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.wait_for(lambda: self._inside == 0)

    def open(self) -> None:
        with self._condition:
            self._closed = False
            self._condition.notify_all()


class Daemon:
    """Owns the scheduler for the current :class:`App` and turns signals into actions."""

    def __init__(
        self,
        load_config: Callable[[], Config],
        build_app: Callable[[Config], App],
        *,
        listen: tuple[str, int] | None = None,
    ) -> None:
        self.load_config = load_config
        self.build_app = build_app
        self.app = build_app(load_config())
        self.listen = listen or self.app.config.http
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=8)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 60},
            timezone=UTC,
        )
        self.watcher = FolderWatcher()
        self._gate = _Gate()
        self._signals = 0

    # --- jobs --------------------------------------------------------------------------------

    def schedule(self) -> None:
        now = datetime.now(UTC)
        for name, folder in self.app.folders.items():
            job_id = f"source:{name}"
            self.scheduler.add_job(
                self._guarded(partial(self._poll_folder, name)),
                "interval",
                seconds=folder.config.every,
                id=job_id,
                name=f"poll {name}",
                next_run_time=now,
            )
            if folder.config.watch:
                self.watcher.watch(folder.folder, folder.config.pattern, partial(self.wake, job_id))
        if self.app.feed_sources():
            self.scheduler.add_job(
                self._guarded(lambda: self.app.poll_feeds(only_due=True)),
                "interval",
                seconds=self.app.config.feeds.dispatch_every,
                id="feeds",
                name="poll due feeds",
                next_run_time=now,
            )
        if self.app.config.retention is not None:
            retention = self.app.config.retention
            self.scheduler.add_job(
                self._guarded(lambda: prune(self.app.sessions, retention, self.app.clock())),
                "interval",
                seconds=defaults.RETENTION_EVERY_SECONDS,
                id="retention",
                name="prune by retention",
                next_run_time=now + timedelta(seconds=30),
            )
        self.scheduler.add_job(
            self._guarded(lambda: self.app.deliver()),
            "interval",
            seconds=self.app.config.delivery.every,
            id="delivery",
            name="deliver alerts",
            next_run_time=now + timedelta(seconds=0.2),
        )

    def _poll_folder(self, name: str) -> object:
        # Through self.app at call time, so a reloaded App is the one polled.
        return self.app.poll(name)

    def wake(self, job_id: str) -> None:
        """Run a job as soon as possible (a file event arrived); then deliver promptly."""
        for target in (job_id, "delivery"):
            with contextlib.suppress(JobLookupError):
                self.scheduler.modify_job(target, next_run_time=datetime.now(UTC))

    def _guarded(self, work: Callable[[], Any]) -> Callable[[], None]:
        """Wrap a job: skip it while stopping, hold reloads off while it runs, log its crash."""

        def job() -> None:
            if self.stopping.is_set():
                return
            self._gate.enter()
            try:
                result = work()
                if wrote_alerts(result):
                    self.wake("delivery")
            except Exception:
                log.exception("job %s failed", getattr(work, "__name__", work))
            finally:
                self._gate.leave()

        return job

    # --- signals -------------------------------------------------------------------------

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(FORCED_EXIT_STATUS)
        log.info("%s received: finishing the current jobs, then stopping", signal.Signals(signum).name)
        self.stopping.set()
        # Sends under way finish; the rest of a long claimed backlog is given back at once.
        self.app.outbox.stop()

    def _on_reload_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.reload_requested.set()

    def reload(self) -> bool:
        """Re-read the config; apply it between jobs if it is valid, else keep the old one."""
        try:
            app = self.build_app(self.load_config())
        except MonitorError as exc:
            log.error("reload failed; still running on the previous config: %s", exc)
            return False
        self._gate.close()
        try:
            self.scheduler.remove_all_jobs()
            self.watcher.stop()
            previous, self.app = self.app, app
            self.schedule()
        finally:
            self._gate.open()
        previous.close()
        log.info(
            "configuration reloaded: %d source(s), %d topic(s)",
            len(app.config.sources),
            len(app.config.topics),
        )
        return True

    # --- the main loop ------------------------------------------------------------------

    def _start_status_server(self) -> StatusServer | None:
        if self.listen is None:
            return None
        host, port = self.listen
        health = HealthCheck(self.app.engine, lambda: self.scheduler.running and not self.stopping.is_set())
        server, actual = start_status_server(host, port, health=health, render_metrics=self._render_metrics)
        log.info("health and metrics on http://%s:%d/healthz and /metrics", host, actual)
        return server

    def _render_metrics(self) -> tuple[bytes, str]:
        # Through self.app, so a reload's new App (and its metrics) is what gets served.
        return self.app.metrics.render()

    def run(self) -> int:
        """Run until a stop signal arrives; returns the process exit status."""
        previous: dict[int, Any] = {}
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            previous[stop_signal] = signal.signal(stop_signal, self._on_stop_signal)
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._on_reload_signal)
        server: StatusServer | None = None
        try:
            self.schedule()
            self.scheduler.start()
            server = self._start_status_server()
            log.info(
                "monitor running: %d source(s), %d topic(s), notifiers: %s",
                len(self.app.config.sources),
                len(self.app.config.topics),
                ", ".join(self.app.notifiers) or "none",
            )
            while not self.stopping.wait(0.2):
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    self.reload()
            self.watcher.stop()
            self.scheduler.shutdown(wait=True)
            log.info("monitor stopped")
            return 0
        finally:
            if server is not None:
                server.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.app.close()


def wrote_alerts(result: object) -> bool:
    """After a poll that wrote alerts, deliver now instead of at the next delivery tick."""
    report = getattr(result, "report", None)
    if report is not None:
        return bool(getattr(report, "alerts", 0))
    if isinstance(result, list):
        return any(wrote_alerts(item) for item in result)
    return False
