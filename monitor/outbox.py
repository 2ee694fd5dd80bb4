"""Delivery: send due alerts from the outbox, each exactly once, in story order.

Alerts are rows written with the article that caused them. This job claims due rows
(with a lease, so several workers never send one row twice), sends them through their
notifier, and commits each outcome at once. Destinations are served in parallel, each
paced by its notifier (Slack: one post per second per channel); within a destination, alerts go out oldest first, and an
update waits for its story's root so it can reply in the thread.

The one window no outbox can close: the process dies after the notifier accepted a message
and before the "sent" row committed. The row is then sent again once its lease expires.
Committing each alert alone, right after its send, keeps that window to a few milliseconds.
"""

from __future__ import annotations

import logging
import random
import socket
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Config
from monitor.errors import DeliveryError
from monitor.model import AlertKind, AlertMessage, AlertStatus, ArticleView, StoryView
from monitor.notify.base import Notifier
from monitor.pipeline import utcnow
from monitor.store import repo
from monitor.store.tables import AlertRow, ArticleRow, StoryRow, StoryThreadRow

log = logging.getLogger(__name__)

#: Rows claimed per pass; the rest wait for the next pass a few seconds later.
CLAIM_LIMIT = 500

#: Destinations served at once; more would only queue on the notifiers' own limits.
MAX_PARALLEL_DESTINATIONS = 8

#: How soon an update looks again for its story's root when the root is still pending.
ROOT_WAIT_SECONDS = 1.0

#: The lead shown with an alert: enough for Slack's 3,000-character section.
LEAD_CHARS = 3000


def worker_id() -> str:
    """A name for this process in leases: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)


class Outbox:
    """Sends pending alert rows through the configured notifiers."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: Config,
        notifiers: Mapping[str, Notifier],
        *,
        clock: Callable[[], datetime] = utcnow,
        owner: str | None = None,
        lease_seconds: float = 60.0,
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.notifiers = notifiers
        self.clock = clock
        self.owner = owner or worker_id()
        self.lease = timedelta(seconds=lease_seconds)
        self._rng = random.Random()

    def deliver_due(self) -> DeliveryReport:
        """One pass: claim what is due, send it, record every outcome."""
        report = DeliveryReport()
        now = self.clock()
        with self.sessions.begin() as session:
            claimed = repo.due_alerts(session, now, self.owner, now + self.lease, CLAIM_LIMIT)
            groups: dict[tuple[str, str], list[int]] = {}
            for row in claimed:
                groups.setdefault((row.notifier, row.destination), []).append(row.id)
        if not groups:
            return report
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_DESTINATIONS, len(groups))) as pool:
            for partial in pool.map(lambda item: self._deliver_group(*item), groups.items()):
                report.sent += partial.sent
                report.failed += partial.failed
                report.retried += partial.retried
                report.deferred += partial.deferred
                report.errors.extend(partial.errors)
        return report

    def _deliver_group(self, target: tuple[str, str], alert_ids: Sequence[int]) -> DeliveryReport:
        report = DeliveryReport()
        notifier = self.notifiers.get(target[0])
        for index, alert_id in enumerate(alert_ids):
            if notifier is None:
                self._release(alert_ids[index:], delay=60.0)
                log.warning("notifier %r is not enabled; %d alert(s) wait", target[0], len(alert_ids) - index)
                report.deferred += len(alert_ids) - index
                break
            outcome = self._deliver_one(notifier, alert_id)
            if outcome == "sent":
                report.sent += 1
            elif outcome == "failed":
                report.failed += 1
            elif outcome == "deferred":
                report.deferred += 1
            else:
                # Keep story order within the destination: the rest wait behind the retry.
                report.retried += 1
                self._release(alert_ids[index + 1 :], delay=0.0)
                report.errors.append(outcome)
                break
        return report

    def _deliver_one(self, notifier: Notifier, alert_id: int) -> str:
        with self.sessions() as session:
            alert = repo.alert_by_id(session, alert_id)
            if alert is None or alert.status != AlertStatus.PENDING or alert.lease_owner != self.owner:
                return "deferred"
            thread_ref: str | None = None
            if alert.kind == AlertKind.UPDATE:
                thread = repo.thread_for(session, alert.story_id, alert.notifier, alert.destination)
                if thread is None and repo.root_alert_pending(
                    session, alert.story_id, alert.notifier, alert.destination
                ):
                    session.rollback()
                    self._release([alert_id], delay=ROOT_WAIT_SECONDS)
                    return "deferred"
                thread_ref = thread.thread_ref if thread is not None and not thread.failed else None
            message = self._message(session, alert)
            destination = alert.destination
        try:
            delivered = notifier.send(message, destination, thread_ref)
        except DeliveryError as exc:
            return self._record_failure(alert_id, notifier, exc)
        except Exception as exc:  # a notifier bug must not stop delivery to every other target
            log.exception("notifier %s crashed on alert %d", notifier.name, alert_id)
            return self._record_failure(alert_id, notifier, DeliveryError(f"{notifier.name}: {exc!r}"))
        self._record_sent(alert_id, delivered.thread_ref)
        if alert.kind == AlertKind.UPDATE and thread_ref is not None:
            self._refresh_root(notifier, alert.story_id, destination, thread_ref)
        return "sent"

    def _record_sent(self, alert_id: int, thread_ref: str | None) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            alert = session.get(AlertRow, alert_id)
            assert alert is not None
            alert.status, alert.sent_at, alert.thread_ref = AlertStatus.SENT, now, thread_ref
            alert.attempts += 1
            alert.lease_owner = alert.lease_expires_at = None
            alert.last_error = None
            if alert.kind == AlertKind.NEW_STORY:
                self._set_thread(session, alert, thread_ref, failed=False)
        log.info("sent %s alert %d", alert.kind, alert_id, extra={"alert_id": alert_id, "story_id": alert.story_id})

    def _record_failure(self, alert_id: int, notifier: Notifier, error: DeliveryError) -> str:
        now = self.clock()
        with self.sessions.begin() as session:
            alert = session.get(AlertRow, alert_id)
            assert alert is not None
            alert.attempts += 1
            alert.last_error = str(error)
            alert.lease_owner = alert.lease_expires_at = None
            if error.permanent:
                alert.status = AlertStatus.FAILED
                if alert.kind == AlertKind.NEW_STORY:
                    # Later updates then go out standalone instead of waiting forever.
                    self._set_thread(session, alert, None, failed=True)
                log.error(
                    "alert %d to %s %s failed permanently: %s (fix the cause, then `monitor alerts retry`)",
                    alert_id,
                    notifier.name,
                    alert.destination,
                    error,
                    extra={"alert_id": alert_id, "story_id": alert.story_id},
                )
                return "failed"
            delay = self._backoff(alert.attempts, error.retry_after)
            alert.next_attempt_at = now + timedelta(seconds=delay)
            log.warning(
                "alert %d to %s %s will be retried in %.0fs: %s",
                alert_id,
                notifier.name,
                alert.destination,
                delay,
                error,
                extra={"alert_id": alert_id, "story_id": alert.story_id},
            )
        return f"{notifier.name}: {error}"

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        base, cap = self.config.delivery.backoff_base, self.config.delivery.backoff_cap
        ceiling = min(cap, base * 2 ** min(attempts - 1, 30))
        delay = self._rng.uniform(ceiling / 2, ceiling)
        return max(delay, retry_after or 0.0)

    def _set_thread(self, session: Session, alert: AlertRow, thread_ref: str | None, *, failed: bool) -> None:
        thread = repo.thread_for(session, alert.story_id, alert.notifier, alert.destination)
        if thread is None:
            session.add(
                StoryThreadRow(
                    story_id=alert.story_id,
                    notifier=alert.notifier,
                    destination=alert.destination,
                    thread_ref=thread_ref,
                    root_alert_id=alert.id,
                    failed=failed,
                    updated_at=self.clock(),
                )
            )
        elif thread.failed or thread.thread_ref is None:
            thread.thread_ref, thread.failed, thread.root_alert_id = thread_ref, failed, alert.id
            thread.updated_at = self.clock()

    def _release(self, alert_ids: Sequence[int], *, delay: float) -> None:
        if not alert_ids:
            return
        with self.sessions.begin() as session:
            for alert_id in alert_ids:
                alert = session.get(AlertRow, alert_id)
                if alert is not None and alert.lease_owner == self.owner:
                    alert.lease_owner = alert.lease_expires_at = None
                    alert.next_attempt_at = self.clock() + timedelta(seconds=delay)

    def _refresh_root(self, notifier: Notifier, story_id: int, destination: str, thread_ref: str) -> None:
        """Redraw the story's first message with its running counts (best effort)."""
        with self.sessions() as session:
            thread = repo.thread_for(session, story_id, notifier.name, destination)
            root = session.get(AlertRow, thread.root_alert_id) if thread and thread.root_alert_id else None
            if root is None:
                return
            message = build_message(session, root, self.config)
        try:
            notifier.update_root(message, destination, thread_ref)
        except DeliveryError as exc:
            log.warning("could not refresh the root message of story %d: %s", story_id, exc)

    def _message(self, session: Session, alert: AlertRow) -> AlertMessage:
        return build_message(session, alert, self.config)


def build_message(session: Session, alert: AlertRow, config: Config) -> AlertMessage:
    """Everything a notifier needs, read fresh so counts are current at send time."""
    story = session.get(StoryRow, alert.story_id)
    article = session.get(ArticleRow, alert.article_id) if alert.article_id is not None else None
    assert story is not None and article is not None
    origins = repo.article_sources_of(session, [article.id]).get(article.id, [("?", "?")])
    source_name, origin = origins[0]
    topic = next((t for t in config.topics if t.name == alert.topic), None)
    options: dict[str, object] = {"reply_broadcast": topic.reply_broadcast} if topic is not None else {}
    return AlertMessage(
        alert_id=alert.id,
        kind=AlertKind(alert.kind),
        topic=alert.topic,
        story=StoryView(
            id=story.id,
            title=story.title,
            article_count=story.article_count,
            source_count=story.source_count,
            first_seen=story.first_seen_at,
            update_count=story.update_count,
        ),
        article=ArticleView(
            id=article.id,
            title=article.title,
            source=source_name,
            origin=origin,
            url=article.url,
            published=article.published_at,
            lead=lead_of(article.body),
        ),
        novel_sentences=tuple(article.novel_sentences[:3]),
        options=options,
    )


def lead_of(body: str) -> str:
    """The first paragraph, or the first paragraphs up to the lead length."""
    paragraphs = [p for p in body.split("\n") if p.strip()]
    lead = ""
    for paragraph in paragraphs:
        if lead and len(lead) + len(paragraph) > 600:
            break
        lead = f"{lead}\n{paragraph}" if lead else paragraph
    return lead[:LEAD_CHARS]
