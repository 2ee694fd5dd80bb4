"""Orchestration only: stored articles flow source -> store -> stories -> topics -> alerts.

Each batch is one transaction, and every article in it is its own savepoint, so an
article, its story changes and the alerts it causes commit together, and one bad item
never loses the others. Storage decides what is new: an item seen before never reaches
the story engine or the topics again, so it can never alert twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from monitor.clock import utcnow
from monitor.config import Config
from monitor.digest import next_digest_time
from monitor.model import AlertKind, AlertStatus, Incoming, RawArticle, Rejection, Role
from monitor.store import repo
from monitor.store.tables import (
    AlertRow,
    ArticleRevisionRow,
    ArticleRow,
    ArticleSourceRow,
    SourceRow,
    StoryRow,
    StoryTopicRow,
)
from monitor.stories import Assignment, StoryDoc, StoryEngine
from monitor.topics import PreparedText
from monitor.tracking import Target, plan_alerts

log = logging.getLogger(__name__)

#: Articles per transaction: large enough to amortise the commit, small enough to stream.
BATCH_SIZE = 500

#: Any constant works; it names the lock that serialises story assignment across workers.
_STORY_LOCK_ID = 0x6D6F6E69


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


class Pipeline:
    """Stores incoming articles, groups them into stories and writes the alerts they cause."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: Config,
        *,
        targets: Mapping[str, Sequence[Target]],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.clock = clock
        self.targets = targets
        self.engine = StoryEngine(config.stories)
        self._synced_article_id = 0
        self._multi_worker = sessions.kw["bind"].dialect.name == "postgresql"

    def reconfigure(self, config: Config, targets: Mapping[str, Sequence[Target]]) -> None:
        """Adopt a reloaded config; the story window survives unless its settings changed."""
        if config.stories != self.config.stories:
            self.engine = StoryEngine(config.stories)
            self._synced_article_id = 0
        self.config, self.targets = config, targets

    # --- the story window ----------------------------------------------------------------

    def _sync_story_window(self, session: Session) -> None:
        """Feed the engine every article stored since it last looked (at start-up, or by
        another worker on a shared PostgreSQL), so assignment sees the whole window."""
        now = self.clock()
        since = now - timedelta(seconds=self.config.stories.window_seconds)
        for row in repo.articles_since_id(session, self._synced_article_id, since):
            assert row.story_id is not None
            self.engine.add(_story_doc(row, ""), row.story_id, Role(row.role or Role.FIRST))
            self._synced_article_id = row.id
        self.engine.evict(now)

    # --- ingest ----------------------------------------------------------------------------

    def ingest(
        self,
        source: SourceRow,
        incoming: Sequence[Incoming],
        rejected: Sequence[Rejection] = (),
    ) -> IngestReport:
        """Store a source's new items (and record its rejected files) in batches."""
        report = IngestReport()
        for failure in rejected:
            report.add(self._ingest_batch(source.id, source.name, [], [failure]))
        for start in range(0, len(incoming), BATCH_SIZE):
            report.add(self._ingest_batch(source.id, source.name, incoming[start : start + BATCH_SIZE], []))
        return report

    def _ingest_batch(
        self, source_id: int, source_name: str, batch: Sequence[Incoming], rejected: Sequence[Rejection]
    ) -> IngestReport:
        report = IngestReport()
        try:
            with self.sessions.begin() as session:
                if batch and self._multi_worker:
                    session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _STORY_LOCK_ID})
                if batch and (self._multi_worker or self._synced_article_id == 0):
                    self._sync_story_window(session)
                for failure in rejected:
                    self._record_rejection(session, source_id, failure, report)
                for item in batch:
                    self._ingest_one_safely(session, source_id, source_name, item, report)
        except Exception:
            # The engine may hold articles whose transaction just rolled back; rebuild it.
            self.engine = StoryEngine(self.config.stories)
            self._synced_article_id = 0
            raise
        if not self._multi_worker:
            with self.sessions() as session:
                self._synced_article_id = max(self._synced_article_id, repo.max_article_id(session))
        return report

    def _record_rejection(self, session: Session, source_id: int, failure: Rejection, report: IngestReport) -> None:
        report.rejected += 1
        if failure.file is None:
            # Unreadable, so there is no version to record; it is retried on the next pass.
            log.warning("cannot read %s: %s", failure.origin, failure.reason, extra={"origin": failure.origin})
            return
        new = repo.record_file(
            session,
            source_id=source_id,
            path=failure.file.path,
            content_hash=failure.file.content_hash,
            size=failure.file.size,
            mtime_ns=failure.file.mtime_ns,
            status="failed",
            reason=failure.reason,
            article_id=None,
            now=self.clock(),
        )
        if new:
            log.warning("rejected %s: %s", failure.origin, failure.reason, extra={"origin": failure.origin})

    def _ingest_one_safely(
        self, session: Session, source_id: int, source_name: str, item: Incoming, report: IngestReport
    ) -> None:
        try:
            with session.begin_nested():
                article_id = self._ingest_one(session, source_id, source_name, item.article, report)
                if item.file is not None:
                    repo.record_file(
                        session,
                        source_id=source_id,
                        path=item.file.path,
                        content_hash=item.file.content_hash,
                        size=item.file.size,
                        mtime_ns=item.file.mtime_ns,
                        status="ingested",
                        reason=None,
                        article_id=article_id,
                        now=self.clock(),
                    )
        except IntegrityError as exc:
            # Another worker stored the same article a moment ago: it is known, not lost.
            report.known += 1
            log.info("%s already stored elsewhere: %s", item.article.origin, exc.orig)

    def _ingest_one(
        self, session: Session, source_id: int, source_name: str, raw: RawArticle, report: IngestReport
    ) -> int:
        now = self.clock()
        digest = repo.text_hash(raw.title, raw.body)
        seen = repo.article_source(session, source_id, raw.external_id)
        if seen is not None:
            article = session.get(ArticleRow, seen.article_id)
            assert article is not None
            if article.text_hash == digest:
                report.known += 1
            else:
                self._revise(session, article, raw, digest, source_name, report)
            return article.id

        existing = repo.article_by_text_hash(session, digest)
        if existing is None and raw.canonical_url:
            existing = repo.article_by_canonical_url(session, raw.canonical_url)
        if existing is not None:
            # The same article from another source, or re-published under a new GUID.
            self._link_source(session, existing, source_id, raw, now)
            if existing.text_hash == digest:
                report.merged += 1
            else:
                self._revise(session, existing, raw, digest, source_name, report)
            return existing.id

        article = ArticleRow(
            text_hash=digest,
            canonical_url=raw.canonical_url,
            title=raw.title,
            body=raw.body,
            url=raw.url,
            author=raw.author,
            categories=list(raw.categories),
            related_headlines=list(raw.related_headlines),
            notes=list(raw.notes),
            encoding=raw.encoding,
            published_at=raw.published,
            published_estimated=raw.published_estimated,
            first_seen_at=now,
            revision=0,
        )
        session.add(article)
        session.flush()
        self._link_source(session, article, source_id, raw, now)
        doc = _story_doc(article, source_name)
        assignment = self.engine.assign(doc)
        story = self._place_in_story(session, article, assignment, now, report)
        self.engine.add(doc, story.id, assignment.role)
        report.stored += 1
        context = {"source": source_name, "article_id": article.id, "story_id": story.id}
        if article.role in (Role.FIRST, Role.UPDATE):
            log.info("%s of story %d: %s", article.role, story.id, article.title[:120], extra=context)
        else:
            log.debug("%s of story %d: %s", article.role, story.id, article.title[:120], extra=context)
        self._track(session, story, article, assignment, report)
        return article.id

    def _link_source(
        self, session: Session, article: ArticleRow, source_id: int, raw: RawArticle, now: datetime
    ) -> None:
        session.add(
            ArticleSourceRow(
                article_id=article.id,
                source_id=source_id,
                external_id=raw.external_id,
                origin=raw.origin,
                first_seen_at=now,
            )
        )
        session.flush()
        if article.story_id is not None:
            story = session.get(StoryRow, article.story_id)
            if story is not None:
                story.source_count = repo.count_story_sources(session, story.id)
                story.updated_at = now

    def _place_in_story(
        self, session: Session, article: ArticleRow, assignment: Assignment, now: datetime, report: IngestReport
    ) -> StoryRow:
        story = session.get(StoryRow, assignment.story_id) if assignment.story_id is not None else None
        if story is None:
            story = StoryRow(
                title=article.title, first_seen_at=now, updated_at=now, article_count=0, source_count=0
            )
            session.add(story)
            session.flush()
            report.stories_created += 1
            role = Role.FIRST
        else:
            role = assignment.role
        article.story_id, article.role = story.id, role
        article.novel_sentences = list(assignment.novel_sentences) if role is Role.UPDATE else []
        story.article_count += 1
        story.update_count += int(role is Role.UPDATE)
        story.updated_at = now
        story.title = self.engine.title(story.id) or story.title
        session.flush()
        story.source_count = repo.count_story_sources(session, story.id)
        return story

    def _revise(
        self,
        session: Session,
        article: ArticleRow,
        raw: RawArticle,
        digest: str,
        source_name: str,
        report: IngestReport,
    ) -> None:
        """A stored article changed at its source: keep the old text, judge the new one."""
        now = self.clock()
        session.add(
            ArticleRevisionRow(
                article_id=article.id,
                revision=article.revision,
                title=article.title,
                body=article.body,
                replaced_at=now,
            )
        )
        if repo.article_by_text_hash(session, digest) is None:
            article.text_hash = digest
        article.title, article.body, article.revision = raw.title, raw.body, article.revision + 1
        report.revised += 1
        if article.story_id is None:
            return
        doc = _story_doc(article, source_name)
        assessment = self.engine.assess_revision(doc, article.story_id)
        story = session.get(StoryRow, article.story_id)
        if story is None or assessment.role is not Role.UPDATE:
            return
        article.novel_sentences = list(assessment.novel_sentences)
        story.update_count += 1
        story.updated_at = now
        self._track(session, story, article, assessment, report, revision=article.revision)

    def _track(
        self,
        session: Session,
        story: StoryRow,
        article: ArticleRow,
        assignment: Assignment,
        report: IngestReport,
        revision: int = 0,
    ) -> None:
        if not self.config.topics:
            return
        tracked = repo.story_topics(session, story.id) if article.role != Role.FIRST else set()
        before = set(tracked)
        role = Role.UPDATE if revision else Role(article.role or Role.FIRST)
        planned = plan_alerts(
            self.config.topics,
            PreparedText.of(article.title, article.body),
            role=role,
            novel_sentence_count=len(assignment.novel_sentences),
            tracked_by=tracked,
        )
        now = self.clock()
        for topic_name in tracked - before:
            session.add(StoryTopicRow(story_id=story.id, topic=topic_name, article_id=article.id, matched_at=now))
        for plan in planned:
            for target in self.targets.get(plan.topic.name, ()):
                # A story is announced once per target; each update (or revision) once more.
                cause = f"{article.id}.{revision}" if plan.kind is AlertKind.UPDATE else "root"
                key = repo.alert_key(plan.kind, plan.topic.name, story.id, cause, target.notifier, target.destination)
                written = repo.insert_ignoring_conflict(
                    session,
                    AlertRow,
                    {
                        "key": key,
                        "kind": plan.kind.value,
                        "topic": plan.topic.name,
                        "story_id": story.id,
                        "article_id": article.id,
                        "notifier": target.notifier,
                        "destination": target.destination,
                        "status": AlertStatus.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": next_digest_time(target.digest, now) if target.digest else now,
                        "created_at": now,
                    },
                )
                report.alerts += int(written)


def _story_doc(article: ArticleRow, source_name: str) -> StoryDoc:
    return StoryDoc(
        article_id=article.id,
        title=article.title,
        body=article.body,
        published=article.published_at,
        source=source_name,
    )
