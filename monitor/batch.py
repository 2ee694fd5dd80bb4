"""The rows one ingest transaction writes, and what it must know of the rows stored already.

A :class:`Batch` looks up once which of its items are stored already (by external id, text
and link), hands out article and story ids in memory (the caller holds the write lock), keeps
new stories and articles as plain objects rather than ORM rows, and writes every new row in
one executemany per table when the batch ends. Deciding *what* to write (stories, roles,
alerts) is the pipeline's job; this module only keeps and writes it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from monitor.model import AlertKind, Incoming, RawArticle
from monitor.store import repo
from monitor.store.tables import AlertRow, ArticleRow, ArticleSourceRow, SourceFileRow, StoryRow
from monitor.stories.prepare import Preparations, PreparedArticle
from monitor.tracking import Target

log = logging.getLogger(__name__)

#: The length of the article_sources.external_id column.
_EXTERNAL_ID_LIMIT = 255


@dataclass
class IngestReport:
    """What one call to :meth:`Pipeline.ingest` did."""

    stored: int = 0
    known: int = 0
    merged: int = 0
    revised: int = 0
    rejected: int = 0
    alerts: int = 0
    stories_created: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: IngestReport) -> None:
        for name in ("stored", "known", "merged", "revised", "rejected", "alerts", "stories_created"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


class NewStory:
    """A story created by this batch, written with the batch's others in one executemany."""

    __slots__ = (
        "article_count",
        "first_seen_at",
        "id",
        "source_count",
        "title",
        "update_count",
        "updated_at",
    )

    def __init__(self, story_id: int, title: str, now: datetime) -> None:
        self.id = story_id
        self.title = title
        self.first_seen_at = now
        self.updated_at = now
        self.article_count = 0
        self.source_count = 0
        self.update_count = 0

    def values(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


class NewArticle:
    """An article stored by this batch, written with the batch's others in one executemany."""

    __slots__ = (
        "author",
        "body",
        "body_pruned",
        "canonical_url",
        "categories",
        "encoding",
        "first_seen_at",
        "id",
        "notes",
        "novel_sentences",
        "published_at",
        "published_estimated",
        "related_headlines",
        "revision",
        "role",
        "story_id",
        "text_hash",
        "title",
        "url",
    )

    def __init__(self, article_id: int, raw: RawArticle, text_hash: str, now: datetime) -> None:
        self.id = article_id
        self.text_hash = text_hash
        self.canonical_url = raw.canonical_url
        self.title = raw.title
        self.body = raw.body
        self.url = raw.url
        self.author = raw.author
        self.categories = list(raw.categories)
        self.related_headlines = list(raw.related_headlines)
        self.notes = list(raw.notes)
        self.encoding = raw.encoding
        self.published_at = raw.published
        self.published_estimated = raw.published_estimated
        self.first_seen_at = now
        self.story_id: int | None = None
        self.role: str | None = None
        self.revision = 0
        self.novel_sentences: list[str] = []
        self.body_pruned = False

    def values(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


_STORIES: Final = cast(Table, StoryRow.__table__)
_ARTICLES: Final = cast(Table, ArticleRow.__table__)
_ARTICLE_SOURCES: Final = cast(Table, ArticleSourceRow.__table__)
_SOURCE_FILES: Final = cast(Table, SourceFileRow.__table__)


# A story or article row of this batch: a plain new one, or one the session tracks.
BatchStory = StoryRow | NewStory
BatchArticle = ArticleRow | NewArticle


@dataclass(frozen=True)
class PendingAlert:
    """An alert row written at the batch's flush (after the story and article it references)."""

    values: dict[str, object]
    kind: AlertKind
    topic: str
    target: Target
    story_title: str
    report: IngestReport  # of the part whose article caused it


class Batch:
    """What one batch needs to know about stored rows, fetched once, kept current.

    A batch that is not ``retrying`` (article by article, in savepoints) keeps its new stories
    and articles as plain objects, and writes them, like every other row it makes, in one
    executemany per table when it ends: an ORM object per row costs several times more.
    """

    def __init__(self, session: Session, *, retrying: bool) -> None:
        self.session = session
        self.retrying = retrying
        self.next_article_id = (session.scalar(select(func.max(ArticleRow.id))) or 0) + 1
        self.next_story_id = (session.scalar(select(func.max(StoryRow.id))) or 0) + 1
        self.by_hash: dict[str, BatchArticle] = {}
        self.by_url: dict[str, BatchArticle] = {}
        self.stories: dict[int, BatchStory] = {}
        self.story_sources: dict[int, set[int]] = {}
        self.story_topics: dict[int, set[str]] = {}
        self.inserted = False
        # Rows written at the next flush, one executemany per table.
        self.new_stories: list[NewStory] = []
        self.new_articles: dict[int, NewArticle] = {}
        self.new_sources: list[dict[str, object]] = []
        self.new_files: list[dict[str, object]] = []
        self.alerts: list[PendingAlert] = []
        # The part being stored: one source's items (see start_part).
        self.source_id = 0
        self.report = IngestReport()
        self.preparations: Preparations | None = None
        self.positions: dict[int, int] = {}
        self.digests: dict[int, str] = {}  # id(item) -> its text hash, for every part looked up
        self.seen: dict[str, int] = {}
        self._seen_by_source: dict[int, dict[str, int]] = {}

    def look_up(self, parts: Sequence[tuple[int, Sequence[Incoming], Preparations | None]]) -> None:
        """Find which items of the (source id, items, preparations) parts about to be stored
        are stored already, by their external id, text or link: one query each for them all."""
        external_ids: dict[int, list[str]] = {}
        for source_id, items, preparations in parts:
            self.digests.update(
                (
                    id(item),
                    prepared.digest
                    if preparations is not None and (prepared := preparations.peek(position)) is not None
                    else repo.text_hash(item.article.title, item.article.body),
                )
                for position, item in enumerate(items)
            )
            external_ids.setdefault(source_id, []).extend(
                stored_external_id(item.article.external_id) for item in items
            )
        self._seen_by_source.update(repo.article_ids_by_external_id(self.session, external_ids))
        # What an earlier part of this batch stored is known here already, and not written yet.
        digests = {self.digests[id(item)] for _, items, _ in parts for item in items}
        self.by_hash.update(
            repo.articles_by_text_hash(
                self.session, [digest for digest in digests if digest not in self.by_hash]
            )
        )
        urls = {
            url
            for _, items, _ in parts
            for item in items
            if (url := item.article.canonical_url) is not None and url not in self.by_url
        }
        self.by_url.update(repo.articles_by_canonical_url(self.session, list(urls)))

    def start_part(
        self,
        source_id: int,
        items: Sequence[Incoming],
        report: IngestReport,
        preparations: Preparations | None = None,
    ) -> None:
        """Store ``items`` of ``source_id`` next; looked up first unless :meth:`look_up` has."""
        if source_id not in self._seen_by_source:
            self.look_up([(source_id, items, preparations)])
        self.source_id, self.report, self.preparations = source_id, report, preparations
        self.positions = {id(item): position for position, item in enumerate(items)} if preparations else {}
        self.seen = self._seen_by_source.pop(source_id)

    def add_story(self, title: str, now: datetime) -> BatchStory:
        story: BatchStory
        if self.retrying:
            story = StoryRow(
                id=self.next_story_id,
                title=title,
                first_seen_at=now,
                updated_at=now,
                article_count=0,
                source_count=0,
                update_count=0,
            )
            self.session.add(story)
        else:
            story = NewStory(self.next_story_id, title, now)
            self.new_stories.append(story)
        self.next_story_id += 1
        self.stories[story.id] = story
        self.story_sources[story.id] = set()
        self.story_topics[story.id] = set()
        return story

    def add_article(self, raw: RawArticle, text_hash: str, now: datetime) -> BatchArticle:
        new = NewArticle(self.next_article_id, raw, text_hash, now)
        self.next_article_id += 1
        self.inserted = True
        if not self.retrying:
            self.new_articles[new.id] = new
            return new
        article = ArticleRow(**new.values())
        self.session.add(article)
        return article

    def flush(self) -> None:
        """Write every pending row: new stories and articles first, then what the session
        tracks (which may reference them), then the rows that reference those, then alerts."""
        with self.session.no_autoflush:  # the session's rows may reference these: not before them
            for table, rows in (
                (_STORIES, [story.values() for story in self.new_stories]),
                (_ARTICLES, [article.values() for article in self.new_articles.values()]),
            ):
                if rows:
                    self.session.execute(insert(table), rows)
        # Written once, when the batch ends: nothing changes them after this.
        self.new_stories.clear()
        self.new_articles.clear()
        self.session.flush()
        for table, pending in ((_ARTICLE_SOURCES, self.new_sources), (_SOURCE_FILES, self.new_files)):
            if pending:
                rows = pending.copy()
                pending.clear()
                self.session.execute(insert(table), rows)
        alerts, self.alerts = self.alerts, []
        for alert in alerts:
            written = repo.insert_ignoring_conflict(self.session, AlertRow, alert.values)
            alert.report.alerts += int(written)
            if written:
                log.info(
                    "%s alert queued for %s → %s %s: %s",
                    alert.kind.value,
                    alert.topic,
                    alert.target.notifier,
                    alert.target.destination,
                    alert.story_title[:120],
                    extra={"article_id": alert.values["article_id"], "story_id": alert.values["story_id"]},
                )

    def discard_pending(self) -> None:
        """Forget the rows not written yet (their savepoint rolled back)."""
        self.new_sources.clear()
        self.new_files.clear()
        self.alerts.clear()

    def prepared(self, item: Incoming) -> PreparedArticle | None:
        """The item's text prepared by a helper process, if it is back already."""
        if self.preparations is None:
            return None
        return self.preparations.get(self.positions[id(item)])

    def article(self, article_id: int) -> BatchArticle:
        found = self.new_articles.get(article_id) or self.session.get(ArticleRow, article_id)
        assert found is not None
        return found

    def story(self, story_id: int) -> BatchStory | None:
        if story_id not in self.stories:
            found = self.session.get(StoryRow, story_id)
            if found is None:
                return None
            self.stories[story_id] = found
        return self.stories[story_id]

    def sources_of(self, story_id: int) -> set[int]:
        if story_id not in self.story_sources:
            self.story_sources[story_id] = repo.story_source_ids(self.session, story_id)
        return self.story_sources[story_id]

    def topics_of(self, story_id: int) -> set[str]:
        if story_id not in self.story_topics:
            self.story_topics[story_id] = repo.story_topics(self.session, story_id)
        return self.story_topics[story_id]


def stored_external_id(external_id: str) -> str:
    """The external id as stored: one longer than the column (a long GUID or link) is hashed,
    so it still fits and still identifies the same item on every poll."""
    if len(external_id) <= _EXTERNAL_ID_LIMIT:
        return external_id
    return "sha256:" + hashlib.sha256(external_id.encode("utf-8")).hexdigest()
