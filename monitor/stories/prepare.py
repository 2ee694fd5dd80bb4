"""Prepare articles' text ahead of storage, in helper processes when there is much of it.

Storing articles is sequential (ids, story assignment, one transaction per batch), but the
text work each new article needs first is not: the story engine's analysis
(:func:`monitor.stories.text.analyse`), the topic matcher's tokens
(:class:`monitor.topics.PreparedText`) and the text's identity hash
(:func:`monitor.store.texts.text_hash`). For a large batch that work runs in a small pool of
helper processes, ahead of the thread that stores, so every core of a small machine works.
A small batch (a daemon's usual poll) is prepared inline and never starts the pool. A
worker starting on a large store has the story window it reads back analysed the same way.

The pool is one per process, started on first use and stopped at exit. It forks when the
process runs a single thread (the helpers then share what is already imported), and starts
its helpers from a fork server otherwise, since forking a threaded process can copy a lock
another thread holds.
"""

from __future__ import annotations

import atexit
import gc
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from multiprocessing.context import BaseContext
from typing import Final, Generic, ParamSpec, Protocol, TypeVar

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

from monitor.store.texts import text_hash
from monitor.stories.text import Analysis, analyse
from monitor.topics import PreparedText, Query

log = logging.getLogger(__name__)

#: Batches smaller than this are prepared inline: starting and feeding a helper costs more.
POOL_MIN_ITEMS: Final = 200
#: Articles per task handed to a helper: enough to amortise the hand-over, few enough that
#: the first results come back soon and fit in one pipe (some 15 KB per 3 KB article).
TASK_ITEMS: Final = 25
#: Texts per step of :func:`analyses_ahead`.
ANALYSIS_STEP: Final = 250
#: At most this many helper processes; one core stays with the storing thread.
MAX_HELPERS: Final = 4
#: The size the pool's pipes are widened to: Linux's default limit for an unprivileged
#: process, and room for a whole task's results, for articles of up to some 8 KB.
PIPE_BYTES: Final = 1 << 20

P = ParamSpec("P")
R = TypeVar("R")
Made = TypeVar("Made")

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_queries: dict[str, Query] = {}


@dataclass(frozen=True, slots=True)
class PreparedArticle:
    """One article's text as the story engine, the topic queries and the store need it."""

    analysis: Analysis
    text: PreparedText
    digest: str  # text_hash(title, body)


class Preparations(Protocol):
    """The preparations of a batch's articles, by position; ``None`` where there is none.

    :meth:`peek` never waits for one still being made; :meth:`get` may.
    """

    def get(self, index: int) -> PreparedArticle | None: ...

    def peek(self, index: int) -> PreparedArticle | None: ...


def prepare(title: str, body: str, queries: Sequence[str] = ()) -> PreparedArticle:
    """Everything one article's text needs before it is stored; the topic ``queries`` (their
    texts) are judged already, so the storing process need not tokenise it again."""
    text = PreparedText.of(title, body)
    if queries:
        text.judge(map(_parsed, queries))
    return PreparedArticle(analyse(title, body), text, text_hash(title, body))


def prepare_all(texts: Sequence[tuple[str, str]], queries: Sequence[str] = ()) -> list[PreparedArticle]:
    """:func:`prepare` for each (title, body): the task a helper process runs."""
    return [prepare(title, body, queries) for title, body in texts]


def analyse_all(texts: Sequence[tuple[str, str]]) -> list[Analysis]:
    """:func:`~monitor.stories.text.analyse` for each (title, body): a helper's task when
    only the story engine needs the texts (the window of stories read back at start)."""
    return [analyse(title, body) for title, body in texts]


class Ready:
    """Preparations made already, one per article (``None`` where there is none)."""

    def __init__(self, prepared: Sequence[PreparedArticle | None]) -> None:
        self._prepared = prepared

    def get(self, index: int) -> PreparedArticle | None:
        return self._prepared[index]

    def peek(self, index: int) -> PreparedArticle | None:
        return self._prepared[index]


class Shifted:
    """The preparations of ``preparations`` from position ``start`` on (one batch of several)."""

    def __init__(self, preparations: Preparations, start: int) -> None:
        self._preparations, self._start = preparations, start

    def get(self, index: int) -> PreparedArticle | None:
        return self._preparations.get(self._start + index)

    def peek(self, index: int) -> PreparedArticle | None:
        return self._preparations.peek(self._start + index)


class Ahead(Generic[Made]):
    """Work on articles' texts (preparations, or analyses alone), running in the helper pool
    while earlier articles are stored.

    :meth:`get` gives ``None`` for an article whose work failed (a helper died), and the
    caller does that one itself. Unless ``wait``, it does not wait for work that is not back
    yet either: it then gives ``None`` too. With ``wait``, a task no helper has started yet
    is taken back and done here, so this process never idles while work is queued for the
    helpers: the task wanted, if no helper has it, else the last one queued (the helpers take
    the first), while a helper finishes the one wanted.
    """

    def __init__(
        self,
        texts: Sequence[tuple[str, str]],
        work: Callable[[list[tuple[str, str]]], list[Made]],
        pool: ProcessPoolExecutor,
        *,
        wait: bool,
    ) -> None:
        self._wait = wait
        self._work = work
        self._texts = [list(texts[start : start + TASK_ITEMS]) for start in range(0, len(texts), TASK_ITEMS)]
        self._tasks: list[Future[list[Made]]] = [pool.submit(work, batch) for batch in self._texts]
        self._taken_back: dict[int, list[Made]] = {}

    def get(self, index: int) -> Made | None:
        return self._result(index, self._wait)

    def peek(self, index: int) -> Made | None:
        return self._result(index, False)

    def _result(self, index: int, wait: bool) -> Made | None:
        number = index // TASK_ITEMS
        taken = self._taken_back.get(number)
        if taken is not None:
            return taken[index % TASK_ITEMS]
        task = self._tasks[number]
        if not task.done():
            if not wait:
                return None
            if task.cancel():
                taken = self._taken_back[number] = self._work(self._texts[number])
                return taken[index % TASK_ITEMS]
            while not task.done() and self._take_back_last(after=number):
                pass
        try:
            return task.result()[index % TASK_ITEMS]
        except Exception:  # a helper died or the task was dropped: the caller does it
            return None

    def _take_back_last(self, after: int) -> bool:
        """Do here the last task after ``after`` that no helper has started; False if none."""
        for number in range(len(self._tasks) - 1, after, -1):
            if number not in self._taken_back and self._tasks[number].cancel():
                self._taken_back[number] = self._work(self._texts[number])
                return True
        return False

    def cancel(self) -> None:
        """Drop the work not started yet (the batch ended early)."""
        for task in self._tasks:
            task.cancel()


def prepare_ahead(
    texts: Sequence[tuple[str, str]], queries: Sequence[str] = (), *, wait: bool = False
) -> Ahead[PreparedArticle] | None:
    """Start preparing a large batch's (title, body) texts in the helper pool; ``None`` for a
    small batch, or where there is no core to spare, or the pool cannot take work."""
    return _ahead(texts, partial(prepare_all, queries=tuple(queries)), wait=wait)


def analyses_ahead(texts: Sequence[tuple[str, str]]) -> Iterator[Analysis | None]:
    """The analyses of many (title, body) texts for the story engine alone, in order, made in
    the helper pool a step of :data:`ANALYSIS_STEP` texts ahead of the caller; ``None`` where
    the caller must analyse a text itself (a small remainder, or a helper failed). At most
    two steps' analyses are held at once, so memory does not grow with the number of texts.
    Helpers started for this alone are stopped again at the end: a worker that reads its
    window back once should not keep an idle process for it. A threaded process (the daemon)
    starts none for it, since its helpers would come from a fork server that stays for the
    process's life (some 45 MB): one quicker start is not worth that."""
    with _lock:
        idle = _pool is None
    if idle and _needs_fork_server():
        yield from repeat(None, len(texts))
        return
    started_here = idle and len(texts) >= POOL_MIN_ITEMS
    current = _ahead(texts[:ANALYSIS_STEP], analyse_all, wait=True)
    following: Ahead[Analysis] | None = None
    try:
        for start in range(0, len(texts), ANALYSIS_STEP):
            after = start + ANALYSIS_STEP
            following = _ahead(texts[after : after + ANALYSIS_STEP], analyse_all, wait=True)
            for index in range(min(ANALYSIS_STEP, len(texts) - start)):
                yield current.get(index) if current is not None else None
            current = following
    finally:  # also when the caller stopped early: drop what no helper has started
        for ahead in (current, following):
            if ahead is not None:
                ahead.cancel()
        if started_here:
            shutdown_helpers()


def _ahead(
    texts: Sequence[tuple[str, str]], work: Callable[[list[tuple[str, str]]], list[Made]], *, wait: bool
) -> Ahead[Made] | None:
    if len(texts) < POOL_MIN_ITEMS:
        return None
    pool = _helper_pool()
    if pool is None:
        return None
    try:
        return Ahead(texts, work, pool, wait=wait)
    except RuntimeError as exc:  # the pool broke or shut down meanwhile; it is replaced next time
        log.info("working inline: %s", exc)
        _discard(pool)
        return None


def submit(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> Future[R] | None:
    """Run ``function`` (a module-level one: it is pickled by name) in the helper pool;
    ``None`` where there is no core to spare or the pool cannot take work."""
    pool = _helper_pool()
    if pool is None:
        return None
    try:
        return pool.submit(function, *args, **kwargs)
    except RuntimeError as exc:
        log.info("working inline: %s", exc)
        _discard(pool)
        return None


def _parsed(query: str) -> Query:
    # A helper parses each topic query once; the texts are the configured (valid) ones.
    found = _queries.get(query)
    if found is None:
        found = _queries[query] = Query.parse(query)
    return found


def shutdown_helpers() -> None:
    """Stop the helper processes (the next large batch starts new ones)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _helper_pool() -> ProcessPoolExecutor | None:
    global _pool
    with _lock:
        if _pool is not None:
            return _pool
        helpers = min(MAX_HELPERS, (os.cpu_count() or 1) - 1)
        if helpers < 1:
            return None
        context: BaseContext
        if _needs_fork_server():
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
        else:
            context = multiprocessing.get_context("fork")
        try:
            _pool = ProcessPoolExecutor(max_workers=helpers, mp_context=context, initializer=_helper_started)
        except OSError as exc:
            log.warning("cannot start helper processes, preparing inline: %s", exc)
            return None
        _widen_pipes(_pool)
        return _pool


def _needs_fork_server() -> bool:
    """Whether helpers must start from a fork server: forking a process that runs other
    threads can copy a lock one of them holds."""
    return threading.active_count() > 1


def _widen_pipes(pool: ProcessPoolExecutor) -> None:
    """Let a helper write a task's results, and this process a task, without waiting.

    Through a default 64 KB pipe a task's results arrive in several reads by the pool's
    result thread, and each read must win this process's GIL back from the storing thread,
    which can take a switch interval (5 ms): helpers sat blocked in their writes for a fifth
    of a bulk ingest, and the storing thread then prepared their work itself. Linux only;
    elsewhere, or where the kernel refuses, the pipes keep their size.
    """
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)  # None without fcntl, too
    if set_size is None:
        return
    try:
        # Private attributes: the executor offers no other way to its pipes.
        connections = (pool._result_queue._reader, pool._call_queue._writer)  # type: ignore[attr-defined]
        for connection in connections:
            fcntl.fcntl(connection.fileno(), set_size, PIPE_BYTES)
    except (AttributeError, OSError) as exc:
        log.debug("helper pipes keep their size: %s", exc)


def _helper_started() -> None:
    # What a forked helper inherited lives as long as it does: keeping the collector off it
    # saves the scans and keeps the pages it shares with its parent from being copied.
    gc.freeze()


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


atexit.register(shutdown_helpers)
