"""Queries and writes the pipeline, outbox and CLI need; the only module that builds SQL.

Functions take an open :class:`~sqlalchemy.orm.Session`; the caller owns the transaction,
so an article, its story changes and its alerts commit (or roll back) together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Final, TypeVar, cast

from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from monitor.model import AlertStatus
from monitor.store.tables import (
    AlertRow,
    ArticleRow,
    ArticleSourceRow,
    SourceFileRow,
    SourceRow,
    StoryRow,
    StoryThreadRow,
    StoryTopicRow,
)
from monitor.store.texts import text_hash as text_hash

#: The most values one ``IN (...)`` list binds. PostgreSQL's protocol caps a statement at
#: 65,535 parameters and SQLite builds before 3.32 at 999, so a longer list (every article of
#: a large store, a drop folder's whole backlog) is looked up in parts.
IN_LIST_LIMIT: Final = 900

V = TypeVar("V", bound=Hashable)


def in_parts(values: Iterable[V]) -> Iterator[list[V]]:
    """``values``, without repeats and in their order, in lists of at most IN_LIST_LIMIT."""
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), IN_LIST_LIMIT):
        yield unique[start : start + IN_LIST_LIMIT]


def ensure_source(session: Session, *, name: str, kind: str, location: str, now: datetime) -> SourceRow:
    """The row for a configured source, created on first sight; the location follows the config."""
    row = session.scalar(select(SourceRow).where(SourceRow.name == name))
    if row is None:
        try:
            with session.begin_nested():
                row = SourceRow(
                    name=name,
                    kind=kind,
                    location=location,
                    configured_location=location,
                    created_at=now,
                    consecutive_failures=0,
                )
                session.add(row)
        except IntegrityError:
            # Another worker sharing the database created it at the same moment: use theirs.
            row = session.scalar(select(SourceRow).where(SourceRow.name == name))
            if row is None:
                raise
    if row.kind != kind or row.configured_location != location:
        # The config changed: follow it (a redirect-updated location only lasts until then).
        row.kind, row.location, row.configured_location = kind, location, location
        row.etag = row.last_modified = None
    return row


def claim_sources(
    session: Session,
    source_ids: Sequence[int],
    *,
    now: datetime,
    owner: str,
    lease_until: datetime,
    only_due: bool,
) -> list[SourceRow]:
    """Lease the given sources that are due and not held by another worker.

    On PostgreSQL the rows are locked with SKIP LOCKED, so two workers claiming at the same
    moment split the work instead of both polling a feed.
    """
    if not source_ids:
        return []
    conditions = [
        SourceRow.id.in_(source_ids),
        or_(
            SourceRow.lease_expires_at.is_(None),
            SourceRow.lease_expires_at < now,
            SourceRow.lease_owner == owner,
        ),
    ]
    if only_due:
        conditions.append(or_(SourceRow.next_poll_at.is_(None), SourceRow.next_poll_at <= now))
    query = select(SourceRow).where(*conditions).order_by(SourceRow.next_poll_at)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    for row in rows:
        row.lease_owner, row.lease_expires_at = owner, lease_until
    return rows


def source_by_name(session: Session, name: str) -> SourceRow | None:
    return session.scalar(select(SourceRow).where(SourceRow.name == name))


def all_sources(session: Session) -> Sequence[SourceRow]:
    return session.scalars(select(SourceRow).order_by(SourceRow.name)).all()


# --- the drop folder's ledger ----------------------------------------------------------


def known_file_versions(session: Session, source_id: int, paths: Iterable[str]) -> set[tuple[str, int, int]]:
    """(path, size, mtime_ns) of the versions of ``paths`` already handled, to skip them unread."""
    found: set[tuple[str, int, int]] = set()
    for part in in_parts(paths):
        rows = session.execute(
            select(SourceFileRow.path, SourceFileRow.size, SourceFileRow.mtime_ns).where(
                SourceFileRow.source_id == source_id, SourceFileRow.path.in_(part)
            )
        )
        found.update((path, size, mtime_ns) for path, size, mtime_ns in rows)
    return found


def ingested_content_hashes(session: Session, hashes: Iterable[str]) -> set[str]:
    known: set[str] = set()
    for part in in_parts(hashes):
        known.update(
            session.scalars(
                select(SourceFileRow.content_hash).where(
                    SourceFileRow.content_hash.in_(part), SourceFileRow.status == "ingested"
                )
            )
        )
    return known


def copies_of(session: Session, article_ids: Sequence[int]) -> dict[int, list[str]]:
    """For each article, the paths of byte-identical files that brought nothing new, in the
    order they were seen."""
    found: dict[int, list[str]] = {}
    stored = aliased(SourceFileRow)
    for part in in_parts(article_ids):
        rows = session.execute(
            select(stored.article_id, SourceFileRow.path)
            .join(stored, stored.content_hash == SourceFileRow.content_hash)
            .where(
                SourceFileRow.status == "copy",
                stored.status == "ingested",
                stored.article_id.in_(part),
                stored.path != SourceFileRow.path,
            )
            .order_by(SourceFileRow.id)
        )
        for article_id, path in rows:
            paths = found.setdefault(cast(int, article_id), [])  # never NULL: filtered by IN
            if path not in paths:
                paths.append(path)
    return found


def record_file(
    session: Session,
    *,
    source_id: int,
    path: str,
    content_hash: str,
    size: int,
    mtime_ns: int,
    status: str,
    reason: str | None,
    article_id: int | None,
    now: datetime,
) -> bool:
    """Record a handled file version; False when this exact version was already recorded."""
    values = {
        "source_id": source_id,
        "path": path,
        "content_hash": content_hash,
        "size": size,
        "mtime_ns": mtime_ns,
        "status": status,
        "reason": reason,
        "article_id": article_id,
        "seen_at": now,
    }
    return insert_ignoring_conflict(session, SourceFileRow, values)


def failed_files(session: Session, source_id: int | None = None) -> Sequence[SourceFileRow]:
    query = select(SourceFileRow).where(SourceFileRow.status == "failed").order_by(SourceFileRow.id)
    if source_id is not None:
        query = query.where(SourceFileRow.source_id == source_id)
    return session.scalars(query).all()


def insert_ignoring_conflict(session: Session, table: type[object], values: dict[str, object]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on either backend; True if a row was written."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # RETURNING, not rowcount: through a Session, psycopg reports a rowcount of -1 here.
    primary_key = sa_inspect(table).primary_key
    statement = insert(table).values(**values).on_conflict_do_nothing().returning(*primary_key)
    return session.execute(statement).first() is not None


# --- articles ------------------------------------------------------------------------------


def article_source(session: Session, source_id: int, external_id: str) -> ArticleSourceRow | None:
    return session.scalar(
        select(ArticleSourceRow).where(
            ArticleSourceRow.source_id == source_id, ArticleSourceRow.external_id == external_id
        )
    )


def article_by_text_hash(session: Session, digest: str) -> ArticleRow | None:
    return session.scalar(select(ArticleRow).where(ArticleRow.text_hash == digest))


def article_by_canonical_url(session: Session, url: str) -> ArticleRow | None:
    return session.scalar(select(ArticleRow).where(ArticleRow.canonical_url == url).limit(1))


def article_ids_by_external_id(
    session: Session, external_ids: Mapping[int, Sequence[str]]
) -> dict[int, dict[str, int]]:
    """Which of some sources' items are stored already, in one query: for each source id in
    ``external_ids``, external id -> article id."""
    found: dict[int, dict[str, int]] = {source_id: {} for source_id in external_ids}
    wanted = (external_id for ids in external_ids.values() for external_id in ids)
    for part in in_parts(wanted):
        rows = session.execute(
            select(
                ArticleSourceRow.source_id, ArticleSourceRow.external_id, ArticleSourceRow.article_id
            ).where(ArticleSourceRow.source_id.in_(found), ArticleSourceRow.external_id.in_(part))
        )
        for source_id, external_id, article_id in rows:
            found[source_id][external_id] = article_id
    return found


def articles_by_text_hash(session: Session, digests: Sequence[str]) -> dict[str, ArticleRow]:
    found: dict[str, ArticleRow] = {}
    for part in in_parts(digests):
        found.update(
            (row.text_hash, row)
            for row in session.scalars(select(ArticleRow).where(ArticleRow.text_hash.in_(part)))
        )
    return found


def articles_by_canonical_url(session: Session, urls: Sequence[str]) -> dict[str, ArticleRow]:
    found: dict[str, ArticleRow] = {}
    for part in in_parts(urls):
        for row in session.scalars(
            select(ArticleRow).where(ArticleRow.canonical_url.in_(part)).order_by(ArticleRow.id)
        ):
            assert row.canonical_url is not None
            found.setdefault(row.canonical_url, row)
    return found


def story_source_ids(session: Session, story_id: int) -> set[int]:
    """The sources that have reported a story."""
    return set(
        session.scalars(
            select(ArticleSourceRow.source_id)
            .join(ArticleRow, ArticleRow.id == ArticleSourceRow.article_id)
            .where(ArticleRow.story_id == story_id)
            .distinct()
        )
    )


def advance_id_sequences(session: Session) -> None:
    """PostgreSQL: move the id sequences past ids the pipeline handed out itself."""
    for table in ("articles", "stories"):
        session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        )


def articles_in_window(session: Session, after_id: int, *, published_since: datetime) -> Sequence[ArticleRow]:
    """Articles stored after ``after_id`` that the story window still holds, in arrival order.

    An estimated publication time (a file's modification time, a feed's fetch time) counts
    like a real one, as the story engine's eviction counts it; and one condition on the
    indexed ``published_at`` lets the database read only the window, not the whole history.
    """
    return session.scalars(
        select(ArticleRow)
        .where(
            ArticleRow.published_at >= published_since,
            ArticleRow.id > after_id,
            ArticleRow.story_id.is_not(None),
            ArticleRow.body_pruned.is_(False),
        )
        .order_by(ArticleRow.id)
    ).all()


def newest_publication(session: Session, now: datetime) -> datetime | None:
    """The newest real (not estimated, not future) publication time stored."""
    return session.scalar(
        select(func.max(ArticleRow.published_at)).where(
            ArticleRow.published_estimated.is_(False), ArticleRow.published_at <= now
        )
    )


def max_article_id(session: Session) -> int:
    return session.scalar(select(func.max(ArticleRow.id))) or 0


def article_sources_of(session: Session, article_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """For each article, its (source name, origin) pairs in arrival order."""
    found: dict[int, list[tuple[str, str]]] = {}
    for part in in_parts(article_ids):
        rows = session.execute(
            select(ArticleSourceRow.article_id, SourceRow.name, ArticleSourceRow.origin)
            .join(SourceRow, SourceRow.id == ArticleSourceRow.source_id)
            .where(ArticleSourceRow.article_id.in_(part))
            .order_by(ArticleSourceRow.id)
        )
        for article_id, name, origin in rows:
            found.setdefault(article_id, []).append((name, origin))
    return found


# --- stories ---------------------------------------------------------------------------------


def count_story_sources(session: Session, story_id: int) -> int:
    return (
        session.scalar(
            select(func.count(func.distinct(ArticleSourceRow.source_id)))
            .join(ArticleRow, ArticleRow.id == ArticleSourceRow.article_id)
            .where(ArticleRow.story_id == story_id)
        )
        or 0
    )


def story_topics(session: Session, story_id: int) -> set[str]:
    return set(session.scalars(select(StoryTopicRow.topic).where(StoryTopicRow.story_id == story_id)))


def latest_stories(session: Session, topic: str | None = None, limit: int = 0) -> list[StoryRow]:
    """Stories (tracked by ``topic`` if given) in the order they were first seen; only the
    ``limit`` most recent when it is positive, which the database picks."""
    query = select(StoryRow)
    if topic is not None:
        query = query.join(StoryTopicRow, StoryTopicRow.story_id == StoryRow.id).where(
            StoryTopicRow.topic == topic
        )
    if limit <= 0:
        return list(session.scalars(query.order_by(StoryRow.first_seen_at, StoryRow.id)))
    newest_first = query.order_by(StoryRow.first_seen_at.desc(), StoryRow.id.desc()).limit(limit)
    return list(reversed(session.scalars(newest_first).all()))


def story_articles(session: Session, story_ids: Sequence[int]) -> dict[int, list[ArticleRow]]:
    found: dict[int, list[ArticleRow]] = {}
    for part in in_parts(story_ids):
        for row in session.scalars(
            select(ArticleRow).where(ArticleRow.story_id.in_(part)).order_by(ArticleRow.id)
        ):
            assert row.story_id is not None
            found.setdefault(row.story_id, []).append(row)
    return found


def topics_by_story(session: Session, story_ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for part in in_parts(story_ids):
        for story_id, topic in session.execute(
            select(StoryTopicRow.story_id, StoryTopicRow.topic)
            .where(StoryTopicRow.story_id.in_(part))
            .order_by(StoryTopicRow.id)
        ):
            found.setdefault(story_id, []).append(topic)
    return found


# --- the outbox --------------------------------------------------------------------------------


def alert_key(kind: str, topic: str, story_id: int, cause: str, notifier: str, destination: str) -> str:
    """The unique key that makes the same alert impossible to write twice."""
    digest = hashlib.sha256(f"{topic}\0{notifier}\0{destination}".encode()).hexdigest()[:24]
    return f"{kind}:{story_id}:{cause}:{digest}"


def due_alerts(
    session: Session, now: datetime, owner: str, lease_until: datetime, limit: int
) -> list[AlertRow]:
    """Claim pending alerts that are due: oldest first, skipping rows another worker holds."""
    claimable = and_(
        AlertRow.status == AlertStatus.PENDING,
        AlertRow.next_attempt_at <= now,
        or_(AlertRow.lease_expires_at.is_(None), AlertRow.lease_expires_at < now),
    )
    query = select(AlertRow.id).where(claimable).order_by(AlertRow.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    candidates = list(session.scalars(query))
    if not candidates:
        return []
    # The UPDATE checks the condition again: SQLite has no row locks, so a row another worker
    # claimed or renewed since the SELECT must not be taken from it.
    claimed = list(
        session.scalars(
            update(AlertRow)
            .where(AlertRow.id.in_(candidates), claimable)
            .values(lease_owner=owner, lease_expires_at=lease_until)
            .returning(AlertRow.id),
            execution_options={"synchronize_session": False},
        )
    )
    if not claimed:
        return []
    return list(session.scalars(select(AlertRow).where(AlertRow.id.in_(claimed)).order_by(AlertRow.id)))


def hold_leases(session: Session, alert_ids: Collection[int], owner: str, until: datetime) -> set[int]:
    """Renew ``owner``'s lease on those of ``alert_ids`` it still holds and that are still
    pending, in one statement; returns them. A row missing from the answer must not be sent."""
    if not alert_ids:
        return set()
    statement = (
        update(AlertRow)
        .where(
            AlertRow.id.in_(list(alert_ids)),
            AlertRow.lease_owner == owner,
            AlertRow.status == AlertStatus.PENDING,
        )
        .values(lease_expires_at=until)
        .returning(AlertRow.id)
    )
    return set(session.scalars(statement, execution_options={"synchronize_session": False}))


def extend_leases(
    session: Session, alert_ids: Collection[int], owner: str, *, until: datetime, expiring_before: datetime
) -> None:
    """Push back to ``until`` the leases ``owner`` still holds on pending rows that would
    expire before ``expiring_before`` (a row another worker took meanwhile stays theirs)."""
    if not alert_ids:
        return
    session.execute(
        update(AlertRow)
        .where(
            AlertRow.id.in_(list(alert_ids)),
            AlertRow.lease_owner == owner,
            AlertRow.status == AlertStatus.PENDING,
            AlertRow.lease_expires_at < expiring_before,
        )
        .values(lease_expires_at=until),
        execution_options={"synchronize_session": False},
    )


def alert_by_id(session: Session, alert_id: int) -> AlertRow | None:
    return session.get(AlertRow, alert_id)


def alerts_with_status(session: Session, status: str) -> Sequence[AlertRow]:
    return session.scalars(select(AlertRow).where(AlertRow.status == status).order_by(AlertRow.id)).all()


def requeue_failed(session: Session, now: datetime, alert_ids: Sequence[int] | None = None) -> int:
    statement = (
        update(AlertRow)
        .where(AlertRow.status == AlertStatus.FAILED)
        .values(status=AlertStatus.PENDING, next_attempt_at=now, attempts=0, lease_owner=None)
    )
    if alert_ids:
        statement = statement.where(AlertRow.id.in_(alert_ids))
    return int(getattr(session.execute(statement), "rowcount", 0))


def thread_for(session: Session, story_id: int, notifier: str, destination: str) -> StoryThreadRow | None:
    return session.scalar(
        select(StoryThreadRow).where(
            StoryThreadRow.story_id == story_id,
            StoryThreadRow.notifier == notifier,
            StoryThreadRow.destination == destination,
        )
    )


def oldest_pending(
    session: Session,
    notifier: str,
    destination: str,
    *,
    before_id: int,
    story_id: int | None = None,
    kind: str | None = None,
    exclude_ids: Collection[int] = (),
    skip_topics: Collection[str] = (),
) -> AlertRow | None:
    """The oldest pending alert of one target written before ``before_id`` (story order).

    ``story_id`` / ``kind`` narrow it (an update's root); ``exclude_ids`` are rows the
    caller holds itself; ``skip_topics`` are topics whose alerts wait for a digest.
    """
    conditions = [
        AlertRow.status == AlertStatus.PENDING,
        AlertRow.notifier == notifier,
        AlertRow.destination == destination,
        AlertRow.id < before_id,
    ]
    if story_id is not None:
        conditions.append(AlertRow.story_id == story_id)
    if kind is not None:
        conditions.append(AlertRow.kind == kind)
    if exclude_ids:
        conditions.append(AlertRow.id.not_in(list(exclude_ids)))
    if skip_topics:
        conditions.append(AlertRow.topic.not_in(list(skip_topics)))
    return session.scalar(select(AlertRow).where(*conditions).order_by(AlertRow.id).limit(1))


def alert_counts(session: Session) -> dict[tuple[str, str], int]:
    """(notifier, status) -> number of alerts, for metrics and ``monitor alerts``."""
    rows = session.execute(
        select(AlertRow.notifier, AlertRow.status, func.count(AlertRow.id)).group_by(
            AlertRow.notifier, AlertRow.status
        )
    )
    return {(notifier, status): count for notifier, status, count in rows}


def delete_all(session: Session) -> None:
    """Empty every table (tests and ``replay`` scratch databases only)."""
    for table in (StoryThreadRow, AlertRow, StoryTopicRow, ArticleSourceRow, SourceFileRow):
        session.execute(delete(table))
