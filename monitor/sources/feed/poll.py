"""Polling many feeds at once, politely, behind one synchronous call.

:class:`FeedPoll` is one poll's event loop, run in a helper thread. It fetches with at most
``per_host`` requests to any one host and ``max_concurrency`` overall, parses each body (on
the loop, or a large one in a thread) and hands results over as they are ready, so
fetching, parsing and the caller's storing all overlap. A failing feed becomes an ``error``
result; it never stops the poll.

:func:`poll_feeds` runs that loop in the feed worker processes (:mod:`.workers`), each over
its share of the hosts, or with ``parse_workers=0`` in the calling process itself (where
``parse_timeout`` cannot be enforced: a parse in progress cannot be interrupted, only the
process running it ended).

Memory stays bounded however slow ``on_result`` is: a document holds one of a few parse slots
from the moment its parsing starts until ``on_result`` has returned for its result, and while
every slot is held, fetching pauses.

The worker processes start from a fork server and import the program's main module, so that
module must guard its entry point with ``if __name__ == "__main__":`` (the standard rule for
multiprocessing; the ``monitor`` console script does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlsplit

import httpx

from monitor.errors import FetchError

from .fetch import Fetched, fetch_feed, make_client, make_tls_context
from .parse import ParseFailure, parse_in_worker
from .results import FeedRequest, FeedResult, FetchSettings

_log = logging.getLogger(__name__)

#: Documents one poll (one process's, with worker processes) parses or holds parsed at once.
PARSE_SLOTS: Final = 4
#: Documents up to this size are parsed on the event loop itself, which they hold for a few
#: milliseconds: handing each to a thread would cost more in lock hand-offs than the parse.
#: Larger ones are parsed in a thread, so the loop goes on serving the other fetches.
INLINE_PARSE_BYTES: Final = 256 * 1024


def poll_feeds(
    requests: Sequence[FeedRequest],
    settings: FetchSettings | None = None,
    on_result: Callable[[FeedResult], None] | None = None,
    *,
    prepare_for: Sequence[str] | None = None,
) -> list[FeedResult]:
    """Fetch and parse every feed in ``requests``; return one result per request, in order.

    ``on_result`` is called in the calling thread with each result as soon as its feed is
    parsed (in completion order). When it is given, the returned results carry no articles
    (``article_count`` still says how many there were), so a large poll never holds every
    article at once. An exception from ``on_result`` stops the poll and propagates.

    With ``prepare_for`` (the topics' query texts), each article's text is also prepared for
    storage where it was parsed, in ``FeedResult.prepared``. With ``settings.parse_workers``
    above 0 the feeds are polled in that many worker processes (see :mod:`.workers`); calls
    from several threads then take turns.
    """
    settings = settings or FetchSettings()
    if not requests:
        return []
    queries = None if prepare_for is None else tuple(prepare_for)
    if settings.parse_workers > 0:
        from .workers import poll_in_workers  # imported here: that module builds on this one

        return poll_in_workers(requests, settings, on_result, queries)
    return _poll_here(requests, settings, on_result, queries)


def _poll_here(
    requests: Sequence[FeedRequest],
    settings: FetchSettings,
    on_result: Callable[[FeedResult], None] | None,
    queries: tuple[str, ...] | None,
) -> list[FeedResult]:
    """The poll in a thread of this process, results handed over in the calling thread."""
    deliveries: queue.Queue[Delivery] = queue.Queue()
    poll = FeedPoll(list(requests), settings, deliveries, queries)
    thread = threading.Thread(target=poll.run, name="feed-poll", daemon=True)
    thread.start()
    results: list[FeedResult | None] = [None] * len(requests)
    try:
        while True:
            delivery = deliveries.get()
            if delivery.result is None:
                if delivery.failure is not None:
                    raise delivery.failure
                break
            results[delivery.index] = hand_over(delivery.result, on_result)
            if delivery.holds_slot:
                poll.release_slot()
    except BaseException:
        poll.cancel()
        _drain(deliveries, thread)
        raise
    finally:
        thread.join()
    return [r for r in results if r is not None]


def hand_over(result: FeedResult, on_result: Callable[[FeedResult], None] | None) -> FeedResult:
    """Give the result to ``on_result``; what the poll keeps of it once that has its articles."""
    if on_result is None:
        return result
    on_result(result)
    return replace(result, articles=(), prepared=())


@dataclass(frozen=True)
class Delivery:
    """A result for the caller, or (``result`` is None) the end of the poll; ``holds_slot``
    when the result holds a parse slot until the caller has taken it."""

    index: int = -1
    result: FeedResult | None = None
    failure: BaseException | None = None
    holds_slot: bool = False


class FeedPoll:
    """One poll's event loop, run in its own thread."""

    def __init__(
        self,
        requests: list[FeedRequest],
        settings: FetchSettings,
        deliveries: queue.Queue[Delivery],
        queries: tuple[str, ...] | None,
    ):
        self._requests = requests
        self._settings = settings
        self._deliveries = deliveries
        self._queries = queries
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._cancelled = threading.Event()
        # request index -> time.monotonic() when its document's parse began, while it runs
        self._parsing: dict[int, float] = {}

    def run(self) -> None:
        failure: BaseException | None = None
        try:
            asyncio.run(self._main())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # handed to the caller's thread, which re-raises it
            failure = exc
        self._deliveries.put(Delivery(failure=failure))

    def cancel(self) -> None:
        self._cancelled.set()
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                loop.call_soon_threadsafe(task.cancel)

    def parsing_longer_than(self, seconds: float) -> list[int]:
        """The requests (by index) whose document has been parsing for over ``seconds``
        (callable from any thread)."""
        since = time.monotonic() - seconds
        return [index for index, started in self._parsing.copy().items() if started < since]

    def release_slot(self) -> None:
        """The caller has taken a result that held a parse slot (called from its thread)."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                loop.call_soon_threadsafe(self._parse_slots.release)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        if self._cancelled.is_set():
            return
        settings = self._settings
        self._host_slots: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host)
        )
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        # Documents being parsed or parsed results the caller has not taken yet; while they
        # are all taken, fetching pauses.
        self._parse_slots = asyncio.Semaphore(PARSE_SLOTS)
        self._clients = _Clients(settings)
        try:
            await asyncio.gather(*(self._poll_one(i, r) for i, r in enumerate(self._requests)))
        finally:
            await self._clients.aclose()

    async def _poll_one(self, index: int, request: FeedRequest) -> None:
        holds_slot = False
        try:
            result, holds_slot = await self._fetch_and_parse(index, request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must cost one feed, not the poll
            _log.exception("feed %s: unexpected error", request.url)
            result = FeedResult(
                request, "error", error=f"internal error: {exc}", error_type=type(exc).__name__
            )
        # Never blocks: the parse slots bound what waits here, apart from small results.
        self._deliveries.put_nowait(Delivery(index, result, holds_slot=holds_slot))

    async def _fetch_and_parse(self, index: int, request: FeedRequest) -> tuple[FeedResult, bool]:
        """The feed's result, and whether it holds a parse slot (until the caller takes it)."""
        host = host_of(request.url)
        async with self._host_slots[host], self._slots:
            started = time.monotonic()
            fetched_at = datetime.now(UTC)
            try:
                fetched = await fetch_feed(self._clients.get(host), request, self._settings)
            except FetchError as exc:
                return (
                    FeedResult(
                        request,
                        "error",
                        error=str(exc),
                        error_type=type(exc).__name__,
                        http_status=exc.status,
                        retry_after=exc.retry_after,
                        etag=request.etag,
                        last_modified=request.last_modified,
                        elapsed=time.monotonic() - started,
                    ),
                    False,
                )
            if fetched.status == 304:
                return _not_modified(request, fetched, time.monotonic() - started), False
            await self._parse_slots.acquire()
        self._parsing[index] = time.monotonic()
        try:
            args = (fetched.body, fetched.headers, fetched.final_url, request.source_name, fetched_at)
            if len(fetched.body) <= INLINE_PARSE_BYTES:
                parsed = parse_in_worker(*args, self._queries, request.known_ids)
            else:
                parsed = await asyncio.to_thread(parse_in_worker, *args, self._queries, request.known_ids)
        except BaseException:
            self._parse_slots.release()
            raise
        finally:
            del self._parsing[index]
        elapsed = time.monotonic() - started
        if isinstance(parsed, ParseFailure):
            self._parse_slots.release()  # an error is small: it need not hold a slot
            return FeedResult(
                request,
                "error",
                error=parsed.error,
                error_type=parsed.error_type,
                http_status=fetched.status,
                new_url=fetched.permanent_url,
                elapsed=elapsed,
            ), False
        return FeedResult(
            request,
            "ok",
            articles=parsed.articles,
            prepared=parsed.prepared,
            article_count=len(parsed.articles),
            http_status=fetched.status,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            new_url=fetched.permanent_url,
            min_interval=_larger(parsed.ttl_seconds, fetched.max_age),
            notes=parsed.notes,
            elapsed=elapsed,
        ), True


class _Clients:
    """One httpx client per host (see :func:`make_client`), made on first use, closed together."""

    def __init__(self, settings: FetchSettings) -> None:
        self._settings = settings
        self._tls = make_tls_context()
        self._by_host: dict[str, httpx.AsyncClient] = {}

    def get(self, host: str) -> httpx.AsyncClient:
        client = self._by_host.get(host)
        if client is None:
            client = self._by_host[host] = make_client(self._settings, self._tls)
        return client

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._by_host.values()))


def _not_modified(request: FeedRequest, fetched: Fetched, elapsed: float) -> FeedResult:
    return FeedResult(
        request,
        "not_modified",
        http_status=304,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        new_url=fetched.permanent_url,
        min_interval=fetched.max_age,
        elapsed=elapsed,
    )


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or url).lower()
    except ValueError:
        return url


def _larger(a: float | None, b: float | None) -> float | None:
    present = [x for x in (a, b) if x is not None]
    return max(present) if present else None


def _drain(deliveries: queue.Queue[Delivery], thread: threading.Thread) -> None:
    """Empty the queue until the poll thread has ended, so its pending puts cannot block it."""
    while thread.is_alive() or not deliveries.empty():
        try:
            deliveries.get(timeout=0.1)
        except queue.Empty:
            continue
