"""How long to wait before retrying something that keeps failing (a source, an alert).

The delay grows exponentially with consecutive failures, with jitter so that feeds that
failed together (one host down) do not retry in lock-step, and is capped: a failing feed
keeps being tried, rarely, and is never disabled. A server's Retry-After wins when larger.
"""

from __future__ import annotations

import random
from typing import Literal

from monitor import defaults

#: A server's Retry-After is honoured up to this; a longer one is a misconfiguration that
#: would amount to disabling the feed.
RETRY_AFTER_LIMIT = 7 * 24 * 3600.0


def backoff_delay(
    consecutive_failures: int,
    *,
    base: float,
    cap: float = defaults.FEED_BACKOFF_CAP_SECONDS,
    retry_after: float | None = None,
    rng: random.Random | None = None,
    jitter: Literal["full", "decorrelated"] = "full",
    previous: float | None = None,
) -> float:
    """Seconds to wait after ``consecutive_failures`` failures in a row (0 failures: 0 s).

    ``base`` is the feed's normal interval. ``full`` jitter draws uniformly from
    ``[0, min(cap, base * 2**n)]`` (so on average ``base`` after the first failure; a caller that
    wants the normal interval as a floor takes ``max(interval, delay)``). ``decorrelated``
    jitter draws from ``[base, 3 * previous]``, capped, where ``previous`` is the last delay
    returned (when not given, the un-jittered exponential delay of the previous failure), which
    spreads retries while still growing. A ``retry_after`` from the server is honoured when it
    is larger than the drawn delay, even beyond ``cap`` (the server asked for it), up to
    :data:`RETRY_AFTER_LIMIT`.
    """
    if consecutive_failures < 0:
        raise ValueError(f"consecutive_failures must not be negative, got {consecutive_failures}")
    if base <= 0 or cap <= 0:
        raise ValueError(f"base and cap must be positive, got base={base}, cap={cap}")
    honoured = min(max(0.0, retry_after), RETRY_AFTER_LIMIT) if retry_after is not None else 0.0
    if consecutive_failures == 0:
        return honoured
    rng = rng or random.Random()
    if jitter == "full":
        ceiling = min(cap, base * 2.0 ** min(consecutive_failures, 64))
        delay = rng.uniform(0.0, ceiling)
    elif jitter == "decorrelated":
        start = min(base, cap)
        if previous is None:
            previous = base * 2.0 ** min(consecutive_failures - 1, 64) if consecutive_failures > 1 else start
        delay = min(cap, rng.uniform(start, max(start, 3.0 * previous)))
    else:
        raise ValueError(f"unknown jitter {jitter!r}; use 'full' or 'decorrelated'")
    return max(delay, honoured)
