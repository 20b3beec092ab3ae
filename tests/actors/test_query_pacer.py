"""``actors.query_pacer``: the window admits at its exact boundary on a clock that only
sleeps move, and threads sharing one pacer never take the same slot."""

from __future__ import annotations

import threading

import pytest

from actors.broker import RateLimitedError
from actors.query_pacer import QueryPacer

pytestmark = pytest.mark.timeout(30)


class SleepMovesTime:
    """An injected monotonic clock in float seconds that only a sleep moves, as the broker
    suites' clocks are. A sleep that would not move it is the spin the pacer must not do."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            raise AssertionError(f"a pause of {seconds!r} s never moves this clock: a spin")
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds


def pacer(clock: SleepMovesTime, **kwargs: object) -> QueryPacer:
    return QueryPacer(monotonic=clock.monotonic, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


def test_a_full_window_frees_its_slot_after_one_wait_where_float_seconds_read_it_still_full() -> (
    None
):
    # In float seconds the slot frees at 0.0 + 5.0 + 0.05 == 5.05, and 5.05 - 5.0 - 0.05 < 0:
    # after sleeping exactly to 5.05 the window still read full and the next wait was 0.0 s.
    clock = SleepMovesTime()
    paced = pacer(clock, calls=1, period_s=5.0, margin_s=0.05)
    assert paced.call(lambda: "first") == "first"
    assert paced.call(lambda: "second") == "second"
    assert clock.slept == [5.05]
    assert (paced.stats().calls, paced.stats().waits, paced.stats().waited_s) == (2, 1, 5.05)


@pytest.mark.parametrize(
    ("period_s", "margin_s", "first_at"),
    [(5.0, 0.05, 0.1), (5.0, 0.05, 0.8), (5.0, 0.05, 1.0), (1.0, 0.1, 0.7), (0.3, 0.0, 0.1)],
)
def test_every_wait_ends_in_a_free_slot_whatever_the_float_sums(
    period_s: float, margin_s: float, first_at: float
) -> None:
    clock = SleepMovesTime()
    clock.now = first_at
    paced = pacer(clock, calls=2, period_s=period_s, margin_s=margin_s)
    for _ in range(20):
        paced.call(lambda: None)
    assert paced.stats().waits == len(clock.slept) == 9  # one wait per window after the first


def test_a_refusal_backs_off_doubling_and_the_retry_takes_a_slot() -> None:
    clock = SleepMovesTime()
    paced = pacer(clock, calls=25, period_s=5.0, initial_backoff_s=0.5)
    answers = iter([RateLimitedError("429"), RateLimitedError("429"), None])

    def query() -> str:
        answer = next(answers)
        if answer is not None:
            raise answer
        return "ok"

    assert paced.call(query) == "ok"
    assert clock.slept == [0.5, 1.0]
    assert (paced.stats().calls, paced.stats().refused, paced.stats().waited_s) == (3, 2, 1.5)


def test_threads_sharing_a_pacer_never_put_more_calls_than_the_limit_in_a_window() -> None:
    clock = SleepMovesTime()
    paced = pacer(clock, calls=3, period_s=1.0, margin_s=0.0)
    made: list[float] = []
    lock = threading.Lock()

    def query() -> None:
        with lock:
            made.append(clock.monotonic())

    def caller() -> None:
        for _ in range(10):
            paced.call(query)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    assert len(made) == paced.stats().calls == 40
    made.sort()
    assert all(later - earlier >= 1.0 for earlier, later in zip(made, made[3:], strict=False))
