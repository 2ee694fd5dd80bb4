"""Orchestration only: stored articles flow source -> store -> stories -> topics -> alerts.

Each batch is one transaction: an article, its story changes and the alerts it causes
commit together. Storage decides what is new: an item seen before never reaches the story
engine or the topics again, so it can never alert twice.

Speed comes from doing per batch what can be done per batch: one look-up of which items,
texts and links are already stored, ids handed out in memory (under the write lock), and
one flush of all new rows. Should anything in a batch fail, the batch is rolled back and
retried one article at a time, each in a savepoint, so one bad item never loses the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from monitor.batch import Batch, BatchArticle, BatchStory, IngestReport, PendingAlert, stored_external_id
from monitor.clock import utcnow
from monitor.config import Config
from monitor.digest import next_digest_time
from monitor.model import AlertKind, AlertStatus, Incoming, RawArticle, Rejection, Role
from monitor.store import repo
from monitor.store.tables import (
    ArticleRevisionRow,
    SourceRow,
    StoryTopicRow,
)
from monitor.stories import Assignment, StoryDoc, StoryEngine
from monitor.stories.prepare import (
    Ahead,
    Preparations,
    PreparedArticle,
    Shifted,
    analyses_ahead,
    prepare_ahead,
)
from monitor.stories.window import StreamClock
from monitor.topics import PreparedText
from monitor.tracking import Target, plan_alerts

log = logging.getLogger(__name__)

#: Articles per transaction: large enough to amortise the commit, small enough to stream.
BATCH_SIZE = 500

#: Any constant works; it names the lock that serialises story assignment across workers.
_STORY_LOCK_ID = 0x6D6F6E69


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
        self._stream = StreamClock(self.clock)
        self._multi_worker = sessions.kw["bind"].dialect.name == "postgresql"

    def reconfigure(self, config: Config, targets: Mapping[str, Sequence[Target]]) -> None:
        """Adopt a reloaded config; the story window survives unless its settings changed."""
        if config.stories != self.config.stories:
            self._reset_engine()
        self.config, self.targets = config, targets

    # --- the story window ----------------------------------------------------------------

    def _reset_engine(self) -> None:
        self.engine = StoryEngine(self.config.stories)
        self._synced_article_id = 0
        self._stream = StreamClock(self.clock)

    def _sync_story_window(self, session: Session) -> None:
        """Feed the engine every article stored since it last looked (at start-up, or by
        another worker on a shared PostgreSQL), so assignment sees the whole window."""
        window = timedelta(seconds=self.config.stories.window)
        if self._synced_article_id == 0:
            newest = repo.newest_publication(session, self.clock())
            if newest is not None:
                self._stream.observe(newest, estimated=False)
        newest_known = self._stream.time or self.clock()
        rows = repo.articles_in_window(
            session, self._synced_article_id, published_since=newest_known - window
        )
        docs = [story_doc(row, "") for row in rows]
        # A worker starting on a large store reads back thousands of articles: the helpers
        # analyse them while this process registers the ones analysed already.
        analyses = analyses_ahead([(doc.title, doc.body) for doc in docs])
        for row, doc, analysis in zip(rows, docs, analyses, strict=True):
            assert row.story_id is not None
            self.engine.add(doc, row.story_id, Role(row.role or Role.FIRST), analysis)
            self._stream.observe(row.published_at, row.published_estimated)
            self._synced_article_id = row.id

    # --- ingest ----------------------------------------------------------------------------

    def topic_queries(self) -> tuple[str, ...]:
        """The topics' query texts, for texts prepared in helper processes to be judged by."""
        return tuple(topic.query.text for topic in self.config.topics)

    def ingest(
        self,
        source: SourceRow,
        incoming: Sequence[Incoming],
        rejected: Sequence[Rejection] = (),
        prepared: Preparations | None = None,
    ) -> IngestReport:
        """Store a source's new items (and record its rejected files) in batches.

        ``prepared`` may give, by position, the items' texts prepared already (see
        :mod:`monitor.stories.prepare`); without it a large batch is prepared in helper
        processes while it is stored.
        """
        report = IngestReport()
        if rejected:
            with self.sessions.begin() as session:
                for failure in rejected:
                    self._record_rejection(session, source.id, failure, report)
        starts = range(0, len(incoming), BATCH_SIZE)
        batches = [incoming[start : start + BATCH_SIZE] for start in starts]
        # Without preparations given, helper processes prepare the texts of a large batch, and
        # of the next, while it is stored.
        queries = self.topic_queries()
        ahead = _prepare_ahead(batches[0], queries) if batches and prepared is None else None
        for number, batch in enumerate(batches):
            following = None
            if prepared is None and number + 1 < len(batches):
                following = _prepare_ahead(batches[number + 1], queries)
            preparations: Preparations | None = ahead
            if prepared is not None:
                preparations = Shifted(prepared, starts[number]) if number else prepared
            try:
                report.add(
                    self._ingest_batch(
                        source.id, source.name, batch, one_by_one=False, preparations=preparations
                    )
                )
            except IntegrityError as exc:
                # Another worker or process wrote one of these rows first. The engine may
                # hold articles that just rolled back: rebuild it, then go one by one.
                log.info("batch conflicted (%s); retrying article by article", exc.orig)
                self._reset_engine()
                report.add(
                    self._ingest_batch(
                        source.id, source.name, batch, one_by_one=True, preparations=preparations
                    )
                )
            except Exception:
                self._reset_engine()
                if following is not None:
                    following.cancel()
                raise
            ahead = following
        return report

    def _ingest_batch(
        self,
        source_id: int,
        source_name: str,
        items: Sequence[Incoming],
        *,
        one_by_one: bool,
        preparations: Preparations | None = None,
    ) -> IngestReport:
        report = IngestReport()
        with self.sessions.begin() as session:
            self._begin_batch(session, [source_id])
            with session.no_autoflush:
                batch = Batch(session, retrying=one_by_one)
                batch.start_part(source_id, items, report, preparations)
                for item in items:
                    if one_by_one:
                        self._ingest_one_in_savepoint(batch, source_name, item, report)
                    else:
                        self._ingest_one(batch, source_name, item, report)
            batch.flush()
            self._end_batch(session, batch)
        return report

    def ingest_together(
        self, parts: Sequence[tuple[SourceRow, Sequence[Incoming], Preparations | None]]
    ) -> list[IngestReport]:
        """Store several sources' new items in one transaction: a report per (source, items,
        preparations) part.

        Many small polls then cost one commit and one write of each table, not one per source.
        There is no retry here: should anything fail, nothing is stored and the error
        propagates, and the caller stores each part with :meth:`ingest`, which isolates a bad
        item. Keep the parts together within :data:`BATCH_SIZE` items.
        """
        reports = [IngestReport() for _ in parts]
        try:
            with self.sessions.begin() as session:
                self._begin_batch(session, [source.id for source, _, _ in parts])
                with session.no_autoflush:
                    batch = Batch(session, retrying=False)
                    batch.look_up([(source.id, items, preparations) for source, items, preparations in parts])
                    for (source, items, preparations), report in zip(parts, reports, strict=True):
                        batch.start_part(source.id, items, report, preparations)
                        for item in items:
                            self._ingest_one(batch, source.name, item, report)
                batch.flush()
                self._end_batch(session, batch)
        except Exception:
            # The engine may hold articles that just rolled back.
            self._reset_engine()
            raise
        return reports

    def _begin_batch(self, session: Session, source_ids: Sequence[int]) -> None:
        # A write first, so SQLite takes its write lock before ids are handed out;
        # on PostgreSQL the advisory lock serialises batches of every worker.
        session.execute(
            update(SourceRow).where(SourceRow.id.in_(source_ids)).values(last_attempt_at=self.clock())
        )
        if self._multi_worker:
            session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _STORY_LOCK_ID})
        if self._multi_worker or self._synced_article_id == 0:
            self._sync_story_window(session)
        if self._stream.time is not None:
            self.engine.evict(self._stream.time)

    def _end_batch(self, session: Session, batch: Batch) -> None:
        if batch.inserted and self._multi_worker:
            repo.advance_id_sequences(session)
        self._synced_article_id = max(self._synced_article_id, batch.next_article_id - 1)

    def _ingest_one_in_savepoint(
        self, batch: Batch, source_name: str, item: Incoming, report: IngestReport
    ) -> None:
        try:
            with batch.session.begin_nested():
                self._ingest_one(batch, source_name, item, report)
                batch.flush()
        except IntegrityError as exc:
            batch.discard_pending()
            report.known += 1
            report.errors.append(f"{item.article.origin}: {exc.orig}")
            log.info("%s already stored elsewhere: %s", item.article.origin, exc.orig)
            self._reset_engine()
            self._sync_story_window(batch.session)

    def _record_rejection(
        self, session: Session, source_id: int, failure: Rejection, report: IngestReport
    ) -> None:
        report.rejected += 1
        if failure.file is None:
            # Unreadable, so there is no version to record; it is retried on the next pass.
            log.warning(
                "cannot read %s: %s", failure.origin, failure.reason, extra={"origin": failure.origin}
            )
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

    def _ingest_one(self, batch: Batch, source_name: str, item: Incoming, report: IngestReport) -> None:
        raw, now = item.article, self.clock()
        digest = batch.digests.get(id(item)) or repo.text_hash(raw.title, raw.body)
        external_id = stored_external_id(raw.external_id)
        seen_id = batch.seen.get(external_id)
        if seen_id is not None:
            known = batch.by_hash.get(digest)
            if known is not None and known.id == seen_id:
                report.known += 1
            else:
                self._revise(batch, batch.article(seen_id), raw, digest, source_name, report)
            self._record_file(batch, item, seen_id, now)
            return

        existing = batch.by_hash.get(digest) or (
            batch.by_url.get(raw.canonical_url) if raw.canonical_url else None
        )
        if existing is not None:
            # The same article from another source, or re-published under a new GUID.
            self._link_source(batch, existing, raw, now)
            if existing.text_hash == digest:
                report.merged += 1
            else:
                self._revise(batch, existing, raw, digest, source_name, report)
            self._record_file(batch, item, existing.id, now)
            return

        article = batch.add_article(raw, digest, now)
        batch.by_hash[digest] = article
        if raw.canonical_url:
            batch.by_url.setdefault(raw.canonical_url, article)
        doc = story_doc(article, source_name)
        prepared = batch.prepared(item)
        assignment = self.engine.assign(doc, prepared.analysis if prepared is not None else None)
        story = self._place_in_story(batch, article, assignment, now, report)
        self._link_source(batch, article, raw, now)
        self._record_file(batch, item, article.id, now)
        self.engine.add(doc, story.id, Role(article.role or Role.FIRST))
        self._stream.observe(raw.published, raw.published_estimated)
        report.stored += 1
        for note in raw.notes:
            # Stored with the article too; said once here, when the article is new, so whoever
            # dropped the file or runs the feed learns what the reader had to guess (a date
            # replaced by the arrival time, text decoded as cp1252).
            log.warning("%s: %s", raw.origin, note, extra={"source": source_name, "article_id": article.id})
        log.debug(
            "%s of story %d: %s",
            article.role,
            story.id,
            article.title[:120],
            extra={"source": source_name, "article_id": article.id, "story_id": story.id},
        )
        self._track(
            batch, story, article, assignment, report, text=prepared.text if prepared is not None else None
        )

    def _record_file(self, batch: Batch, item: Incoming, article_id: int, now: datetime) -> None:
        if item.file is None:
            return
        batch.new_files.append(
            {
                "source_id": batch.source_id,
                "path": item.file.path,
                "content_hash": item.file.content_hash,
                "size": item.file.size,
                "mtime_ns": item.file.mtime_ns,
                "status": "ingested",
                "reason": None,
                "article_id": article_id,
                "seen_at": now,
            }
        )

    def _link_source(self, batch: Batch, article: BatchArticle, raw: RawArticle, now: datetime) -> None:
        external_id = stored_external_id(raw.external_id)
        batch.new_sources.append(
            {
                "article_id": article.id,
                "source_id": batch.source_id,
                "external_id": external_id,
                "origin": raw.origin,
                "first_seen_at": now,
            }
        )
        batch.seen[external_id] = article.id
        story = batch.story(article.story_id) if article.story_id is not None else None
        if story is not None:
            sources = batch.sources_of(story.id)
            if batch.source_id not in sources:
                sources.add(batch.source_id)
                story.source_count = len(sources)
                story.updated_at = now

    def _place_in_story(
        self, batch: Batch, article: BatchArticle, assignment: Assignment, now: datetime, report: IngestReport
    ) -> BatchStory:
        story = batch.story(assignment.story_id) if assignment.story_id is not None else None
        if story is None:
            story = batch.add_story(article.title, now)
            report.stories_created += 1
            role = Role.FIRST
        else:
            role = assignment.role
        article.story_id, article.role = story.id, role
        article.novel_sentences = list(assignment.novel_sentences) if role is Role.UPDATE else []
        story.article_count += 1
        story.update_count += int(role is Role.UPDATE)
        story.updated_at = now
        return story

    def _revise(
        self,
        batch: Batch,
        article: BatchArticle,
        raw: RawArticle,
        digest: str,
        source_name: str,
        report: IngestReport,
    ) -> None:
        """A stored article changed at its source: keep the old text, judge the new one."""
        session, now = batch.session, self.clock()
        session.add(
            ArticleRevisionRow(
                article_id=article.id,
                revision=article.revision,
                title=article.title,
                body=article.body,
                replaced_at=now,
            )
        )
        if digest not in batch.by_hash:
            batch.by_hash.pop(article.text_hash, None)
            article.text_hash = digest
            batch.by_hash[digest] = article
        article.title, article.body, article.revision = raw.title, raw.body, article.revision + 1
        report.revised += 1
        if article.story_id is None:
            return
        doc = story_doc(article, source_name)
        assessment = self.engine.assess_revision(doc, article.story_id)
        if self.engine.title(article.story_id) is not None:
            # The window learns the new text, so a fact it brought is not news a second time.
            self.engine.add(doc, article.story_id, Role(article.role or Role.RELATED))
        story = batch.story(article.story_id)
        if story is None or assessment.role is not Role.UPDATE:
            return
        article.novel_sentences = list(assessment.novel_sentences)
        story.update_count += 1
        story.updated_at = now
        self._track(batch, story, article, assessment, report, revision=article.revision)

    def _track(
        self,
        batch: Batch,
        story: BatchStory,
        article: BatchArticle,
        assignment: Assignment,
        report: IngestReport,
        revision: int = 0,
        text: PreparedText | None = None,
    ) -> None:
        if not self.config.topics:
            return
        tracked = batch.topics_of(story.id)
        before = set(tracked)
        role = Role.UPDATE if revision else Role(article.role or Role.FIRST)
        planned = plan_alerts(
            self.config.topics,
            text if text is not None else PreparedText.of(article.title, article.body),
            role=role,
            novel_sentence_count=len(assignment.novel_sentences),
            tracked_by=tracked,
        )
        now = self.clock()
        for topic_name in tracked - before:
            batch.session.add(
                StoryTopicRow(story_id=story.id, topic=topic_name, article_id=article.id, matched_at=now)
            )
        for plan in planned:
            for target in self.targets.get(plan.topic.name, ()):
                # A story is announced once per target; each update (or revision) once more.
                cause = f"{article.id}.{revision}" if plan.kind is AlertKind.UPDATE else "root"
                key = repo.alert_key(
                    plan.kind, plan.topic.name, story.id, cause, target.notifier, target.destination
                )
                # Written at the batch's flush, after the story and article it references.
                batch.alerts.append(
                    PendingAlert(
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
                        plan.kind,
                        plan.topic.name,
                        target,
                        story.title,
                        batch.report,
                    )
                )


def _prepare_ahead(items: Sequence[Incoming], queries: Sequence[str]) -> Ahead[PreparedArticle] | None:
    return prepare_ahead([(item.article.title, item.article.body) for item in items], queries)


def story_doc(article: BatchArticle, source_name: str) -> StoryDoc:
    """A stored article as the story engine sees it."""
    return StoryDoc(
        article_id=article.id,
        title=article.title,
        body=article.body,
        published=article.published_at,
        source=source_name,
        published_estimated=article.published_estimated,
    )
