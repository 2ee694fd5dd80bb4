"""Delivery: send due alerts from the outbox, each exactly once, in story order.

Alerts are rows written with the article that caused them. This job claims due rows
(with a lease, so several workers never send one row twice), sends them through their
notifier, and commits each outcome at once. Destinations are served in parallel, each
paced by its notifier (Slack: one post per second per channel).

Order: within a destination, alerts go out oldest first. A later alert waits behind an
earlier one that is being retried soon, and an update always waits for its story's root
so it can reply in the thread (if the root failed for good, the update goes standalone).
Order gives way only when the earlier alert's next attempt is far off: one message a
destination keeps refusing must not hold back every later story for hours.

Digests: alerts for a ``digest:`` target (e-mail) are written due at the end of their
period; when due, all of a target's alerts go out as one e-mail grouped by story.

The one window no outbox can close: the process dies after the notifier accepted a message
and before the "sent" row committed. The row is then sent again once its lease expires.
Committing each alert alone, right after its send, keeps that window to a few milliseconds.
A kill can therefore repeat at most the post in flight at each destination. While a worker
lives, the rows it holds keep their lease (renewed before each send and by the pass's
heartbeat), so another worker never takes over, and repeats, a slow send.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol, runtime_checkable

from sqlalchemy.orm import Session, sessionmaker

from monitor.clock import utcnow
from monitor.config import Config
from monitor.errors import ConfigError, DeliveryError
from monitor.model import AlertKind, AlertMessage, AlertStatus, ArticleView, StoryView
from monitor.notify.base import Delivered, Notifier
from monitor.store import repo
from monitor.store.tables import AlertRow, ArticleRow, StoryRow, StoryThreadRow

log = logging.getLogger(__name__)

#: Rows claimed per pass; the rest wait for the next pass a few seconds later.
CLAIM_LIMIT = 500

#: Destinations served at once; more would only queue on the notifiers' own limits.
MAX_PARALLEL_DESTINATIONS = 8

#: How soon an alert held back for story order looks again when what it waits for is due now.
ROOT_WAIT_SECONDS = 1.0

#: Later alerts of a destination keep story order behind an earlier one retried within this.
ORDER_WAIT_LIMIT_SECONDS = 60.0

#: How long alerts for a notifier that is not enabled wait before they are looked at again.
DISABLED_WAIT_SECONDS = 60.0

#: How often a pass looks for newly due rows while some destination is still busy.
RECLAIM_SECONDS = 1.0

#: The lead shown with an alert: enough for Slack's 3,000-character section.
LEAD_CHARS = 3000

#: (topic, notifier, destination) of a notify entry.
TargetKey = tuple[str, str, str]

#: (is a digest, notifier, destination): the rows one job of a pass sends.
_JobKey = tuple[bool, str, str]


def worker_id() -> str:
    """A name for this process in leases: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@runtime_checkable
class DigestSender(Protocol):
    """A notifier that can send many alerts as one message (the e-mail notifier)."""

    def send_digest(self, messages: Sequence[AlertMessage], destination: str) -> Delivered: ...


def digest_targets(config: Config, notifiers: Mapping[str, Notifier]) -> dict[TargetKey, str]:
    """Every notify entry with ``digest:`` whose notifier can send digests, with its period.

    Destinations are normalised exactly as the pipeline does when it writes alert rows, so
    a row's (topic, notifier, destination) finds its entry here.
    """
    found: dict[TargetKey, str] = {}
    for topic in config.topics:
        for entry in topic.notify:
            notifier = notifiers.get(entry.notifier)
            if entry.digest is None or not isinstance(notifier, DigestSender):
                continue
            try:
                destination = (
                    notifier.default_destination()
                    if entry.destination is None
                    else notifier.normalise_destination(entry.destination)
                )
            except ConfigError:
                continue  # the pipeline refused this entry at start-up; it has no rows
            found[(topic.name, entry.notifier, destination)] = entry.digest
    return found


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.retried += other.retried
        self.deferred += other.deferred
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class _Outcome:
    """What became of one send: ``retry_at`` is set for a transient failure."""

    status: Literal["sent", "failed", "retry", "deferred"]
    error: str | None = None
    retry_at: datetime | None = None


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
        self._digests_of: Config | None = None
        self._digests: dict[TargetKey, str] = {}
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Finish the sends under way, give back the rest of the claimed rows, claim no more.

        Call it when the worker is asked to stop, so a long backlog does not delay the exit;
        the rows given back are due at once for the next worker.
        """
        self._stopping.set()

    # --- digest targets --------------------------------------------------------------

    def digest_period(self, topic: str, notifier: str, destination: str) -> str | None:
        """The digest period of the notify entry that wrote such a row, or None if immediate."""
        if self._digests_of is not self.config:
            # Recomputed when the config object is replaced (a reload).
            self._digests = digest_targets(self.config, self.notifiers)
            self._digests_of = self.config
        return self._digests.get((topic, notifier, destination))

    def _digest_topics(self, notifier: str, destination: str) -> set[str]:
        self.digest_period("", notifier, destination)  # refresh the cache if the config changed
        return {key[0] for key in self._digests if key[1:] == (notifier, destination)}

    # --- a pass ------------------------------------------------------------------------

    def deliver_due(self) -> DeliveryReport:
        """One pass: claim what is due, send it, record every outcome.

        Destinations are served side by side. While any of them is still busy, rows that
        fall due meanwhile are claimed too, so a slow destination (a long Retry-After, a
        server that times out) never holds back the others. The pass ends when every
        destination it served is idle.
        """
        report = DeliveryReport()
        queued: dict[_JobKey, list[int]] = {}
        running: dict[Future[DeliveryReport], tuple[_JobKey, list[int]]] = {}
        self._claim(queued)
        # Leases are kept alive while this pass holds rows, so a send slower than the lease
        # (pacing, an inline Retry-After) is never taken over and repeated by another worker.
        heartbeat = min(RECLAIM_SECONDS, self.lease.total_seconds() / 3)
        last_claim = time.monotonic()
        with ThreadPoolExecutor(max_workers=MAX_PARALLEL_DESTINATIONS) as pool:
            while True:
                busy = {key for key, _ids in running.values()}
                for key in [key for key in queued if key not in busy]:
                    ids = queued.pop(key)
                    running[pool.submit(self._job(key), key[1:], ids)] = (key, ids)
                if not running:
                    return report
                done, _pending = wait(running, timeout=heartbeat, return_when=FIRST_COMPLETED)
                for future in done:
                    _key, _ids = running.pop(future)
                    try:
                        report.add(future.result())
                    except Exception:  # rows stay leased and are retried when the lease expires
                        log.exception("delivery to %s %s failed unexpectedly", *_key[1:])
                if running:
                    in_hand = {i for ids in queued.values() for i in ids}
                    in_hand.update(i for _key, ids in running.values() for i in ids)
                    self._keep_leases(in_hand)
                    if done or time.monotonic() - last_claim >= RECLAIM_SECONDS:
                        self._claim(queued)
                        last_claim = time.monotonic()

    def _keep_leases(self, in_hand: Collection[int]) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            repo.extend_leases(
                session, in_hand, self.owner, until=now + self.lease, expiring_before=now + self.lease / 2
            )

    def _claim(self, queued: dict[_JobKey, list[int]]) -> None:
        """Lease the due rows, queued per destination in id order behind what is queued already.

        A row still listed in a running job comes back only once that job has given it back
        (it waits for a retry) or lost its lease; sending it twice is impossible either way,
        because every send first renews its lease only if the row is still pending and ours.
        """
        if self._stopping.is_set():
            return
        now = self.clock()
        with self.sessions.begin() as session:
            for row in repo.due_alerts(session, now, self.owner, now + self.lease, CLAIM_LIMIT):
                digest = self.digest_period(row.topic, row.notifier, row.destination) is not None
                ids = queued.setdefault((digest, row.notifier, row.destination), [])
                if row.id not in ids:
                    ids.append(row.id)

    def _job(self, key: _JobKey) -> Callable[[tuple[str, str], Sequence[int]], DeliveryReport]:
        return self._deliver_digest if key[0] else self._deliver_group

    def _deliver_group(self, target: tuple[str, str], alert_ids: Sequence[int]) -> DeliveryReport:
        """One destination's claimed alerts, oldest first, one at a time."""
        report = DeliveryReport()
        notifier = self.notifiers.get(target[0])
        if notifier is None:
            self._release(alert_ids, until=self.clock() + timedelta(seconds=DISABLED_WAIT_SECONDS))
            log.warning("notifier %r is not enabled; %d alert(s) wait", target[0], len(alert_ids))
            report.deferred += len(alert_ids)
            return report
        ready = self._hold_for_story_order(target, alert_ids, report)
        for index, alert_id in enumerate(ready):
            if self._stopping.is_set():
                self._release(ready[index:], until=self.clock())
                report.deferred += len(ready) - index
                break
            outcome = self._deliver_one(notifier, alert_id)
            if outcome.status == "sent":
                report.sent += 1
            elif outcome.status == "failed":
                report.failed += 1
            elif outcome.status == "deferred":
                report.deferred += 1
            else:
                report.retried += 1
                report.errors.append(outcome.error or "")
                rest = ready[index + 1 :]
                # Keep story order: the rest wait behind the retry, unless it is far off.
                assert outcome.retry_at is not None
                soon = outcome.retry_at - self.clock() <= timedelta(seconds=ORDER_WAIT_LIMIT_SECONDS)
                self._release(rest, until=outcome.retry_at if soon else self.clock())
                report.deferred += len(rest)
                break
        return report

    def _hold_for_story_order(
        self, target: tuple[str, str], alert_ids: Sequence[int], report: DeliveryReport
    ) -> Sequence[int]:
        """The claimed alerts that may go now; those behind an earlier pending alert wait for it."""
        with self.sessions() as session:
            blocker = repo.oldest_pending(
                session,
                *target,
                before_id=max(alert_ids),
                exclude_ids=alert_ids,
                skip_topics=self._digest_topics(*target),
            )
            if blocker is None:
                return alert_ids
            blocker_id, blocker_due = blocker.id, blocker.next_attempt_at
        until = max(blocker_due, self.clock() + timedelta(seconds=ROOT_WAIT_SECONDS))
        if until - self.clock() > timedelta(seconds=ORDER_WAIT_LIMIT_SECONDS):
            return alert_ids
        held = [alert_id for alert_id in alert_ids if alert_id > blocker_id]
        self._release(held, until=until)
        report.deferred += len(held)
        return [alert_id for alert_id in alert_ids if alert_id < blocker_id]

    def _deliver_one(self, notifier: Notifier, alert_id: int) -> _Outcome:
        now = self.clock()
        with self.sessions.begin() as session:
            # Re-leased in one statement that also checks it is still ours and pending, so no
            # other worker can take it while it is being sent (the pass's heartbeat keeps it).
            if alert_id not in repo.hold_leases(session, [alert_id], self.owner, now + self.lease):
                return _Outcome("deferred")
            alert = session.get(AlertRow, alert_id)
            assert alert is not None
            thread_ref: str | None = None
            if alert.kind == AlertKind.UPDATE:
                thread = repo.thread_for(session, alert.story_id, alert.notifier, alert.destination)
                if thread is None:
                    root = repo.oldest_pending(
                        session,
                        alert.notifier,
                        alert.destination,
                        before_id=alert.id,
                        story_id=alert.story_id,
                        kind=AlertKind.NEW_STORY,
                        skip_topics=self._digest_topics(alert.notifier, alert.destination),
                    )
                    if root is not None:
                        # An update replies under its root: it waits until the root is sent or fails.
                        until = max(root.next_attempt_at, now + timedelta(seconds=ROOT_WAIT_SECONDS))
                        alert.lease_owner = alert.lease_expires_at = None
                        alert.next_attempt_at = until
                        return _Outcome("deferred", retry_at=until)
                elif not thread.failed:
                    thread_ref = thread.thread_ref
            message = build_message(session, alert, self.config)
            destination, kind, story_id = alert.destination, AlertKind(alert.kind), alert.story_id
        try:
            delivered = notifier.send(message, destination, thread_ref)
        except DeliveryError as exc:
            return self._record_failure([alert_id], notifier, exc)
        except Exception as exc:  # a notifier bug must not stop delivery to every other target
            log.exception("notifier %s crashed on alert %d", notifier.name, alert_id)
            return self._record_failure([alert_id], notifier, DeliveryError(f"{notifier.name}: {exc!r}"))
        self._record_sent([alert_id], delivered.thread_ref)
        if kind is AlertKind.UPDATE and thread_ref is not None:
            self._refresh_root(notifier, story_id, destination, thread_ref)
        return _Outcome("sent")

    def _deliver_digest(self, target: tuple[str, str], alert_ids: Sequence[int]) -> DeliveryReport:
        """All due alerts of one digest target as one message, grouped by story."""
        report = DeliveryReport()
        notifier = self.notifiers.get(target[0])
        if not isinstance(notifier, DigestSender) or not isinstance(notifier, Notifier):
            self._release(alert_ids, until=self.clock() + timedelta(seconds=DISABLED_WAIT_SECONDS))
            report.deferred += len(alert_ids)
            return report
        now = self.clock()
        with self.sessions.begin() as session:
            held = repo.hold_leases(session, alert_ids, self.owner, now + self.lease)
            rows = [
                row for alert_id in alert_ids if alert_id in held and (row := session.get(AlertRow, alert_id))
            ]
            messages = [build_message(session, row, self.config) for row in rows]
            sending = [row.id for row in rows]
        report.deferred += len(alert_ids) - len(sending)
        if not sending:
            return report
        try:
            notifier.send_digest(messages, target[1])
        except DeliveryError as exc:
            outcome = self._record_failure(sending, notifier, exc)
        except Exception as exc:  # see _deliver_one
            log.exception("notifier %s crashed on a digest", notifier.name)
            outcome = self._record_failure(sending, notifier, DeliveryError(f"{notifier.name}: {exc!r}"))
        else:
            self._record_sent(sending, None, threads=False)
            log.info("sent a digest of %d alert(s) to %s %s", len(sending), notifier.name, target[1])
            report.sent += len(sending)
            return report
        if outcome.status == "failed":
            report.failed += len(sending)
        else:
            report.retried += len(sending)
            report.errors.append(outcome.error or "")
        return report

    # --- recording outcomes --------------------------------------------------------------

    def _record_sent(self, alert_ids: Sequence[int], thread_ref: str | None, *, threads: bool = True) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            for alert_id in alert_ids:
                alert = session.get(AlertRow, alert_id)
                assert alert is not None
                alert.status, alert.sent_at, alert.thread_ref = AlertStatus.SENT, now, thread_ref
                alert.attempts += 1
                alert.lease_owner = alert.lease_expires_at = None
                alert.last_error = None
                if threads and alert.kind == AlertKind.NEW_STORY:
                    self._set_thread(session, alert, thread_ref, failed=False)
                log.info(
                    "sent %s alert %d",
                    alert.kind,
                    alert_id,
                    extra={"alert_id": alert_id, "story_id": alert.story_id},
                )

    def _record_failure(self, alert_ids: Sequence[int], notifier: Notifier, error: DeliveryError) -> _Outcome:
        """Record one failed send of ``alert_ids`` (one alert, or a digest's), all retried together."""
        now = self.clock()
        described = f"{notifier.name}: {error}"
        with self.sessions.begin() as session:
            alerts = [
                alert for alert_id in alert_ids if (alert := session.get(AlertRow, alert_id)) is not None
            ]
            if not alerts:
                return _Outcome("deferred")
            retry_at = now + timedelta(
                seconds=self._backoff(max(a.attempts for a in alerts) + 1, error.retry_after)
            )
            for alert in alerts:
                alert.attempts += 1
                alert.last_error = str(error)
                alert.lease_owner = alert.lease_expires_at = None
                if error.permanent:
                    alert.status = AlertStatus.FAILED
                    if alert.kind == AlertKind.NEW_STORY:
                        # Later updates then go out standalone instead of waiting forever.
                        self._set_thread(session, alert, None, failed=True)
                else:
                    alert.next_attempt_at = retry_at
            destination, story_id = alerts[0].destination, alerts[0].story_id
        which = _alert_ids(alert_ids)
        extra = {"alert_id": alert_ids[0], "story_id": story_id} if len(alert_ids) == 1 else {}
        if error.permanent:
            log.error(
                "%s to %s %s failed permanently: %s (fix the cause, then `monitor alerts retry`)",
                which,
                notifier.name,
                destination,
                error,
                extra=extra,
            )
            return _Outcome("failed", described)
        log.warning(
            "%s to %s %s will be retried in %.0fs: %s",
            which,
            notifier.name,
            destination,
            (retry_at - now).total_seconds(),
            error,
            extra=extra,
        )
        return _Outcome("retry", described, retry_at)

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

    def _release(self, alert_ids: Collection[int], *, until: datetime) -> None:
        """Give claimed rows back, due again at ``until``."""
        if not alert_ids:
            return
        with self.sessions.begin() as session:
            for alert_id in alert_ids:
                alert = session.get(AlertRow, alert_id)
                if alert is not None and alert.lease_owner == self.owner:
                    alert.lease_owner = alert.lease_expires_at = None
                    alert.next_attempt_at = until

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


def _alert_ids(alert_ids: Sequence[int]) -> str:
    if len(alert_ids) == 1:
        return f"alert {alert_ids[0]}"
    return "alerts " + ", ".join(str(alert_id) for alert_id in alert_ids)


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
            lead=lead_of(article.body, article.title),
            published_estimated=article.published_estimated,
        ),
        novel_sentences=tuple(article.novel_sentences[: config.stories.max_novel_sentences]),
        options=options,
    )


def lead_of(body: str, title: str) -> str:
    """The first paragraph, or the first paragraphs up to the lead length, after the title
    when the body opens with it (a seed file's title is its first sentence): an alert shows
    the title already, and the same sentence twice reads as a fault."""
    opening = body.lstrip()
    rest = opening[len(title) :]
    if title and opening.startswith(title) and (not rest or rest[0].isspace()):
        body = rest
    paragraphs = [p.strip() for p in body.split("\n") if p.strip()]
    lead = ""
    for paragraph in paragraphs:
        if lead and len(lead) + len(paragraph) > 600:
            break
        lead = f"{lead}\n{paragraph}" if lead else paragraph
    return lead[:LEAD_CHARS]
