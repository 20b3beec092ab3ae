"""Broker fills: sustained deals/s through the whole runtime in broker mode, journal on.

The runtime is the real one: ``Runtime`` with ``RuntimeConfig(broker=BrokerConfig(...))``,
so ``supervisors.assembly.runtime_tree`` in broker mode (journal on SQLite,
synchronous=NORMAL, group commit; bus, index, risk with no limits, account positions,
normalizer, broker venue, execution, strategy, market supervisor and lifecycle, reconciler with its
default pacer and 5 s position-sync debounce), on a ``SimulatedBroker`` with no faults. One
binary market is opened through the feed (lockstep), and one order per leg is placed
through execution, as a strategy's signal would be (``TradeSignal`` → risk → journaled
``OrderCreated`` → OrderActor → broker venue → ``place_order``): a BUY big enough for every
deal of the run.
The paper broker gets no market data (a subclass ignores what the venue forwards), so the
orders rest there and the bench fills them by hand, one unit a deal, with
``SimulatedBroker.execute``, alternating legs.

Each deal then takes a real broker's deal's path: the broker's thread calls the
``CallbackBridge`` (a deal callback, then an order-status one) → NormalizerActor (dedup,
intent join) → journal (``DealBooked``, committed) → AccountPositionsActor; and the
normalizer's ``Fill`` → ExecutionActor → journal (``Fill`` on the order's stream,
committed) → OrderActor → journal (``FillApplied`` on the position's stream, committed) →
PositionActor, which publishes a ``PositionDelta`` on the bus. A collector subscribed to the
runtime's events counts the deltas of the bench's position: a deal counts once the market
position shows it, so after the journal committed all three of its events.

1. Sustained throughput. A driver calls ``execute`` as fast as it may while fewer than
   ``--window`` deals are executed and not yet seen in the position (a closed loop: the
   runtime sets the pace and the backlog stays bounded). deals/s is ``--deals`` over the
   time from the first ``execute`` to the last delta. The issue's target is 20,000/s.

2. Latency at paced rates (``--rates``): a driver thread calls ``execute`` on a monotonic
   schedule (``bench.broker.drive``); per deal, from the broker's match stamp (taken in
   ``execute``, before the callback is even queued) to the collector receiving its delta
   (one bus hop after the position changed). So it bounds "broker callback → position
   visible" from above; ``bench.broker`` measures the callback → account-position part of it
   exactly. The first ``--warmup`` deals are left out. A rate above what phase 1 sustains
   cannot be kept up with: the backlog, and so the latency, grows for as long as it lasts.

Each phase runs on a fresh runtime and journal and ends by checking, exactly (Decimal), that
each leg of the market position and of the account book holds the units executed on it.

    python -m bench.broker_fills [--deals 20000] [--window 1000] [--rates 1000 5000]
                                 [--paced 10000] [--warmup 500] [--dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pykka

from bench import floors
from bench.broker import CALLBACK_TARGET, drive
from bench.figures import Figure, Statistic, Target, latency, nearest_rank, rate
from bridges.simulated_broker import SimulatedBroker
from messages.enums import OrderSide, Outcome
from messages.journal_protocol import Sync
from messages.market_data import InstrumentBook
from messages.markets import Instrument, MarketDefinition, MarketOpened
from messages.positions import PositionDelta
from messages.signals import TradeSignal
from supervisors.assembly.runtime import Runtime
from supervisors.assembly.runtime_config import BrokerConfig, RuntimeConfig
from supervisors.kernel.base import ask
from tools.logging_setup import configure_logging

MARKET = "bench"
LEGS = (f"{MARKET}-YES", f"{MARKET}-NO")
PRICE = Decimal("0.50")
ONE = Decimal(1)
TIMEOUT_S = 120.0
QUICK = ("--deals", "5000", "--paced", "3000", "--warmup", "300")
CALLBACK_RATE = 5_000
FULL = ()
THROUGHPUT_TARGET = Target(
    text="sustained ≥ 20,000 fills/s through normalizer → order → position → journal "
    "(synchronous=NORMAL)",
    statistic=Statistic.MEDIAN,
    limit=20_000.0,
    at_most=False,
)


class _RestingBroker(SimulatedBroker):
    """A paper broker that hears no market data: every order rests until ``execute``.

    The runtime's broker venue forwards the feed to a paper broker so it can match orders
    against the books; a real broker fills on its own, which ``execute`` stands for here.
    """

    # The arguments are the MarketDataSink protocol's; none is needed to ignore the data.
    def open_market(self, market_id: str, security_ids: Sequence[str]) -> None:  # noqa: ARG002
        return None

    def close_market(self, market_id: str) -> None:  # noqa: ARG002
        return None

    def update_book(
        self,
        market_id: str,  # noqa: ARG002
        book: InstrumentBook,  # noqa: ARG002
        now_ns: int | None = None,  # noqa: ARG002
    ) -> None:
        return None


class _Tally:
    """What the collector saw, for the driver: per delta of the bench's position, the match
    stamp and the arrival time, and a slot freed for the closed loop."""

    def __init__(self, position_id: str) -> None:
        self.position_id = position_id
        self.match_ns: list[int] = []
        self.arrived_ns: list[int] = []
        self.slots = threading.Semaphore(0)
        self.goal = 0
        self.reached = threading.Event()

    def expect(self, more: int) -> None:
        """Set ``reached`` once ``more`` deltas beyond those seen so far have arrived."""
        self.reached.clear()
        self.goal = len(self.arrived_ns) + more
        if len(self.arrived_ns) >= self.goal:
            self.reached.set()


class _Collector(pykka.ThreadingActor):
    """Subscribed to every runtime event; keeps the deltas of one position."""

    def __init__(self, tally: _Tally) -> None:
        super().__init__()
        self.tally = tally

    def on_receive(self, message: Any) -> None:
        if type(message) is not PositionDelta:
            return
        tally = self.tally
        if message.position_id != tally.position_id:
            return
        tally.arrived_ns.append(time.time_ns())
        tally.match_ns.append(message.fill.ts_event)
        tally.slots.release()
        if len(tally.arrived_ns) >= tally.goal:
            tally.reached.set()


@attrs.frozen
class _Phase:
    """One phase's figures and what the runtime did meanwhile."""

    per_s: float
    latencies_s: list[float]
    achieved_per_s: float
    note: str


class _Bench:
    """A fresh runtime trading ``deals`` units per leg through the resting paper broker."""

    def __init__(self, directory: Path, deals: int) -> None:
        self.broker = _RestingBroker(seed=11)
        self.runtime = Runtime(
            RuntimeConfig(data_dir=directory, broker=BrokerConfig(broker=self.broker))
        )
        self.executed = dict.fromkeys(LEGS, Decimal(0))
        self.size = Decimal(deals)
        self.order_nos: list[str] = []
        self.collector: pykka.ActorRef[Any] | None = None

    def start(self) -> _Tally:
        definition = MarketDefinition(
            market_id=MARKET,
            instruments=(
                Instrument(security_id=LEGS[0], outcome=Outcome.YES),
                Instrument(security_id=LEGS[1], outcome=Outcome.NO),
            ),
        )
        feed = [MarketOpened(ts_event=1, definition=definition)]
        runtime = self.runtime.start(feed)
        reconciler = runtime.extra("reconciler")
        assert reconciler is not None
        _wait_for(lambda: reconciler.proxy().trading_enabled.get(timeout=TIMEOUT_S), "trading")
        runtime.replay(feed)
        (position,) = runtime.positions()
        tally = _Tally(position.position_id)
        self.collector = _Collector.start(tally)
        runtime.subscribe(self.collector)
        execution = runtime.execution
        assert execution is not None
        for security_id in LEGS:
            execution.tell(
                TradeSignal(
                    market_id=MARKET,
                    security_id=security_id,
                    side=OrderSide.BUY,
                    price=PRICE,
                    size=self.size,
                    reason="bench",
                )
            )
        venue = runtime.venue
        assert venue is not None
        numbers: dict[str, str] = _wait_for(
            lambda: (
                (known := venue.proxy().order_numbers.get(timeout=TIMEOUT_S))
                and len(known) == len(LEGS)
                and known
            ),
            "both orders placed",
        )
        runtime.wait_idle(TIMEOUT_S)
        by_leg = {order.security_id: order.order_id for order in runtime.orders()}
        self.order_nos = [numbers[by_leg[security_id]] for security_id in LEGS]
        return tally

    def execute(self, number: int) -> None:
        """Deal ``number``: one unit of the leg its parity names."""
        leg = number % len(LEGS)
        self.broker.execute(self.order_nos[leg], PRICE, ONE)
        self.executed[LEGS[leg]] += ONE

    def check(self) -> str:
        """Both views hold exactly what was executed; returns what the runtime did.

        Not ``Runtime.wait_idle``: with the orders open and no more callbacks, the normalizer
        soon asks for a reconcile, and waiting for its paced queries is not the bench's.
        """
        runtime = self.runtime
        (position,) = runtime.positions()
        legs = {leg.security_id: leg.quantity for leg in position.legs}
        if legs != self.executed:
            raise AssertionError(f"the market position holds {legs}, executed {self.executed}")
        _wait_for(
            lambda: (
                {p.security_id: p.quantity for p in runtime.account_positions()} == self.executed
            ),
            "the account book equal to the deals executed",
        )
        journal = runtime.journal
        normalizer = runtime.extra("normalizer")
        reconciler = runtime.extra("reconciler")
        assert journal is not None
        assert normalizer is not None
        assert reconciler is not None
        last_seq = ask(journal, Sync())
        commits = journal.proxy().batches.get(timeout=TIMEOUT_S)
        counters = normalizer.proxy().counters().get(timeout=TIMEOUT_S)
        syncs = reconciler.proxy().counters().get(timeout=TIMEOUT_S).syncs
        return (
            f"{last_seq:,} journal events in {commits:,} commits; position syncs {syncs}, "
            f"deals inferred {counters.inferred}, late {counters.late}, duplicate callbacks "
            f"{counters.duplicates}"
        )

    def stop(self) -> None:
        try:
            self.runtime.stop()
        finally:
            self.broker.close()
            if self.collector is not None:
                self.collector.stop()


def _wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.001)
    raise TimeoutError(f"no {what} after {TIMEOUT_S} s")


def _throughput(directory: Path, deals: int, window: int, warmup: int) -> _Phase:
    """Phase 1: ``warmup`` deals, then ``deals`` with at most ``window`` in flight."""
    bench = _Bench(directory, deals + warmup)
    try:
        tally = bench.start()
        tally.expect(warmup)
        for number in range(warmup):
            bench.execute(number)
        if not tally.reached.wait(TIMEOUT_S):
            raise TimeoutError("the warm-up deals never reached the position")
        tally.slots = threading.Semaphore(window)
        tally.expect(deals)
        started_ns = time.time_ns()
        for number in range(warmup, warmup + deals):
            if not tally.slots.acquire(timeout=TIMEOUT_S):
                raise TimeoutError(f"no delta in {TIMEOUT_S} s with {window} deals in flight")
            bench.execute(number)
        if not tally.reached.wait(TIMEOUT_S):
            raise TimeoutError(f"{len(tally.arrived_ns)} deltas, expected {tally.goal}")
        elapsed_s = (tally.arrived_ns[tally.goal - 1] - started_ns) / 1e9
        note = bench.check()
    finally:
        bench.stop()
    return _Phase(deals / elapsed_s, [], deals / elapsed_s, note)


def _paced(directory: Path, deals: int, per_s: int, warmup: int) -> _Phase:
    """Phase 2: ``warmup + deals`` deals at ``per_s``; latencies of the last ``deals``."""
    bench = _Bench(directory, deals + warmup)
    try:
        tally = bench.start()
        tally.expect(warmup + deals)
        numbers = iter(range(warmup + deals))
        driven = drive(per_s, warmup + deals, lambda: bench.execute(next(numbers)))
        if not tally.reached.wait(TIMEOUT_S):
            raise TimeoutError(f"{len(tally.arrived_ns)} deltas, expected {tally.goal}")
        latencies = [
            (arrived - matched) / 1e9
            for arrived, matched in zip(tally.arrived_ns, tally.match_ns, strict=True)
        ][warmup:]
        note = bench.check()
    finally:
        bench.stop()
    return _Phase(per_s, latencies, driven.achieved_per_s, note)


def measure(args: argparse.Namespace) -> tuple[_Phase, list[_Phase]]:
    """(throughput, paced latency at each rate), each on a fresh runtime and journal."""
    try:
        with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-broker-fills-") as tmp:
            flood = _throughput(Path(tmp) / "flood", args.deals, args.window, args.warmup)
            paced = [
                _paced(Path(tmp) / f"paced-{per_s}", args.paced, per_s, args.warmup)
                for per_s in args.rates
            ]
    finally:
        pykka.ActorRegistry.stop_all()
    return flood, paced


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deals", type=int, default=20_000, help="timed deals, phase 1")
    parser.add_argument("--window", type=int, default=1_000, help="deals in flight, phase 1")
    parser.add_argument(
        "--rates", type=int, nargs="+", default=[1_000, CALLBACK_RATE], help="deals/s, phase 2"
    )
    parser.add_argument("--paced", type=int, default=10_000, help="timed deals a rate, phase 2")
    parser.add_argument("--warmup", type=int, default=500, help="untimed deals first")
    parser.add_argument("--dir", type=Path, default=None, help="where the journals go")
    return parser


def figures(quick: bool) -> list[Figure]:
    """Throughput against the suite's pykka tell rate; latency against its round trip."""
    args = _parser().parse_args(QUICK if quick else FULL)
    flood, paced = measure(args)
    result = [
        rate(
            f"deals through the runtime, broker callback → market position, "
            f"{args.window:,} in flight",
            flood.per_s,
            unit="deals/s",
            floor=floors.PYKKA_RATE,
            target=THROUGHPUT_TARGET,
            note=flood.note,
        )
    ]
    for phase in paced:
        result.append(
            latency(
                f"deal at the broker → market position delta on the bus, at {phase.per_s:,.0f}/s",
                phase.latencies_s,
                floor=floors.PYKKA_LATENCY,
                target=CALLBACK_TARGET if phase.per_s == CALLBACK_RATE else None,
                note=f"achieved {phase.achieved_per_s:,.0f}/s; {phase.note}",
            )
        )
    return result


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging("warning")
    flood, paced = measure(args)
    print(
        f"1. sustained: {args.deals:,} deals, {args.window:,} in flight: "
        f"{flood.per_s:,.0f} deals/s (target 20,000/s)\n   {flood.note}"
    )
    for phase in paced:
        us = [seconds * 1e6 for seconds in phase.latencies_s]
        print(
            f"2. paced at {phase.per_s:,.0f}/s (achieved {phase.achieved_per_s:,.0f}/s), "
            f"{len(us):,} deals: deal at the broker → market position delta p50 "
            f"{nearest_rank(us, 0.5):,.0f} µs, p99 {nearest_rank(us, 0.99):,.0f} µs, "
            f"max {max(us):,.0f} µs (target at 5,000/s: p99 ≤ 1,000 µs)\n   {phase.note}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
