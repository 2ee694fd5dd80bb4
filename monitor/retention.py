"""Retention: prune what old articles and stories no longer need, keep what prevents repeats.

After ``retention`` has passed, an article loses its body and revisions but keeps its
identity (text hash, canonical URL, source items) and the drop folder's ledger keeps its
rows, so a re-published or re-dropped copy is still recognised and never alerts again.
A story not updated within ``retention`` is deleted with its topic matches, sent alerts
and thread references; a story with alerts still pending is kept until they are settled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.model import AlertStatus
from monitor.store import repo
from monitor.store.tables import AlertRow, ArticleRevisionRow, ArticleRow, StoryRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneReport:
    bodies_pruned: int
    revisions_deleted: int
    stories_deleted: int


def prune(sessions: sessionmaker[Session], retention_seconds: float, now: datetime) -> PruneReport:
    cutoff = now - timedelta(seconds=retention_seconds)
    with sessions.begin() as session:
        bodies = session.execute(
            update(ArticleRow)
            .where(ArticleRow.first_seen_at < cutoff, ArticleRow.body_pruned.is_(False))
            .values(body="", body_pruned=True)
        )
        revisions = session.execute(delete(ArticleRevisionRow).where(ArticleRevisionRow.replaced_at < cutoff))
        pending = exists().where(AlertRow.story_id == StoryRow.id, AlertRow.status == AlertStatus.PENDING)
        old_story_ids = list(
            session.scalars(select(StoryRow.id).where(StoryRow.updated_at < cutoff, ~pending))
        )
        # Foreign keys cascade to topic matches, alerts and threads, and unlink articles.
        for part in repo.in_parts(old_story_ids):
            session.execute(delete(StoryRow).where(StoryRow.id.in_(part)))
    report = PruneReport(
        int(getattr(bodies, "rowcount", 0)), int(getattr(revisions, "rowcount", 0)), len(old_story_ids)
    )
    if any((report.bodies_pruned, report.revisions_deleted, report.stories_deleted)):
        log.info(
            "retention: pruned %d article bodies, %d revisions, %d stories older than %s",
            report.bodies_pruned,
            report.revisions_deleted,
            report.stories_deleted,
            cutoff.isoformat(),
        )
    return report
