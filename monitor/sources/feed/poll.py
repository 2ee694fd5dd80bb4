"""Polling many feeds at once, politely, behind one synchronous call.

:func:`poll_feeds` runs an asyncio event loop in a helper thread. The loop fetches with at most
``per_host`` requests to any one host and ``max_concurrency`` overall, and hands each body to
the parser processes, so fetching, parsing and the caller's storing all overlap. Results come
back to the calling thread, which runs ``on_result`` for each one as soon as it is ready. A
failing feed becomes an ``error`` result; it never stops the poll.

Memory stays bounded however slow ``on_result`` is: a document holds one of a few parse slots
from the moment it is handed to a parser until ``on_result`` has returned for its result, and
while every slot is held, fetching pauses.

The parser processes start from a fork server and import the program's main module, so that
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
from urllib.parse import urlsplit

import httpx

from monitor.errors import FetchError

from .fetch import Fetched, fetch_feed, make_client, make_tls_context
from .parse import ParseFailure
from .parsers import parse_document
from .results import FeedRequest, FeedResult, FetchSettings

_log = logging.getLogger(__name__)


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

    With ``prepare_for`` (the topics' query texts), the parser processes also prepare each
    article's text for storage, in ``FeedResult.prepared``.
    """
    settings = settings or FetchSettings()
    if not requests:
        return []
    deliveries: queue.Queue[_Delivery] = queue.Queue()
    poll = _Poll(list(requests), settings, deliveries, None if prepare_for is None else tuple(prepare_for))
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
            result = delivery.result
            if on_result is not None:
                on_result(result)
                result = replace(result, articles=(), prepared=())
            if delivery.holds_slot:
                poll.release_slot()
            results[delivery.index] = result
    except BaseException:
        poll.cancel()
        _drain(deliveries, thread)
        raise
    finally:
        thread.join()
    return [r for r in results if r is not None]


@dataclass(frozen=True)
class _Delivery:
    """A result for the caller, or (``result`` is None) the end of the poll; ``holds_slot``
    when the result holds a parse slot until the caller has taken it."""

    index: int = -1
    result: FeedResult | None = None
    failure: BaseException | None = None
    holds_slot: bool = False


class _Poll:
    """One poll's event loop, run in its own thread."""

    def __init__(
        self,
        requests: list[FeedRequest],
        settings: FetchSettings,
        deliveries: queue.Queue[_Delivery],
        queries: tuple[str, ...] | None,
    ):
        self._requests = requests
        self._settings = settings
        self._deliveries = deliveries
        self._queries = queries
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._cancelled = threading.Event()

    def run(self) -> None:
        failure: BaseException | None = None
        try:
            asyncio.run(self._main())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # handed to the caller's thread, which re-raises it
            failure = exc
        self._deliveries.put(_Delivery(failure=failure))

    def cancel(self) -> None:
        self._cancelled.set()
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                loop.call_soon_threadsafe(task.cancel)

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
        self._parse_slots = asyncio.Semaphore(max(4, 4 * settings.parse_workers))
        self._clients = _Clients(settings)
        try:
            await asyncio.gather(*(self._poll_one(i, r) for i, r in enumerate(self._requests)))
        finally:
            await self._clients.aclose()

    async def _poll_one(self, index: int, request: FeedRequest) -> None:
        holds_slot = False
        try:
            result, holds_slot = await self._fetch_and_parse(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must cost one feed, not the poll
            _log.exception("feed %s: unexpected error", request.url)
            result = FeedResult(
                request, "error", error=f"internal error: {exc}", error_type=type(exc).__name__
            )
        # Never blocks: the parse slots bound what waits here, apart from small results.
        self._deliveries.put_nowait(_Delivery(index, result, holds_slot=holds_slot))

    async def _fetch_and_parse(self, request: FeedRequest) -> tuple[FeedResult, bool]:
        """The feed's result, and whether it holds a parse slot (until the caller takes it)."""
        host = _host_of(request.url)
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
        try:
            parsed = await parse_document(
                self._settings.parse_workers,
                fetched.body,
                fetched.headers,
                fetched.final_url,
                request.source_name,
                fetched_at,
                self._queries,
            )
        except BaseException:
            self._parse_slots.release()
            raise
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


def _host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or url).lower()
    except ValueError:
        return url


def _larger(a: float | None, b: float | None) -> float | None:
    present = [x for x in (a, b) if x is not None]
    return max(present) if present else None


def _drain(deliveries: queue.Queue[_Delivery], thread: threading.Thread) -> None:
    """Empty the queue until the poll thread has ended, so its pending puts cannot block it."""
    while thread.is_alive() or not deliveries.empty():
        try:
            deliveries.get(timeout=0.1)
        except queue.Empty:
            continue
