"""Polling feeds: claim the due ones, fetch them concurrently, store items as they arrive.

Fetching runs on the feed poller's own event loop; storing runs on one consumer thread
fed by a queue, so a slow database never holds up the network and vice versa. Each
feed's health (failures, last error, next poll with backoff) is recorded on its row.

The consumer takes whatever results are waiting (up to :data:`_GROUP`): it stores each
feed's items, then records validators and health for the whole group in one transaction,
so a poll where nothing changed (all 304) costs a few commits, not one per feed.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import FeedsConfig, FeedSourceConfig
from monitor.model import Incoming, RawArticle
from monitor.pipeline import Pipeline
from monitor.polling import PollOutcome, apply_health
from monitor.sources.feed import FeedRequest, FeedResult, FetchSettings, poll_feeds
from monitor.store import repo
from monitor.store.tables import SourceRow

log = logging.getLogger(__name__)

_DONE = object()

#: Most results whose sources' rows are updated in one transaction.
_GROUP = 100


def fetch_settings(config: FeedsConfig) -> FetchSettings:
    return FetchSettings(
        connect_timeout=config.connect_timeout,
        total_timeout=config.timeout,
        max_bytes=int(config.max_bytes),
        per_host=config.per_host,
        max_concurrency=config.max_concurrency,
    )


@dataclass(frozen=True)
class _Polled:
    """One feed's result on its way to the store, with its row as claimed (detached)."""

    row: SourceRow
    feed: FeedSourceConfig
    result: FeedResult


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
) -> list[PollOutcome]:
    """Poll the given feeds (only those due, in the daemon) and store what they bring."""
    if not feeds:
        return []
    by_name = {feed.name: feed for feed in feeds}
    try:
        claimed = _claim(sessions, feeds, config, clock(), owner, lease_seconds, only_due)
    except IntegrityError:
        # Another worker created some of these sources a moment ago; now they exist.
        claimed = _claim(sessions, feeds, config, clock(), owner, lease_seconds, only_due)
    requests = {
        row.name: (row, FeedRequest(row.name, row.location, row.etag, row.last_modified)) for row in claimed
    }
    if not requests:
        return []

    outcomes: dict[str, PollOutcome] = {}
    results: queue.Queue[object] = queue.Queue(maxsize=64)

    def polled(result: FeedResult) -> _Polled:
        name = result.request.source_name
        return _Polled(requests[name][0], by_name[name], result)

    def store_results() -> None:
        finished = False
        while not finished:
            group: list[_Polled] = []
            item = results.get()
            while True:
                if item is _DONE:
                    finished = True
                    break
                assert isinstance(item, FeedResult)
                group.append(polled(item))
                if len(group) >= _GROUP:
                    break
                try:
                    item = results.get_nowait()
                except queue.Empty:
                    break
            if group:
                outcomes.update(_store_group(sessions, pipeline, group, clock))

    consumer = threading.Thread(target=store_results, name="feed-store", daemon=True)
    consumer.start()
    try:
        poll_feeds([request for _, request in requests.values()], fetch_settings(config), results.put)
    finally:
        results.put(_DONE)
        consumer.join()
    return list(outcomes.values())


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
    """Store each feed's items, then record every feed's poll in one transaction."""
    outcomes = {polled.feed.name: _ingest(pipeline, polled) for polled in group}
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


def _ingest(pipeline: Pipeline, polled: _Polled) -> PollOutcome:
    feed, result = polled.feed, polled.result
    outcome = PollOutcome(feed.name)
    if result.status == "error":
        outcome.error = result.error or "unknown error"
        log.warning("%s: %s", feed.name, outcome.error, extra={"source": feed.name})
        return outcome
    if result.status == "ok":
        articles = without_shared_links(result.articles)
        try:
            outcome.report = pipeline.ingest(polled.row, [Incoming(article) for article in articles])
        except Exception as exc:
            log.exception("storing %s failed", feed.name, extra={"source": feed.name})
            outcome.error = f"storing failed: {exc!r}"
            return outcome
        for note in result.notes:
            log.warning("%s: %s", feed.name, note, extra={"source": feed.name})
    return outcome


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
