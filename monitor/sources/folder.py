"""The drop-folder source: turns new files in a folder into articles, each exactly once.

Files are read in :func:`arrival_order`: the seeds format's numeric prefix orders them, so
``999_…`` comes before ``1000_…`` however many digits the prefix has. A file's identity is
the SHA-256 of its bytes, so a renamed or re-dropped copy does nothing. A file whose size
or mtime changes while it is read, or (if modified in the last moment) during a short pause
after, is still being written and waits for the next pass. Bad files become
:class:`~monitor.model.Rejection` s with a reason; the scan itself only fails when the
folder cannot be read at all.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from monitor.config import FolderSourceConfig
from monitor.errors import ArticleRejected, SourceError
from monitor.model import FileVersion, Incoming, RawArticle, Rejection
from monitor.sources.seedfile import parse_seed

PROCESSED_DIR = "processed"
FAILED_DIR = "failed"

#: A file modified less than this long ago is looked at again after this pause: a writer
#: appending every few milliseconds is rarely caught in the microseconds one read takes.
SETTLE_SECONDS = 0.2

_DIGIT_RUNS = re.compile(r"(\d+)")


def arrival_order(path: Path) -> tuple[str | int, ...]:
    """Sort key for a folder's files: by name, with each run of digits compared as a number
    ("natural" order), so ``9_…`` precedes ``10_…`` and a zero-padded prefix sorts as before."""
    parts = _DIGIT_RUNS.split(path.name)
    # Text and numbers alternate (text first), so two keys compare like with like.
    return tuple(int(part) if index % 2 else part for index, part in enumerate(parts))


@dataclass
class FolderScan:
    """One step of a pass over a folder: new articles, rejected files, copies of stored files,
    and files still being written."""

    incoming: list[Incoming] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    copies: list[FileVersion] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)


class FolderSource:
    """Scans one drop folder; remembers the file versions it has handled."""

    def __init__(self, config: FolderSourceConfig) -> None:
        self.config = config
        self.folder = Path(config.folder)
        # Path -> the (size, mtime_ns) versions of it already handled, for the files the folder
        # held at the last pass only: the ledger of a folder's whole history stays in the database.
        self._handled: dict[str, set[tuple[int, int]]] = {}

    def scan_steps(
        self,
        already_ingested: Callable[[Iterable[str]], set[str]],
        handled_versions: Callable[[list[str]], Iterable[tuple[str, int, int]]],
        files_per_step: int,
    ) -> Iterator[FolderScan]:
        """Read the new files in arrival order, yielding a scan for each step of at most
        ``files_per_step`` files read.

        ``handled_versions`` answers, from the ledger, which (path, size, mtime_ns) versions of
        some paths were handled already: it is asked once for each file the first time a pass
        finds it. ``already_ingested`` answers which content hashes are stored, and is asked
        again for each step, after the caller stored the one before.
        """
        if not self.folder.is_dir():
            raise SourceError(f"folder {self.folder} does not exist or is not a folder")
        paths = sorted(self.folder.glob(self.config.pattern), key=arrival_order)
        self._recall([str(path) for path in paths], handled_versions)
        handled = self._handled
        step = FolderScan()
        candidates: list[tuple[Path, FileVersion, bytes]] = []
        stepped = False  # whether a full step was yielded: an idle pass still yields one
        for path in paths:
            key = str(path)
            try:
                before = path.stat()
            except FileNotFoundError:
                continue
            if not path.is_file() or (before.st_size, before.st_mtime_ns) in handled[key]:
                continue
            if before.st_size > self.config.max_file_size:
                version = FileVersion(key, f"unread:{before.st_size}", before.st_size, before.st_mtime_ns)
                reason = (
                    f"file too large ({before.st_size:,} bytes; the limit is {self.config.max_file_size:,})"
                )
                step.rejected.append(Rejection(key, reason, version))
                continue
            try:
                data = path.read_bytes()
                after = path.stat()
            except OSError as exc:
                step.rejected.append(Rejection(key, f"cannot read: {exc.strerror}"))
                continue
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or len(
                data
            ) != after.st_size:
                step.busy.append(key)
                continue
            version = FileVersion(key, hashlib.sha256(data).hexdigest(), after.st_size, after.st_mtime_ns)
            candidates.append((path, version, data))
            if len(candidates) >= files_per_step:
                yield self._read_step(step, candidates, already_ingested)
                step, candidates, stepped = FolderScan(), [], True
        if candidates or step.rejected or step.busy or not stepped:
            yield self._read_step(step, candidates, already_ingested)

    def _read_step(
        self,
        step: FolderScan,
        candidates: list[tuple[Path, FileVersion, bytes]],
        already_ingested: Callable[[Iterable[str]], set[str]],
    ) -> FolderScan:
        """Turn one step's settled, unknown files into articles (or rejections)."""
        candidates = self._settled(candidates, step.busy)
        known = already_ingested(version.content_hash for _, version, _ in candidates)
        for path, version, data in candidates:
            if version.content_hash in known:
                step.copies.append(version)
                continue
            known.add(version.content_hash)
            outcome = self.read(path, version, data)
            if isinstance(outcome, Rejection):
                step.rejected.append(outcome)
            else:
                step.incoming.append(outcome)
        return step

    @staticmethod
    def _settled(
        candidates: list[tuple[Path, FileVersion, bytes]], busy: list[str]
    ) -> list[tuple[Path, FileVersion, bytes]]:
        """Drop (into ``busy``) recently modified files that change during one short pause."""
        recent_after = time.time_ns() - int(SETTLE_SECONDS * 1e9)
        if all(version.mtime_ns < recent_after for _, version, _ in candidates):
            return candidates
        time.sleep(SETTLE_SECONDS)
        settled = []
        for path, version, data in candidates:
            try:
                now = path.stat()
            except OSError:
                continue
            if (now.st_size, now.st_mtime_ns) != (version.size, version.mtime_ns):
                busy.append(version.path)
            else:
                settled.append((path, version, data))
        return settled

    def read(self, path: Path, version: FileVersion, data: bytes) -> Incoming | Rejection:
        """Parse one file's bytes into an article, or say why it cannot be one."""
        try:
            return Incoming(self._article(path, version, data), version)
        except ArticleRejected as exc:
            return Rejection(version.path, str(exc), version)

    def mark_handled(self, versions: Iterable[FileVersion]) -> None:
        for version in versions:
            self._handled.setdefault(version.path, set()).add((version.size, version.mtime_ns))

    def _recall(
        self, listed: list[str], handled_versions: Callable[[list[str]], Iterable[tuple[str, int, int]]]
    ) -> None:
        """Forget files no longer in the folder (moved, deleted); look the new ones up in the ledger."""
        present = set(listed)
        for gone in [path for path in self._handled if path not in present]:
            del self._handled[gone]
        new = [path for path in listed if path not in self._handled]
        for path in new:
            self._handled[path] = set()
        if new:
            for path, size, mtime_ns in handled_versions(new):
                self._handled[path].add((size, mtime_ns))

    def _article(self, path: Path, version: FileVersion, data: bytes) -> RawArticle:
        seed = parse_seed(data, mtime=datetime.fromtimestamp(version.mtime_ns / 1e9, UTC))
        return RawArticle(
            source_name=self.config.name,
            origin=version.path,
            external_id=version.content_hash,
            title=seed.title,
            body=seed.body,
            published=seed.published,
            published_estimated=seed.published_estimated,
            related_headlines=seed.related_headlines,
            encoding=seed.encoding,
            notes=seed.notes,
        )

    def move_handled(self, ingested: Iterable[str], failed: Iterable[str]) -> None:
        """With ``move_files``, file handled paths under ``processed/`` and ``failed/``."""
        if not self.config.move_files:
            return
        for paths, subfolder in ((ingested, PROCESSED_DIR), (failed, FAILED_DIR)):
            target = self.folder / subfolder
            for name in paths:
                source = Path(name)
                if source.exists():
                    target.mkdir(exist_ok=True)
                    shutil.move(os.fspath(source), os.fspath(target / source.name))
