"""Per-destination pacing, on an injected clock so every figure is exact."""

from __future__ import annotations

import threading
import time

import pytest

from monitor.notify.pacing import Pacer


class FakeClock:
    """A clock that only moves when something sleeps on it (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_first_post_goes_at_once_and_the_next_waits_one_interval(clock: FakeClock) -> None:
    pacer = Pacer(1.0, clock=clock, sleep=clock.sleep)
    assert pacer.wait("#a") == 0
    assert pacer.wait("#a") == pytest.approx(1.0)
    assert pacer.wait("#a") == pytest.approx(1.0)
    assert clock.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]


def test_channels_do_not_wait_for_each_other(clock: FakeClock) -> None:
    pacer = Pacer(1.0, clock=clock, sleep=clock.sleep)
    assert pacer.reserve("#a") == 0
    assert pacer.reserve("#b") == 0
    assert pacer.reserve("#c") == 0
    assert pacer.reserve("#a") == pytest.approx(1.0)


def test_time_already_passed_counts(clock: FakeClock) -> None:
    pacer = Pacer(1.0, clock=clock, sleep=clock.sleep)
    pacer.wait("#a")
    clock.now += 0.4
    assert pacer.delay("#a") == pytest.approx(0.6)
    assert pacer.wait("#a") == pytest.approx(0.6)
    clock.now += 5
    assert pacer.wait("#a") == 0


def test_ready_at_peeks_without_reserving(clock: FakeClock) -> None:
    pacer = Pacer(2.0, clock=clock, sleep=clock.sleep)
    assert pacer.ready_at("#a") == clock.now
    pacer.reserve("#a")
    assert pacer.ready_at("#a") == pytest.approx(1002.0)
    assert pacer.ready_at("#a") == pytest.approx(1002.0)
    assert pacer.ready_at("#b") == clock.now


def test_push_back_holds_a_key_for_retry_after(clock: FakeClock) -> None:
    pacer = Pacer(1.0, clock=clock, sleep=clock.sleep)
    pacer.push_back("#a", 30)
    assert pacer.delay("#a") == pytest.approx(30)
    # A shorter push never shortens a longer hold.
    pacer.push_back("#a", 5)
    assert pacer.delay("#a") == pytest.approx(30)
    assert pacer.delay("#b") == 0


def test_concurrent_reservations_get_distinct_slots(clock: FakeClock) -> None:
    pacer = Pacer(1.0, clock=clock, sleep=clock.sleep)
    waits: list[float] = []
    lock = threading.Lock()

    def reserve() -> None:
        delay = pacer.reserve("#a")
        with lock:
            waits.append(delay)

    threads = [threading.Thread(target=reserve) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == [pytest.approx(float(i)) for i in range(20)]


def test_a_waiting_channel_does_not_block_another_in_real_time() -> None:
    pacer = Pacer(0.3)
    pacer.wait("#slow")
    blocker = threading.Thread(target=pacer.wait, args=("#slow",))
    blocker.start()
    started = time.monotonic()
    pacer.wait("#other")
    elapsed = time.monotonic() - started
    blocker.join()
    assert elapsed < 0.1


def test_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        Pacer(-1)
