"""Feeding the runtime: paced records, lockstep steps, and client units between them.

A lockstep step is journaled between a ``StepStarted`` and a ``StepCommitted`` marker and
ends when the runtime is quiet. A step whose core was restarted while it ran is torn: the
driver resumes where the recovered journal says (``next_step``), feeding that record again
if need be. A paced record is told and not waited for; a new core is handed the lifecycle
records its journal lacks first. Client commands during a replay run between two steps as
units of their own (``supervisors.assembly.lockstep_units``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import pykka
import structlog

from actors.journal_store import JournalStoreError
from actors.runtime_state import RUNTIME_STREAM, market_data_stream, market_stream
from bridges.feed_codec import FeedRecord
from messages.journal import StepCommitted, StepStarted
from messages.journal_protocol import Append, AppendAll, Sync
from messages.markets import MarketClosed, MarketOpened, MarketResolved
from messages.stats import GetStats
from supervisors.assembly.core_follower import RESTART_WAIT_S, CoreFollower, RuntimeDownError
from supervisors.assembly.lockstep_units import LockstepUnits
from supervisors.assembly.runtime_tree import CoreRefs
from supervisors.kernel.base import ASK_TIMEOUT_S, RuntimeActor, ask
from supervisors.kernel.virtual_time import VirtualTimeKernel

T = TypeVar("T")

_log = structlog.get_logger("tradeactors", actor="runtime")

SYNC_EVERY = 256
"""Steps of a replay whose commit markers may wait for one durable ``Sync`` together.

A step's ``StepCommitted`` is appended and becomes durable with the next step's first
commit (or a ``Sync`` every this many steps, at the end, before a client unit or a pause).
A kill -9 in between leaves the step without its marker: recovery voids it as torn and the
replay feeds it again, which regenerates the same events, so the results stay exact."""

_CORE_FAILURES = (pykka.ActorDeadError, pykka.Timeout, JournalStoreError)
"""What an ask of the core raises when it died meanwhile (``LockstepDriver._died``)."""

LIFECYCLE = (MarketOpened, MarketClosed, MarketResolved)
"""Feed records that open, close or resolve a market: routed to the market lifecycle actor, and
never lost to a core that restarts (``LockstepDriver._refeed_lifecycle``)."""


class LockstepDriver:
    """Feeds one runtime's core, as held by ``follower``, step by step.

    ``records`` is the feed the tree was started with: a paced re-feed takes the lifecycle
    records a new core lacks from it. ``kernel`` is the virtual-time kernel the tree runs
    on, if it does: then quiet is the kernel's idle, and no actor is asked for its stats.
    """

    def __init__(
        self,
        follower: CoreFollower,
        records: Sequence[FeedRecord] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
        kernel: VirtualTimeKernel | None = None,
    ) -> None:
        self.follower = follower
        self.records = records
        self.kernel = kernel
        self.next_step = 0
        self.units = LockstepUnits(self._client_unit)
        self._clock = clock
        self._resumed: tuple[str, int] | None = None
        """The key of the core whose ``resume_step`` ``next_step`` last took: another
        thread may point the follower at a new core first (``follow``), and the feed must
        still resume from that core's journal."""
        self._paced_core: tuple[str, int] | None = None
        """The core the last paced record went to (``_refeed_lifecycle``)."""
        self._last_unit = (-1, 0)
        self._unsynced = 0
        """Steps committed by ``feed_and_wait(durable=False)`` since the last ``Sync``."""

    # -- following the core ------------------------------------------------------------------

    def follow(self, *, deadline_s: float, resume: bool = True, settle: bool = True) -> None:
        """Wait for a live core; with ``resume``, feed on where its recovery says
        (``next_step``); with ``settle``, wait for it to go idle too."""
        core = self.follower.await_core(deadline_s)
        if resume and core.key != self._resumed:
            self.next_step = core.resume_step
            self._resumed = core.key
        if settle:
            self.wait_idle(deadline_s)

    def refresh(self) -> None:
        """Point at the running core, waiting for it (and for quiet) if it is restarting;
        ``next_step`` stays, so a query on another thread never moves the feed."""
        self.follow(deadline_s=RESTART_WAIT_S, resume=False)

    # -- feeding -----------------------------------------------------------------------------

    def feed(self, record: FeedRecord) -> None:
        """Hand the next paced record to the core without waiting for its effects; a core
        that died meanwhile is followed, and its successor gets the record."""

        def send(core: CoreRefs) -> None:
            self._refeed_lifecycle(core)
            self._feed(core, record, atomic=False)

        self._on_live_core(send)
        self.next_step += 1

    def _on_live_core(self, send: Callable[[CoreRefs], None]) -> None:
        """``send`` to the running core; if it died, to its successor, and so on: a full disk
        kills each new journal at its first commit, until the root gives up (then
        ``refresh`` raises RuntimeDownError)."""
        while True:
            try:
                send(self.follower.require())
                return
            except pykka.ActorDeadError:
                self.refresh()

    def _refeed_lifecycle(self, core: CoreRefs) -> None:
        """On the first paced record a new core gets: the lifecycle records that its journal
        lacks (told to the core before it, which died first) go to it again, in order;
        lifecycle records are idempotent. Else a lost market switch would leave the rest of
        that market's feed unrouted."""
        if self._paced_core in (None, core.key):
            self._paced_core = core.key
            return
        self._paced_core = core.key
        for step in range(core.resume_step, min(self.next_step, len(self.records))):
            lost = self.records[step]
            if isinstance(lost, LIFECYCLE):
                _log.warning("lifecycle_record_fed_again", step=step, kind=type(lost).__name__)
                self._feed(core, lost, atomic=False, step=step)

    def inject(self, record: FeedRecord) -> None:
        """Route a record from outside the feed: journaled and applied like a feed record,
        but no step of the replay."""
        self._on_live_core(lambda core: self._route(core, record))

    def feed_and_wait(
        self,
        record: FeedRecord,
        timeout_s: float = 10.0,
        during: Callable[[int], object] | None = None,
        *,
        durable: bool = True,
    ) -> bool:
        """Feed one record as a step; True once it is committed, False if it was torn (then
        ``next_step`` is where the recovered journal resumes). Without ``durable`` its
        commit marker is only appended (``SYNC_EVERY``): ``sync`` makes it durable."""
        with self.units.lock:
            core = self.follower.require()
            step = self.next_step
            try:
                self._feed(core, record, atomic=True)
                if during is not None:
                    during(step)
                self.wait_idle(timeout_s)
                if self._commit(core, StepCommitted(step=step), durable=durable):
                    self.next_step = step + 1
                    return True
            except _CORE_FAILURES as error:
                self._died(core, error)
            self.follow(deadline_s=RESTART_WAIT_S)
            if self.follower.require().key == core.key:
                raise RuntimeError(f"step {step} did not commit, and no restart explains why")
            return False

    def change(self, work: Callable[[], T], timeout_s: float = RESTART_WAIT_S) -> T:
        """Run a client's state change: between two steps while a replay drives, else at
        once (``LockstepUnits.run``)."""
        return self.units.run(work, timeout_s)

    def replay(
        self,
        records: Sequence[FeedRecord],
        *,
        end: int | None = None,
        duration_s: float | None = None,
        during: Callable[[int], object] | None = None,
        stop: threading.Event | None = None,
        pace: Callable[[FeedRecord], float] | None = None,
    ) -> int:
        """Lockstep replay of ``records`` from ``next_step`` to ``end``; returns steps
        committed. A torn step is fed again; ``stop`` ends the replay between two records.

        ``pace`` says how long to wait before a record is due (a paced replay): the same
        steps, with pauses between them where client units run, so the results do not
        depend on the speed."""
        end = len(records) if end is None else min(end, len(records))
        stop_at = self._clock() + duration_s if duration_s is not None else float("inf")
        committed = 0
        with self.units.driving():
            while (
                self.next_step < end
                and self._clock() < stop_at
                and not (stop is not None and stop.is_set())
            ):
                delay = 0.0 if pace is None else pace(records[self.next_step])
                if delay > 0:
                    self.sync()
                    self.units.pause(min(delay, stop_at - self._clock()), stop, self._clock)
                    continue  # the record is due now, unless the duration or stop ended it
                with self.units.lock:
                    self.units.between_steps()
                    durable = self._unsynced + 1 >= SYNC_EVERY or self.next_step + 1 >= end
                    committed += self.feed_and_wait(
                        records[self.next_step], during=during, durable=durable
                    )
            self.sync()
        return committed

    def sync(self) -> None:
        """Make the commit markers of the steps fed without ``durable`` durable; a core
        that died meanwhile is followed (its recovery voided those steps as torn, and
        ``next_step`` goes back to feed them again)."""
        if self._unsynced == 0:
            return
        with self.units.lock:
            core = self.follower.require()
            failed = False
            try:
                with self._queueing():
                    ask(core.journal, Sync())
            except _CORE_FAILURES as error:
                self._died(core, error)
                failed = True
            self._unsynced = 0
            if failed or not self.follower.unchanged(core):
                self.follow(deadline_s=RESTART_WAIT_S)

    def drive(
        self, records: Iterable[FeedRecord | None], *, stop: threading.Event | None = None
    ) -> int:
        """Lockstep steps of records as they come (a live feed), each at ``next_step`` and
        fed again if a core restart tore it; a None is a gap in the feed, where queued client
        units run. Returns the steps committed."""
        committed = 0
        with self.units.driving():
            for record in records:
                if stop is not None and stop.is_set():
                    break
                with self.units.lock:
                    self.units.between_steps()
                    while record is not None and not self.feed_and_wait(record):
                        _log.warning("live_step_fed_again", step=self.next_step)
                    committed += record is not None
        return committed

    def wait_idle(self, timeout_s: float = 10.0) -> None:
        """Return once no actor handled a message across two full rounds of stats asks.

        An ask is queued behind everything already in a mailbox, so two equal rounds with
        no timer or restart pending mean nothing is in flight anywhere. On the kernel, the
        queue is the only place anything can be in flight: quiet is when only housekeeping
        timers are left in it, the work timers (a venue's latency) run in virtual time.
        """
        with self.units.lock:  # a client's unit of work is never half-way through
            if self.kernel is not None:
                self.kernel.run_until_idle()
                return
            deadline = self._clock() + timeout_s
            previous: dict[str, int] | None = None
            while self._clock() < deadline:
                current = self._stats_round()
                if current is not None and current == previous:
                    return
                previous = current
        raise TimeoutError(f"runtime still busy after {timeout_s} s")

    # -- inside ------------------------------------------------------------------------------

    def _client_unit(self, work: Callable[[], T]) -> T:
        """One client command as an atomic unit after the last committed step (lock held)."""
        core = self.follower.require()
        step = self.next_step - 1
        unit = self._last_unit[1] + 1 if self._last_unit[0] == step else 1
        self._last_unit = (step, unit)
        with self._queueing():
            core.journal.tell(
                Append(event=StepStarted(step=step, atomic=True, unit=unit), stream=RUNTIME_STREAM)
            )
        try:
            try:
                result, failure = work(), None
            except Exception as error:  # raised to the client once the unit is committed
                result, failure = None, error
            self.wait_idle()
            if self._commit(core, StepCommitted(step=step, unit=unit)):
                if failure is not None:
                    raise failure
                return result  # type: ignore[return-value]
        except _CORE_FAILURES as error:
            self._died(core, error)
        self.follow(deadline_s=RESTART_WAIT_S)
        raise RuntimeDownError(
            f"the core restarted while the command ran (after step {step}, unit {unit}), "
            "and recovery voided it whole"
        )

    def _died(self, core: CoreRefs, error: Exception) -> None:
        """Raise ``error`` again unless ``core`` is dying: one of its actors died, or its
        journal failed a commit (a full disk), which it answers with the store's error
        and then dies of (``JournalActor._failed``). Else it is a real stall."""
        if not isinstance(error, JournalStoreError):
            if self.follower.unchanged(core):
                raise error
        elif self.kernel is None:
            # On threads it dies a moment later: following before would find it again.
            # (On the kernel, the next ask or tell from here runs its death first.)
            core.journal.actor_stopped.wait(ASK_TIMEOUT_S)

    def _queueing(self) -> contextlib.AbstractContextManager[object]:
        """On the kernel, the driver's tells join its queue and run at the step's idle (a
        tell from outside the kernel runs the queue at once: a client's does)."""
        return self.kernel.active() if self.kernel is not None else contextlib.nullcontext()

    def _commit(self, core: CoreRefs, committed: StepCommitted, *, durable: bool = True) -> bool:
        """Journal ``committed`` and, if ``durable``, make it durable (with every marker
        appended before it); False if the core died meanwhile."""
        if not self.follower.unchanged(core):
            return False
        append = Append(event=committed, stream=RUNTIME_STREAM)
        with self._queueing():
            if not durable:
                core.journal.tell(append)  # a death from here on tears the next step
                self._unsynced += 1
                return True
            ask(core.journal, Sync(last=append))
        self._unsynced = 0
        return self.follower.unchanged(core)

    def _feed(
        self, core: CoreRefs, record: FeedRecord, *, atomic: bool, step: int | None = None
    ) -> None:
        started = StepStarted(step=self.next_step if step is None else step, atomic=atomic)
        appends = (Append(event=started, stream=RUNTIME_STREAM), self._routed(core, record))
        with self._queueing():
            core.journal.tell(AppendAll(appends=appends))

    @classmethod
    def _route(cls, core: CoreRefs, record: FeedRecord) -> None:
        core.journal.tell(cls._routed(core, record))

    @staticmethod
    def _routed(core: CoreRefs, record: FeedRecord) -> Append:
        """The Append that journals ``record`` and hands it to the market lifecycle actor."""
        if isinstance(record, LIFECYCLE):
            market_id = (
                record.definition.market_id
                if isinstance(record, MarketOpened)
                else record.market_id
            )
            return Append(
                event=record,
                stream=market_stream(market_id),
                dedup_key=f"{type(record).__name__}:{market_id}",
                deliver_to=core.market_lifecycle,
            )
        return Append(
            event=record,
            stream=market_data_stream(record.market_id),
            deliver_to=core.market_lifecycle,
        )

    @staticmethod
    def _stats_round() -> dict[str, int] | None:
        refs = pykka.ActorRegistry.get_by_class(RuntimeActor)
        futures = [ref.ask(GetStats(), block=False) for ref in refs]
        try:
            replies = pykka.get_all(futures, timeout=ASK_TIMEOUT_S)
        except (pykka.ActorDeadError, pykka.Timeout):
            # An actor died (or is being restarted) during the round; pykka can even leave
            # an ask in the inbox of an actor that just stopped. The next round will see.
            return None
        if any(stats.scheduled for stats in replies):
            return None
        return {ref.actor_urn: stats.handled for ref, stats in zip(refs, replies, strict=True)}
