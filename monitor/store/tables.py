"""The database schema as SQLAlchemy 2 typed ORM classes.

Every later stage has its place here from the start: sources and their state, the drop
folder's ledger, articles and where they came from, stories, topic matches, alerts (the
outbox, unique by key) and the per-destination thread of each story.
"""

from __future__ import annotations

from datetime import UTC as UTC_TZ
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC_TZ).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC_TZ) if value.tzinfo is None else value.astimezone(UTC_TZ)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The many-to-one ``relationship`` s below are never loaded (``lazy="raise"``): they exist
# so the unit of work inserts parents before children when a batch flushes at once.


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # SQLAlchemy reads this class attribute by name; it is never mutated.
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


class SourceRow(Base):
    """A configured source and its polling state (health, conditional-GET validators, lease)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    location: Mapped[str] = mapped_column(Text)
    #: The location as configured; ``location`` may differ after a permanent redirect.
    configured_location: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None]
    min_interval: Mapped[float | None]
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class SourceFileRow(Base):
    """The drop folder's ledger: one row per file version seen, ingested or failed."""

    __tablename__ = "source_files"
    __table_args__ = (UniqueConstraint("source_id", "path", "content_hash", name="uq_source_files_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    seen_at: Mapped[datetime]
    article: Mapped[ArticleRow | None] = relationship(lazy="raise")


class StoryRow(Base):
    """One real-world event, reported by one or more articles."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(index=True)
    article_count: Mapped[int] = mapped_column(Integer, default=0)
    source_count: Mapped[int] = mapped_column(Integer, default=0)
    update_count: Mapped[int] = mapped_column(Integer, default=0)


class ArticleRow(Base):
    """An article, stored once however many sources delivered it.

    ``text_hash`` is the normalised-text identity that makes a re-dropped, renamed or
    cross-posted copy the same row; ``role`` and ``novel_sentences`` record what the story
    engine decided when the article arrived.
    """

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64), unique=True)
    canonical_url: Mapped[str | None] = mapped_column(Text, index=True)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    related_headlines: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    encoding: Mapped[str | None] = mapped_column(String(40))
    published_at: Mapped[datetime] = mapped_column(index=True)
    published_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen_at: Mapped[datetime] = mapped_column(index=True)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"), index=True)
    role: Mapped[str | None] = mapped_column(String(20))
    novel_sentences: Mapped[list[str]] = mapped_column(JSON, default=list)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    body_pruned: Mapped[bool] = mapped_column(Boolean, default=False)
    story: Mapped[StoryRow | None] = relationship(lazy="raise")


class ArticleSourceRow(Base):
    """Where an article came from: one row per (source, item identity)."""

    __tablename__ = "article_sources"
    __table_args__ = (UniqueConstraint("source_id", "external_id", name="uq_article_sources_item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(255))
    origin: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    article: Mapped[ArticleRow] = relationship(lazy="raise")


class ArticleRevisionRow(Base):
    """A previous version of an article whose content changed at its source."""

    __tablename__ = "article_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    replaced_at: Mapped[datetime]
    article: Mapped[ArticleRow] = relationship(lazy="raise")


class StoryTopicRow(Base):
    """A topic tracking a story, from the article that first matched its query."""

    __tablename__ = "story_topics"
    __table_args__ = (UniqueConstraint("story_id", "topic", name="uq_story_topics_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(200), index=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    matched_at: Mapped[datetime]
    story: Mapped[StoryRow] = relationship(lazy="raise")
    article: Mapped[ArticleRow | None] = relationship(lazy="raise")


class AlertRow(Base):
    """The outbox: one row per alert and destination; ``key`` makes a repeat impossible."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str] = mapped_column(String(200))
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    notifier: Mapped[str] = mapped_column(String(200))
    destination: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    thread_ref: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]


class StoryThreadRow(Base):
    """The first message of a story at one destination, so updates can reply under it."""

    __tablename__ = "story_threads"
    __table_args__ = (
        UniqueConstraint("story_id", "notifier", "destination", name="uq_story_threads_target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    notifier: Mapped[str] = mapped_column(String(200))
    destination: Mapped[str] = mapped_column(Text)
    thread_ref: Mapped[str | None] = mapped_column(Text)
    root_alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    failed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]
