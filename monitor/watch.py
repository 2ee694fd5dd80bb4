"""Filesystem events for drop folders: a new or changed file wakes its folder's job at once.

The scheduled scan stays the fallback, for network filesystems that send no events and
for events missed while the worker was busy or down; watching only makes it immediate.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

log = logging.getLogger(__name__)


class _Wake(FileSystemEventHandler):
    def __init__(self, pattern: str, wake: Callable[[], None]) -> None:
        self.pattern = pattern
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in ("created", "modified", "moved", "closed"):
            return
        path = getattr(event, "dest_path", "") or event.src_path
        if fnmatch.fnmatch(Path(str(path)).name, self.pattern):
            self.wake()


class FolderWatcher:
    """Watches folders (not their subfolders) and calls each folder's ``wake`` on changes."""

    def __init__(self) -> None:
        self._observer: BaseObserver | None = None

    def watch(self, folder: Path, pattern: str, wake: Callable[[], None]) -> bool:
        """Start watching ``folder``; False (and a log line) when it cannot be watched."""
        if self._observer is None:
            self._observer = Observer()
            self._observer.daemon = True
            self._observer.start()
        try:
            self._observer.schedule(_Wake(pattern, wake), str(folder), recursive=False)
        except OSError as exc:
            log.warning("cannot watch %s (%s); scanning on schedule only", folder, exc)
            return False
        return True

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
