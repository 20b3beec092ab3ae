"""The runtime in one process: bus, venue, execution, strategy and the market supervisor.

``Runtime`` builds the actors in dependency order, feeds them, answers queries from outside
the actors (where a blocking ``ask`` is safe), and stops everything in reverse order.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import attrs
import pykka

from actors.base import ASK_TIMEOUT_S, RuntimeActor, ask
from actors.event_bus import EventBusActor
from actors.execution import ExecutionActor, VenueReport
from actors.strategy import Evaluate, StrategyActor
from actors.synthetic_arbitrage import SyntheticArbitrage
from bridges.feed_codec import FeedRecord
from bridges.simulated_venue import SimulatedVenueActor
from bridges.venue_matching import MatchingEngine
from messages.commands import GetSnapshot, ListOrders, ListPositions, PositionRefs, Subscribe
from messages.orders import OrderSnapshot
from messages.positions import PositionSnapshot
from messages.stats import GetStats
from supervisors.market_supervisor import MarketSupervisor


@attrs.frozen(kw_only=True)
class RuntimeConfig:
    """What a run is made of; every number that is money is a Decimal."""

    latency_ns: int = 0
    fee_rate: Decimal = Decimal("0.001")
    account: str = "paper"
    strategy_name: str = "synthetic_arbitrage"
    evaluate: Evaluate = attrs.field(factory=SyntheticArbitrage)


class Runtime:
    """Start, feed, query and stop the actors of one runtime."""

    def __init__(self, config: RuntimeConfig | None = None) -> None:
        self.config = config if config is not None else RuntimeConfig()
        self.bus: pykka.ActorRef[Any] | None = None
        self.venue: pykka.ActorRef[Any] | None = None
        self.execution: pykka.ActorRef[Any] | None = None
        self.strategy: pykka.ActorRef[Any] | None = None
        self.supervisor: pykka.ActorRef[Any] | None = None

    def start(self) -> Runtime:
        config = self.config
        self.bus = EventBusActor.start()
        self.venue = SimulatedVenueActor.start(
            latency_ns=config.latency_ns, engine=MatchingEngine(fee_rate=config.fee_rate)
        )
        self.execution = ExecutionActor.start(venue=self.venue, bus=self.bus)
        self.venue.tell(Subscribe(subscriber=self.execution))
        self.strategy = StrategyActor.start(
            config.evaluate, execution=self.execution, name=config.strategy_name
        )
        self.supervisor = MarketSupervisor.start(
            execution=self.execution,
            venue=self.venue,
            bus=self.bus,
            strategies=((self.strategy, config.strategy_name),),
            account=config.account,
        )
        return self

    def __enter__(self) -> Runtime:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def feed(self, record: FeedRecord) -> None:
        """Hand one feed record to the market supervisor (which keeps feed order)."""
        self._require(self.supervisor).tell(record)

    def venue_report(self, report: VenueReport) -> None:
        """Hand a venue report (fill, ack, cancel) to execution as if the venue sent it."""
        self._require(self.execution).tell(report)

    def subscribe(self, subscriber: pykka.ActorRef[Any]) -> None:
        """Have ``subscriber`` receive every event published on the bus."""
        self._require(self.bus).tell(Subscribe(subscriber=subscriber))

    def wait_idle(self, timeout_s: float = 10.0) -> None:
        """Return once no actor handled a message across two full rounds of stats asks.

        An ask is queued behind everything already in a mailbox, so two equal rounds with
        no venue timer pending mean nothing is in flight anywhere.
        """
        deadline = time.monotonic() + timeout_s
        previous: dict[str, int] | None = None
        while time.monotonic() < deadline:
            current = self._stats_round()
            if current is not None and current == previous:
                return
            previous = current
        raise TimeoutError(f"runtime still busy after {timeout_s} s")

    def positions(self) -> list[PositionSnapshot]:
        """Every position: archived (settled) ones and the live ones, oldest market first."""
        refs: PositionRefs = ask(self._require(self.supervisor), ListPositions())
        live = [ask(ref, GetSnapshot()) for _, ref in refs.live]
        return [*refs.archived, *live]

    def orders(self) -> list[OrderSnapshot]:
        """Every order execution still routes (archived markets' orders are gone)."""
        refs = ask(self._require(self.execution), ListOrders())
        return [ask(ref, GetSnapshot()) for _, ref in refs]

    def stop(self) -> None:
        """Stop in reverse order of start; each actor stops the children it spawned."""
        for ref in (self.supervisor, self.strategy, self.execution, self.venue, self.bus):
            if ref is not None:
                ref.stop(block=True, timeout=ASK_TIMEOUT_S)
        self.bus = self.venue = self.execution = self.strategy = self.supervisor = None

    def _stats_round(self) -> dict[str, int] | None:
        refs = pykka.ActorRegistry.get_by_class(RuntimeActor)
        futures = [ref.ask(GetStats(), block=False) for ref in refs]
        try:
            replies = pykka.get_all(futures, timeout=ASK_TIMEOUT_S)
        except pykka.ActorDeadError:
            return None
        if any(stats.scheduled for stats in replies):
            return None
        return {ref.actor_urn: stats.handled for ref, stats in zip(refs, replies, strict=True)}

    @staticmethod
    def _require(ref: pykka.ActorRef[Any] | None) -> pykka.ActorRef[Any]:
        if ref is None:
            raise RuntimeError("the runtime is not started")
        return ref
