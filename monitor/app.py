"""The running worker's parts, built once from a config: store, notifiers, pipeline, outbox.

``run``, ``once``, ``ingest`` and ``replay`` all go through this one object, so every
command exercises the same path the daemon does. The parts only some commands use (the feed
poller and its HTTP and parsing libraries, the Prometheus metrics) load on first use, so a
command that needs neither starts in less time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor import notify
from monitor.clock import utcnow
from monitor.config import Config, FeedSourceConfig, FolderSourceConfig
from monitor.errors import ConfigError, StoreError
from monitor.notify.base import Notifier
from monitor.outbox import DeliveryReport, Outbox
from monitor.pipeline import Pipeline
from monitor.polling import PollOutcome, poll_folder
from monitor.sources.folder import FolderSource
from monitor.store import db
from monitor.tracking import Target

if TYPE_CHECKING:
    from monitor.feedpoll import KnownItems
    from monitor.metrics import Metrics

log = logging.getLogger(__name__)


def build_notifiers(config: Config) -> dict[str, Notifier]:
    """One notifier per configured entry; one whose required secret is empty is left out."""
    notify.load_kinds()
    built: dict[str, Notifier] = {}
    for name, entry in config.notifiers.items():
        notifier = Notifier.by_kind(entry.kind)(name, entry.settings)
        missing = notifier.missing_secret()
        if missing:
            log.warning("notifier %r is disabled: its %s is empty", name, missing)
            continue
        built[name] = notifier
    return built


def resolve_targets(config: Config, notifiers: Mapping[str, Notifier]) -> dict[str, list[Target]]:
    """Each topic's notify entries as concrete destinations; disabled notifiers are skipped."""
    targets: dict[str, list[Target]] = {}
    for topic in config.topics:
        resolved: list[Target] = []
        for entry in topic.notify:
            notifier = notifiers.get(entry.notifier)
            if notifier is None:
                continue
            try:
                destination = (
                    notifier.default_destination()
                    if entry.destination is None
                    else notifier.normalise_destination(entry.destination)
                )
            except ConfigError as exc:
                raise ConfigError(f"topic {topic.name!r}: {exc}") from None
            resolved.append(Target(entry.notifier, destination, entry.digest))
        targets[topic.name] = resolved
    return targets


def open_database(config: Config, *, upgrade: bool = True) -> tuple[Engine, sessionmaker[Session]]:
    """The configured database and its sessions; an outdated SQLite schema is upgraded in
    place (unless ``upgrade`` is false), any other is refused until `monitor db upgrade`."""
    engine = db.create_db_engine(config.database)
    if db.needs_upgrade(engine):
        if not (upgrade and db.is_sqlite(config.database)):
            raise StoreError("database: the schema is not up to date; run `monitor db upgrade` first")
        db.upgrade(engine)
    return engine, db.session_factory(engine)


@dataclass
class Records:
    """The configuration and the database, as the commands that only read or tidy records
    (``stories``, ``alerts``, ``sources``, ``replay``, ``db prune``) use them: no notifiers,
    whose warnings about missing secrets concern delivery, and no pipeline."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def open(cls, config: Config, *, clock: Callable[[], datetime] = utcnow) -> Records:
        engine, sessions = open_database(config)
        return cls(config, engine, sessions, clock)

    def close(self) -> None:
        self.engine.dispose()


@dataclass
class App:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    notifiers: dict[str, Notifier]
    pipeline: Pipeline
    outbox: Outbox
    folders: dict[str, FolderSource]
    clock: Callable[[], datetime]
    _metrics: Metrics | None = field(default=None, init=False, repr=False)
    # Guards the parts made on first use (metrics, known items).
    _lazy_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # What each feed's last poll stored, kept from one poll to the next (see KnownItems).
    _known_items: KnownItems | None = field(default=None, init=False, repr=False)

    @classmethod
    def build(cls, config: Config, *, clock: Callable[[], datetime] = utcnow, upgrade: bool = True) -> App:
        engine, sessions = open_database(config, upgrade=upgrade)
        notifiers = build_notifiers(config)
        pipeline = Pipeline(sessions, config, targets=resolve_targets(config, notifiers), clock=clock)
        outbox = Outbox(sessions, config, notifiers, clock=clock, lease_seconds=config.lease)
        folders = {
            source.name: FolderSource(source)
            for source in config.sources
            if isinstance(source, FolderSourceConfig)
        }
        return cls(config, engine, sessions, notifiers, pipeline, outbox, folders, clock)

    @property
    def metrics(self) -> Metrics:
        """The worker's Prometheus metrics, made on first use (by whichever job comes first)."""
        with self._lazy_lock:
            if self._metrics is None:
                from monitor.metrics import Metrics

                self._metrics = Metrics(
                    self.sessions,
                    sources=self.sources(),
                    # The pipeline replaces its engine when settings change: read it at each scrape.
                    story_window=lambda: len(self.pipeline.engine),
                )
            return self._metrics

    def sources(self) -> list[str]:
        """Every configured source's name, in config order."""
        return [source.name for source in self.config.sources]

    def poll(self, name: str) -> PollOutcome:
        """Poll one configured folder source by name."""
        started = time.perf_counter()
        outcome = poll_folder(self.sessions, self.pipeline, self.folders[name], self.clock)
        self.metrics.observe_poll([outcome], time.perf_counter() - started, "folder")
        return outcome

    def poll_feeds(self, *, only_due: bool) -> list[PollOutcome]:
        """Poll every feed (``once``) or the feeds whose next poll is due (the daemon)."""
        from monitor.feedpoll import KnownItems, poll_feed_sources

        with self._lazy_lock:
            if self._known_items is None:
                self._known_items = KnownItems()

        started = time.perf_counter()
        outcomes = poll_feed_sources(
            self.sessions,
            self.pipeline,
            self.feed_sources(),
            self.config.feeds,
            self.clock,
            owner=self.outbox.owner,
            lease_seconds=self.config.lease,
            only_due=only_due,
            known=self._known_items,
        )
        if outcomes:
            self.metrics.observe_poll(outcomes, time.perf_counter() - started, "feed")
        return outcomes

    def deliver(self) -> DeliveryReport:
        """One delivery pass over the outbox."""
        started = time.perf_counter()
        report = self.outbox.deliver_due()
        self.metrics.observe_delivery(report, time.perf_counter() - started)
        return report

    def poll_all(self) -> list[PollOutcome]:
        """Every source now, whatever its interval: folders in order, then all feeds at once."""
        outcomes = [self.poll(name) for name in self.folders]
        return outcomes + self.poll_feeds(only_due=False)

    def feed_sources(self) -> list[FeedSourceConfig]:
        return [source for source in self.config.sources if isinstance(source, FeedSourceConfig)]

    def close(self) -> None:
        for notifier in self.notifiers.values():
            notifier.close()
        self.engine.dispose()
