"""The daemon: APScheduler 3 jobs for every source and for delivery, and a graceful stop.

The first SIGTERM or SIGINT lets the running jobs finish and exits 0; a second one exits
at once. Every job has ``max_instances=1`` and coalescing, so a slow poll never piles up.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from monitor.app import App

log = logging.getLogger(__name__)

#: Exit status after a second signal: the conventional "terminated by signal" code.
FORCED_EXIT_STATUS = 130


class Daemon:
    """Owns the scheduler for one :class:`App` and turns signals into a clean stop."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=8)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 60},
            timezone="UTC",
        )
        self._signals = 0

    def schedule(self) -> None:
        now = datetime.now().astimezone()
        for name, folder in self.app.folders.items():
            self.scheduler.add_job(
                self._poll,
                "interval",
                seconds=folder.config.every,
                args=[name],
                id=f"source:{name}",
                name=f"poll {name}",
                next_run_time=now,
            )
        if self.app.feed_sources():
            self.scheduler.add_job(
                self._poll_feeds,
                "interval",
                seconds=self.app.config.feeds.dispatch_every,
                id="feeds",
                name="poll due feeds",
                next_run_time=now,
            )
        self.scheduler.add_job(
            self._deliver,
            "interval",
            seconds=self.app.config.delivery.every,
            id="delivery",
            name="deliver alerts",
            next_run_time=now + timedelta(seconds=0.2),
        )

    def _poll(self, name: str) -> None:
        if self.stopping.is_set():
            return
        try:
            self.app.poll(name)
        except Exception:
            log.exception("polling %s failed", name, extra={"source": name})

    def _poll_feeds(self) -> None:
        if self.stopping.is_set():
            return
        try:
            self.app.poll_feeds(only_due=True)
        except Exception:
            log.exception("polling feeds failed")

    def _deliver(self) -> None:
        if self.stopping.is_set():
            return
        try:
            self.app.outbox.deliver_due()
        except Exception:
            log.exception("delivery pass failed")

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(FORCED_EXIT_STATUS)
        log.info("%s received: finishing the current jobs, then stopping", signal.Signals(signum).name)
        self.stopping.set()

    def run(self) -> int:
        """Run until a signal arrives; returns the process exit status."""
        previous: dict[int, Any] = {}
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            previous[stop_signal] = signal.signal(stop_signal, self._on_signal)
        try:
            self.schedule()
            self.scheduler.start()
            log.info(
                "monitor running: %d source(s), %d topic(s), notifiers: %s",
                len(self.app.config.sources),
                len(self.app.config.topics),
                ", ".join(self.app.notifiers) or "none",
            )
            while not self.stopping.wait(0.5):
                pass
            self.scheduler.shutdown(wait=True)
            log.info("monitor stopped")
            return 0
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.app.close()
