"""The runtime's children, one function per subsystem: the only place they are wired.

``core_specs``, ``market_specs`` and ``broker_edge_specs`` each build their subsystem's
child specs on one ``Wiring``; the root (``runtime_tree``) starts them in the order of
``CORE_CHILDREN`` or ``BROKER_CHILDREN``, and the harnesses (the broker edge's test and
benchmark) start the ones they need from the same functions, so what they measure is what
runs. The journal's factory runs the core's recovery (``core_recovery.recover_core``); each
later factory builds its child from that recovery, in the supervisor's thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import pykka
import structlog

from actors.account_positions import AccountPositionsActor
from actors.event_bus import EventBusActor
from actors.execution import ExecutionActor
from actors.journal import JournalActor
from actors.journal_store import StoreFactory
from actors.normalizer import NormalizerActor
from actors.position_index import PositionIndexActor
from actors.position_index_book import PositionIndex
from actors.query_pacer import QueryPacer
from actors.reconciler import ReconcilerActor
from actors.risk import RiskActor
from actors.snapshot_writer import SnapshotWriter
from actors.strategy import StrategyActor
from bridges.broker_venue import BrokerVenueActor
from bridges.feed_codec import FeedRecord
from bridges.simulated_venue import SimulatedVenueActor
from messages.refs import Recipient
from messages.subscriptions import Subscribe
from supervisors.assembly.core_recovery import Recovered, recover_core
from supervisors.assembly.market_lifecycle import MarketLifecycleActor
from supervisors.assembly.runtime_config import BrokerConfig, RuntimeConfig
from supervisors.kernel.child_spec import (
    Backoff,
    ChildFactory,
    ChildSpec,
    Strategy,
    SupervisedContext,
)
from supervisors.kernel.protocol import WhichChildren
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
    "market_lifecycle",
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
    "market_lifecycle",
    "reconciler",
)
"""The root's children when the runtime trades through a broker; ``venue`` is the broker's."""

EXTRA_CHILDREN = ("account_positions", "normalizer", "reconciler")

SLOW_S = 60.0
"""Start and shutdown timeout of a core child: recovery, a final snapshot, many markets."""

Ref = pykka.ActorRef[Any]


@attrs.define
class Wiring:
    """What the factories of one tree share: its config, journal and feed, and, per start of
    the core (``generation``), the recovery and the refs of the children started so far.

    ``listeners`` are subscribed to each incarnation of the bus.
    """

    config: RuntimeConfig
    stores: StoreFactory
    feed: tuple[FeedRecord, ...] = ()
    listeners: list[Recipient] = attrs.field(factory=list)
    refs: dict[str, Ref] = attrs.field(factory=dict)
    recovered: Recovered | None = None
    generation: int = 0
    log: Any = attrs.field(factory=lambda: structlog.get_logger("tradeactors", actor="assembly"))

    def keep(self, child_id: str, ref: Ref) -> Ref:
        self.refs[child_id] = ref
        return ref

    def recovery(self) -> Recovered:
        if self.recovered is None:
            raise RuntimeError("a core child started before the journal recovered")
        return self.recovered

    def broker(self) -> BrokerConfig:
        if self.config.broker is None:
            raise RuntimeError("a broker child started without a broker configured")
        return self.config.broker


def child_ids(config: RuntimeConfig) -> tuple[str, ...]:
    """The root's children, in start order, for ``config``."""
    return BROKER_CHILDREN if config.broker is not None else CORE_CHILDREN


def runtime_specs(wiring: Wiring) -> list[ChildSpec]:
    """Every child of the root, in start order: the subsystems' specs, merged."""
    specs = _subsystems(wiring)
    ids = child_ids(wiring.config)
    if set(specs) != set(ids):
        raise AssertionError(f"the subsystems built {sorted(specs)}, the root starts {ids}")
    return [specs[child_id] for child_id in ids]


def _subsystems(wiring: Wiring) -> dict[str, ChildSpec]:
    specs = {**core_specs(wiring), **market_specs(wiring)}
    if wiring.config.broker is not None:
        specs.update(broker_edge_specs(wiring))
    return specs


def _spec(child_id: str, start: ChildFactory, backoff: Backoff | None = None) -> ChildSpec:
    return ChildSpec(
        id=child_id, start=start, shutdown_s=SLOW_S, start_timeout_s=SLOW_S, backoff=backoff
    )


# -- core --------------------------------------------------------------------------------------


def core_specs(wiring: Wiring) -> dict[str, ChildSpec]:
    """Journal, bus, index, risk, execution, strategy; and the venue when it is simulated."""
    specs = {
        "journal": _spec(
            "journal", lambda c: _start_journal(wiring, c), wiring.config.journal_backoff
        ),
        "bus": _spec("bus", lambda c: _start_bus(wiring, c)),
        "index": _spec("index", lambda c: _start_index(wiring, c)),
        "risk": _spec("risk", lambda c: _start_risk(wiring, c)),
        "execution": _spec("execution", lambda c: _start_execution(wiring, c)),
        "strategy": _spec("strategy", lambda c: _start_strategy(wiring, c)),
    }
    if wiring.config.broker is None:
        specs["venue"] = _spec("venue", lambda c: _start_simulated_venue(wiring, c))
    return specs


def _start_journal(wiring: Wiring, context: SupervisedContext) -> Ref:
    """Recover first: every later factory builds its child from this recovery."""
    wiring.generation += 1
    wiring.refs = {}
    store = wiring.stores.writer()
    try:
        recovered = recover_core(
            store,
            fee_rate=wiring.config.fee_rate,
            feed=wiring.feed,
            staged=wiring.config.staged_fills(),
        )
    except Exception:
        store.close()
        raise
    wiring.recovered = recovered
    report = recovered.report
    wiring.log.info(
        "core_recovered",
        generation=wiring.generation,
        resume_step=recovered.resume_step,
        replayed=report.replayed,
        voided=report.voided,
    )
    # From here the state belongs to the journal actor alone.
    snapshots = SnapshotWriter(wiring.stores).start()
    return wiring.keep(
        "journal",
        JournalActor.start(
            store,
            state=recovered.state,
            config=wiring.config.journal,
            snapshots=snapshots,
            void_after=report.torn_void,
            supervision=context,
        ),
    )


def _start_bus(wiring: Wiring, context: SupervisedContext) -> Ref:
    bus = EventBusActor.start(supervision=context)
    for listener in wiring.listeners:
        bus.tell(Subscribe(subscriber=listener))
    return wiring.keep("bus", bus)


def _start_index(wiring: Wiring, context: SupervisedContext) -> Ref:
    """Loaded with the journal's live positions (and the PnL of its archived ones)."""
    recovered = wiring.recovery()
    live = [m.position.snapshot() for m in recovered.markets if m.position is not None]
    return wiring.keep(
        "index",
        PositionIndexActor.start(
            PositionIndex.bulk_load_active(live, recovered.archived), supervision=context
        ),
    )


def _start_risk(wiring: Wiring, context: SupervisedContext) -> Ref:
    """The limits last set at run time (journaled), else the configured ones."""
    limits = wiring.recovery().risk_limits or wiring.config.risk
    return wiring.keep(
        "risk",
        RiskActor.start(
            index=wiring.refs["index"],
            limits=limits,
            journal=wiring.refs["journal"],
            supervision=context,
        ),
    )


def _start_simulated_venue(wiring: Wiring, context: SupervisedContext) -> Ref:
    return wiring.keep(
        "venue",
        SimulatedVenueActor.start(
            latency_ns=wiring.config.latency_ns,
            engine=wiring.recovery().engine,
            scheduler=wiring.config.scheduler,
            supervision=context,
        ),
    )


def _start_execution(wiring: Wiring, context: SupervisedContext) -> Ref:
    """Risk checks every signal; only a harness that starts no risk child (the lookup
    bench's risk-off floor) gets an execution without one."""
    execution = ExecutionActor.start(
        venue=wiring.refs["venue"],
        bus=wiring.refs["bus"],
        journal=wiring.refs["journal"],
        id_prefix=wiring.config.order_prefix,
        first_order_number=wiring.recovery().order_count + 1,
        risk=wiring.refs.get("risk"),
        trading_enabled=wiring.config.broker is None,
        supervision=context,
    )
    return _attach_execution(wiring, execution)


def _attach_execution(wiring: Wiring, execution: Ref) -> Ref:
    """Execution hears the venue's reports, and the normalizer's when there is a broker."""
    wiring.refs["venue"].tell(Subscribe(subscriber=execution))
    if "normalizer" in wiring.refs:
        wiring.refs["normalizer"].tell(Subscribe(subscriber=execution))
    return wiring.keep("execution", execution)


def stand_in(wiring: Wiring, child_id: str, start: Callable[[SupervisedContext], Ref]) -> ChildSpec:
    """A harness's actor in the place of ``child_id`` (a sink for execution, a stub venue):
    started where that child is and subscribed as it is, so the children around it are the
    runtime's. ``start`` gets the child's context: a ``Supervised`` stand-in must start
    with it, or the supervisor waits its whole start timeout for an ``on_start`` that never
    reports."""

    def begin(context: SupervisedContext) -> Ref:
        if child_id == "execution":
            return _attach_execution(wiring, start(context))
        return wiring.keep(child_id, start(context))

    return _spec(child_id, begin)


def harness_specs(
    wiring: Wiring,
    wanted: Sequence[str],
    stand_ins: Mapping[str, Callable[[SupervisedContext], Ref]],
) -> list[ChildSpec]:
    """The runtime's children ``wanted`` (and the ``stand_ins`` in their children's places),
    in the root's start order: what a harness or a benchmark starts around what it drives."""
    specs = _subsystems(wiring)
    specs.update(
        {child_id: stand_in(wiring, child_id, start) for child_id, start in stand_ins.items()}
    )
    unknown = set(wanted) - set(specs)
    if unknown:
        raise ValueError(f"no subsystem builds {sorted(unknown)}")
    return [specs[child_id] for child_id in BROKER_CHILDREN if child_id in wanted]


def start_harness(name: str, specs: Sequence[ChildSpec], wiring: Wiring) -> Ref:
    """Start ``specs`` under a one_for_all supervisor, as the root runs them; returns once
    all of them have started (the supervisor answers only after its ``on_start``)."""
    supervisor = Supervisor.start(
        name=name,
        children=specs,
        strategy=Strategy.ONE_FOR_ALL,
        scheduler=wiring.config.scheduler,
    )
    supervisor.ask(WhichChildren(), timeout=sum(spec.start_timeout_s for spec in specs))
    return supervisor


def _start_strategy(wiring: Wiring, context: SupervisedContext) -> Ref:
    return wiring.keep(
        "strategy",
        StrategyActor.start(
            wiring.config.evaluate,
            execution=wiring.refs["execution"],
            name=wiring.config.strategy_name,
            supervision=context,
        ),
    )


# -- markets -----------------------------------------------------------------------------------


def market_specs(wiring: Wiring) -> dict[str, ChildSpec]:
    """The supervisor of the per-market actors, and the lifecycle actor that grows and
    shrinks it: the latter re-tells execution every market, position and order."""
    return {
        "markets": _spec("markets", lambda c: _start_market_children(wiring, c)),
        "market_lifecycle": _spec("market_lifecycle", lambda c: _start_market_lifecycle(wiring, c)),
    }


def _start_market_children(wiring: Wiring, context: SupervisedContext) -> Ref:
    """Empty at each start: the lifecycle actor, started next, adds every market again."""
    config = wiring.config
    return wiring.keep(
        "markets",
        Supervisor.start(
            name="markets",
            max_restarts=config.max_restarts,
            period_s=config.restart_period_s,
            events=wiring.refs["bus"],
            scheduler=config.scheduler,
            supervision=context,
        ),
    )


def _start_market_lifecycle(wiring: Wiring, context: SupervisedContext) -> Ref:
    recovered = wiring.recovery()
    config, refs = wiring.config, wiring.refs
    return wiring.keep(
        "market_lifecycle",
        MarketLifecycleActor.start(
            children=refs["markets"],
            execution=refs["execution"],
            venue=refs["venue"],
            bus=refs["bus"],
            journal=refs["journal"],
            stores=wiring.stores,
            strategies=((refs["strategy"], config.strategy_name),),
            account=config.account,
            restored=recovered.markets,
            restored_orders=recovered.orders,
            restored_closed=recovered.closed_orders,
            archived=recovered.archived,
            archived_markets=recovered.archived_markets,
            index=refs["index"],
            risk=refs["risk"],
            supervision=context,
        ),
    )


# -- broker edge -------------------------------------------------------------------------------


def broker_edge_specs(wiring: Wiring) -> dict[str, ChildSpec]:
    """Account positions, normalizer, the broker's venue and the reconciler."""
    return {
        "account_positions": _spec(
            "account_positions", lambda c: _start_account_positions(wiring, c)
        ),
        "normalizer": _spec("normalizer", lambda c: _start_normalizer(wiring, c)),
        "venue": _spec("venue", lambda c: _start_broker_venue(wiring, c)),
        "reconciler": _spec("reconciler", lambda c: _start_reconciler(wiring, c)),
    }


def broker_edge_alone(wiring: Wiring, execution: Callable[[], Ref]) -> list[ChildSpec]:
    """The broker edge with the journal and bus it needs and ``execution`` a stand-in (no
    index, risk, strategy or markets), in the root's start order: for its harnesses."""
    wanted = ("journal", "bus", *EXTRA_CHILDREN, "venue", "execution")
    return harness_specs(wiring, wanted, {"execution": lambda _context: execution()})


def _start_account_positions(wiring: Wiring, context: SupervisedContext) -> Ref:
    return wiring.keep(
        "account_positions",
        AccountPositionsActor.start(
            wiring.recovery().accounts,
            journal=wiring.refs["journal"],
            bus=wiring.refs["bus"],
            alert_notional=wiring.broker().alert_notional,
            pnl_alert=wiring.broker().pnl_alert,
            calendar=wiring.broker().settlement_calendar,
            settlement_alert=wiring.broker().settlement_alert,
            supervision=context,
        ),
    )


def _start_normalizer(wiring: Wiring, context: SupervisedContext) -> Ref:
    recovered = wiring.recovery()
    broker = wiring.broker()
    return wiring.keep(
        "normalizer",
        NormalizerActor.start(
            journal=wiring.refs["journal"],
            account_positions=wiring.refs["account_positions"],
            bus=wiring.refs["bus"],
            fee_rate=wiring.config.fee_rate,
            routed=recovered.routed,
            open_order_ids=recovered.open_order_ids,
            adopted=recovered.adopted,
            gap_s=broker.gap_s,
            unrouted_grace_s=broker.unrouted_grace_s,
            scheduler=wiring.config.scheduler,
            supervision=context,
        ),
    )


def _start_broker_venue(wiring: Wiring, context: SupervisedContext) -> Ref:
    return wiring.keep(
        "venue",
        BrokerVenueActor.start(
            wiring.broker().broker,
            normalizer=wiring.refs["normalizer"],
            journal=wiring.refs["journal"],
            account=wiring.config.account,
            strategy=wiring.config.strategy_name,
            routed={r.order_id: r.order_no for r in wiring.recovery().routed},
            scheduler=wiring.config.scheduler,
            supervision=context,
        ),
    )


def _start_reconciler(wiring: Wiring, context: SupervisedContext) -> Ref:
    broker = wiring.broker()
    refs = wiring.refs
    return wiring.keep(
        "reconciler",
        ReconcilerActor.start(
            broker.broker,
            accounts=(wiring.config.account,),
            normalizer=refs["normalizer"],
            account_positions=refs["account_positions"],
            journal=refs["journal"],
            execution=refs["execution"],
            bus=refs["bus"],
            session_start_ns=broker.since_ns,
            pacer=QueryPacer(calls=broker.rate_limit_calls, period_s=broker.rate_limit_period_s),
            min_sync_s=broker.min_sync_s,
            full_sync_s=broker.full_sync_s,
            recovery_alert_s=broker.recovery_alert_s,
            scheduler=wiring.config.scheduler,
            supervision=context,
        ),
    )
