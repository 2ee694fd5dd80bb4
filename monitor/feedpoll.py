"""Polling feeds: claim the due ones, fetch them concurrently, store items as they arrive.

Fetching runs on the feed poller's own event loop; storing runs on one consumer thread
fed by a queue, so a slow database never holds up the network and vice versa. Each
feed's health (failures, last error, next poll with backoff) is recorded on its row.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

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


def fetch_settings(config: FeedsConfig) -> FetchSettings:
    return FetchSettings(
        connect_timeout=config.connect_timeout,
        total_timeout=config.timeout,
        max_bytes=int(config.max_bytes),
        per_host=config.per_host,
        max_concurrency=config.max_concurrency,
    )


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
    now = clock()
    with sessions.begin() as session:
        rows = [
            repo.ensure_source(session, name=feed.name, kind="feed", location=feed.feed, now=now)
            for feed in feeds
        ]
        for row in rows:
            if row.next_poll_at is None:
                # Spread new feeds over their first interval instead of firing all at once.
                spread = min(by_name[row.name].every, config.first_poll_spread)
                row.next_poll_at = now + timedelta(seconds=random.uniform(0, spread))
        session.flush()
        claimed = repo.claim_sources(
            session,
            [row.id for row in rows],
            now=now,
            owner=owner,
            lease_until=now + timedelta(seconds=lease_seconds),
            only_due=only_due,
        )
        requests = {
            row.name: (row.id, FeedRequest(row.name, row.location, row.etag, row.last_modified))
            for row in claimed
        }
    if not requests:
        return []

    outcomes: dict[str, PollOutcome] = {}
    results: queue.Queue[object] = queue.Queue(maxsize=64)

    def store_results() -> None:
        while (item := results.get()) is not _DONE:
            assert isinstance(item, FeedResult)
            source_id, _request = requests[item.request.source_name]
            try:
                outcomes[item.request.source_name] = _store(
                    sessions, pipeline, source_id, by_name[item.request.source_name], item, clock
                )
            except Exception as exc:
                log.exception("storing %s failed", item.request.source_name)
                error = f"storing failed: {exc!r}"
                outcomes[item.request.source_name] = PollOutcome(item.request.source_name, error=error)
                _record_failure(
                    sessions, pipeline, source_id, by_name[item.request.source_name], item, clock, error
                )

    consumer = threading.Thread(target=store_results, name="feed-store", daemon=True)
    consumer.start()
    try:
        poll_feeds([request for _, request in requests.values()], fetch_settings(config), results.put)
    finally:
        results.put(_DONE)
        consumer.join()
    return list(outcomes.values())


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


def _store(
    sessions: sessionmaker[Session],
    pipeline: Pipeline,
    source_id: int,
    feed: FeedSourceConfig,
    result: FeedResult,
    clock: Callable[[], datetime],
) -> PollOutcome:
    outcome = PollOutcome(feed.name)
    if result.status == "ok":
        # The pipeline needs only the source's id and name; no need to read its row.
        source = SourceRow(id=source_id, name=feed.name)
        articles = without_shared_links(result.articles)
        outcome.report = pipeline.ingest(source, [Incoming(article) for article in articles])
        for note in result.notes:
            log.warning("%s: %s", feed.name, note, extra={"source": feed.name})
    if result.status == "error":
        outcome.error = result.error or "unknown error"
        log.warning("%s: %s", feed.name, outcome.error, extra={"source": feed.name})
    # Validators, location, lease and health in one transaction: a 304 costs one commit.
    with sessions.begin() as session:
        row = session.get(SourceRow, source_id)
        assert row is not None
        row.lease_owner = row.lease_expires_at = None
        if result.status != "error":
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
        _record_health(row, feed, result, pipeline, clock(), outcome.error)
    return outcome


def _record_failure(
    sessions: sessionmaker[Session],
    pipeline: Pipeline,
    source_id: int,
    feed: FeedSourceConfig,
    result: FeedResult,
    clock: Callable[[], datetime],
    error: str,
) -> None:
    """A feed whose items could not be stored counts as failing, and its lease is released."""
    try:
        with sessions.begin() as session:
            row = session.get(SourceRow, source_id)
            if row is not None:
                row.lease_owner = row.lease_expires_at = None
                _record_health(row, feed, result, pipeline, clock(), error)
    except Exception:
        log.exception("recording the failure of %s failed", feed.name)


def _record_health(
    row: SourceRow,
    feed: FeedSourceConfig,
    result: FeedResult,
    pipeline: Pipeline,
    now: datetime,
    error: str | None,
) -> None:
    apply_health(
        row,
        now,
        error=error,
        every=feed.every,
        retry_after=result.retry_after,
        backoff_cap=pipeline.config.feeds.backoff_cap,
        jitter=True,
    )
