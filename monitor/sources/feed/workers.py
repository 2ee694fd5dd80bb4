"""Feed worker processes: each fetches, parses and prepares its share of a poll's feeds.

All the per-feed work of a poll runs outside the calling process, whose one interpreter lock
is then left to the thread that stores the results (see :mod:`monitor.feedpoll`). Were the
event loop and the result handling in that process too, the storing thread would spend
about half its time waiting for the lock.

A poll's feeds are shared out by host, the largest hosts first, each to the process with
the fewest feeds so far: every request to one host is made by one process, so the per-host
limit holds exactly as in a single process, and the overall limit is divided between them.
Each process runs the same event loop as an in-process poll (:class:`FeedPoll`), parsing in a
thread of its own, and streams each result back as soon as it is ready. The calling thread
hands a result to ``on_result`` and only then gives its parse slot back, so a slow consumer
pauses fetching in every process.

A process that dies mid-poll (a crash in a C parser, the kernel's OOM killer) loses no feed:
the feeds it had not delivered are polled again by a fresh process; should that die too,
they come back as errors. A process still parsing one document after ``parse_timeout``
reports that feed as failed (``ParseTimeout``) and ends itself, since a parse cannot be
interrupted; its other feeds then go the same way as a dead process's.

The processes start from a fork server (never forked from the threaded worker), live across
polls, and are replaced after :data:`TASKS_PER_PROCESS` documents, so what a long-lived
parser accumulates cannot grow without bound. One poll at a time uses them; a second caller
waits for the first.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Final, NoReturn, cast

from .poll import Delivery, FeedPoll, hand_over, host_of
from .results import FeedRequest, FeedResult, FetchSettings

_log = logging.getLogger(__name__)

#: Documents a worker process parses before a fresh process takes its place (between polls).
TASKS_PER_PROCESS: Final = 1000
#: How long a cancelled worker may take to wind its poll down before it is killed.
_CANCEL_GRACE_SECONDS: Final = 30.0

# Commands to a worker during a poll; a _Job starts one and None stops the process.
_RELEASE: Final = "release"  # the caller has taken a result that held a parse slot
_CANCEL: Final = "cancel"
_OVER: Final = "over"  # the caller has read the worker's last delivery

_in_use = threading.Lock()
_workers: list[_Worker] = []


@dataclass(frozen=True)
class _Job:
    requests: list[FeedRequest]
    settings: FetchSettings
    queries: tuple[str, ...] | None


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    documents: int = 0
    broken: bool = False

    def send(self, message: object) -> bool:
        """Send a command or job; False (and the worker marked broken) if it is gone."""
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            self.broken = True
            return False
        return True


@dataclass
class _Share:
    """The feeds one worker polls in one round, by their index in the caller's requests."""

    worker: _Worker
    indices: list[int]


def poll_in_workers(
    requests: Sequence[FeedRequest],
    settings: FetchSettings,
    on_result: Callable[[FeedResult], None] | None,
    queries: tuple[str, ...] | None,
) -> list[FeedResult]:
    """:func:`~monitor.sources.feed.poll_feeds` in ``settings.parse_workers`` processes."""
    results: list[FeedResult | None] = [None] * len(requests)
    with _in_use:
        pending = list(range(len(requests)))
        for _ in range(2):  # a second round for the feeds of a process that died
            if pending:
                pending = _round(pending, requests, settings, on_result, queries, results)
        for index in pending:
            lost = FeedResult(
                requests[index],
                "error",
                error="the feed worker process died twice while this feed was being polled",
                error_type="WorkerDied",
            )
            results[index] = hand_over(lost, on_result)
    return [result for result in results if result is not None]


def shutdown_feed_workers() -> None:
    """Stop the feed worker processes (the next poll starts new ones)."""
    with _in_use:
        for worker in _workers:
            _stop(worker)
        _workers.clear()


def _round(
    indices: list[int],
    requests: Sequence[FeedRequest],
    settings: FetchSettings,
    on_result: Callable[[FeedResult], None] | None,
    queries: tuple[str, ...] | None,
    results: list[FeedResult | None],
) -> list[int]:
    """Poll the feeds at ``indices``; return those lost with a process that died."""
    workers = _ready_workers(settings.parse_workers)
    active: dict[Connection, _Share] = {}
    lost: list[int] = []
    for worker, (share_indices, concurrency) in zip(
        workers, _shares(indices, requests, len(workers), settings.max_concurrency), strict=False
    ):
        job = _Job(
            [requests[i] for i in share_indices],
            replace(settings, parse_workers=0, max_concurrency=concurrency),
            queries,
        )
        if worker.send(job):
            active[worker.conn] = _Share(worker, share_indices)
        else:
            lost.extend(share_indices)
    failure: BaseException | None = None
    try:
        while active:
            for conn in cast(list[Connection], wait(list(active))):
                share = active[conn]
                try:
                    delivery = _received(conn)
                except (EOFError, OSError):
                    _log.error("a feed worker process died; polling its remaining feeds again")
                    share.worker.broken = True
                    lost.extend(i for i in share.indices if results[i] is None)
                    del active[conn]
                    continue
                if delivery is None:
                    continue
                if delivery.result is None:
                    share.worker.send(_OVER)
                    del active[conn]
                    failure = failure or delivery.failure
                    continue
                index = share.indices[delivery.index]
                if delivery.result.status == "ok":
                    share.worker.documents += 1
                results[index] = hand_over(delivery.result, on_result)
                if delivery.holds_slot:
                    share.worker.send(_RELEASE)
    except BaseException:
        _cancel(active.values())
        raise
    if failure is not None:
        raise failure
    return lost


def _received(conn: Connection) -> Delivery | None:
    """The worker's next delivery; None for a log record, which is logged here."""
    message: Delivery | logging.LogRecord = conn.recv()
    if isinstance(message, logging.LogRecord):
        logging.getLogger(message.name).handle(message)
        return None
    return message


def _shares(
    indices: Sequence[int], requests: Sequence[FeedRequest], count: int, max_concurrency: int
) -> list[tuple[list[int], int]]:
    """Up to ``count`` shares of the feeds, whole hosts each, with their part of the overall limit."""
    by_host: defaultdict[str, list[int]] = defaultdict(list)
    for index in indices:
        by_host[host_of(requests[index].url)].append(index)
    used = max(1, min(count, len(by_host), max_concurrency))
    shares: list[list[int]] = [[] for _ in range(used)]
    for host_indices in sorted(by_host.values(), key=len, reverse=True):
        min(shares, key=len).extend(host_indices)
    base, extra = divmod(max_concurrency, used)
    return [(sorted(share), base + (number < extra)) for number, share in enumerate(shares)]


def _ready_workers(count: int) -> list[_Worker]:
    """``count`` live workers, replacing any that died or has read its share of documents."""
    while len(_workers) > count:
        _stop(_workers.pop())
    for number, worker in enumerate(_workers):
        if worker.broken or not worker.process.is_alive() or worker.documents >= TASKS_PER_PROCESS:
            _stop(worker)
            _workers[number] = _start()
    while len(_workers) < count:
        _workers.append(_start())
    return list(_workers)


def _start() -> _Worker:
    context = multiprocessing.get_context("forkserver")
    # Preloaded in the fork server, so that every worker shares these modules' pages.
    context.set_forkserver_preload([__name__, "monitor.stories.prepare"])
    ours, theirs = context.Pipe(duplex=True)
    process = context.Process(target=_serve, args=(theirs,), name="monitor-feed-worker", daemon=True)
    process.start()
    theirs.close()
    return _Worker(process, ours)


def _stop(worker: _Worker) -> None:
    worker.send(None)
    worker.process.join(timeout=5)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join()
    worker.conn.close()


def _cancel(shares: Iterable[_Share]) -> None:
    """Stop the workers' polls and read what they still send, so each is ready for the next."""
    pending = list(shares)
    for share in pending:
        share.worker.send(_CANCEL)
    for share in pending:
        conn = share.worker.conn
        try:
            while conn.poll(_CANCEL_GRACE_SECONDS):
                if (delivery := _received(conn)) is not None and delivery.result is None:
                    share.worker.send(_OVER)
                    break
            else:
                share.worker.broken = True
        except (EOFError, OSError):
            share.worker.broken = True


# -- in the worker process -----------------------------------------------------------------


def _serve(conn: Connection) -> None:
    """A worker process: run the polls it is sent, one after another, until told to stop.

    Ctrl-C reaches the whole process group; the worker leaves stopping to its parent, and
    ends when the parent says so or is gone. Its warnings and errors are logged by the
    parent, with the parent's handlers and format.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbound = _Outbound(conn)
    root = logging.getLogger()
    root.handlers = [_ForwardedLogs(outbound)]
    root.setLevel(logging.WARNING)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        if not _run(conn, outbound, job):
            return


class _Outbound:
    """The worker's end of its pipe, for the threads that send on it (one at a time)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, message: Delivery | logging.LogRecord) -> None:
        with self._lock:
            self._conn.send(message)

    def send_last(self, messages: Sequence[Delivery]) -> NoReturn:
        """Send ``messages``, then end the process while no other thread can be mid-message."""
        with self._lock:
            with contextlib.suppress(OSError, ValueError):
                for message in messages:
                    self._conn.send(message)
            os._exit(1)


class _ForwardedLogs(logging.handlers.QueueHandler):
    """Sends the worker's log records (made picklable: message and traceback as text) to
    the calling process, which logs them."""

    def __init__(self, outbound: _Outbound) -> None:
        super().__init__(queue.SimpleQueue())
        self._outbound = outbound

    def enqueue(self, record: logging.LogRecord) -> None:
        self._outbound.send(record)


def _run(conn: Connection, outbound: _Outbound, job: _Job) -> bool:
    """One poll; False when the calling process has gone."""
    deliveries: queue.Queue[Delivery] = queue.Queue()
    poll = FeedPoll(job.requests, job.settings, deliveries, job.queries)
    poller = threading.Thread(target=poll.run, name="feed-poll", daemon=True)
    sender = threading.Thread(target=_send_all, args=(outbound, deliveries), name="feed-send", daemon=True)
    poller.start()
    sender.start()
    limit = job.settings.parse_timeout
    check_every = min(1.0, limit / 4)
    next_check = time.monotonic() + check_every
    try:
        while True:
            # Checked on the clock, not only when idle: results of the other feeds may keep
            # commands coming while one document is stuck in a parsing thread.
            if conn.poll(max(0.0, next_check - time.monotonic())):
                command = conn.recv()
                if command == _OVER:
                    break
                if command == _RELEASE:
                    poll.release_slot()
                elif command == _CANCEL:
                    poll.cancel()
            if time.monotonic() >= next_check:
                if overdue := poll.parsing_longer_than(limit):
                    _abandon(outbound, job, overdue)
                next_check = time.monotonic() + check_every
    except (EOFError, OSError):
        poll.cancel()
        return False
    poller.join()
    sender.join()
    return True


def _abandon(outbound: _Outbound, job: _Job, overdue: list[int]) -> NoReturn:
    """Fail the feeds whose document takes too long to parse, then end this process.

    A parse cannot be interrupted (it may be inside C code), so the process goes with it; the
    caller polls its other undelivered feeds again in a fresh one, as after a crash.
    """
    limit = job.settings.parse_timeout
    for index in overdue:
        _log.warning(
            "feed %s: parsing took longer than %g s; replacing its worker process",
            job.requests[index].url,
            limit,
        )
    failures = [
        Delivery(
            index,
            FeedResult(
                job.requests[index],
                "error",
                error=f"parsing took longer than {limit:g} s; the document was abandoned",
                error_type="ParseTimeout",
            ),
        )
        for index in overdue
    ]
    outbound.send_last(failures)


def _send_all(outbound: _Outbound, deliveries: queue.Queue[Delivery]) -> None:
    """Send each delivery to the calling process, the end of the poll last."""
    while True:
        delivery = deliveries.get()
        try:
            outbound.send(delivery)
        except (OSError, ValueError):
            return  # the calling process has gone
        except Exception as exc:  # a result that cannot be pickled costs its feed only
            outbound.send(_unsendable(delivery, exc))
        if delivery.result is None:
            return


def _unsendable(delivery: Delivery, exc: Exception) -> Delivery:
    if delivery.result is None:
        return replace(delivery, failure=RuntimeError(f"feed worker failed: {delivery.failure!r}"))
    error = FeedResult(
        delivery.result.request,
        "error",
        error=f"internal error: the result could not be sent ({exc!r})",
        error_type=type(exc).__name__,
    )
    return replace(delivery, result=error)
