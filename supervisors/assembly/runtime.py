"""The runtime's facade: start the tree, feed it, query it, stop it, from outside the actors.

``Runtime`` is what a program (the CLI, a test, a user's process) holds. The actors live in
the supervision tree of ``supervisors.assembly.runtime_tree``; the facade finds the tree's current
core by asking its root (``CurrentCore``), so it keeps working across restarts. It drives
lockstep steps: a step whose core was restarted while it ran is torn, and the facade resumes
where the recovered journal says, feeding that record again if need be. Queries block
(``ask``), which is safe here, outside any actor.

Standalone, ``start()`` runs the root itself; embedded, ``Runtime.child_spec`` gives the
tree to a user's supervisor and ``Runtime.embedded_in`` gives a facade that finds it there.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pykka
import structlog

from actors.execution import VenueReport
from actors.runtime_state import (
    RUNTIME_STREAM,
    market_data_stream,
    market_stream,
    order_from_created,
)
from bridges.feed_codec import FeedRecord
from messages.broker_events import AccountPosition
from messages.journal import StepCommitted, StepStarted
from messages.journal_protocol import Append, Sync
from messages.markets import MarketClosed, MarketOpened, MarketResolved
from messages.orders import OrderSnapshot
from messages.positions import PositionSnapshot
from messages.queries import (
    GetSnapshot,
    ListPositions,
    ListRoutedOrders,
    PositionRefs,
    RoutedOrders,
)
from messages.reconciliation import ReconcileRequest
from messages.risk import PositionMeta, RiskLimits, SetLimits, Trackers, TrackersFor
from messages.stats import GetStats
from messages.subscriptions import Subscribe
from supervisors.assembly.lockstep_units import LockstepUnits
from supervisors.assembly.recovery import RecoveryReport
from supervisors.assembly.runtime_config import JOURNAL_FILE, RuntimeConfig
from supervisors.assembly.runtime_tree import CoreRefs, CurrentCore, RuntimeSupervisor
from supervisors.kernel.base import ASK_TIMEOUT_S, RuntimeActor, ask
from supervisors.kernel.child_spec import ChildSpec, Restart, SupervisedContext
from supervisors.kernel.protocol import WhichChildren
from supervisors.kernel.root_watch import RootWatch, exit_reason

__all__ = ["JOURNAL_FILE", "Runtime", "RuntimeConfig", "RuntimeDownError"]

T = TypeVar("T")

_log = structlog.get_logger("tradeactors", actor="runtime")

_LIFECYCLE = (MarketOpened, MarketClosed, MarketResolved)
"""Feed records that open, close or resolve a market: routed to the market supervisor, and
never lost to a core that restarts (``Runtime._refeed_lifecycle``)."""

RESTART_WAIT_S = 60.0
"""How long the facade waits for a restarting core before it calls the runtime down."""


class RuntimeDownError(Exception):
    """The runtime's root is gone (it gave up, or its parent stopped it) and did not return."""


class Runtime:
    """Start (or find), feed, query and stop one runtime tree."""

    def __init__(self, config: RuntimeConfig | None = None) -> None:
        self.config = config if config is not None else RuntimeConfig()
        self.next_step = 0
        self._root: pykka.ActorRef[Any] | None = None
        self._locate: Callable[[], pykka.ActorRef[Any] | None] = lambda: self._root
        self._core: CoreRefs | None = None
        self._resumed: tuple[str, int] | None = None
        """The key of the core whose ``resume_step`` ``next_step`` last took: another
        thread may point ``_core`` at a new core first (``follow``), and the feed must
        still resume from that core's journal."""
        self._temp_dir: str | None = None
        self._watch: pykka.ActorRef[Any] | None = None
        self._units = LockstepUnits(self._client_unit)
        self._records: Sequence[FeedRecord] = ()
        self._paced_core: tuple[str, int] | None = None
        """The core the last paced record went to (``_refeed_lifecycle``)."""
        self._last_unit = (-1, 0)

    @staticmethod
    def child_spec(
        config: RuntimeConfig,
        feed: Sequence[FeedRecord] = (),
        *,
        child_id: str = "tradeactors",
        restart: Restart = Restart.PERMANENT,
    ) -> ChildSpec:
        """The whole runtime as one child of a user's supervisor (needs ``data_dir``)."""
        return RuntimeSupervisor.spec(config, feed, child_id=child_id, restart=restart)

    @classmethod
    def embedded_in(
        cls, parent: pykka.ActorRef[Any], config: RuntimeConfig, child_id: str = "tradeactors"
    ) -> Runtime:
        """A facade for the runtime that ``parent`` supervises as ``child_id``.

        It finds the current root through the parent each time the core changes, so it
        follows the runtime across the parent's restarts of it. ``stop()`` leaves the tree
        to its parent.
        """

        def locate() -> pykka.ActorRef[Any] | None:
            for child in ask(parent, WhichChildren()):
                if child.child_id == child_id:
                    return child.ref  # type: ignore[no-any-return]
            return None

        runtime = cls(config)
        runtime._locate = locate
        runtime._follow(deadline_s=RESTART_WAIT_S)
        return runtime

    # -- the tree ----------------------------------------------------------------------------

    @property
    def journal_path(self) -> Path:
        if self.config.data_dir is not None:
            return self.config.data_dir / JOURNAL_FILE
        if self._temp_dir is None:
            self._temp_dir = tempfile.mkdtemp(prefix="tradeactors-")
        return Path(self._temp_dir) / JOURNAL_FILE

    @property
    def root(self) -> pykka.ActorRef[Any] | None:
        return self._core.root if self._core is not None else None

    @property
    def journal(self) -> pykka.ActorRef[Any] | None:
        return self._core.journal if self._core is not None else None

    @property
    def bus(self) -> pykka.ActorRef[Any] | None:
        return self._core.bus if self._core is not None else None

    @property
    def index(self) -> pykka.ActorRef[Any] | None:
        return self._core.index if self._core is not None else None

    @property
    def risk(self) -> pykka.ActorRef[Any] | None:
        return self._core.risk if self._core is not None else None

    @property
    def venue(self) -> pykka.ActorRef[Any] | None:
        return self._core.venue if self._core is not None else None

    @property
    def execution(self) -> pykka.ActorRef[Any] | None:
        return self._core.execution if self._core is not None else None

    @property
    def strategy(self) -> pykka.ActorRef[Any] | None:
        return self._core.strategy if self._core is not None else None

    @property
    def supervisor(self) -> pykka.ActorRef[Any] | None:
        """The market supervisor."""
        return self._core.markets if self._core is not None else None

    def extra(self, child_id: str) -> pykka.ActorRef[Any] | None:
        """A broker-edge actor (``normalizer``, ``account_positions``, ``reconciler``)."""
        return self._core.extras.get(child_id) if self._core is not None else None

    @property
    def recovery(self) -> RecoveryReport | None:
        return self._core.recovery if self._core is not None else None

    @property
    def generation(self) -> int:
        """How many times the current root has started its core (1 until a core restart)."""
        return self._core.generation if self._core is not None else 0

    def start(self, feed: Sequence[FeedRecord] = ()) -> Runtime:
        """Start the tree: the journal recovers, every other actor is built around it.

        ``feed`` is the feed this run replays; recovery uses its records before
        ``next_step`` to rebuild the simulated venue and the live markets' books (after a
        restart of the core too).
        """
        if self._core is not None:
            raise RuntimeError("this runtime is already started")
        config = attrs.evolve(self.config, data_dir=self.journal_path.parent)
        self._records = feed
        self._watch = RootWatch.start()
        try:
            self._root = RuntimeSupervisor.start(
                config,
                feed,
                supervision=SupervisedContext(supervisor=self._watch, child_id="tradeactors"),
            )
        except BaseException:
            self._watch.stop()
            raise
        try:
            self._follow(deadline_s=RESTART_WAIT_S)
        except RuntimeDownError:
            self.stop()
            raise
        return self

    def __enter__(self) -> Runtime:
        return self if self._core is not None else self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop a standalone tree; the journal commits and snapshots as it stops."""
        if self._root is not None:
            self._root.stop(block=True, timeout=ASK_TIMEOUT_S * 24)
        if self._watch is not None:
            self._watch.stop()
        self._root = self._watch = None
        self._core = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    # -- feeding -----------------------------------------------------------------------------

    def feed(self, record: FeedRecord) -> None:
        """Hand the next feed record to the runtime without waiting for its effects.

        If the core is restarting, the record goes to its successor. Book changes the dead
        core had not journaled are lost to it, as market data lost in transit would be (the
        books resync at their next snapshot); a market's opening, close or resolution is
        not: the successor is handed those again first (``_refeed_lifecycle``).
        """
        try:
            self._refeed_lifecycle(self._require_core())
            self._feed(self._require_core(), record, atomic=False)
        except pykka.ActorDeadError:
            self.refresh()
            self._refeed_lifecycle(self._require_core())
            self._feed(self._require_core(), record, atomic=False)
        self.next_step += 1

    def _refeed_lifecycle(self, core: CoreRefs) -> None:
        """On the first paced record a new core gets: the lifecycle records that its journal
        lacks (told to the core before it, which died first) go to it again, in order;
        lifecycle records are idempotent. Else a lost market switch would leave the rest of
        that market's feed unrouted."""
        if self._paced_core in (None, core.key):
            self._paced_core = core.key
            return
        self._paced_core = core.key
        for step in range(core.resume_step, min(self.next_step, len(self._records))):
            lost = self._records[step]
            if isinstance(lost, _LIFECYCLE):
                _log.warning("lifecycle_record_fed_again", step=step, kind=type(lost).__name__)
                self._feed(core, lost, atomic=False, step=step)

    def inject(self, record: FeedRecord) -> None:
        """Route a record from outside the feed (a client's ``switch_market``): journaled
        and applied like a feed record, but no step of the replay."""
        try:
            self._route(self._require_core(), record)
        except pykka.ActorDeadError:
            self.refresh()
            self._route(self._require_core(), record)

    def feed_and_wait(
        self,
        record: FeedRecord,
        timeout_s: float = 10.0,
        during: Callable[[int], object] | None = None,
    ) -> bool:
        """Feed one record as a unit of work: everything it causes happens before this returns.

        Returns True when the step is committed. If the core died while it ran, the step is
        torn: the core's restart voids what it journaled, ``next_step`` becomes where the
        recovered journal resumes (this record again, unless its commit landed), and this
        returns False. ``during`` runs while the record is processed (faults strike there).
        """
        with self._units.lock:
            core = self._require_core()
            step = self.next_step
            try:
                self._feed(core, record, atomic=True)
                if during is not None:
                    during(step)
                self.wait_idle(timeout_s)
                if self._commit(core, StepCommitted(step=step)):
                    self.next_step = step + 1
                    return True
            except (pykka.ActorDeadError, pykka.Timeout):
                if self._unchanged(core):
                    raise  # nothing died: a real stall, not a torn step
            self._follow(deadline_s=RESTART_WAIT_S)
            if self._require_core().key == core.key:
                raise RuntimeError(f"step {step} did not commit, and no restart explains why")
            return False

    def change(self, work: Callable[[], T], timeout_s: float = RESTART_WAIT_S) -> T:
        """Run ``work``, a client's state change (a submit, a cancel, new limits…).

        While a lockstep replay runs, as its own unit of work between two feed steps,
        answered once committed (``supervisors.assembly.lockstep_units``): RuntimeDownError if the
        core restarted while it ran, which voided it whole. Otherwise at once.
        """
        return self._units.run(work, timeout_s)

    def replay(
        self,
        records: Sequence[FeedRecord],
        *,
        end: int | None = None,
        duration_s: float | None = None,
        during: Callable[[int], object] | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Lockstep replay of ``records`` from ``next_step`` to ``end``; returns steps committed.

        Each record is a unit of work (``feed_and_wait``); a torn one is fed again. ``stop``,
        once set, ends the replay between two records.
        """
        end = len(records) if end is None else min(end, len(records))
        stop_at = time.monotonic() + duration_s if duration_s is not None else float("inf")
        committed = 0
        with self._units.driving():
            while (
                self.next_step < end
                and time.monotonic() < stop_at
                and not (stop is not None and stop.is_set())
            ):
                with self._units.lock:
                    self._units.between_steps()
                    committed += self.feed_and_wait(records[self.next_step], during=during)
        return committed

    def set_limits(self, limits: RiskLimits) -> None:
        """Replace the risk limits now (journaled: a restart keeps them)."""
        self._require(self.risk).tell(SetLimits(limits=limits))

    def lookup(self, security_id: str) -> tuple[PositionMeta, ...]:
        """The position index's answer for ``security_id``."""

        def read() -> tuple[PositionMeta, ...]:
            trackers: Trackers = ask(
                self._require(self.index), TrackersFor(security_ids=(security_id,))
            )
            return trackers.by_security

        return self._retrying(read)

    def reconcile(self, reason: str = "on command") -> None:
        """Reconcile every account with the broker now (with a broker configured)."""
        self._require(self.extra("reconciler")).tell(ReconcileRequest(reason=reason))

    def sync(self) -> int:
        """Commit what the journal holds; returns the last journaled seq."""
        return int(ask(self._require(self.journal), Sync()))

    def venue_report(self, report: VenueReport) -> None:
        """Hand a venue report (fill, ack, cancel) to execution as if the venue sent it."""
        self._require(self.execution).tell(report)

    def subscribe(self, subscriber: pykka.ActorRef[Any]) -> None:
        """Have ``subscriber`` receive every event of the runtime, across core restarts."""
        self._require_core().root.tell(Subscribe(subscriber=subscriber))

    def wait_idle(self, timeout_s: float = 10.0) -> None:
        """Return once no actor handled a message across two full rounds of stats asks.

        An ask is queued behind everything already in a mailbox, so two equal rounds with
        no timer or restart pending mean nothing is in flight anywhere.
        """
        with self._units.lock:  # a client's unit of work is never half-way through
            deadline = time.monotonic() + timeout_s
            previous: dict[str, int] | None = None
            while time.monotonic() < deadline:
                current = self._stats_round()
                if current is not None and current == previous:
                    return
                previous = current
        raise TimeoutError(f"runtime still busy after {timeout_s} s")

    # -- queries -----------------------------------------------------------------------------

    def positions(self) -> list[PositionSnapshot]:
        """Every position: archived (settled) ones and the live ones, oldest market first."""

        def read() -> list[PositionSnapshot]:
            refs: PositionRefs = ask(self._require(self.supervisor), ListPositions())
            live = [ask(ref, GetSnapshot()) for _, ref in refs.live]
            return [*refs.archived, *live]

        return self._retrying(read)

    def account_positions(self) -> tuple[AccountPosition, ...]:
        """The broker-account view (with a broker configured): per (account, security)."""

        def read() -> tuple[AccountPosition, ...]:
            book = self._require(self.extra("account_positions"))
            return book.proxy().positions().get(timeout=ASK_TIMEOUT_S)  # type: ignore[no-any-return]

        return self._retrying(read)

    def orders(self) -> list[OrderSnapshot]:
        """Every order execution still routes (archived markets' orders are gone); an order
        whose actor is still starting is as it was created."""

        def read() -> list[OrderSnapshot]:
            routed: RoutedOrders = ask(self._require(self.execution), ListRoutedOrders())
            running = [ask(ref, GetSnapshot()) for _, ref in routed.running]
            return running + [order_from_created(created).snapshot() for created in routed.starting]

        return self._retrying(read)

    # -- inside ------------------------------------------------------------------------------

    def _client_unit(self, work: Callable[[], T]) -> T:
        """One client command as an atomic unit after the last committed step (lock held)."""
        core = self._require_core()
        step = self.next_step - 1
        unit = self._last_unit[1] + 1 if self._last_unit[0] == step else 1
        self._last_unit = (step, unit)
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
        except (pykka.ActorDeadError, pykka.Timeout):
            if self._unchanged(core):
                raise
        self._follow(deadline_s=RESTART_WAIT_S)
        raise RuntimeDownError(
            f"the core restarted while the command ran (after step {step}, unit {unit}), "
            "and recovery voided it whole"
        )

    def _commit(self, core: CoreRefs, committed: StepCommitted) -> bool:
        """Journal ``committed`` and make it durable; False if the core died meanwhile."""
        if not self._unchanged(core):
            return False
        core.journal.tell(Append(event=committed, stream=RUNTIME_STREAM))
        ask(core.journal, Sync())
        return self._unchanged(core)

    def _feed(
        self, core: CoreRefs, record: FeedRecord, *, atomic: bool, step: int | None = None
    ) -> None:
        started = StepStarted(step=self.next_step if step is None else step, atomic=atomic)
        core.journal.tell(Append(event=started, stream=RUNTIME_STREAM))
        self._route(core, record)

    def _route(self, core: CoreRefs, record: FeedRecord) -> None:
        if isinstance(record, _LIFECYCLE):
            market_id = (
                record.definition.market_id
                if isinstance(record, MarketOpened)
                else record.market_id
            )
            core.journal.tell(
                Append(
                    event=record,
                    stream=market_stream(market_id),
                    dedup_key=f"{type(record).__name__}:{market_id}",
                    deliver_to=core.markets,
                )
            )
        else:
            core.journal.tell(
                Append(
                    event=record,
                    stream=market_data_stream(record.market_id),
                    deliver_to=core.markets,
                )
            )

    def _unchanged(self, core: CoreRefs) -> bool:
        """True when none of ``core``'s actors died and its root still runs it."""
        if not core.intact():
            return False
        try:
            current = self._ask_core()
        except (pykka.ActorDeadError, pykka.Timeout):
            return False
        return current is not None and current.key == core.key

    def _ask_core(self) -> CoreRefs | None:
        root = self._locate()
        if root is None:
            return None
        core: CoreRefs | None = ask(root, CurrentCore())
        return core

    def _follow(self, *, deadline_s: float, resume: bool = True, settle: bool = True) -> None:
        """Wait for a live core; with ``resume``, feed on where its recovery says
        (``next_step``); with ``settle``, wait for it to go idle too.

        A core with a dead actor is never taken: its root is about to replace it.
        """
        deadline = time.monotonic() + deadline_s
        last_error = "no root"
        while time.monotonic() < deadline:
            if self._root is not None and not self._root.is_alive():
                reason = exit_reason(self._watch)
                raise RuntimeDownError(
                    "the runtime's root supervisor stopped: "
                    + (reason or "restart intensity exceeded, or stopped from outside")
                )
            try:
                core = self._ask_core()
            except (pykka.ActorDeadError, pykka.Timeout) as error:
                core, last_error = None, f"{type(error).__name__}: {error}"
            if core is not None and core.intact():
                if resume and core.key != self._resumed:
                    self.next_step = core.resume_step
                    self._resumed = core.key
                self._core = core
                if settle:
                    self.wait_idle(deadline_s)
                return
            time.sleep(0.01)
        raise RuntimeDownError(f"no running runtime core after {deadline_s} s ({last_error})")

    def _retrying(self, read: Callable[[], T], attempts: int = 5) -> T:
        """``read`` again when an actor it asked was dead or restarting at that moment."""
        for _ in range(attempts - 1):
            try:
                return read()
            except (pykka.ActorDeadError, pykka.Timeout):
                time.sleep(0.05)
                core = self._core
                if core is not None and not core.intact():
                    self.refresh()
        return read()

    def refresh(self) -> None:
        """Point at the running core, waiting for it if it is restarting.

        Unlike a torn lockstep step, this leaves ``next_step`` alone (queries, paced feeding,
        a caller that saw an actor die), so a query on another thread never moves the feed.
        """
        self._follow(deadline_s=RESTART_WAIT_S, resume=False)

    def follow(self, timeout_s: float = RESTART_WAIT_S) -> None:
        """Point at the running core if the one held has died (the ZeroMQ edge calls this
        before each command): at once while it lives; else wait for its successor, but not
        for it to go idle. ``next_step`` stays as it is. RuntimeDownError after
        ``timeout_s``."""
        core = self._core
        if core is not None and not core.intact():
            self._follow(deadline_s=timeout_s, resume=False, settle=False)

    def _require_core(self) -> CoreRefs:
        if self._core is None:
            raise RuntimeError("the runtime is not started")
        return self._core

    def _stats_round(self) -> dict[str, int] | None:
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

    @staticmethod
    def _require(ref: pykka.ActorRef[Any] | None) -> pykka.ActorRef[Any]:
        if ref is None:
            raise RuntimeError("the runtime is not started")
        return ref
