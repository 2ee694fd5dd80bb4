"""Per-destination pacing: at most one post per interval to each channel, channels in parallel.

Slack throttles ``chat.postMessage`` to about one message per second per channel. A
:class:`Pacer` hands out time slots per key (a channel, a webhook URL): a caller either
sleeps for its slot (:meth:`Pacer.wait`) or asks when a key is free (:meth:`Pacer.ready_at`)
and does other work meanwhile. Keys never wait for each other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pacer:
    """Thread-safe slot reservation per key, with an injectable clock and sleep for tests."""

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if interval < 0:
            raise ValueError(f"pacing interval must not be negative, got {interval}")
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_free: dict[str, float] = {}

    def ready_at(self, key: str) -> float:
        """The clock reading from which ``key`` may post again (now or earlier when idle)."""
        with self._lock:
            return self._next_free.get(key, self._clock())

    def delay(self, key: str) -> float:
        """Seconds until ``key`` may post again, without reserving anything."""
        return max(0.0, self.ready_at(key) - self._clock())

    def reserve(self, key: str) -> float:
        """Take the next slot of ``key`` and return how long to wait for it (0 when free now)."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_free.get(key, now))
            self._next_free[key] = slot + self.interval
            return slot - now

    def wait(self, key: str) -> float:
        """Reserve the next slot of ``key`` and sleep until it; return the time slept.

        The sleep happens outside the lock, so other keys are served meanwhile, and two
        threads on the same key get consecutive slots instead of posting together.
        """
        pause = self.reserve(key)
        if pause > 0:
            self._sleep(pause)
        return pause

    def push_back(self, key: str, seconds: float) -> None:
        """Keep ``key`` quiet for ``seconds`` from now (the server asked, e.g. with Retry-After)."""
        with self._lock:
            until = self._clock() + seconds
            self._next_free[key] = max(until, self._next_free.get(key, until))
