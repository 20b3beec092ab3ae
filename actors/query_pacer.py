"""Pace broker queries under the broker's rate limit, and back off when it refuses anyway.

The pacer keeps its own sliding window of the calls it made (default 25 per 5 s, the
broker's limit) and waits for a free slot before each call, so a well-behaved runtime is
never refused (``margin_s`` covers the time between our clock and the broker's). If the
broker refuses regardless (another client on the same account), it waits
``initial_backoff_s``, doubling up to ``max_backoff_s``, and tries again. A disconnect is
not retried here: it propagates, and the caller decides.

The window is kept in integer nanoseconds: in float seconds a slot freed at
``first + period + margin`` could read as not yet free after sleeping exactly until then
(``5.05 - 5.0 - 0.05 < 0``), and the next wait came out as 0 s, forever, on a clock that only
sleeps move. A pause also sets a floor under the clock (a sleep lasts at least its length),
so a wait always ends in a free slot. Several threads may share one pacer (the reconciler's
worker and the runtime's own calls): a lock makes taking a slot one step, and a thread
waiting for a slot holds it, so callers take slots in turn. A backoff sleeps outside it.
"""

from __future__ import annotations

import collections
import functools
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import attrs
import structlog

from actors.broker import Page, RateLimitedError

T = TypeVar("T")

_NS_PER_S = 1_000_000_000

_log = structlog.get_logger("tradeactors", actor="query_pacer")


@attrs.frozen(kw_only=True, slots=True)
class PacerStats:
    calls: int
    waits: int
    waited_s: float
    refused: int


class QueryPacer:
    """``call(fn)`` runs ``fn`` within ``calls`` per ``period_s``, retrying refusals."""

    def __init__(
        self,
        *,
        calls: int = 25,
        period_s: float = 5.0,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        max_attempts: int = 8,
        margin_s: float = 0.05,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls < 1 or period_s <= 0:
            raise ValueError("calls must be >= 1 and period_s > 0")
        self.calls = calls
        self.period_s = period_s
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_attempts = max_attempts
        self.margin_s = margin_s
        self.monotonic = monotonic
        self.sleep = sleep
        self._span_ns = _ns(period_s) + _ns(margin_s)
        self._lock = threading.Lock()
        self._window: collections.deque[int] = collections.deque()
        self._floor_ns = 0
        self._made = self._waits = self._refused = 0
        self._waited_ns = 0

    def stats(self) -> PacerStats:
        with self._lock:
            return PacerStats(
                calls=self._made,
                waits=self._waits,
                waited_s=self._waited_ns / _NS_PER_S,
                refused=self._refused,
            )

    def call(self, query: Callable[[], T]) -> T:
        """Run ``query`` when the window has room; on a refusal, back off and run it again."""
        backoff_s = self.initial_backoff_s
        for attempt in range(1, self.max_attempts + 1):
            self._take_slot()
            try:
                return query()
            except RateLimitedError:
                with self._lock:
                    self._refused += 1
                if attempt == self.max_attempts:
                    raise
                _log.warning("query_refused_backing_off", backoff_s=backoff_s, attempt=attempt)
                with self._lock:
                    self._waited_ns += _ns(backoff_s)
                self.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, self.max_backoff_s)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def all_pages(self, query: Callable[[int], Page[T]]) -> list[T]:
        """Every item of a paged query, each page paced."""
        items: list[T] = []
        page: int | None = 0
        while page is not None:
            answer = self.call(functools.partial(query, page))
            items.extend(answer.items)
            page = answer.next_page
        return items

    def _take_slot(self) -> None:
        """Wait until the window has room and record the call in it; one thread at a time,
        so two callers never take the same free slot."""
        with self._lock:
            while True:
                now = self._now_ns()
                while self._window and self._window[0] + self._span_ns <= now:
                    self._window.popleft()
                if len(self._window) < self.calls:
                    self._window.append(now)
                    self._made += 1
                    return
                wait_ns = self._window[0] + self._span_ns - now
                self._waits += 1
                self._waited_ns += wait_ns
                self._floor_ns = now + wait_ns  # no other thread reads the clock meanwhile
                self.sleep(wait_ns / _NS_PER_S)

    def _now_ns(self) -> int:
        return max(_ns(self.monotonic()), self._floor_ns)


def _ns(seconds: float) -> int:
    """Seconds as whole nanoseconds, so the window's sums and comparisons are exact."""
    return round(seconds * _NS_PER_S)
