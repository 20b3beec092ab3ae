"""One background thread that runs callbacks after a delay.

pykka has no timers; an actor that needs one (the simulated venue's latency, the
reconciler's retries, the normalizer's heartbeat) schedules a callback here that only
*tells* the actor a message (``tell_later``), so the actor's state is still touched by its
own thread alone.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pykka
import structlog

from actors.base import tell_quietly

_log = structlog.get_logger("tradeactors", actor="timer")


class Timer:
    """``call_later(delay_ns, fn)`` runs ``fn`` on the timer thread once the delay has passed."""

    def __init__(self, name: str = "timer") -> None:
        self._heap: list[tuple[int, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call_later(self, delay_ns: int, callback: Callable[[], None]) -> None:
        due = time.monotonic_ns() + max(delay_ns, 0)
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._heap, (due, next(self._order), callback))
            self._cond.notify()

    def tell_later(self, delay_ns: int, ref: pykka.ActorRef[Any], message: object) -> None:
        """Tell ``ref`` ``message`` once the delay has passed (nothing if it died meanwhile)."""

        def tell() -> None:
            tell_quietly(ref, message)

        self.call_later(delay_ns, tell)

    def stop(self) -> None:
        """Drop pending callbacks and end the thread."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
        self._thread.join(timeout=1.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (
                    not self._heap or self._heap[0][0] > time.monotonic_ns()
                ):
                    wait_s = (self._heap[0][0] - time.monotonic_ns()) / 1e9 if self._heap else None
                    self._cond.wait(timeout=wait_s)
                if self._stopped:
                    return
                _, _, callback = heapq.heappop(self._heap)
            try:
                callback()
            except Exception:
                _log.exception("timer_callback_failed")
