"""A deterministic dispatcher: the same actors on one thread, under virtual time.

A threaded pykka run interleaves actors as the operating system schedules their threads,
so a replay can only be made repeatable by waiting for every thread to go quiet after each
record. ``VirtualTimeKernel`` runs the very same actor classes without threads: every tell
becomes an entry of one queue ordered by (virtual time, sequence), and whoever waits for
an answer (a ``Future.get``) dispatches entries, one handler at a time, until the answer is
there. Timers are entries of the same queue, due at a virtual time, so a 50 ms venue
latency costs no wall time and always lands in the same place among the messages; the
kernel is also the ``Scheduler`` the actors are given. Nothing is ever in flight between
threads, so "idle" is simply "the queue is empty".

An actor runs on the kernel when it is started on a thread where the kernel is active
(``with kernel.active():``, and every handler the kernel dispatches), because the actor
kernel's actors (``KernelActor``: every ``RuntimeActor`` and ``Supervised``) ask for their
inbox there. ``on_start`` runs inline, in ``start()``, so a supervisor that waits for a
child's start finds it done. A handler that blocks on a future (a supervisor stopping a
child) dispatches the others meanwhile; entries for an actor that is inside a handler on
the stack wait until it returns, so no actor ever runs two handlers at once. Threads
outside the kernel may still tell its actors (a socket thread, a broker's callbacks):
their entries join the queue at the current virtual time, and the thread runs the queue
until it is idle, so what the message causes happens (unless another thread is running
the queue: that one does, before it lets go).

This is the dispatcher of Akka's calling-thread dispatcher and of NautilusTrader's
backtest engine, for pykka; it relies on pykka 4's actor internals (``_handle_receive``,
``_handle_failure``, ``_actor_loop_setup``), which the project pins.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import pykka
import structlog
from pykka import ActorDeadError
from pykka._envelope import Envelope
from pykka.messages import _ActorStop

from supervisors.kernel.scheduler import SharedQueueTimer, Timer, _Entry, _run

_log = structlog.get_logger("tradeactors", actor="virtual_time")

_local = threading.local()

_WAIT_S = 0.05
"""How long a waiter that may not dispatch sleeps before it looks again."""


def active_kernel() -> VirtualTimeKernel | None:
    """The kernel actors started on this thread run on, if any."""
    stack: list[VirtualTimeKernel] = getattr(_local, "kernels", [])
    return stack[-1] if stack else None


class _activated:  # noqa: N801  (used as a function: ``with _activated(kernel):``)
    """The kernel on this thread's stack for a block; a class, not a generator, because
    every dispatch enters one."""

    __slots__ = ("_kernel", "_stack")

    def __init__(self, kernel: VirtualTimeKernel) -> None:
        self._kernel = kernel
        self._stack: list[VirtualTimeKernel] = []

    def __enter__(self) -> VirtualTimeKernel:
        self._stack = _local.__dict__.setdefault("kernels", [])
        self._stack.append(self._kernel)
        return self._kernel

    def __exit__(self, *_exc: object) -> None:
        self._stack.pop()


@attrs.define(eq=False)
class _Delivery:
    actor: KernelActor
    envelope: Envelope[Any]


@attrs.define(eq=False)
class _Call:
    entry: _Entry


class _KernelInbox:
    """An actor's inbox on the kernel: a put is an entry of the kernel's queue."""

    def __init__(self, kernel: VirtualTimeKernel, actor: KernelActor) -> None:
        self._kernel = kernel
        self._actor = actor
        self.waiting = 0
        """Deliveries queued for the actor and not yet dispatched."""

    def put(self, envelope: Envelope[Any], /) -> None:
        self._kernel._push(0, _Delivery(self._actor, envelope))
        if active_kernel() is not self._kernel:
            # From a thread the kernel is not active on: no handler of it will run the
            # queue, nor (for an ask) will its plain future, so this thread does.
            self._kernel._drain()

    def get(self) -> Envelope[Any]:
        raise RuntimeError("an actor on the virtual-time kernel does not read its inbox")

    def empty(self) -> bool:
        return self.waiting == 0

    def qsize(self) -> int:
        return self.waiting


class KernelFuture(pykka.ThreadingFuture[Any]):
    """A future whose ``get`` dispatches the kernel's queue until its value is set."""

    def __init__(self, kernel: VirtualTimeKernel | None = None) -> None:
        super().__init__()
        # pykka makes a future's siblings with no arguments (``future.__class__()``).
        self._kernel = kernel if kernel is not None else active_kernel()

    def get(self, *, timeout: float | None = None) -> Any:
        if self._get_hook is not None or self._kernel is None:
            return super().get(timeout=timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._result is None:
            self._kernel._dispatch_or_wait(deadline, lambda: self._result is not None)
        return super().get(timeout=0)

    def set(self, value: Any | None = None) -> None:
        super().set(value)
        if self._kernel is not None:
            self._kernel._notify()

    def set_exception(self, exc_info: Any = None) -> None:
        super().set_exception(exc_info if exc_info is not None else sys.exc_info())
        if self._kernel is not None:
            self._kernel._notify()


class VirtualTimeKernel:
    """One queue, one handler at a time, virtual time: a deterministic run of actors.

    With ``free_running`` (a backtest, a lockstep replay) time jumps to the next entry
    when nothing is due now, as long as a work timer is queued (the housekeeping ones due
    on the way run in their place); with only housekeeping timers left, the kernel is idle.
    Without it, time moves only by ``advance`` and everything due up to there runs: a test
    asserts what happens at an exact instant.
    """

    def __init__(self, start_ns: int = 0, *, free_running: bool = True) -> None:
        self._now_ns = start_ns
        self._free_running = free_running
        self._horizon_ns: int | None = None if free_running else start_ns
        self._queue: list[tuple[int, int, _Delivery | _Call]] = []
        self._order = itertools.count()
        self._lock = threading.RLock()
        """``_cond``'s lock, entered directly where no one waits (a push, a pop): the
        Condition's own ``with`` is a Python call on every delivery."""
        self._cond = threading.Condition(self._lock)
        self._changes = 0
        """Counts pushes and answers, so a waiter never misses the one it waits for."""
        self._dispatching = threading.RLock()
        self._depth = 0
        """How many times the dispatching thread holds ``_dispatching`` (0: nobody)."""
        self._outside = False
        """An entry from outside the kernel waits for whoever dispatches to run it."""
        self._waiters = 0
        """Threads in ``_cond.wait``: with none, a push need not notify."""
        self._busy: list[KernelActor] = []
        self.dispatched = 0
        """Entries run so far: deliveries and timer callbacks."""

    # -- the Scheduler interface -----------------------------------------------------------

    def now_ns(self) -> int:
        with self._cond:
            return self._now_ns

    def timer(self, name: str = "virtual") -> Timer:
        return SharedQueueTimer(lambda delay_ns, entry: self._push(delay_ns, _Call(entry)), name)

    # -- driving ---------------------------------------------------------------------------

    def active(self) -> contextlib.AbstractContextManager[VirtualTimeKernel]:
        """Actors started (and futures asked for) on this thread in the block use the kernel."""
        return _activated(self)

    def pending(self) -> int:
        """Entries queued and not yet run (cancelled timer callbacks included until due)."""
        with self._cond:
            return len(self._queue)

    def run_until_idle(self) -> int:
        """Run entries until none is left that may run now; the count run.

        Free-running, that is when nothing but housekeeping timers due later is queued: a
        lockstep step is over then, though liveness checks and heartbeats never end.
        """
        ran = 0
        self._acquire()
        try:
            with _activated(self):
                while self._step():
                    ran += 1
        finally:
            self._release()
        return ran

    def advance(self, seconds: float) -> int:
        """Move time forward by ``seconds``, running what falls due on the way."""
        return self.advance_ns(round(seconds * 1e9))

    def advance_ns(self, delta_ns: int) -> int:
        if delta_ns < 0:
            raise ValueError(f"time only moves forward, got {delta_ns} ns")
        with self._cond:
            target = self._now_ns + delta_ns
            saved, self._horizon_ns = self._horizon_ns, target
        try:
            ran = self.run_until_idle()
        finally:
            with self._cond:
                self._now_ns = max(self._now_ns, target)
                self._horizon_ns = None if saved is None else max(saved, self._now_ns)
        return ran

    # -- actors ----------------------------------------------------------------------------

    def inbox(self, actor: KernelActor) -> _KernelInbox:
        return _KernelInbox(self, actor)

    def future(self) -> KernelFuture:
        return KernelFuture(self)

    def start(self, actor: KernelActor) -> None:
        """Run ``on_start`` now, on this thread, as the actor's first entry would."""
        self._acquire()
        try:
            with _activated(self):
                self._busy.append(actor)
                try:
                    actor._actor_loop_setup()
                finally:
                    self._busy.pop()
                if actor.actor_stopped.is_set():
                    self._exit(actor)
        finally:
            self._release()

    # -- internals -------------------------------------------------------------------------

    def _push(self, delay_ns: int, item: _Delivery | _Call) -> None:
        with self._lock:
            if type(item) is _Delivery:
                item.actor.actor_inbox.waiting += 1  # type: ignore[attr-defined]
            due = self._now_ns + delay_ns if delay_ns > 0 else self._now_ns
            heapq.heappush(self._queue, (due, next(self._order), item))
            self._changes += 1
            if self._waiters:
                self._cond.notify_all()

    def _notify(self) -> None:
        with self._lock:
            self._changes += 1
            if self._waiters:
                self._cond.notify_all()

    def _pop_runnable(self) -> _Delivery | _Call | None:
        """The first entry that may run now: due within the horizon, its actor not busy."""
        with self._lock:
            queue = self._queue
            deferred: list[tuple[int, int, _Delivery | _Call]] = []
            found: _Delivery | _Call | None = None
            while queue:
                head = queue[0]
                due, item = head[0], head[2]
                delivery = type(item) is _Delivery
                if not delivery and item.entry.done:  # type: ignore[union-attr]
                    heapq.heappop(queue)  # cancelled: never runs, never moves time
                    continue
                if due > self._now_ns:
                    if self._horizon_ns is not None:
                        if due > self._horizon_ns:
                            break
                    elif not self._work_queued():
                        break
                heapq.heappop(queue)
                if delivery and item.actor in self._busy:  # type: ignore[union-attr]
                    deferred.append(head)
                    continue
                self._now_ns = max(self._now_ns, due)
                if delivery:
                    item.actor.actor_inbox.waiting -= 1  # type: ignore[union-attr]
                found = item
                break
            for entry in deferred:
                heapq.heappush(queue, entry)
            return found

    def _work_queued(self) -> bool:
        """A timer that is work is still to run (``_cond`` held); deliveries are due now,
        so only timers can lie ahead."""
        return any(
            isinstance(item, _Call) and not item.entry.done and not item.entry.housekeeping
            for _, _, item in self._queue
        )

    def _step(self) -> bool:
        """Run one entry (the dispatch lock held); False when none may run now."""
        item = self._pop_runnable()
        if item is None:
            return False
        self.dispatched += 1
        if isinstance(item, _Call):
            if not item.entry.done:
                item.entry.done = True
                _run(item.entry)
            return True
        self._deliver(item.actor, item.envelope)
        return True

    def _acquire(self, *, blocking: bool = True) -> bool:
        if not self._dispatching.acquire(blocking):
            return False
        self._depth += 1
        return True

    def _release(self) -> None:
        """Let go of the queue; the outermost let-go first runs what came from outside
        meanwhile (its sender found the queue held, so it left that to this thread)."""
        self._depth -= 1
        outermost = self._depth == 0
        self._dispatching.release()
        if outermost and self._outside:
            self._drain()

    def _drain(self) -> None:
        """Run the queue until idle on this thread, for an entry from outside the kernel;
        if another thread holds the queue, leave it to that one (``_release``).

        The flag is raised before trying the lock and read after letting go of it, so an
        entry is never left with nobody to run it.
        """
        while True:
            with self._cond:
                self._outside = True
            if not self._acquire(blocking=False):
                return
            try:
                with self._cond:
                    self._outside = False
                with _activated(self):
                    while self._step():
                        pass
            finally:
                self._depth -= 1
                self._dispatching.release()
            with self._cond:
                if not self._outside:
                    return

    def _dispatch_or_wait(self, deadline: float | None, done: Callable[[], bool]) -> None:
        """Run one entry if this thread may; else wait a moment for a change.

        Raises ``pykka.Timeout`` past ``deadline`` with nothing changed: on one thread that
        means no entry left could ever answer.
        """
        with self._cond:
            seen = self._changes
        if self._acquire(blocking=False):
            try:
                with _activated(self):
                    if self._step():
                        return
            finally:
                self._release()
        with self._cond:
            if self._changes != seen or done():
                return
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise pykka.Timeout("no answer: nothing left to run on the virtual-time kernel")
            # Another thread may be dispatching, or one outside the kernel may answer.
            self._waiters += 1
            try:
                self._cond.wait(timeout=_WAIT_S if remaining is None else min(remaining, _WAIT_S))
            finally:
                self._waiters -= 1

    def _deliver(self, actor: KernelActor, envelope: Envelope[Any]) -> None:
        """pykka's loop body for one message, then the loop's end if the actor stopped."""
        if actor.actor_stopped.is_set():
            _refuse(actor, envelope)
            return
        self._busy.append(actor)
        try:
            try:
                response = actor._handle_receive(envelope.message)
                if envelope.reply_to is not None:
                    envelope.reply_to.set(response)
            except Exception:
                if envelope.reply_to is not None:
                    envelope.reply_to.set_exception()
                else:
                    actor._handle_failure(*sys.exc_info())
                    try:
                        actor.on_failure(*sys.exc_info())
                    except Exception:
                        actor._handle_failure(*sys.exc_info())
            except BaseException:
                actor._stop()
                raise
        finally:
            self._busy.pop()
        if actor.actor_stopped.is_set():
            self._exit(actor)

    def _exit(self, actor: KernelActor) -> None:
        """The end of an actor's loop: what it still had queued is refused as it comes up."""
        actor._loop_exited()


def _refuse(actor: KernelActor, envelope: Envelope[Any]) -> None:
    """What pykka's teardown does with a message a stopped actor never handled."""
    if envelope.reply_to is None:
        return
    if isinstance(envelope.message, _ActorStop):
        envelope.reply_to.set(None)
        return
    error = ActorDeadError(f"{actor.actor_ref} stopped before handling the message")
    envelope.reply_to.set_exception(exc_info=(ActorDeadError, error, None))


class KernelActor(pykka.ThreadingActor):
    """A pykka actor that runs on the virtual-time kernel when started where one is active.

    Started anywhere else it is an ordinary ``ThreadingActor``. ``_loop_exited`` is the end
    of the actor's life on either: after its thread's loop, or after the kernel saw it stop.
    """

    _kernel: VirtualTimeKernel | None = None

    def _create_actor_inbox(self) -> Any:  # type: ignore[override]
        kernel = active_kernel()
        if kernel is None:
            return pykka.ThreadingActor._create_actor_inbox()
        self._kernel = kernel
        return kernel.inbox(self)

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        kernel = active_kernel()
        return pykka.ThreadingFuture() if kernel is None else kernel.future()

    def _start_actor_loop(self) -> None:
        if self._kernel is None:
            super()._start_actor_loop()
        else:
            self._kernel.start(self)

    def _actor_loop(self) -> None:
        try:
            super()._actor_loop()
        finally:
            self._loop_exited()

    def _loop_exited(self) -> None:
        """Override to act once the actor is gone (a supervised child tells its supervisor)."""
