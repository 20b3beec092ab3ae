"""The runtime's supervision tree: a root supervisor over the core actors, one_for_all.

::

    tradeactors            RuntimeSupervisor, one_for_all
    ├── journal            JournalActor: recovers the state every other child is built from
    ├── bus                EventBusActor
    ├── index              PositionIndexActor: loaded with the journal's live positions
    ├── risk               RiskActor: limits from the journal (last set) or the config
    ├── venue              SimulatedVenueActor: rebuilt from the feed + the journal's orders
    ├── execution          ExecutionActor
    ├── strategy           StrategyActor
    └── markets            MarketSupervisor, one_for_one
        ├── position:<m>   PositionActor     } per market, dynamic; a crash here is restarted
        ├── market:<m>     MarketActor       } alone, from the journal, and never disturbs
        └── order:<o>      OrderActor        } another market or the core

Why one_for_all at the root: the core actors hand each other work that is not yet durable
(a fill in the venue's latency timer, a signal in execution's mailbox, an Append in the
journal's uncommitted batch). When one of them dies, that work is gone, and only the journal
says what the others may still believe. So they all stop, in reverse order, and start again
from the journal in order, exactly as after a process restart: the journal's factory
recovers (voiding a torn lockstep step), and each later factory builds its child from that
recovery. The crash test proves that path exact; the fault-injection tests prove it here.

The whole tree is one child spec (``RuntimeSupervisor.child_spec`` via
``Runtime.child_spec``), so it runs as one child of a user's larger supervisor tree; if the
root exceeds its restart intensity it fails, and the user's supervisor applies its own
strategy to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import pykka

from actors.account_book import AccountBook
from actors.account_positions import AccountPositionsActor
from actors.event_bus import EventBusActor
from actors.execution import ExecutionActor
from actors.journal import JournalActor
from actors.normalizer import NormalizerActor
from actors.order_state import CLOSED_STATUSES
from actors.position_accounting import PositionBook
from actors.position_index import PositionIndexActor
from actors.position_index_book import PositionIndex
from actors.query_pacer import QueryPacer
from actors.reconciler import ReconcilerActor
from actors.risk import RiskActor
from actors.runtime_state import RuntimeState
from actors.snapshot_writer import SnapshotWriter
from actors.strategy import StrategyActor
from bridges.broker_venue import BrokerVenueActor
from bridges.data_dir_lock import DataDirLock
from bridges.feed_codec import FeedRecord
from bridges.journal_preflight import check_journal
from bridges.journal_sqlite import SqliteStoreFactory
from bridges.simulated_venue import SimulatedVenueActor
from bridges.venue_matching import MatchingEngine
from bridges.venue_replay import rebuild_venue
from messages.broker_events import OpenOrderAdopted, OrderRouted
from messages.fields import id_field, ts_init_field
from messages.positions import PositionSnapshot
from messages.refs import Recipient
from messages.risk import RiskLimits
from messages.subscriptions import Subscribe
from supervisors.assembly.market_supervisor import MarketSupervisor, RestoredMarket
from supervisors.assembly.recovery import RecoveryReport, recover_state
from supervisors.assembly.runtime_config import BrokerConfig, RuntimeConfig
from supervisors.kernel.base import handles, tell_quietly
from supervisors.kernel.child_spec import ChildSpec, Restart, Strategy, SupervisedContext
from supervisors.kernel.supervisor import Supervisor

CORE_CHILDREN = (
    "journal",
    "bus",
    "index",
    "risk",
    "venue",
    "execution",
    "strategy",
    "markets",
)
"""The root's children, in start order (with a simulated venue)."""

BROKER_CHILDREN = (
    "journal",
    "bus",
    "index",
    "risk",
    "account_positions",
    "normalizer",
    "venue",
    "execution",
    "strategy",
    "markets",
    "reconciler",
)
"""The root's children when the runtime trades through a broker; ``venue`` is the broker's."""

EXTRA_CHILDREN = ("account_positions", "normalizer", "reconciler")

_SLOW_S = 60.0
"""Start and shutdown timeout of a core child: recovery, a final snapshot, many markets."""


@attrs.frozen(kw_only=True, slots=True)
class CurrentCore:
    """Ask the root for its running core; answered with ``CoreRefs`` once it is up."""

    id: str = id_field()
    ts_init: int = ts_init_field()


@attrs.frozen(kw_only=True)
class CoreRefs:
    """One incarnation of the core: its actors, and where its recovered journal resumes.

    ``generation`` counts the core's starts under one root; a facade compares ``key`` to see
    whether the core it fed has been replaced since (by this root or by a new root).
    """

    root: pykka.ActorRef[Any]
    generation: int
    resume_step: int
    recovery: RecoveryReport
    journal: pykka.ActorRef[Any]
    bus: pykka.ActorRef[Any]
    index: pykka.ActorRef[Any]
    risk: pykka.ActorRef[Any]
    venue: pykka.ActorRef[Any]
    execution: pykka.ActorRef[Any]
    strategy: pykka.ActorRef[Any]
    markets: pykka.ActorRef[Any]
    extras: dict[str, pykka.ActorRef[Any]] = attrs.field(factory=dict)
    """The broker edge's actors, by child id, when there is a broker."""

    @property
    def key(self) -> tuple[str, int]:
        return (self.root.actor_urn, self.generation)

    def actors(self) -> tuple[pykka.ActorRef[Any], ...]:
        core = (
            self.journal,
            self.bus,
            self.index,
            self.risk,
            self.venue,
            self.execution,
            self.strategy,
            self.markets,
        )
        return (*core, *self.extras.values())

    def intact(self) -> bool:
        """True while neither the root nor any of this incarnation's actors has died."""
        return self.root.is_alive() and all(ref.is_alive() for ref in self.actors())


@attrs.define
class _Recovered:
    """What the journal's factory recovered, for the factories after it (same thread)."""

    engine: MatchingEngine
    markets: list[RestoredMarket]
    orders: tuple[Any, ...]
    archived: list[PositionSnapshot]
    order_count: int
    resume_step: int
    report: RecoveryReport
    accounts: AccountBook
    routed: tuple[OrderRouted, ...]
    open_order_ids: frozenset[str]
    adopted: tuple[OpenOrderAdopted, ...]
    risk_limits: RiskLimits | None


class RuntimeSupervisor(Supervisor):
    """The root of one runtime; ``feed`` is what the venue is rebuilt from after a restart.

    It holds the data dir's lock (``bridges.data_dir_lock``) from its construction to its
    end, and checks the journal's file first (``bridges.journal_preflight``): a refusal is a
    ``DataDirError`` raised to whoever starts it, a facade or a parent supervisor.

    ``Subscribe`` here means every event of the runtime: the subscriber hears this root's
    supervision events and is subscribed to each incarnation of the bus.
    """

    kind = "runtime_supervisor"

    def __init__(
        self,
        config: RuntimeConfig,
        feed: Sequence[FeedRecord] = (),
        *,
        name: str = "tradeactors",
        supervision: SupervisedContext | None = None,
    ) -> None:
        factories = {
            "journal": self._start_journal,
            "bus": self._start_bus,
            "index": self._start_index,
            "risk": self._start_risk,
            "account_positions": self._start_account_positions,
            "normalizer": self._start_normalizer,
            "venue": self._start_venue,
            "execution": self._start_execution,
            "strategy": self._start_strategy,
            "markets": self._start_markets,
            "reconciler": self._start_reconciler,
        }
        self.child_ids = BROKER_CHILDREN if config.broker is not None else CORE_CHILDREN
        super().__init__(
            name=name,
            children=[
                ChildSpec(
                    id=child_id,
                    start=factories[child_id],
                    shutdown_s=_SLOW_S,
                    start_timeout_s=_SLOW_S,
                    backoff=config.journal_backoff if child_id == "journal" else None,
                )
                for child_id in self.child_ids
            ],
            strategy=Strategy.ONE_FOR_ALL,
            max_restarts=config.max_restarts,
            period_s=config.restart_period_s,
            scheduler=config.scheduler,
            supervision=supervision,
        )
        self.config = config
        self.journal_path = config.journal_path
        self.stores = config.stores()
        self.feed = tuple(feed)
        self.generation = 0
        self.listeners: list[Recipient] = []
        self.refs: dict[str, pykka.ActorRef[Any]] = {}
        self._recovered: _Recovered | None = None
        # Last, in the starting thread: a refusal raises to whoever starts the root.
        self._lock = DataDirLock(self.journal_path.parent).acquire()
        try:
            if isinstance(self.stores, SqliteStoreFactory):  # another store has no file
                check_journal(self.stores.path)
        except BaseException:
            self._lock.release()
            raise

    @classmethod
    def spec(
        cls,
        config: RuntimeConfig,
        feed: Sequence[FeedRecord] = (),
        *,
        child_id: str = "tradeactors",
        restart: Restart = Restart.PERMANENT,
    ) -> ChildSpec:
        """The whole runtime as one child of another supervisor."""
        if config.data_dir is None:
            raise ValueError("an embedded runtime needs a data_dir: its journal outlives it")
        total_s = _SLOW_S * len(CORE_CHILDREN)
        return ChildSpec(
            id=child_id,
            start=lambda context: cls.start(config, feed, name=child_id, supervision=context),
            restart=restart,
            shutdown_s=total_s,
            start_timeout_s=total_s,
        )

    def on_stop(self) -> None:
        # Before the stop is acknowledged, so a caller may start a successor at once.
        super().on_stop()
        self._lock.release()

    def on_failure(self, *exc_info: Any) -> None:
        super().on_failure(*exc_info)
        self._lock.release()

    def _tell_supervisor(self) -> None:
        # Also after a failed on_start (no on_failure): free the data dir before the parent
        # may start a successor.
        self._lock.release()
        super()._tell_supervisor()

    @handles(CurrentCore, reads_only=True)
    def _current_core(self, _message: CurrentCore) -> CoreRefs | None:
        """None while a child's restart is still to be retried: ask again."""
        if self._recovered is None or any(
            self.children[child_id].ref is None for child_id in self.child_ids
        ):
            return None
        return CoreRefs(
            root=self.actor_ref,
            generation=self.generation,
            resume_step=self._recovered.resume_step,
            recovery=self._recovered.report,
            extras={c: self.refs[c] for c in self.child_ids if c in EXTRA_CHILDREN},
            **{child_id: self.refs[child_id] for child_id in CORE_CHILDREN},
        )

    @handles(Subscribe)
    def _subscribe_all(self, message: Subscribe) -> None:
        self._subscribe(message)
        if message.subscriber not in self.listeners:
            self.listeners.append(message.subscriber)
            bus = self.refs.get("bus")
            if bus is not None:
                # A dead bus is being restarted; its factory subscribes every listener.
                tell_quietly(bus, Subscribe(subscriber=message.subscriber))

    # -- the core's factories, run in this thread in start order ---------------------------

    def _start_journal(self, context: SupervisedContext) -> pykka.ActorRef[Any]:
        """Recover first: every later factory builds its child from this recovery."""
        self.generation += 1
        self.refs = {}
        store = self.stores.writer()
        try:
            state, report = recover_state(store)
            engine = MatchingEngine(fee_rate=self.config.fee_rate)
            books = rebuild_venue(engine, state, self.feed, store)
            markets, orders, archived = _restorable(state, books)
        except Exception:
            store.close()
            raise
        self._recovered = _Recovered(
            engine=engine,
            markets=markets,
            orders=orders,
            archived=archived,
            order_count=state.order_count,
            resume_step=state.resume_step,
            report=report,
            accounts=AccountBook.from_memento(state.accounts.memento(), state.accounts.deals),
            routed=tuple(state.routed.values()),
            open_order_ids=frozenset(
                order_id
                for order_id, order in state.orders.items()
                if order.status not in CLOSED_STATUSES
            ),
            adopted=tuple(state.adopted.values()),
            risk_limits=state.risk_limits,
        )
        self.log.info(
            "core_recovered",
            generation=self.generation,
            resume_step=state.resume_step,
            replayed=report.replayed,
            voided=report.voided,
        )
        # From here the state belongs to the journal actor alone.
        snapshots = SnapshotWriter(self.stores).start()
        return self._keep(
            "journal",
            JournalActor.start(
                store,
                state=state,
                config=self.config.journal,
                snapshots=snapshots,
                supervision=context,
            ),
        )

    def _start_bus(self, context: SupervisedContext) -> pykka.ActorRef[Any]:
        bus = EventBusActor.start(supervision=context)
        for listener in self.listeners:
            bus.tell(Subscribe(subscriber=listener))
        return self._keep("bus", bus)

    def _start_index(self, context: SupervisedContext) -> pykka.ActorRef[Any]:
        """Loaded with the journal's live positions (and the PnL of its archived ones)."""
        recovered = self._recovery()
        live = [m.position.snapshot() for m in recovered.markets if m.position is not None]
        return self._keep(
            "index",
            PositionIndexActor.start(
                PositionIndex.bulk_load_active(live, recovered.archived), supervision=context
            ),
        )

    def _start_risk(self, context: SupervisedContext) -> pykka.ActorRef[Any]:
        """The limits last set at run time (journaled), else the configured ones."""
        limits = self._recovery().risk_limits or self.config.risk
        return self._keep(
            "risk",
            RiskActor.start(
                index=self.refs["index"],
                limits=limits,
                journal=self.refs["journal"],
                supervision=context,
            ),
        )

    def _start_account_positions(self, context: SupervisedContext) -> pykka.ActorRef[Any]:
        broker = self._broker()
        return self._keep(
            "account_positions",
            AccountPositionsActor.start(
                self._recovery().accounts,
                journal=self.refs["journal"],
                bus=self.refs["bus"],
                alert_notional=broker.alert_notional,
                supervision=context,
            ),
        )

    def _start_normalizer(self, context: SupervisedContext) -> pykka.ActorRef[Any]:
        recovered = self._recovery()
        return self._keep(
            "normalizer",
            NormalizerActor.start(
                journal=self.refs["journal"],
                account_positions=self.refs["account_positions"],
                bus=self.refs["bus"],
                fee_rate=self.config.fee_rate,
                routed=recovered.routed,
                open_order_ids=recovered.open_order_ids,
                adopted=recovered.adopted,
                gap_s=self._broker().gap_s,
                scheduler=self.config.scheduler,
                supervision=context,
            ),
        )

    def _start_reconciler(self, context: SupervisedContext) -> pykka.ActorRef[Any]:
        broker = self._broker()
        return self._keep(
            "reconciler",
            ReconcilerActor.start(
                broker.broker,
                accounts=(self.config.account,),
                normalizer=self.refs["normalizer"],
                account_positions=self.refs["account_positions"],
                journal=self.refs["journal"],
                execution=self.refs["execution"],
                bus=self.refs["bus"],
                session_start_ns=broker.since_ns,
                pacer=QueryPacer(
                    calls=broker.rate_limit_calls, period_s=broker.rate_limit_period_s
                ),
                min_sync_s=broker.min_sync_s,
                full_sync_s=broker.full_sync_s,
                scheduler=self.config.scheduler,
                supervision=context,
            ),
        )

    def _broker(self) -> BrokerConfig:
        if self.config.broker is None:
            raise RuntimeError("a broker child started without a broker configured")
        return self.config.broker

    def _start_venue(self, context: SupervisedContext) -> pykka.ActorRef[Any]:
        if self.config.broker is not None:
            return self._keep(
                "venue",
                BrokerVenueActor.start(
                    self.config.broker.broker,
                    normalizer=self.refs["normalizer"],
                    journal=self.refs["journal"],
                    account=self.config.account,
                    strategy=self.config.strategy_name,
                    routed={r.order_id: r.order_no for r in self._recovery().routed},
                    scheduler=self.config.scheduler,
                    supervision=context,
                ),
            )
        return self._keep(
            "venue",
            SimulatedVenueActor.start(
                latency_ns=self.config.latency_ns,
                engine=self._recovery().engine,
                scheduler=self.config.scheduler,
                supervision=context,
            ),
        )

    def _start_execution(self, context: SupervisedContext) -> pykka.ActorRef[Any]:
        execution = ExecutionActor.start(
            venue=self.refs["venue"],
            bus=self.refs["bus"],
            journal=self.refs["journal"],
            first_order_number=self._recovery().order_count + 1,
            risk=self.refs["risk"],
            trading_enabled=self.config.broker is None,
            supervision=context,
        )
        self.refs["venue"].tell(Subscribe(subscriber=execution))
        if "normalizer" in self.refs:
            self.refs["normalizer"].tell(Subscribe(subscriber=execution))
        return self._keep("execution", execution)

    def _start_strategy(self, context: SupervisedContext) -> pykka.ActorRef[Any]:
        return self._keep(
            "strategy",
            StrategyActor.start(
                self.config.evaluate,
                execution=self.refs["execution"],
                name=self.config.strategy_name,
                supervision=context,
            ),
        )

    def _start_markets(self, context: SupervisedContext) -> pykka.ActorRef[Any]:
        """The market supervisor re-tells execution every market, position and order."""
        recovered = self._recovery()
        return self._keep(
            "markets",
            MarketSupervisor.start(
                execution=self.refs["execution"],
                venue=self.refs["venue"],
                bus=self.refs["bus"],
                journal=self.refs["journal"],
                stores=self.stores,
                strategies=((self.refs["strategy"], self.config.strategy_name),),
                account=self.config.account,
                restored=recovered.markets,
                restored_orders=recovered.orders,
                archived=recovered.archived,
                max_restarts=self.config.max_restarts,
                period_s=self.config.restart_period_s,
                events=self.refs["bus"],
                index=self.refs["index"],
                risk=self.refs["risk"],
                scheduler=self.config.scheduler,
                supervision=context,
            ),
        )

    def _keep(self, child_id: str, ref: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        self.refs[child_id] = ref
        return ref

    def _recovery(self) -> _Recovered:
        if self._recovered is None:
            raise RuntimeError("a core child started before the journal recovered")
        return self._recovered


def _restorable(
    state: RuntimeState, books: dict[str, dict[str, Any]]
) -> tuple[list[RestoredMarket], tuple[Any, ...], list[PositionSnapshot]]:
    """Copies of the journal's state for the actors (the journal keeps its own objects)."""
    restored: list[RestoredMarket] = []
    archived: list[PositionSnapshot] = []
    for record in state.markets.values():
        position = state.positions.get(record.position_id or "")
        if record.archived:
            if position is not None:
                archived.append(position.snapshot())
            continue
        restored.append(
            RestoredMarket(
                definition=record.definition,
                position=None
                if position is None
                else PositionBook.from_memento(position.memento()),
                books=books[record.definition.market_id],
                closed=record.closed,
                winning_security_id=record.winning_security_id,
            )
        )
    orders = tuple(order.memento() for order in state.orders.values())
    return restored, orders, archived
