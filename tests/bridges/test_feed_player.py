"""Feed replay: paced by the records' timestamps, with an injected clock (no real sleeps)."""

from __future__ import annotations

import threading
import time

import pytest

from bridges.feed_player import FeedPace, replay
from messages.markets import MarketClosed

pytestmark = pytest.mark.timeout(10)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def _records(*seconds: float) -> list[MarketClosed]:
    return [MarketClosed(ts_event=int(s * 1e9), market_id=f"m{i}") for i, s in enumerate(seconds)]


def test_records_are_spaced_by_feed_time_divided_by_speed() -> None:
    clock = FakeClock()
    sent: list[MarketClosed] = []
    count = replay(_records(0, 1, 3), sent.append, speed=2.0, clock=clock, sleep=clock.sleep)
    assert count == 3
    assert [r.market_id for r in sent] == ["m0", "m1", "m2"]
    assert clock.sleeps == [0.5, 1.0]


def test_speed_zero_never_sleeps_and_runs_after_each_record() -> None:
    clock = FakeClock()
    after: list[int] = []
    sent: list[MarketClosed] = []
    replay(
        _records(0, 10, 20),
        sent.append,
        speed=0,
        after_each=lambda: after.append(len(sent)),
        clock=clock,
        sleep=clock.sleep,
    )
    assert clock.sleeps == []
    assert after == [1, 2, 3]


def test_duration_stops_the_replay_without_sleeping_past_it() -> None:
    clock = FakeClock()
    sent: list[MarketClosed] = []
    count = replay(
        _records(0, 1, 2, 30),
        sent.append,
        speed=1.0,
        duration_s=2.5,
        clock=clock,
        sleep=clock.sleep,
    )
    assert count == 3
    assert clock.now - 100.0 <= 2.5


def test_a_stop_request_ends_the_replay_between_records_even_while_it_waits() -> None:
    stop = threading.Event()
    sent: list[MarketClosed] = []

    def send(record: MarketClosed) -> None:
        sent.append(record)
        if len(sent) == 2:
            threading.Timer(0.05, stop.set).start()

    began = time.monotonic()
    count = replay(_records(0, 0, 3600, 3601), send, speed=1.0, stop=stop)

    assert count == 2
    assert [r.market_id for r in sent] == ["m0", "m1"]
    assert time.monotonic() - began < 5  # not the hour the third record was due after


def test_a_feed_pace_says_how_long_until_each_record_is_due_at_its_speed() -> None:
    clock = FakeClock()
    pace = FeedPace(speed=2.0, clock=clock)
    first, second, third = _records(10.0, 12.0, 16.0)
    assert pace(first) == 0.0
    assert pace(second) == 1.0
    clock.now += 1.5
    assert pace(second) == -0.5  # late: due now
    assert pace(third) == 1.5
    with pytest.raises(ValueError, match="positive speed"):
        FeedPace(speed=0)
