"""The runtime's facade: start the tree, feed it, query it, stop it, from outside the actors.

``Runtime`` is what a program (the CLI, a test, a user's process) holds. The actors live in
the supervision tree of ``supervisors.assembly.runtime_tree``; the facade starts (or finds)
the tree and hands the rest to three parts that share one ``CoreFollower`` (the current core,
across restarts): the ``LockstepDriver`` feeds it, the ``QueryView`` reads it, and the facade
tells it a client's commands.

Standalone, ``start()`` runs the root itself; embedded, ``Runtime.child_spec`` gives the
tree to a user's supervisor and ``Runtime.embedded_in`` gives a facade that finds it there.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pykka

from actors.execution import VenueReport
from bridges.feed_codec import FeedRecord
from messages.broker_events import AccountPosition
from messages.journal_protocol import Sync
from messages.orders import OrderSnapshot
from messages.positions import PositionSnapshot
from messages.queries import MarketState
from messages.reconciliation import ReconcileRequest
from messages.risk import PositionMeta, RiskLimits, SetLimits
from messages.subscriptions import Subscribe
from supervisors.assembly.core_follower import RESTART_WAIT_S, CoreFollower, RuntimeDownError
from supervisors.assembly.lockstep_driver import LockstepDriver
from supervisors.assembly.query_view import QueryView, require
from supervisors.assembly.recovery import RecoveryReport
from supervisors.assembly.runtime_config import JOURNAL_FILE, RuntimeConfig
from supervisors.assembly.runtime_tree import RuntimeSupervisor
from supervisors.kernel.base import ASK_TIMEOUT_S, ask
from supervisors.kernel.child_spec import ChildSpec, Restart, SupervisedContext
from supervisors.kernel.protocol import WhichChildren
from supervisors.kernel.root_watch import RootWatch
from supervisors.kernel.virtual_time import VirtualTimeKernel

__all__ = ["JOURNAL_FILE", "Runtime", "RuntimeConfig", "RuntimeDownError"]

T = TypeVar("T")


class Runtime:
    """Start (or find), feed, query and stop one runtime tree."""

    def __init__(
        self,
        config: RuntimeConfig | None = None,
        *,
        locate: Callable[[], pykka.ActorRef[Any] | None] | None = None,
    ) -> None:
        """``locate`` finds the root of a tree run elsewhere (``embedded_in``)."""
        self.config = config if config is not None else RuntimeConfig()
        self._temp_dir: str | None = None
        self._follower = CoreFollower(locate)
        scheduler = self.config.scheduler
        self.kernel = scheduler if isinstance(scheduler, VirtualTimeKernel) else None
        """The virtual-time kernel the tree runs on (``RuntimeConfig.scheduler``), if any."""
        self.driver = LockstepDriver(self._follower, kernel=self.kernel)
        self.view = QueryView(self._follower, self.driver.refresh)

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

        runtime = cls(config, locate=locate)
        runtime.driver.follow(deadline_s=RESTART_WAIT_S)
        return runtime

    # -- the tree ----------------------------------------------------------------------------

    @property
    def next_step(self) -> int:
        """The feed step the driver feeds next (where a recovered journal resumes)."""
        return self.driver.next_step

    @next_step.setter
    def next_step(self, step: int) -> None:
        self.driver.next_step = step

    @property
    def journal_path(self) -> Path:
        if self.config.data_dir is not None:
            return self.config.data_dir / JOURNAL_FILE
        if self._temp_dir is None:
            self._temp_dir = tempfile.mkdtemp(prefix="tradeactors-")
        return Path(self._temp_dir) / JOURNAL_FILE

    @property
    def root(self) -> pykka.ActorRef[Any] | None:
        core = self._follower.core
        return core.root if core is not None else None

    @property
    def journal(self) -> pykka.ActorRef[Any] | None:
        core = self._follower.core
        return core.journal if core is not None else None

    @property
    def bus(self) -> pykka.ActorRef[Any] | None:
        core = self._follower.core
        return core.bus if core is not None else None

    @property
    def index(self) -> pykka.ActorRef[Any] | None:
        core = self._follower.core
        return core.index if core is not None else None

    @property
    def risk(self) -> pykka.ActorRef[Any] | None:
        core = self._follower.core
        return core.risk if core is not None else None

    @property
    def venue(self) -> pykka.ActorRef[Any] | None:
        core = self._follower.core
        return core.venue if core is not None else None

    @property
    def execution(self) -> pykka.ActorRef[Any] | None:
        core = self._follower.core
        return core.execution if core is not None else None

    @property
    def strategy(self) -> pykka.ActorRef[Any] | None:
        core = self._follower.core
        return core.strategy if core is not None else None

    @property
    def supervisor(self) -> pykka.ActorRef[Any] | None:
        """The market supervisor: it only supervises the per-market actors."""
        core = self._follower.core
        return core.markets if core is not None else None

    @property
    def market_lifecycle(self) -> pykka.ActorRef[Any] | None:
        """The actor that opens, switches, settles and archives the markets."""
        core = self._follower.core
        return core.market_lifecycle if core is not None else None

    def extra(self, child_id: str) -> pykka.ActorRef[Any] | None:
        """A broker-edge actor (``normalizer``, ``account_positions``, ``reconciler``)."""
        core = self._follower.core
        return core.extras.get(child_id) if core is not None else None

    @property
    def recovery(self) -> RecoveryReport | None:
        core = self._follower.core
        return core.recovery if core is not None else None

    @property
    def generation(self) -> int:
        """How many times the current root has started its core (1 until a core restart)."""
        core = self._follower.core
        return core.generation if core is not None else 0

    def start(self, feed: Sequence[FeedRecord] = ()) -> Runtime:
        """Start the tree: the journal recovers, every other actor is built around it.

        ``feed`` is the feed this run replays; recovery uses its records before
        ``next_step`` to rebuild the simulated venue and the live markets' books (after a
        restart of the core too).
        """
        if self._follower.core is not None:
            raise RuntimeError("this runtime is already started")
        config = attrs.evolve(self.config, data_dir=self.journal_path.parent)
        self.driver.records = feed
        watch = RootWatch.start()
        try:
            # Actors are put on the kernel where they are started: the whole tree is.
            with self.kernel.active() if self.kernel is not None else contextlib.nullcontext():
                root = RuntimeSupervisor.start(
                    config,
                    feed,
                    supervision=SupervisedContext(supervisor=watch, child_id="tradeactors"),
                )
        except BaseException:
            watch.stop()
            raise
        self._follower.root, self._follower.watch = root, watch
        try:
            self.driver.follow(deadline_s=RESTART_WAIT_S)
        except RuntimeDownError:
            self.stop()
            raise
        return self

    def __enter__(self) -> Runtime:
        return self if self._follower.core is not None else self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop a standalone tree; the journal commits and snapshots as it stops."""
        follower = self._follower
        if follower.root is not None:
            follower.root.stop(block=True, timeout=ASK_TIMEOUT_S * 24)
        if follower.watch is not None:
            follower.watch.stop()
        follower.root = follower.watch = None
        follower.core = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    # -- feeding -----------------------------------------------------------------------------

    def feed(self, record: FeedRecord) -> None:
        """Hand the next feed record to the runtime without waiting for its effects.

        If the core is restarting, the record goes to its successor. Book changes the dead
        core had not journaled are lost to it, as market data lost in transit would be (the
        books resync at their next snapshot); a market's opening, close or resolution is
        not: the successor is handed those again first.
        """
        self.driver.feed(record)

    def inject(self, record: FeedRecord) -> None:
        """Route a record from outside the feed (a client's ``switch_market``): journaled
        and applied like a feed record, but no step of the replay."""
        self.driver.inject(record)

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
        return self.driver.feed_and_wait(record, timeout_s, during)

    def change(self, work: Callable[[], T], timeout_s: float = RESTART_WAIT_S) -> T:
        """Run ``work``, a client's state change (a submit, a cancel, new limits…).

        While a lockstep replay runs, as its own unit of work between two feed steps,
        answered once committed (``supervisors.assembly.lockstep_units``): RuntimeDownError if the
        core restarted while it ran, which voided it whole. Otherwise at once.
        """
        return self.driver.change(work, timeout_s)

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
        """Lockstep replay of ``records`` from ``next_step`` to ``end``; returns steps committed.

        Each record is a unit of work (``feed_and_wait``); a torn one is fed again. ``stop``,
        once set, ends the replay between two records. ``pace`` (seconds until a record is
        due) makes it a paced replay of the same steps (``bridges.feed_player.FeedPace``).
        """
        return self.driver.replay(
            records, end=end, duration_s=duration_s, during=during, stop=stop, pace=pace
        )

    def drive(
        self, records: Iterable[FeedRecord | None], *, stop: threading.Event | None = None
    ) -> int:
        """Lockstep steps of a live feed's records as they arrive; None marks a gap."""
        return self.driver.drive(records, stop=stop)

    def wait_idle(self, timeout_s: float = 10.0) -> None:
        """Return once no actor handled a message across two full rounds of stats asks
        (``LockstepDriver.wait_idle``)."""
        self.driver.wait_idle(timeout_s)

    # -- commands ----------------------------------------------------------------------------

    def set_limits(self, limits: RiskLimits) -> None:
        """Replace the risk limits now (journaled: a restart keeps them)."""
        self._require(self.risk).tell(SetLimits(limits=limits))

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
        self._follower.require().root.tell(Subscribe(subscriber=subscriber))

    # -- queries -----------------------------------------------------------------------------

    def lookup(self, security_id: str) -> tuple[PositionMeta, ...]:
        """The position index's answer for ``security_id``."""
        return self.view.lookup(security_id)

    def positions(self) -> list[PositionSnapshot]:
        """Every position: archived (settled) ones and the live ones, oldest market first."""
        return self.view.positions()

    def markets(self) -> tuple[MarketState, ...]:
        """Every market and its phase: archived ones, then live ones; the current one last."""
        return self.view.markets()

    def account_positions(self) -> tuple[AccountPosition, ...]:
        """The broker-account view (with a broker configured): per (account, security)."""
        return self.view.account_positions()

    def orders(self) -> list[OrderSnapshot]:
        """Every order execution still routes (archived markets' orders are gone); an order
        whose actor is still starting is as it was created."""
        return self.view.orders()

    # -- following the core ------------------------------------------------------------------

    def refresh(self) -> None:
        """Point at the running core, waiting for it if it is restarting.

        Unlike a torn lockstep step, this leaves ``next_step`` alone (queries, paced feeding,
        a caller that saw an actor die), so a query on another thread never moves the feed.
        """
        self.driver.refresh()

    def follow(self, timeout_s: float = RESTART_WAIT_S) -> None:
        """Point at the running core if the one held has died (the ZeroMQ edge calls this
        before each command): at once while it lives; else wait for its successor, but not
        for it to go idle. ``next_step`` stays as it is. RuntimeDownError after
        ``timeout_s``."""
        core = self._follower.core
        if core is not None and not core.intact():
            self.driver.follow(deadline_s=timeout_s, resume=False, settle=False)

    _require = staticmethod(require)
