"""Replays a recorded feed into the runtime, paced by the records' own timestamps."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from bridges.feed_codec import FeedRecord


def replay(
    records: Iterable[FeedRecord],
    sink: Callable[[FeedRecord], None],
    *,
    speed: float = 1.0,
    duration_s: float | None = None,
    after_each: Callable[[], None] | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send each record to ``sink``; returns how many were sent.

    ``speed`` multiplies feed time (2.0 plays a minute of feed in 30 s); ``speed <= 0`` plays
    as fast as possible. ``after_each`` runs after every record, e.g. waiting for the runtime
    to go idle, which makes a replay deterministic. ``duration_s`` stops the replay after
    that much wall time; ``stop``, once set, ends it before the next record (a Ctrl-C handler
    sets it, so the run stops between records rather than wherever the signal lands).
    """
    if stop is not None:
        stop_event = stop

        def sleep(seconds: float) -> None:
            stop_event.wait(seconds)

    started = clock()
    stop_at = started + duration_s if duration_s is not None else float("inf")
    first_ts: int | None = None
    sent = 0
    for record in records:
        if stop is not None and stop.is_set():
            break
        due = started
        if speed > 0:
            if first_ts is None:
                first_ts = record.ts_event
            due = started + (record.ts_event - first_ts) / 1e9 / speed
        if max(due, clock()) >= stop_at:
            sleep(max(stop_at - clock(), 0.0))
            break
        delay = due - clock()
        if delay > 0:
            sleep(delay)
            if stop is not None and stop.is_set():
                break
        sink(record)
        sent += 1
        if after_each is not None:
            after_each()
    return sent


class FeedPace:
    """When each record of a paced lockstep replay is due: its feed time since the first
    record asked about, divided by ``speed``, after the wall time that one was asked at.

    Only the wait between steps depends on it; what the steps do does not, so a paced
    replay ends exactly as a ``--speed 0`` one.
    """

    def __init__(self, speed: float, clock: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError(f"a pace needs a positive speed, got {speed}")
        self.speed = speed
        self._clock = clock
        self._first: tuple[int, float] | None = None

    def __call__(self, record: FeedRecord) -> float:
        """Seconds until ``record`` is due (0 or less: now)."""
        now = self._clock()
        if self._first is None:
            self._first = (record.ts_event, now)
        first_ts, started = self._first
        return started + (record.ts_event - first_ts) / 1e9 / self.speed - now
