"""Polling feeds: claim the due ones, fetch them concurrently, store items as they arrive.

Fetching, parsing and the preparation of each item's text for storage (see
:mod:`monitor.stories.prepare`) run in the feed worker processes
(:mod:`monitor.sources.feed.workers`), so the one storing thread does only the serial part
and has this process to itself. It is fed by a small backlog bounded in
articles; a slow database pauses fetching rather than letting parsed feeds pile up. Each
feed's health (failures, last error, next poll with backoff) is recorded on its row.

The storing thread takes whatever results are waiting (up to :data:`_GROUP` feeds and a
pipeline batch of articles): it stores their items in one transaction, then records
validators and health for the whole group in another, so a poll where nothing changed (all
304) costs a few commits, not one per feed. Should the items' transaction fail, each feed's
items are stored on their own, so one bad feed costs no other.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from monitor.batch import IngestReport
from monitor.config import FeedsConfig, FeedSourceConfig
from monitor.model import Incoming, RawArticle
from monitor.pipeline import BATCH_SIZE, Pipeline
from monitor.polling import PollOutcome, apply_health
from monitor.sources.feed import FeedRequest, FeedResult, FetchSettings, poll_feeds
from monitor.store import repo
from monitor.store.tables import SourceRow
from monitor.stories.prepare import Preparations, Ready

log = logging.getLogger(__name__)

#: Most results whose sources' rows are updated in one transaction.
_GROUP = 100
#: Articles of parsed feeds waiting for the storing thread; beyond this the poll waits.
_BACKLOG_ARTICLES = BATCH_SIZE


def fetch_settings(config: FeedsConfig) -> FetchSettings:
    return FetchSettings(
        connect_timeout=config.connect_timeout,
        total_timeout=config.timeout,
        max_bytes=int(config.max_bytes),
        per_host=config.per_host,
        max_concurrency=config.max_concurrency,
        parse_workers=config.processes,
        parse_timeout=config.parse_timeout,
    )


@dataclass(frozen=True)
class _Polled:
    """One feed's result on its way to the store, with its row as claimed (detached)."""

    row: SourceRow
    feed: FeedSourceConfig
    result: FeedResult


class KnownItems:
    """The external ids of each feed's last stored document, sent with its next request so
    that those items' texts are not prepared again (a changed feed usually brings one new item
    among many known ones). Only a saving: where it has nothing (after a restart, or when
    another worker polled the feed), every item is prepared, and the store decides as always.
    """

    def __init__(self) -> None:
        self._ids: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def of(self, source_name: str) -> frozenset[str]:
        with self._lock:
            return self._ids.get(source_name, frozenset())

    def remember(self, source_name: str, articles: Sequence[RawArticle]) -> None:
        ids = frozenset(article.external_id for article in articles)
        with self._lock:
            self._ids[source_name] = ids


def poll_feed_sources(
    sessions: sessionmaker[Session],
    pipeline: Pipeline,
    feeds: Sequence[FeedSourceConfig],
    config: FeedsConfig,
    clock: Callable[[], datetime],
    *,
    owner: str,
    lease_seconds: float,
    only_due: bool,
    known: KnownItems | None = None,
) -> list[PollOutcome]:
    """Poll the given feeds (only those due, in the daemon) and store what they bring;
    ``known`` carries what each feed's last poll stored from one poll to the next."""
    known = known if known is not None else KnownItems()
    if not feeds:
        return []
    by_name = {feed.name: feed for feed in feeds}
    try:
        claimed = _claim(sessions, feeds, config, clock(), owner, lease_seconds, only_due)
    except IntegrityError:
        # Another worker created some of these sources a moment ago; now they exist.
        claimed = _claim(sessions, feeds, config, clock(), owner, lease_seconds, only_due)
    requests = {
        row.name: (row, FeedRequest(row.name, row.location, row.etag, row.last_modified, known.of(row.name)))
        for row in claimed
    }
    if not requests:
        return []

    outcomes: dict[str, PollOutcome] = {}
    backlog = _Backlog(_BACKLOG_ARTICLES)

    def polled(result: FeedResult) -> None:
        name = result.request.source_name
        backlog.put(_Polled(requests[name][0], by_name[name], result))

    def store_results() -> None:
        try:
            while group := backlog.take(_GROUP, BATCH_SIZE):
                stored = _store_group(sessions, pipeline, group, clock)
                outcomes.update(stored)
                for polled in group:
                    if polled.result.status == "ok" and stored[polled.feed.name].error is None:
                        known.remember(polled.feed.name, polled.result.articles)
        finally:
            backlog.abandon()

    consumer = threading.Thread(target=store_results, name="feed-store", daemon=True)
    consumer.start()
    try:
        poll_feeds(
            [request for _, request in requests.values()],
            fetch_settings(config),
            polled,
            prepare_for=pipeline.topic_queries(),
        )
    finally:
        backlog.close()
        consumer.join()
    return list(outcomes.values())


class _Backlog:
    """Polled feeds on their way to the storing thread, bounded by how many articles wait."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._waiting: deque[_Polled] = deque()
        self._articles = 0
        self._closed = self._abandoned = False
        self._changed = threading.Condition()

    def put(self, polled: _Polled) -> None:
        """Add a feed, first waiting while the backlog is full (one feed always fits)."""
        with self._changed:
            while self._waiting and self._articles >= self._limit and not self._abandoned:
                self._changed.wait()
            self._waiting.append(polled)
            self._articles += len(polled.result.articles)
            self._changed.notify_all()

    def take(self, most: int, articles: int) -> list[_Polled]:
        """Everything waiting, up to ``most`` feeds and about ``articles`` articles (at least
        one feed); waits for one; empty once the backlog is closed and drained."""
        with self._changed:
            while not self._waiting and not self._closed:
                self._changed.wait()
            taken: list[_Polled] = []
            count = 0
            while self._waiting and len(taken) < most:
                size = len(self._waiting[0].result.articles)
                if taken and count + size > articles:
                    break
                taken.append(self._waiting.popleft())
                count += size
            self._articles -= count
            self._changed.notify_all()
            return taken

    def close(self) -> None:
        """No more feeds will come."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def abandon(self) -> None:
        """The storing thread has stopped: never make the poll wait for it again."""
        with self._changed:
            self._abandoned = True
            self._changed.notify_all()


def _claim(
    sessions: sessionmaker[Session],
    feeds: Sequence[FeedSourceConfig],
    config: FeedsConfig,
    now: datetime,
    owner: str,
    lease_seconds: float,
    only_due: bool,
) -> list[SourceRow]:
    """Lease the feeds to poll now; their rows come back detached, as claimed."""
    every = {feed.name: feed.every for feed in feeds}
    with sessions.begin() as session:
        rows = _source_rows(session, feeds, now)
        for row in rows:
            if row.next_poll_at is None:
                # Spread new feeds over their first interval instead of firing all at once.
                spread = min(every[row.name], config.first_poll_spread)
                row.next_poll_at = now + timedelta(seconds=random.uniform(0, spread))
        session.flush()
        return repo.claim_sources(
            session,
            [row.id for row in rows],
            now=now,
            owner=owner,
            lease_until=now + timedelta(seconds=lease_seconds),
            only_due=only_due,
        )


def _source_rows(session: Session, feeds: Sequence[FeedSourceConfig], now: datetime) -> list[SourceRow]:
    """Each feed's row, created on first sight; one query when the config has not changed."""
    known = {row.name: row for row in repo.all_sources(session)}
    rows = []
    for feed in feeds:
        row = known.get(feed.name)
        if row is None or row.kind != feed.kind or row.configured_location != feed.location:
            row = repo.ensure_source(session, name=feed.name, kind=feed.kind, location=feed.location, now=now)
        rows.append(row)
    return rows


def without_shared_links(articles: Sequence[RawArticle]) -> list[RawArticle]:
    """The articles, minus the canonical link of any that share it with another item.

    Some feeds link every item to their home page. A link shared by distinct items of one
    document identifies none of them, and the store must not merge them by it.
    """
    uses = Counter(article.canonical_url for article in articles if article.canonical_url)
    return [
        replace(article, canonical_url=None) if uses[article.canonical_url or ""] > 1 else article
        for article in articles
    ]


def _store_group(
    sessions: sessionmaker[Session],
    pipeline: Pipeline,
    group: Sequence[_Polled],
    clock: Callable[[], datetime],
) -> dict[str, PollOutcome]:
    """Store the feeds' items, then record every feed's poll in one transaction."""
    outcomes = _ingest_group(pipeline, group)
    try:
        with sessions.begin() as session, session.no_autoflush:
            for polled in group:
                _record_poll(session, pipeline, polled, outcomes[polled.feed.name], clock())
    except Exception:
        log.exception("recording the poll of %d feed(s) failed; recording them one by one", len(group))
        for polled in group:
            try:
                with sessions.begin() as session:
                    _record_poll(session, pipeline, polled, outcomes[polled.feed.name], clock())
            except Exception:
                log.exception("recording the poll of %s failed", polled.feed.name)
    return outcomes


def _ingest_group(pipeline: Pipeline, group: Sequence[_Polled]) -> dict[str, PollOutcome]:
    """Store the items of every feed in ``group`` that brought some, in one transaction when
    there are several; if that fails, each feed's on its own."""
    outcomes = {polled.feed.name: PollOutcome(polled.feed.name) for polled in group}
    parts: list[tuple[_Polled, list[Incoming], Preparations | None]] = []
    for polled in group:
        feed, result = polled.feed, polled.result
        if result.status == "error":
            error = outcomes[feed.name].error = result.error or "unknown error"
            log.warning("%s: %s", feed.name, error, extra={"source": feed.name})
        elif result.status == "ok" and result.articles:
            incoming = [Incoming(article) for article in without_shared_links(result.articles)]
            # Removing a shared link changes no text: the preparations still match by position.
            prepared: Preparations | None = (
                Ready(result.prepared) if len(result.prepared) == len(incoming) else None
            )
            parts.append((polled, incoming, prepared))
    reports: list[IngestReport] | None = None
    if len(parts) > 1:
        try:
            reports = pipeline.ingest_together(
                [(polled.row, items, prepared) for polled, items, prepared in parts]
            )
        except Exception as exc:
            log.info("storing %d feeds together failed (%r); storing each on its own", len(parts), exc)
    for number, (polled, items, prepared) in enumerate(parts):
        feed = polled.feed
        outcome = outcomes[feed.name]
        if reports is not None:
            outcome.report = reports[number]
        else:
            try:
                outcome.report = pipeline.ingest(polled.row, items, prepared=prepared)
            except Exception as exc:
                log.exception("storing %s failed", feed.name, extra={"source": feed.name})
                outcome.error = f"storing failed: {exc!r}"
    for polled in group:
        if polled.result.status == "ok" and outcomes[polled.feed.name].error is None:
            for note in polled.result.notes:
                log.warning("%s: %s", polled.feed.name, note, extra={"source": polled.feed.name})
    return outcomes


def _record_poll(
    session: Session, pipeline: Pipeline, polled: _Polled, outcome: PollOutcome, now: datetime
) -> None:
    """Validators, location, lease and health of one polled feed, on its row."""
    feed, result = polled.feed, polled.result
    # The row is leased to this worker, so its claimed state is current: no need to read it again.
    row = session.merge(polled.row, load=False)
    row.lease_owner = row.lease_expires_at = None
    # Validators only once the items are stored: a 304 must never hide items that were lost.
    if result.status != "error" and outcome.error is None:
        row.etag, row.last_modified = result.etag or row.etag, result.last_modified or row.last_modified
        if result.status == "ok":
            row.etag, row.last_modified = result.etag, result.last_modified
        row.min_interval = result.min_interval if feed.respect_ttl else None
        if result.new_url and result.new_url != row.location:
            log.warning(
                "%s moved permanently: %s -> %s (stored; update the config when convenient)",
                feed.name,
                row.location,
                result.new_url,
                extra={"source": feed.name},
            )
            row.location = result.new_url
    apply_health(
        row,
        now,
        error=outcome.error,
        every=feed.every,
        retry_after=result.retry_after,
        backoff_cap=pipeline.config.feeds.backoff_cap,
        jitter=True,
    )
