"""The runtime in one process: journal, bus, venue, execution, strategy, market supervisor.

``Runtime`` recovers the state the journal holds (latest snapshot + tail), rebuilds the
simulated venue and the live markets' books from the feed, builds the actors in dependency
order around that state, feeds them, answers queries from outside the actors (where a
blocking ``ask`` is safe), and stops everything in reverse order.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pykka

from actors.base import ASK_TIMEOUT_S, RuntimeActor, ask
from actors.event_bus import EventBusActor
from actors.execution import ExecutionActor, VenueReport
from actors.journal import JournalActor, JournalConfig
from actors.position_accounting import PositionBook
from actors.runtime_state import RUNTIME_STREAM, RuntimeState, market_data_stream, market_stream
from actors.strategy import Evaluate, StrategyActor
from actors.synthetic_arbitrage import SyntheticArbitrage
from bridges.feed_codec import FeedRecord
from bridges.journal_sqlite import SqliteJournalStore
from bridges.journal_store import Durability, JournalStore
from bridges.simulated_venue import SimulatedVenueActor
from bridges.venue_matching import MatchingEngine
from bridges.venue_replay import rebuild_venue
from messages.commands import (
    Append,
    GetSnapshot,
    ListOrders,
    ListPositions,
    PositionRefs,
    Subscribe,
    Sync,
)
from messages.journal import StepCommitted, StepStarted
from messages.markets import MarketClosed, MarketOpened, MarketResolved
from messages.orders import OrderSnapshot
from messages.positions import PositionSnapshot
from messages.stats import GetStats
from supervisors.market_supervisor import MarketSupervisor, RestoredMarket
from supervisors.recovery import RecoveryReport, recover_state

JOURNAL_FILE = "journal.sqlite"
T = TypeVar("T")


@attrs.frozen(kw_only=True)
class RuntimeConfig:
    """What a run is made of; every number that is money is a Decimal.

    ``data_dir`` holds the journal (``journal.sqlite``); without one the journal lives in a
    temporary directory that is removed when the runtime stops. More than ``max_restarts``
    restarts of supervised actors within ``restart_period_s`` make their supervisor give up.
    """

    latency_ns: int = 0
    fee_rate: Decimal = Decimal("0.001")
    account: str = "paper"
    strategy_name: str = "synthetic_arbitrage"
    evaluate: Evaluate = attrs.field(factory=SyntheticArbitrage)
    data_dir: Path | None = None
    durability: Durability = Durability.NORMAL
    journal: JournalConfig = attrs.field(factory=JournalConfig)
    max_restarts: int = 10
    restart_period_s: float = 5.0


class Runtime:
    """Recover, start, feed, query and stop the actors of one runtime."""

    def __init__(self, config: RuntimeConfig | None = None) -> None:
        self.config = config if config is not None else RuntimeConfig()
        self.bus: pykka.ActorRef[Any] | None = None
        self.journal: pykka.ActorRef[Any] | None = None
        self.venue: pykka.ActorRef[Any] | None = None
        self.execution: pykka.ActorRef[Any] | None = None
        self.strategy: pykka.ActorRef[Any] | None = None
        self.supervisor: pykka.ActorRef[Any] | None = None
        self.recovery: RecoveryReport | None = None
        self.next_step = 0
        self._temp_dir: str | None = None

    @property
    def journal_path(self) -> Path:
        if self.config.data_dir is not None:
            return self.config.data_dir / JOURNAL_FILE
        if self._temp_dir is None:
            self._temp_dir = tempfile.mkdtemp(prefix="tradeactors-")
        return Path(self._temp_dir) / JOURNAL_FILE

    def start(self, feed: Sequence[FeedRecord] = ()) -> Runtime:
        """Recover from the journal, then start every actor around the recovered state.

        ``feed`` is the feed this run replays; recovery uses its records before
        ``next_step`` to rebuild the simulated venue and the live markets' books.
        """
        config = self.config
        store: JournalStore = SqliteJournalStore(self.journal_path, durability=config.durability)
        state, self.recovery = recover_state(store)
        self.next_step = state.resume_step
        engine = MatchingEngine(fee_rate=config.fee_rate)
        books = rebuild_venue(engine, state, feed, store)

        self.bus = EventBusActor.start()
        self.journal = JournalActor.start(store, state=state, config=config.journal)
        self.venue = SimulatedVenueActor.start(latency_ns=config.latency_ns, engine=engine)
        self.execution = ExecutionActor.start(
            venue=self.venue,
            bus=self.bus,
            journal=self.journal,
            first_order_number=state.order_count + 1,
        )
        self.venue.tell(Subscribe(subscriber=self.execution))
        self.strategy = StrategyActor.start(
            config.evaluate, execution=self.execution, name=config.strategy_name
        )
        restored, orders, archived = _restorable(state, books)
        self.supervisor = MarketSupervisor.start(
            execution=self.execution,
            venue=self.venue,
            bus=self.bus,
            journal=self.journal,
            journal_path=self.journal_path,
            strategies=((self.strategy, config.strategy_name),),
            account=config.account,
            restored=restored,
            restored_orders=orders,
            archived=archived,
            max_restarts=config.max_restarts,
            period_s=config.restart_period_s,
        )
        # Restored actors exchange their first snapshots (a position tells the strategy what
        # it holds); the first record must not reach a strategy that has not heard yet.
        self.wait_idle()
        return self

    def __enter__(self) -> Runtime:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def feed(self, record: FeedRecord) -> None:
        """Hand the next feed record to the runtime without waiting for its effects."""
        self._step_started(atomic=False)
        self._route(record)
        self.next_step += 1

    def feed_and_wait(
        self,
        record: FeedRecord,
        timeout_s: float = 10.0,
        during: Callable[[int], object] | None = None,
    ) -> None:
        """Feed one record as a unit of work: everything it causes happens before this returns.

        If the process dies before the unit is committed, recovery voids what it journaled
        and the record is fed again, which regenerates exactly the same events. ``during``
        runs while the record is being processed (fault injection strikes there).
        """
        step = self.next_step
        self._step_started(atomic=True)
        self._route(record)
        if during is not None:
            during(step)
        self.wait_idle(timeout_s)
        self._require(self.journal).tell(
            Append(event=StepCommitted(step=step), stream=RUNTIME_STREAM)
        )
        self.next_step += 1

    def sync(self) -> int:
        """Commit what the journal holds; returns the last journaled seq."""
        return int(ask(self._require(self.journal), Sync()))

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

        def read() -> list[PositionSnapshot]:
            refs: PositionRefs = ask(self._require(self.supervisor), ListPositions())
            live = [ask(ref, GetSnapshot()) for _, ref in refs.live]
            return [*refs.archived, *live]

        return _retrying(read)

    def orders(self) -> list[OrderSnapshot]:
        """Every order execution still routes (archived markets' orders are gone)."""

        def read() -> list[OrderSnapshot]:
            refs = ask(self._require(self.execution), ListOrders())
            return [ask(ref, GetSnapshot()) for _, ref in refs]

        return _retrying(read)

    def stop(self) -> None:
        """Stop in reverse order of start; the journal commits and snapshots as it stops."""
        refs = (
            self.supervisor,
            self.strategy,
            self.execution,
            self.venue,
            self.journal,
            self.bus,
        )
        for ref in refs:
            if ref is not None:
                ref.stop(block=True, timeout=ASK_TIMEOUT_S)
        self.bus = self.journal = self.venue = None
        self.execution = self.strategy = self.supervisor = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def _step_started(self, *, atomic: bool) -> None:
        self._require(self.journal).tell(
            Append(event=StepStarted(step=self.next_step, atomic=atomic), stream=RUNTIME_STREAM)
        )

    def _route(self, record: FeedRecord) -> None:
        journal, supervisor = self._require(self.journal), self._require(self.supervisor)
        if isinstance(record, MarketOpened | MarketClosed | MarketResolved):
            market_id = (
                record.definition.market_id
                if isinstance(record, MarketOpened)
                else record.market_id
            )
            journal.tell(
                Append(
                    event=record,
                    stream=market_stream(market_id),
                    dedup_key=f"{type(record).__name__}:{market_id}",
                    deliver_to=supervisor,
                )
            )
        else:
            journal.tell(
                Append(
                    event=record,
                    stream=market_data_stream(record.market_id),
                    deliver_to=supervisor,
                )
            )

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


def _retrying(read: Callable[[], T], attempts: int = 5) -> T:
    """``read`` again when an actor it asked was dead or restarting at that moment."""
    for _ in range(attempts - 1):
        try:
            return read()
        except (pykka.ActorDeadError, pykka.Timeout):
            time.sleep(0.05)
    return read()


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
