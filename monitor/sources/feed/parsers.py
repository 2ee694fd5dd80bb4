"""The pool of processes that parse fetched feeds, shared by every poll of this process.

Parsing is CPU-bound (feedparser, HTML to text), so it runs in separate processes and uses
every core while the event loop keeps fetching. The processes are started from a fork server
that has already imported the parser, never forked from the (threaded) worker itself. The pool
lives until :func:`shutdown_parsers` or interpreter exit; a pool whose process died is replaced.
After :data:`TASKS_PER_PROCESS` documents per process the whole pool is replaced by a fresh one
(the old one finishes what it has), so what a long-lived parser accumulates (caches, a
fragmented heap) cannot grow without bound. The executor's own ``max_tasks_per_child`` is not
used: on Python 3.11 a pool using it can end with no process left and wait forever.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Final

from .parse import ParsedFeed, ParseFailure, parse_in_worker

#: Documents a parser process reads before a fresh process takes its place.
TASKS_PER_PROCESS: Final = 500

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_pool_documents = 0  # documents handed to the current pool


async def parse_document(
    workers: int,
    body: bytes,
    headers: dict[str, str],
    url: str,
    source_name: str,
    fetched_at: datetime,
    queries: Sequence[str] | None = None,
) -> ParsedFeed | ParseFailure:
    """Parse in the shared pool of ``workers`` processes, or in a thread when ``workers`` is 0;
    with ``queries``, the articles' texts are prepared too (see :func:`parse_in_worker`)."""
    args = (body, headers, url, source_name, fetched_at, queries)
    if workers == 0:
        return await asyncio.to_thread(parse_in_worker, *args)
    loop = asyncio.get_running_loop()
    for attempt in range(2):
        pool = _get_pool(workers)
        try:
            return await loop.run_in_executor(pool, parse_in_worker, *args)
        except BrokenProcessPool:
            _discard(pool)
            if attempt:
                break
    return ParseFailure("the parser process died while reading this document", "ParserCrashed")


def shutdown_parsers() -> None:
    """Stop the parser processes (the next poll starts new ones)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _get_pool(workers: int) -> ProcessPoolExecutor:
    """The pool for the next document, replaced when its size changes or it has read its share."""
    global _pool, _pool_size, _pool_documents
    with _lock:
        _pool_documents += 1
        if _pool is not None and _pool_size == workers and _pool_documents <= TASKS_PER_PROCESS * workers:
            return _pool
        old, _pool_size, _pool_documents = _pool, workers, 1
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([parse_in_worker.__module__])
        _pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        pool = _pool
    if old is not None:
        old.shutdown(wait=False)
    return pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False)
