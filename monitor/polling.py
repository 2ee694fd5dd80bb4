"""Polling: read one source through the pipeline and record its health on its row."""

from __future__ import annotations

import gc
import hashlib
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from monitor import defaults
from monitor.backoff import backoff_delay
from monitor.batch import IngestReport
from monitor.config import FolderSourceConfig
from monitor.errors import SourceError
from monitor.model import FileVersion, Incoming, Rejection
from monitor.pipeline import Pipeline
from monitor.sources.folder import FolderScan, FolderSource, arrival_order
from monitor.store import repo
from monitor.store.tables import SourceRow
from monitor.stories.prepare import (
    POOL_MIN_ITEMS,
    TASK_ITEMS,
    Ahead,
    PreparedArticle,
    prepare,
    prepare_ahead,
    submit,
)

log = logging.getLogger(__name__)


@dataclass
class PollOutcome:
    """What one poll of one source did; ``error`` is set when the source failed as a whole."""

    source: str
    report: IngestReport = field(default_factory=IngestReport)
    error: str | None = None
    busy: list[str] = field(default_factory=list)


def poll_folder(
    sessions: sessionmaker[Session],
    pipeline: Pipeline,
    source: FolderSource,
    clock: Callable[[], datetime],
) -> PollOutcome:
    """Scan a drop folder and ingest what is new; bad files are recorded, never fatal."""
    config = source.config
    outcome = PollOutcome(config.name)
    with sessions.begin() as session:
        row = repo.ensure_source(
            session, name=config.name, kind="folder", location=config.location, now=clock()
        )
        source_id = row.id

    def already_ingested(hashes: Iterable[str]) -> set[str]:
        with sessions() as session:
            return repo.ingested_content_hashes(session, hashes)

    def handled_versions(paths: list[str]) -> set[tuple[str, int, int]]:
        with sessions() as session:
            return repo.known_file_versions(session, source_id, paths)

    try:
        for scan in source.scan_steps(already_ingested, handled_versions, defaults.FOLDER_FILES_PER_STEP):
            _store_step(sessions, pipeline, source, row, scan, outcome, clock)
    except SourceError as exc:
        outcome.error = str(exc)
        record_health(sessions, source_id, clock(), error=outcome.error, every=config.every)
        log.error("%s", exc, extra={"source": config.name})
        return outcome
    record_health(sessions, source_id, clock(), error=None, every=config.every)
    return outcome


def _store_step(
    sessions: sessionmaker[Session],
    pipeline: Pipeline,
    source: FolderSource,
    row: SourceRow,
    scan: FolderScan,
    outcome: PollOutcome,
    clock: Callable[[], datetime],
) -> None:
    """Store one step of a folder's pass, then mark (and perhaps move) what it handled."""
    record_copies(sessions, row.id, scan.copies, clock())
    outcome.report.add(pipeline.ingest(row, scan.incoming, scan.rejected))
    outcome.report.known += len(scan.copies)
    outcome.busy.extend(scan.busy)
    for path in scan.busy:
        log.info(
            "%s is still being written; it waits for the next pass",
            path,
            extra={"source": source.config.name},
        )
    source.mark_handled(item.file for item in scan.incoming if item.file is not None)
    source.mark_handled(version for version in scan.copies)
    source.mark_handled(r.file for r in scan.rejected if r.file is not None)
    source.move_handled(
        [item.file.path for item in scan.incoming if item.file is not None]
        + [version.path for version in scan.copies],
        [r.origin for r in scan.rejected],
    )


def record_copies(
    sessions: sessionmaker[Session], source_id: int, copies: Sequence[FileVersion], now: datetime
) -> None:
    """Record renamed or re-dropped copies of stored files: never read again, nothing more
    (``stories --json`` lists them with the article they repeat)."""
    if not copies:
        return
    with sessions.begin() as session:
        for version in copies:
            repo.record_file(
                session,
                source_id=source_id,
                path=version.path,
                content_hash=version.content_hash,
                size=version.size,
                mtime_ns=version.mtime_ns,
                status="copy",
                reason=None,
                article_id=None,
                now=now,
            )


def record_health(
    sessions: sessionmaker[Session], source_id: int, now: datetime, *, error: str | None, every: float
) -> None:
    """Record a folder poll's outcome in a transaction of its own (see :func:`apply_health`)."""
    with sessions.begin() as session:
        row = session.get(SourceRow, source_id)
        assert row is not None
        apply_health(row, now, error=error, every=every)


def apply_health(
    row: SourceRow,
    now: datetime,
    *,
    error: str | None,
    every: float,
    retry_after: float | None = None,
    backoff_cap: float = defaults.FEED_BACKOFF_CAP_SECONDS,
    jitter: bool = False,
) -> None:
    """Record a poll's outcome on ``row``: success resets the failure count; failure backs off
    with jitter.

    A source is never disabled: after any number of failures it is still tried again, only
    less often, up to ``backoff_cap`` between attempts.
    """
    row.last_attempt_at = now
    if error is None:
        row.consecutive_failures = 0
        row.last_error = None
        row.last_success_at = now
        interval = max(every, row.min_interval or 0.0)
        if jitter:
            # Keeps many feeds with one interval from firing in lockstep forever.
            interval *= random.uniform(0.9, 1.1)
    else:
        row.consecutive_failures += 1
        row.last_error = error
        delay = backoff_delay(row.consecutive_failures, base=every, cap=backoff_cap, retry_after=retry_after)
        # Full jitter alone may draw a shorter wait after more failures; flooring it at half
        # its range keeps every wait longer than the last (until the cap), still spread out.
        floor = min(backoff_cap, every * 2.0 ** min(row.consecutive_failures - 1, 64))
        interval = max(every, floor, delay)
    row.next_poll_at = now + timedelta(seconds=interval)


def ingest_paths(
    sessions: sessionmaker[Session],
    pipeline: Pipeline,
    source: FolderSource,
    paths: list[Path],
    clock: Callable[[], datetime],
    progress: Callable[[int], None] = lambda _done: None,
) -> PollOutcome:
    """Run the given files (folders expand to their matching files) through the pipeline.

    The files are recorded in the ledger of ``source`` exactly as a drop folder's would be,
    so ingesting a file by hand and later dropping it in a folder does not alert twice.

    Files go in steps, each one pipeline transaction. When there are many, helper processes
    parse and prepare the next steps' new files (see :mod:`monitor.stories.prepare`) while
    this process stores the current step; the first step's files it parses itself, and
    their texts are prepared while it stores them.
    """
    config = source.config
    outcome = PollOutcome(config.name)
    with sessions.begin() as session:
        row = repo.ensure_source(
            session, name=config.name, kind="folder", location=config.location, now=clock()
        )
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob(config.pattern), key=arrival_order) if path.is_dir() else [path])
    queries = pipeline.topic_queries() if len(files) >= POOL_MIN_ITEMS else None
    with _fewer_collections():
        queued: deque[_Step] = deque()
        for start in range(0, len(files), _INGEST_CHUNK):
            queued.append(
                _Step(files[start : start + _INGEST_CHUNK], source, sessions, queries, first=not start)
            )
            if len(queued) > _STEPS_AHEAD:
                _ingest_step(
                    queued.popleft(), queued, pipeline, sessions, source, row, outcome, progress, clock
                )
        while queued:
            _ingest_step(queued.popleft(), queued, pipeline, sessions, source, row, outcome, progress, clock)
    return outcome


_Parsed = tuple[Incoming | Rejection, PreparedArticle | None]


class _Step:
    """One step of files, read and hashed as soon as it is queued.

    With ``queries`` (when there are helper processes to use), the files not stored yet are
    parsed and prepared in the helpers until the step's turn comes, or, for the ``first``
    step, parsed here at once and only prepared in the helpers, which then has work at once.
    """

    def __init__(
        self,
        files: list[Path],
        source: FolderSource,
        sessions: sessionmaker[Session],
        queries: tuple[str, ...] | None,
        *,
        first: bool,
    ) -> None:
        config = self.config = source.config
        self.files = files
        self.taken: dict[int, _Parsed] = {}
        self.rejected: list[Rejection] = []
        self.read: list[tuple[Path, FileVersion, bytes]] = []
        for path in files:
            try:
                stat = path.stat()
                if stat.st_size > config.max_file_size:
                    version = FileVersion(str(path), f"unread:{stat.st_size}", stat.st_size, stat.st_mtime_ns)
                    reason = f"file too large ({stat.st_size:,} bytes; the limit is {config.max_file_size:,})"
                    self.rejected.append(Rejection(str(path), reason, version))
                    continue
                data = path.read_bytes()
            except OSError as exc:
                self.rejected.append(Rejection(str(path), f"cannot read: {exc.strerror}"))
                continue
            version = FileVersion(str(path), hashlib.sha256(data).hexdigest(), len(data), stat.st_mtime_ns)
            self.read.append((path, version, data))
        self.tasks: list[tuple[list[int], Future[list[_Parsed]] | None]] = []
        self.parsed_here: dict[int, Incoming | Rejection] = {}
        self.ahead: Ahead[PreparedArticle] | None = None
        self.ahead_index: dict[int, int] = {}  # position in ``read`` -> index in ``ahead``
        if queries is None:
            return
        # Stored contents stay stored, so what is known now is skipped for good; what
        # becomes known meanwhile (a copy in an earlier step) is prepared in vain.
        with sessions() as session:
            known = repo.ingested_content_hashes(
                session, (version.content_hash for _, version, _ in self.read)
            )
        wanted: list[int] = []
        for position, (_path, version, _data) in enumerate(self.read):
            if version.content_hash not in known:
                known.add(version.content_hash)
                wanted.append(position)
        if first:
            texts: list[tuple[str, str]] = []
            for position in wanted:
                result = self.parsed_here[position] = source.read(*self.read[position])
                if isinstance(result, Incoming):
                    self.ahead_index[position] = len(texts)
                    texts.append((result.article.title, result.article.body))
            self.ahead = prepare_ahead(texts, queries, wait=True)
            return
        for start in range(0, len(wanted), TASK_ITEMS):
            positions = wanted[start : start + TASK_ITEMS]
            batch = [(str(self.read[at][0]), self.read[at][1], self.read[at][2]) for at in positions]
            self.tasks.append((positions, submit(parse_and_prepare, config, batch, queries)))

    def parsed(self, queries: tuple[str, ...], later: Iterable[_Step]) -> dict[int, _Parsed]:
        """What the helpers made of the step's files, by position; a file whose task failed is
        missing, and is parsed where the step is stored.

        No time is spent waiting while there is work to do: tasks no helper has started yet
        are taken back and done here (the last first, as the helpers take the first), then,
        while the helpers finish this step's others, so are ``later`` steps' tasks.
        """
        while self.take_back(queries):
            pass
        parsed: dict[int, _Parsed] = {
            position: (result, None) for position, result in self.parsed_here.items()
        }
        parsed.update(self.taken)
        for positions, task in self.tasks:
            if task is None or task.cancelled():
                continue
            while not task.done() and any(step.take_back(queries) for step in later):
                pass
            try:
                parsed.update(zip(positions, task.result(), strict=True))
            except Exception as exc:  # a helper died: these files are parsed here instead
                log.info("parsing inline: %r", exc)
        return parsed

    def take_back(self, queries: tuple[str, ...]) -> bool:
        """Do here the last task of this step no helper has started; False if there is none."""
        for positions, task in reversed(self.tasks):
            if task is not None and not task.done() and task.cancel():
                files = [(str(self.read[at][0]), self.read[at][1], self.read[at][2]) for at in positions]
                self.taken.update(zip(positions, parse_and_prepare(self.config, files, queries), strict=True))
                return True
        return False


class _StepPreparations:
    """The preparations of a step's stored items, by their position in the pipeline's list."""

    def __init__(
        self,
        ready: list[PreparedArticle | None],
        ahead: Ahead[PreparedArticle] | None,
        indexes: list[int | None],
    ):
        self._ready, self._ahead, self._indexes = ready, ahead, indexes

    def get(self, index: int) -> PreparedArticle | None:
        return self._find(index, wait=True)

    def peek(self, index: int) -> PreparedArticle | None:
        return self._find(index, wait=False)

    def _find(self, index: int, *, wait: bool) -> PreparedArticle | None:
        if self._ready[index] is not None or self._ahead is None:
            return self._ready[index]
        found = self._indexes[index]
        if found is None:
            return None
        return self._ahead.get(found) if wait else self._ahead.peek(found)


def parse_and_prepare(
    config: FolderSourceConfig, files: list[tuple[str, FileVersion, bytes]], queries: tuple[str, ...]
) -> list[_Parsed]:
    """Parse dropped files and prepare the articles' texts: the task a helper process runs."""
    source = FolderSource(config)
    results: list[_Parsed] = []
    for path, version, data in files:
        result = source.read(Path(path), version, data)
        prepared = (
            None
            if isinstance(result, Rejection)
            else prepare(result.article.title, result.article.body, queries)
        )
        results.append((result, prepared))
    return results


def _ingest_step(
    step: _Step,
    later: Iterable[_Step],
    pipeline: Pipeline,
    sessions: sessionmaker[Session],
    source: FolderSource,
    row: SourceRow,
    outcome: PollOutcome,
    progress: Callable[[int], None],
    clock: Callable[[], datetime],
) -> None:
    """Store one step's files; contents stored already (by now) are only counted, and
    recorded as copies."""
    with sessions() as session:
        known = repo.ingested_content_hashes(session, (version.content_hash for _, version, _ in step.read))
    parsed = step.parsed(pipeline.topic_queries(), later)
    incoming: list[Incoming] = []
    ready: list[PreparedArticle | None] = []
    indexes: list[int | None] = []
    rejected = step.rejected
    copies: list[FileVersion] = []
    for position, (path, version, data) in enumerate(step.read):
        if version.content_hash in known:
            outcome.report.known += 1
            copies.append(version)
            continue
        known.add(version.content_hash)
        result, preparation = parsed.get(position) or (source.read(path, version, data), None)
        if isinstance(result, Rejection):
            rejected.append(result)
        else:
            incoming.append(result)
            ready.append(preparation)
            indexes.append(step.ahead_index.get(position))
    prepared = _StepPreparations(ready, step.ahead, indexes) if step.tasks or step.ahead else None
    outcome.report.add(pipeline.ingest(row, incoming, rejected, prepared))
    record_copies(sessions, row.id, copies, clock())
    progress(len(step.files))


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often for the duration of a bulk ingest.

    Each article allocates thousands of short-lived objects, which reference counting frees,
    while the story window holds a large, growing number of long-lived ones. At the default
    thresholds the collector would run hundreds of times per thousand articles and rescan the
    whole window every few hundred: a fifth of the ingest's time, for almost no garbage.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(_BULK_GC_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


#: Files read per step of ``ingest``: one pipeline transaction and one progress tick.
_INGEST_CHUNK = 500
#: Steps read and handed to the helpers before the one being stored.
_STEPS_AHEAD = 2
#: New container objects between collections of the youngest generation during a bulk
#: ingest (the default is 700): a few dozen articles' worth.
_BULK_GC_THRESHOLD = 50_000
