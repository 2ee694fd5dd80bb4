"""Prometheus metrics of one worker: what it polled, stored and delivered, and the store's state.

Each :class:`Metrics` owns its own :class:`~prometheus_client.CollectorRegistry` (never the
global one), so several apps, or several tests, never share series.

Two kinds of series:

* counters and histograms this process updates as its jobs finish (``observe_poll``,
  ``observe_delivery``, ``alert_outcome``); they start at zero when the process starts and
  count only this worker's work;
* gauges read from the database at scrape time (:class:`StoreCollector`): alerts by notifier
  and status, and each source's last success and failure streak. They survive restarts and
  show the whole store, so with several workers on one PostgreSQL every worker reports the
  same values: aggregate them with ``max``, not ``sum``.

One gauge is read from this process at scrape time: how many stories its story window holds
(``story_window``), to be watched against ``stories.max_stories``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from monitor.model import AlertStatus
from monitor.outbox import DeliveryReport
from monitor.polling import PollOutcome
from monitor.store import repo

log = logging.getLogger(__name__)

#: Every series name starts with this.
PREFIX = "monitor"

#: Poll jobs take from milliseconds (an empty drop folder) to a minute (a pass over slow feeds).
POLL_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

#: A delivery pass is usually instant; Slack pacing (one post a second) stretches large ones.
DELIVERY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

#: What a delivery pass did with the alerts it claimed (the fields of DeliveryReport).
DELIVERY_OUTCOMES = ("sent", "failed", "retried", "deferred")

#: On PostgreSQL, the scrape-time queries give up after this rather than hold a scrape open.
SCRAPE_STATEMENT_TIMEOUT_MS = 5000

AlertOutcome = Literal["sent", "failed", "retried"]


class StoreCollector(Collector):
    """Gauges read from the database on every scrape.

    A scrape never fails because of the database: when the queries fail, only
    ``monitor_store_up 0`` is reported and the error is logged.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # Declared up front so registration never queries the database.
        return [
            GaugeMetricFamily(f"{PREFIX}_store_up", ""),
            GaugeMetricFamily(f"{PREFIX}_alerts", "", labels=["notifier", "status"]),
            GaugeMetricFamily(f"{PREFIX}_source_last_success_timestamp_seconds", "", labels=["source"]),
            GaugeMetricFamily(f"{PREFIX}_source_consecutive_failures", "", labels=["source"]),
        ]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            f"{PREFIX}_store_up", "1 if the database answered this scrape's queries, else 0."
        )
        alerts = GaugeMetricFamily(
            f"{PREFIX}_alerts",
            "Alerts in the outbox by notifier and status (pending, sent, failed), read from the database.",
            labels=["notifier", "status"],
        )
        last_success = GaugeMetricFamily(
            f"{PREFIX}_source_last_success_timestamp_seconds",
            "Unix time of each source's last successful poll; absent for a source never polled successfully.",
            labels=["source"],
        )
        failures = GaugeMetricFamily(
            f"{PREFIX}_source_consecutive_failures",
            "Failed polls of each source since its last success.",
            labels=["source"],
        )
        try:
            with self.sessions() as session:
                if session.get_bind().dialect.name == "postgresql":
                    session.execute(text(f"SET LOCAL statement_timeout = {SCRAPE_STATEMENT_TIMEOUT_MS}"))
                counts = repo.alert_counts(session)
                sources = [
                    (row.name, row.last_success_at, row.consecutive_failures)
                    for row in repo.all_sources(session)
                ]
        except SQLAlchemyError as exc:
            log.warning("metrics: cannot read the database: %s", _first_line(exc))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        notifiers = sorted({notifier for notifier, _status in counts})
        for notifier in notifiers:
            # Every status of a notifier is reported, zeros included, so ratios and alerts on
            # "failed > 0" work without absent-series special cases.
            for status in AlertStatus:
                alerts.add_metric([notifier, status.value], counts.get((notifier, status.value), 0))
        yield alerts
        for name, success_at, failure_count in sources:
            if success_at is not None:
                last_success.add_metric([name], success_at.timestamp())
            failures.add_metric([name], failure_count)
        yield last_success
        yield failures


class Metrics:
    """The registry of one app and the calls its jobs make when they finish."""

    def __init__(
        self,
        sessions: sessionmaker[Session] | None = None,
        *,
        sources: Iterable[str] = (),
        story_window: Callable[[], int] | None = None,
    ) -> None:
        """``sessions`` adds the database gauges; ``sources`` starts their counters at zero;
        ``story_window`` (the number of stories the window holds) adds its gauge."""
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        if sessions is not None:
            self.registry.register(StoreCollector(sessions))
        self.articles_ingested = Counter(
            f"{PREFIX}_articles_ingested",
            "New articles stored, by the source that brought them (copies and known items excluded).",
            ["source"],
            registry=self.registry,
        )
        self.articles_rejected = Counter(
            f"{PREFIX}_articles_rejected",
            "Items a source delivered that could not become articles (empty, binary, too large...).",
            ["source"],
            registry=self.registry,
        )
        self.stories_created = Counter(
            f"{PREFIX}_stories_created", "Stories opened by new articles.", registry=self.registry
        )
        self.alerts_created = Counter(
            f"{PREFIX}_alerts_created",
            "Alerts written to the outbox by matching topics.",
            registry=self.registry,
        )
        self.source_errors = Counter(
            f"{PREFIX}_source_errors",
            "Polls in which a source as a whole failed (unreachable feed, missing folder...).",
            ["source"],
            registry=self.registry,
        )
        self.poll_duration = Histogram(
            f"{PREFIX}_poll_duration_seconds",
            "Duration of one poll job: a drop folder (kind=folder) or a pass over the due feeds (kind=feed).",
            ["kind"],
            buckets=POLL_BUCKETS,
            registry=self.registry,
        )
        self.delivery_duration = Histogram(
            f"{PREFIX}_delivery_duration_seconds",
            "Duration of one delivery pass over the due alerts.",
            buckets=DELIVERY_BUCKETS,
            registry=self.registry,
        )
        self.delivery_outcomes = Counter(
            f"{PREFIX}_delivery_outcomes",
            "What delivery passes did with the alerts they claimed.",
            ["outcome"],
            registry=self.registry,
        )
        self.alerts_sent = Counter(
            f"{PREFIX}_alerts_sent",
            "Alerts this worker sent, by notifier.",
            ["notifier"],
            registry=self.registry,
        )
        self.alerts_failed = Counter(
            f"{PREFIX}_alerts_failed",
            "Alerts that failed permanently in this worker, by notifier.",
            ["notifier"],
            registry=self.registry,
        )
        self.alerts_retried = Counter(
            f"{PREFIX}_alerts_retried",
            "Transient send failures in this worker (the alert is retried later), by notifier.",
            ["notifier"],
            registry=self.registry,
        )
        if story_window is not None:
            Gauge(
                f"{PREFIX}_story_window_stories",
                "Stories the story window of this worker holds (at most stories.max_stories).",
                registry=self.registry,
            ).set_function(story_window)
        for outcome in DELIVERY_OUTCOMES:
            self.delivery_outcomes.labels(outcome)
        for source in sources:
            self.articles_ingested.labels(source)
            self.articles_rejected.labels(source)
            self.source_errors.labels(source)

    # --- what the jobs report ----------------------------------------------------------

    def observe_poll(self, outcomes: Sequence[PollOutcome], seconds: float, kind: str) -> None:
        """One poll job finished: a drop folder (one outcome) or a feed pass (one outcome per feed
        polled, none when no feed was due). ``kind`` labels the duration: ``folder`` or ``feed``."""
        for outcome in outcomes:
            report = outcome.report
            self.articles_ingested.labels(outcome.source).inc(report.stored)
            self.articles_rejected.labels(outcome.source).inc(report.rejected)
            self.stories_created.inc(report.stories_created)
            self.alerts_created.inc(report.alerts)
            if outcome.error is not None:
                self.source_errors.labels(outcome.source).inc()
        self.poll_duration.labels(kind).observe(seconds)

    def observe_delivery(self, report: DeliveryReport, seconds: float) -> None:
        """One delivery pass finished."""
        self.delivery_duration.observe(seconds)
        for outcome in DELIVERY_OUTCOMES:
            count: int = getattr(report, outcome)
            self.delivery_outcomes.labels(outcome).inc(count)

    def alert_outcome(self, notifier: str, outcome: AlertOutcome, count: int = 1) -> None:
        """``count`` alerts (a digest sends several at once) were sent, failed for good or will be retried."""
        counters = {"sent": self.alerts_sent, "failed": self.alerts_failed, "retried": self.alerts_retried}
        if outcome not in counters:
            raise ValueError(f"alert outcome must be one of {', '.join(counters)}, got {outcome!r}")
        counters[outcome].labels(notifier).inc(count)

    # --- exposition ----------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition of every series, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _first_line(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    lines = (str(original) if original is not None else str(exc)).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
