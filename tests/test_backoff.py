"""Health helpers for feeds: backoff delays and the HTTP headers that steer polling."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from monitor import defaults
from monitor.backoff import RETRY_AFTER_LIMIT
from monitor.sources.feed import backoff_delay
from monitor.sources.feed.httpheaders import parse_max_age, parse_retry_after

BASE = 300.0


def draws(failures: int, jitter: str = "full", n: int = 2000, **kwargs: float) -> list[float]:
    rng = random.Random(42)
    return [backoff_delay(failures, base=BASE, rng=rng, jitter=jitter, **kwargs) for _ in range(n)]  # type: ignore[arg-type]


def test_no_failures_no_delay() -> None:
    assert backoff_delay(0, base=BASE) == 0.0


def test_full_jitter_grows_exponentially_within_its_ceiling() -> None:
    for failures in (1, 2, 3, 4):
        ceiling = BASE * 2**failures
        sample = draws(failures)
        assert all(0 <= d <= ceiling for d in sample)
        mean = sum(sample) / len(sample)
        assert ceiling * 0.45 < mean < ceiling * 0.55


def test_full_jitter_is_capped_at_six_hours_by_default() -> None:
    assert defaults.FEED_BACKOFF_CAP_SECONDS == 6 * 3600
    sample = draws(50)
    assert max(sample) <= 6 * 3600
    assert max(sample) > 5 * 3600, "a long failure streak really reaches the cap"
    assert all(d <= 600 for d in draws(30, cap=600))


def test_decorrelated_jitter_stays_between_base_and_cap_and_grows() -> None:
    for failures in (1, 3, 6, 40):
        assert all(BASE <= d <= 6 * 3600 for d in draws(failures, "decorrelated"))
    early = sum(draws(1, "decorrelated")) / 2000
    late = sum(draws(6, "decorrelated")) / 2000
    assert late > 4 * early


def test_decorrelated_jitter_from_the_previous_delay() -> None:
    rng = random.Random(1)
    delay = BASE
    for _ in range(30):
        delay = backoff_delay(5, base=BASE, jitter="decorrelated", previous=delay, rng=rng)
        assert BASE <= delay <= 6 * 3600


def test_jitter_spreads_feeds_that_failed_together() -> None:
    assert len({round(d) for d in draws(3, n=50)}) > 40


def test_retry_after_wins_when_larger() -> None:
    assert backoff_delay(1, base=10, retry_after=7200, rng=random.Random(0)) == 7200
    assert backoff_delay(0, base=10, retry_after=30) == 30
    # beyond the cap too: the server asked for it
    assert backoff_delay(1, base=10, cap=60, retry_after=600) == 600
    # a smaller Retry-After does not shorten the backoff
    assert backoff_delay(5, base=BASE, retry_after=1, rng=random.Random(3)) > 1
    # an absurd one is limited so that the feed is not as good as disabled
    assert backoff_delay(1, base=10, retry_after=10 * 365 * 86400) == RETRY_AFTER_LIMIT


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"consecutive_failures": -1, "base": 1.0}, "must not be negative"),
        ({"consecutive_failures": 1, "base": 0.0}, "must be positive"),
        ({"consecutive_failures": 1, "base": 1.0, "cap": -5.0}, "must be positive"),
        ({"consecutive_failures": 1, "base": 1.0, "jitter": "none"}, "unknown jitter"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        backoff_delay(**kwargs)  # type: ignore[arg-type]


NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Tue, 10 Mar 2026 12:05:00 GMT", 300.0),
        ("Tue, 10 Mar 2026 11:00:00 GMT", 0.0),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=600", 600.0),
        ("public, max-age=60, must-revalidate", 60.0),
        ('max-age="30"', 30.0),
        ("s-maxage=100", None),
        ("max-age=0", None),
        ("no-store", None),
        ("no-cache", None),
        (None, None),
    ],
)
def test_parse_max_age(value: str | None, expected: float | None) -> None:
    assert parse_max_age(value) == expected
