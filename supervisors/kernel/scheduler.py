"""The one clock and scheduler every actor that waits or schedules is given.

pykka has no timers; an actor that needs one (the simulated venue's latency, the
reconciler's retries, the normalizer's heartbeat, a supervisor's backoff) asks its
``Scheduler`` for a ``Timer`` and schedules a callback there that only *tells* the actor a
message (``tell_later``), so the actor's state is still touched by its own thread alone.

``RealScheduler`` is production: monotonic time, one daemon thread per timer. A test or a
replay hands the actors a ``ManualScheduler`` instead, whose time moves only when it is
``advance``d (trio's ``MockClock`` does the same), so what happens after a second of
silence is asserted exactly without sleeping a second. This module belongs to the actor
kernel: it imports nothing from the project beyond ``messages``.
"""

from __future__ import annotations

import abc
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import attrs
import pykka
import structlog
from pykka.messages import ProxyGetAttr

_log = structlog.get_logger("tradeactors", actor="timer")

_SETTLE_TIMEOUT_S = 5.0
"""How long ``ManualScheduler.advance`` waits for an actor it told to take the message."""


class Scheduled(Protocol):
    """A callback on its way; ``cancel`` makes sure it never runs (no-op once it ran)."""

    def cancel(self) -> None: ...


class Timer(Protocol):
    """One owner's scheduled callbacks: an actor makes one at start and stops it at stop.

    A callback is work by default: what it does belongs to the run (a venue's latency, a
    restart's backoff), so a lockstep step waits for it. ``housekeeping=True`` marks one
    that only watches or refreshes (a liveness check, a heartbeat, a periodic sync) and
    reschedules itself forever: the virtual-time kernel is idle with only those queued.
    """

    def call_later(
        self, delay_ns: int, callback: Callable[[], None], *, housekeeping: bool = False
    ) -> Scheduled:
        """Run ``callback`` (off the actor's thread) once ``delay_ns`` has passed."""
        ...

    def tell_later(
        self,
        delay_ns: int,
        ref: pykka.ActorRef[Any],
        message: object,
        *,
        housekeeping: bool = False,
    ) -> Scheduled:
        """Tell ``ref`` ``message`` once the delay has passed (nothing if it died meanwhile)."""
        ...

    def stop(self) -> None:
        """Drop every pending callback; later ones are ignored."""
        ...


class Scheduler(Protocol):
    """Where time comes from: ``now_ns`` (monotonic nanoseconds) and the timers."""

    def now_ns(self) -> int: ...

    def timer(self, name: str) -> Timer:
        """A new timer; ``name`` names its thread where there is one."""
        ...


@attrs.define(eq=False)
class _Entry:
    """A heap entry's payload; ``ref`` is set for a tell, so a manual advance can wait on it."""

    callback: Callable[[], None]
    ref: pykka.ActorRef[Any] | None = None
    housekeeping: bool = False
    done: bool = False
    """Ran or cancelled: either way it will not run (again)."""

    def cancel(self) -> None:
        self.done = True


def _tell(ref: pykka.ActorRef[Any], message: object) -> Callable[[], None]:
    def tell() -> None:
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            _log.debug("timer_tell_to_stopped_actor", message_type=type(message).__name__)

    return tell


def _run(entry: _Entry) -> None:
    try:
        entry.callback()
    except Exception:
        _log.exception("timer_callback_failed")


class _TimerEntries(abc.ABC):
    """``call_later`` and ``tell_later`` of every timer: each becomes an entry its
    ``_push`` queues."""

    def call_later(
        self, delay_ns: int, callback: Callable[[], None], *, housekeeping: bool = False
    ) -> Scheduled:
        return self._push(delay_ns, _Entry(callback, housekeeping=housekeeping))

    def tell_later(
        self,
        delay_ns: int,
        ref: pykka.ActorRef[Any],
        message: object,
        *,
        housekeeping: bool = False,
    ) -> Scheduled:
        return self._push(delay_ns, _Entry(_tell(ref, message), ref, housekeeping))

    @abc.abstractmethod
    def _push(self, delay_ns: int, entry: _Entry) -> _Entry:
        """Queue ``entry`` to run ``delay_ns`` from now; the entry is its handle."""


class ThreadTimer(_TimerEntries):
    """A ``Timer`` on its own daemon thread, on ``time.monotonic_ns``."""

    def __init__(self, name: str = "timer") -> None:
        self._heap: list[tuple[int, int, _Entry]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
        self._thread.join(timeout=1.0)

    def _push(self, delay_ns: int, entry: _Entry) -> _Entry:
        due = time.monotonic_ns() + max(delay_ns, 0)
        with self._cond:
            if not self._stopped:
                heapq.heappush(self._heap, (due, next(self._order), entry))
                self._cond.notify()
        return entry

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (
                    not self._heap or self._heap[0][0] > time.monotonic_ns()
                ):
                    wait_s = (self._heap[0][0] - time.monotonic_ns()) / 1e9 if self._heap else None
                    self._cond.wait(timeout=wait_s)
                if self._stopped:
                    return
                _, _, entry = heapq.heappop(self._heap)
                if entry.done:
                    continue
                entry.done = True
            _run(entry)


class RealScheduler:
    """Production time: ``time.monotonic_ns`` and a thread per timer."""

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def timer(self, name: str) -> Timer:
        return ThreadTimer(name)


REAL_SCHEDULER = RealScheduler()
"""The default every actor takes; it holds no state, so one instance serves them all."""


class ManualScheduler:
    """Virtual time for tests and replays: nothing fires until ``advance`` says so.

    ``advance`` runs the due callbacks on the caller's thread in (due time, sequence)
    order, with ``now_ns`` at each one's due time. After a ``tell_later`` it waits until
    the actor told has taken the message, so whatever that handler schedules is queued
    before time moves on: an advance ends in the same state however the threads ran.
    Call it from outside the actors (it waits on them).
    """

    def __init__(self, start_ns: int = 0) -> None:
        self._now_ns = start_ns
        self._heap: list[tuple[int, int, _Entry]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        with self._lock:
            return self._now_ns

    def timer(self, name: str = "manual") -> Timer:
        return SharedQueueTimer(self._schedule, name)

    def pending(self) -> int:
        """Callbacks scheduled and neither run nor cancelled."""
        with self._lock:
            return sum(1 for _, _, entry in self._heap if not entry.done)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, running what falls due on the way."""
        self.advance_ns(round(seconds * 1e9))

    def advance_ns(self, delta_ns: int) -> None:
        if delta_ns < 0:
            raise ValueError(f"time only moves forward, got {delta_ns} ns")
        with self._lock:
            target = self._now_ns + delta_ns
        while (entry := self._pop_due(target)) is not None:
            _run(entry)
            if entry.ref is not None:
                self._wait_taken(entry.ref)
        with self._lock:
            self._now_ns = target

    def _schedule(self, delay_ns: int, entry: _Entry) -> _Entry:
        with self._lock:
            due = self._now_ns + max(delay_ns, 0)
            heapq.heappush(self._heap, (due, next(self._order), entry))
        return entry

    def _pop_due(self, target: int) -> _Entry | None:
        with self._lock:
            while self._heap and self._heap[0][0] <= target:
                due, _, entry = heapq.heappop(self._heap)
                if not entry.done:
                    entry.done = True
                    self._now_ns = due
                    return entry
            return None

    @staticmethod
    def _wait_taken(ref: pykka.ActorRef[Any]) -> None:
        """A round trip through ``ref``'s mailbox that no handler sees (pykka answers it)."""
        try:
            ref.ask(ProxyGetAttr(attr_path=("actor_urn",)), timeout=_SETTLE_TIMEOUT_S)
        except pykka.ActorDeadError:
            return


class SharedQueueTimer(_TimerEntries):
    """One owner's share of a virtual clock's queue, so stopping drops only its own.

    ``schedule(delay_ns, entry)`` queues the entry on the clock (``ManualScheduler``, the
    virtual-time kernel); this keeps the owner's entries to cancel them on ``stop``.
    """

    def __init__(self, schedule: Callable[[int, _Entry], object], name: str) -> None:
        self.name = name
        self._schedule = schedule
        self._entries: list[_Entry] = []
        self._stopped = False
        self._lock = threading.Lock()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for entry in self._entries:
                entry.cancel()
            self._entries.clear()

    def _push(self, delay_ns: int, entry: _Entry) -> _Entry:
        with self._lock:
            if self._stopped:
                entry.cancel()
                return entry
            self._entries = [kept for kept in self._entries if not kept.done]
            self._entries.append(entry)
        self._schedule(delay_ns, entry)
        return entry
