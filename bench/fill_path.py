"""Fill path: a fill leaving the venue → the position delta showing it, against a pykka floor.

The fill path is venue report → ExecutionActor → JournalActor (SQLite, synchronous=NORMAL,
group commit) → OrderActor → JournalActor → PositionActor → event bus → probe: six actor
hops and two journal commits. The journal, bus, index, risk and execution are the runtime's
own children (``supervisors.assembly.subsystems.harness_specs``), a stand-in in the venue's
place takes the order. The order is a real OrderActor, started as the market supervisor
starts one (a stand-in answers execution's ``SuperviseOrder`` with it). The floors are bare
pykka actors that only forward, over one hop and over six, measured in the same run, so the
ratio says what the runtime's own work (validation, accounting, journaling) costs on this
(noisy) machine.

    python -m bench.fill_path [--fills 20000] [--latency-samples 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pykka

from actors.order import OrderActor
from actors.position import PositionActor
from actors.position_accounting import PositionBook
from actors.runtime_state import order_from_created, position_stream
from bench import floors
from bench.figures import Figure, latency, nearest_rank, rate
from messages.enums import OrderSide, Outcome
from messages.fills import Fill
from messages.journal import PositionCreated
from messages.journal_protocol import Append
from messages.market_commands import SwitchMarket
from messages.markets import Instrument, MarketDefinition
from messages.order_commands import SubmitOrder
from messages.positions import PositionDelta
from messages.signals import TradeSignal
from messages.supervision import OrderStarted, SuperviseOrder
from supervisors.assembly.runtime_config import RuntimeConfig
from supervisors.assembly.subsystems import Wiring, harness_specs, start_harness
from tools.logging_setup import configure_logging

QUICK = ("--fills", "5000", "--latency-samples", "500")
FULL = ()
FILL_PATH = "fill → position delta"
CORE = ("journal", "bus", "index", "risk", "venue", "execution")
"""The runtime's core children the path runs through (the venue a stand-in)."""
FLOOR_ONE = "bare pykka, 1 actor (bench floor)"
FLOOR_SIX = "bare pykka, 6 hops (bench floor)"


class _Probe(pykka.ThreadingActor):
    """Records the latency of each delta and wakes the driver after ``expect`` of them."""

    def __init__(self) -> None:
        super().__init__()
        self.latencies_ns: list[int] = []
        self.expect = 0
        self.done = threading.Event()

    def on_receive(self, message: Any) -> None:
        if isinstance(message, PositionDelta | _Ping):
            sent = message.fill.ts_event if isinstance(message, PositionDelta) else message.ts
            self.latencies_ns.append(time.time_ns() - sent)
            if len(self.latencies_ns) >= self.expect:
                self.done.set()


class _Ping:
    __slots__ = ("ts",)

    def __init__(self, ts: int) -> None:
        self.ts = ts


class _Forward(pykka.ThreadingActor):
    def __init__(self, target: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.target = target

    def on_receive(self, message: Any) -> None:
        self.target.tell(message)


class _VenueSink(pykka.ThreadingActor):
    """Stands in for the venue: takes the SubmitOrder and hands the order id to the driver."""

    def __init__(self) -> None:
        super().__init__()
        self.order_id: str | None = None
        self.ready = threading.Event()

    def on_receive(self, message: Any) -> None:
        if isinstance(message, SubmitOrder):
            self.order_id = message.order_id
            self.ready.set()


class _Supervisor(pykka.ThreadingActor):
    """Stands in for the market lifecycle actor and supervisor: starts a real OrderActor for
    each order and tells execution it runs, as ``MarketLifecycleActor._start_order`` does."""

    def __init__(self, **order_refs: Any) -> None:
        super().__init__()
        self.order_refs = order_refs

    def on_receive(self, message: Any) -> None:
        if isinstance(message, SuperviseOrder):
            order = order_from_created(message.created)
            ref = OrderActor.start(order, **self.order_refs)
            self.order_refs["execution"].tell(
                OrderStarted(order_id=order.order_id, ref=ref, submit=True)
            )


@attrs.frozen
class _Run:
    """One path's latencies (one message at a time) and throughput (all in flight)."""

    latencies_s: list[float]
    per_s: float

    def us(self, q: float) -> float:
        return nearest_rank(self.latencies_s, q) * 1e6


def _measure(send: Any, probe: _Probe, n_latency: int, n_throughput: int) -> _Run:
    """Latency one message at a time, then throughput with everything in flight at once."""
    probe.latencies_ns.clear()
    for i in range(n_latency):
        probe.expect = i + 1
        probe.done.clear()
        send(i)
        probe.done.wait(10)
    latencies = [ns / 1e9 for ns in probe.latencies_ns]
    probe.latencies_ns.clear()
    probe.expect = n_throughput
    probe.done.clear()
    started = time.perf_counter()
    for i in range(n_throughput):
        send(n_latency + i)
    if not probe.done.wait(120):
        raise TimeoutError(f"{len(probe.latencies_ns)} of {n_throughput} reached the probe")
    return _Run(latencies, n_throughput / (time.perf_counter() - started))


def _fill_path(n_latency: int, n_throughput: int, data_dir: str) -> _Run:
    definition = MarketDefinition(
        market_id="bench",
        instruments=(
            Instrument(security_id="bench-YES", outcome=Outcome.YES),
            Instrument(security_id="bench-NO", outcome=Outcome.NO),
        ),
    )
    probe_ref = _Probe.start()
    probe: _Probe = probe_ref.proxy()._actor  # type: ignore[attr-defined]
    config = RuntimeConfig(data_dir=Path(data_dir))
    wiring = Wiring(config=config, stores=config.stores(), listeners=[probe_ref])
    specs = harness_specs(wiring, CORE, {"venue": lambda _context: _VenueSink.start()})
    start_harness("core", specs, wiring)
    bus, venue, journal, execution = (
        wiring.refs[c] for c in ("bus", "venue", "journal", "execution")
    )
    venue_actor: _VenueSink = venue.proxy()._actor  # type: ignore[attr-defined]
    book = PositionBook(
        position_id="bench/p",
        market_id="bench",
        account="paper",
        strategy="bench",
        security_ids=definition.security_ids,
    )
    journal.tell(
        Append(
            event=PositionCreated(
                position_id="bench/p",
                market_id="bench",
                account="paper",
                strategy="bench",
                security_ids=definition.security_ids,
            ),
            stream=position_stream("bench/p"),
        )
    )
    position = PositionActor.start(book, bus=bus)
    supervisor = _Supervisor.start(
        position=position,
        position_id="bench/p",
        execution=execution,
        venue=venue,
        bus=bus,
        journal=journal,
    )
    execution.tell(
        SwitchMarket(
            definition=definition,
            position=position,
            position_id="bench/p",
            account="paper",
            strategy="bench",
            supervisor=supervisor,
        )
    )
    total = n_latency + n_throughput
    execution.tell(
        TradeSignal(
            market_id="bench",
            security_id="bench-YES",
            side=OrderSide.BUY,
            price=Decimal("0.50"),
            size=Decimal(total),
            reason="bench",
        )
    )
    if not venue_actor.ready.wait(10):
        raise TimeoutError("the order never reached the venue")
    order_id = venue_actor.order_id
    assert order_id is not None

    def send(i: int) -> None:
        execution.tell(
            Fill(
                fill_id=f"F{i}",
                ts_event=time.time_ns(),
                order_id=order_id,
                market_id="bench",
                security_id="bench-YES",
                side=OrderSide.BUY,
                price=Decimal("0.50"),
                size=Decimal(1),
                fee=Decimal("0.0005"),
            )
        )

    return _measure(send, probe, n_latency, n_throughput)


def _floor(hops: int, n_latency: int, n_throughput: int) -> _Run:
    probe_ref = _Probe.start()
    probe: _Probe = probe_ref.proxy()._actor  # type: ignore[attr-defined]
    head: pykka.ActorRef[Any] = probe_ref
    for _ in range(hops - 1):
        head = _Forward.start(head)
    first = head
    return _measure(lambda _i: first.tell(_Ping(time.time_ns())), probe, n_latency, n_throughput)


def measure(args: argparse.Namespace) -> dict[str, _Run]:
    """The two floors, then the fill path, each on fresh actors."""
    runs = {}
    try:
        runs[FLOOR_ONE] = _floor(1, args.latency_samples, args.fills)
        pykka.ActorRegistry.stop_all()
        runs[FLOOR_SIX] = _floor(7, args.latency_samples, args.fills)
        pykka.ActorRegistry.stop_all()
        with tempfile.TemporaryDirectory(prefix="bench-fill-path-") as data_dir:
            runs[FILL_PATH] = _fill_path(args.latency_samples, args.fills, data_dir)
            pykka.ActorRegistry.stop_all()
    finally:
        pykka.ActorRegistry.stop_all()
    return runs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fills", type=int, default=20_000, help="fills for the throughput run")
    parser.add_argument("--latency-samples", type=int, default=2_000)
    return parser


def figures(quick: bool) -> list[Figure]:
    """The fill path against its six-hop floor; the floors against the suite's pykka floors."""
    runs = measure(_parser().parse_args(QUICK if quick else FULL))
    result = []
    for name, run in runs.items():
        own = name == FILL_PATH
        result.append(
            latency(
                f"{name}, one at a time",
                run.latencies_s,
                floor=f"{FLOOR_SIX}, one at a time" if own else floors.PYKKA_LATENCY,
            )
        )
        result.append(
            rate(
                f"{name}, all in flight",
                run.per_s,
                unit="fills/s" if own else "msgs/s",
                floor=f"{FLOOR_SIX}, all in flight" if own else floors.PYKKA_RATE,
            )
        )
    return result


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging("warning")
    runs = measure(args)
    floor = runs[FLOOR_SIX]
    print(f"{'path':32} {'p50 µs':>9} {'p99 µs':>9} {'fills/s':>10} {'p50 x floor':>11}")
    for name, run in runs.items():
        print(
            f"{name:32} {run.us(0.50):9.1f} {run.us(0.99):9.1f} "
            f"{run.per_s:10.0f} {run.us(0.50) / floor.us(0.50):11.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
