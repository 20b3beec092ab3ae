"""Client commands in a lockstep replay: each one its own unit of work, between two steps.

A lockstep step ends when the runtime is quiet. A client submitting and cancelling while the
replay runs would keep it from ever going quiet, and its order would land inside a feed
record's step, to be voided with that step if it is torn. So while a replay drives, a
command that changes state waits here; the driver runs it between two records as its own
unit and answers only once that unit is committed. With no replay driving (before, after,
``--hold``), a command runs at once, as in a paced run: nothing waits for quiet then.
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

_PAUSE_SLICE_S = 0.1
"""How often a pause looks at its stop event while no client unit arrives."""

Work = Callable[[], Any]
RunUnit = Callable[[Work], Any]


class LockstepUnits:
    """The queue of client units and the lock that keeps units and steps apart.

    ``run_unit`` runs one unit (journal markers, the work, quiescence, the commit) and
    returns the work's result or raises its error; it is called with ``lock`` held.
    """

    def __init__(self, run_unit: RunUnit) -> None:
        self._run_unit = run_unit
        self.lock = threading.RLock()
        self._state = threading.Condition()
        self._driving = False
        self._pending: collections.deque[tuple[Work, concurrent.futures.Future[Any]]] = (
            collections.deque()
        )

    def run(self, work: Callable[[], T], timeout_s: float) -> T:
        """``work``'s result: at once with no replay driving, else once its unit is
        committed; TimeoutError if the replay never reached it within ``timeout_s`` (then
        it never runs)."""
        with self._state:
            driving = self._driving
            if driving:
                future: concurrent.futures.Future[Any] = concurrent.futures.Future()
                self._pending.append((work, future))
                self._state.notify_all()
        if not driving:
            return work()
        try:
            return future.result(timeout=timeout_s)  # type: ignore[no-any-return]
        except concurrent.futures.TimeoutError:
            if future.cancel():
                raise TimeoutError(
                    f"the lockstep replay did not reach the command in {timeout_s} s"
                ) from None
            return future.result()  # type: ignore[no-any-return]  # running: it ends

    def pause(
        self,
        seconds: float,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Wait ``seconds`` between two steps (a paced replay keeping pace), running each
        client unit as it arrives rather than after the wait; ``stop`` cuts the wait short."""
        deadline = clock() + seconds
        while True:
            with self.lock:
                self.between_steps()
            remaining = deadline - clock()
            if remaining <= 0 or (stop is not None and stop.is_set()):
                return
            with self._state:
                if not self._pending:
                    self._state.wait(min(remaining, _PAUSE_SLICE_S))

    def queued(self) -> int:
        """How many units wait for the next gap."""
        with self._state:
            return len(self._pending)

    @contextmanager
    def driving(self) -> Iterator[None]:
        """While a replay drives: commands queue for ``between_steps``; at the end, what is
        still queued runs before the callers are left to run their own."""
        with self._state:
            self._driving = True
        try:
            yield
        finally:
            with self._state:
                self._driving = False
            with self.lock:
                self.between_steps()

    def between_steps(self) -> None:
        """Run the units queued by now, in arrival order (call with ``lock`` held); those
        queued meanwhile wait for the next gap, so clients cannot hold the replay up."""
        with self._state:
            queued = len(self._pending)
        for _ in range(queued):
            with self._state:
                work, future = self._pending.popleft()
            if not future.set_running_or_notify_cancel():
                continue  # its caller gave up waiting: it never ran
            try:
                future.set_result(self._run_unit(work))
            except Exception as error:  # the caller's thread raises it
                future.set_exception(error)
