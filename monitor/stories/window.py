"""The story window's clock: how far the stream of articles has got in publication time.

The window is measured in publication time, not wall time, so a backfill of last year's
articles groups as it did then, and only stories older than the window before the newest
report are forgotten. An estimated time (a file's modification time) says nothing about
where the stream is, and a time in the future is taken as now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime


class StreamClock:
    """The newest real publication time seen, never past now; ``None`` until one is seen."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self.time: datetime | None = None

    def observe(self, published: datetime, estimated: bool) -> None:
        if estimated:
            return
        moment = min(published, self._now())
        if self.time is None or moment > self.time:
            self.time = moment
