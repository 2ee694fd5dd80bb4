"""Polling: read one source through the pipeline and record its health on its row."""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from monitor.backoff import backoff_delay
from monitor.errors import SourceError
from monitor.model import FileVersion, Incoming, Rejection
from monitor.pipeline import IngestReport, Pipeline
from monitor.sources.folder import FolderSource
from monitor.store import repo
from monitor.store.tables import SourceRow

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
        if not source.primed:
            source.remember(repo.known_file_versions(session, source_id))
    try:
        with sessions() as session:
            scan = source.scan(lambda hashes: repo.ingested_content_hashes(session, hashes))
    except SourceError as exc:
        outcome.error = str(exc)
        record_health(sessions, source_id, clock(), error=outcome.error, every=config.every)
        log.error("%s", exc, extra={"source": config.name})
        return outcome
    with sessions.begin() as session:
        for version in scan.copies:
            # A renamed or re-dropped copy: remember it so it is not read again, nothing more.
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
                now=clock(),
            )
    outcome.report = pipeline.ingest(row, scan.incoming, scan.rejected)
    outcome.report.known += len(scan.copies)
    outcome.busy = scan.busy
    for path in scan.busy:
        log.info("%s is still being written; it waits for the next pass", path, extra={"source": config.name})
    source.mark_handled(item.file for item in scan.incoming if item.file is not None)
    source.mark_handled(version for version in scan.copies)
    source.mark_handled(r.file for r in scan.rejected if r.file is not None)
    source.move_handled(
        [item.file.path for item in scan.incoming if item.file is not None]
        + [version.path for version in scan.copies],
        [r.origin for r in scan.rejected],
    )
    record_health(sessions, source_id, clock(), error=None, every=config.every)
    return outcome


def record_health(
    sessions: sessionmaker[Session],
    source_id: int,
    now: datetime,
    *,
    error: str | None,
    every: float,
    retry_after: float | None = None,
    backoff_cap: float = 6 * 3600,
    jitter: bool = False,
) -> None:
    """Record a poll's outcome in a transaction of its own (see :func:`apply_health`)."""
    with sessions.begin() as session:
        row = session.get(SourceRow, source_id)
        assert row is not None
        apply_health(
            row,
            now,
            error=error,
            every=every,
            retry_after=retry_after,
            backoff_cap=backoff_cap,
            jitter=jitter,
        )


def apply_health(
    row: SourceRow,
    now: datetime,
    *,
    error: str | None,
    every: float,
    retry_after: float | None = None,
    backoff_cap: float = 6 * 3600,
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
    """
    config = source.config
    outcome = PollOutcome(config.name)
    with sessions.begin() as session:
        row = repo.ensure_source(session, name=config.name, kind="folder", location=config.location, now=clock())
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob(config.pattern)) if path.is_dir() else [path])
    for start in range(0, len(files), _INGEST_CHUNK):
        chunk = files[start : start + _INGEST_CHUNK]
        incoming: list[Incoming] = []
        rejected: list[Rejection] = []
        read: list[tuple[Path, FileVersion, bytes]] = []
        for path in chunk:
            try:
                stat = path.stat()
                if stat.st_size > config.max_file_size:
                    version = FileVersion(str(path), f"unread:{stat.st_size}", stat.st_size, stat.st_mtime_ns)
                    reason = f"file too large ({stat.st_size:,} bytes; the limit is {config.max_file_size:,})"
                    rejected.append(Rejection(str(path), reason, version))
                    continue
                data = path.read_bytes()
            except OSError as exc:
                rejected.append(Rejection(str(path), f"cannot read: {exc.strerror}"))
                continue
            version = FileVersion(str(path), hashlib.sha256(data).hexdigest(), len(data), stat.st_mtime_ns)
            read.append((path, version, data))
        with sessions() as session:
            known = repo.ingested_content_hashes(session, (version.content_hash for _, version, _ in read))
        for path, version, data in read:
            if version.content_hash in known:
                outcome.report.known += 1
                continue
            known.add(version.content_hash)
            result = source.read(path, version, data)
            if isinstance(result, Rejection):
                rejected.append(result)
            else:
                incoming.append(result)
        outcome.report.add(pipeline.ingest(row, incoming, rejected))
        progress(len(chunk))
    return outcome


#: Files read per step of ``ingest``: one pipeline transaction and one progress tick.
_INGEST_CHUNK = 500
