"""Broker edge: startup recovery under the rate limit, and callback → account position latency.

Two figures of the broker edge (``bridges.broker_venue``, ``bridges.callback_bridge``,
``actors.normalizer``, ``actors.account_positions``, ``actors.reconciler``) against a
``SimulatedBroker``, each beside floors measured in the same run, since the machine is
noisy and only ratios compare.

**Startup recovery.** A fresh runtime (``Runtime`` with a ``BrokerConfig``, a real SQLite
journal in a new temporary directory) starts against a broker seeded with ``--positions``
positions (1,000) and ``--open-orders`` open orders (200) that the journal knows nothing
of. The clock runs from the call to ``Runtime.start()`` (made in a helper thread, so the
clock does not wait for the facade's own idle wait) until the reconciler reports
``trading_enabled`` (polled about every millisecond), and until the account book equals the
broker's truth (the positions seeded: one ``PositionCorrected`` each). The broker's rate
limit is its default, 25 queries per 5 s, and the reconciler's pacer keeps under it. A
startup reads positions, open orders and the session's fills, each page one query: at page
size 100 that is 10 + 2 + 1 = 13 queries; at 50 it is 20 + 4 + 1 = 25, exactly one window,
so nothing waits; at 40 it is 25 + 5 + 1 = 31, so the pacer waits for a second window.
Reported per page size: queries answered, broker refusals (must be 0), the pacer's waits,
and wall seconds, median and max of ``--repeats`` fresh runs. Floors: the same startup
against an empty broker (3 queries), and the pacing bound, the wait the rate limit alone
imposes on that many queries (``(ceil(queries / 25) - 1) * 5 s``).

**Callback → account position latency.** The edge actors, started from the runtime's own
specs (``supervisors.assembly.subsystems.broker_edge_alone``) with ``BrokerConfig``'s
defaults: a journal on SQLite (synchronous=NORMAL, group commit), the event bus, the
account positions, the normalizer, the broker venue, the reconciler (default pacer, the
position sync's 5 s debounce). Not execution, strategy and markets: orders are
``SubmitOrder`` told straight to the broker venue, in securities with no market at the
broker, so they rest there, and a sink subscribed to the normalizer stands in for execution
(a runtime's execution would get a ``Fill`` for an order it never made, and log an error
per deal). A driver thread calls ``broker.execute`` at ``--rates`` deals per second on a
monotonic schedule; the broker (perfect: no drops, no duplicates, no delay) calls the
``CallbackBridge`` on its own thread, which stamps ``recv_ns`` and tells the normalizer; the
normalizer appends a ``DealBooked`` to the journal, which commits and delivers it to the
account positions actor, which applies it, stamps ``applied_ns`` and publishes
``AccountPositionChanged`` through the bus to a collector. ``applied_ns - recv_ns`` (both
``time.time_ns``) is the latency; the bus hop to the collector is not in it. Each deal also
brings an order-status callback (``PARTIALLY_FILLED``) and tells the reconciler a
``PositionCallback``: at most every 5 s (counted from the reconciler's start) that syncs
positions, open orders and the last 60 s of fills with the broker (paced, on the
reconciler's worker thread), as in production, so a run longer than that carries the load
(the note under the table says how many syncs ran; the default 1,000/s run has them, the
5,000/s run is over too soon). The latency to the market ``PositionActor`` (execution, the
order actor, the journal again) is not measured: these orders have no market.

Floors, at the same rate, count and schedule: a plain thread stamping ``time.time_ns()``
onto a ``queue.Queue`` another thread takes and stamps again; and a plain thread telling
the stamp to a bare pykka actor that stamps it again and tells both stamps to a collector
actor (the interval measured is the tell to the actor's stamp, as in the edge). The first
``--warmup`` deals of each run are left out. Percentiles are nearest-rank.

    python -m bench.broker [--repeats 3] [--page-sizes 100 50 40] [--positions 1000]
                           [--open-orders 200] [--rates 1000 5000] [--deals 10000]
                           [--warmup 500] [--dir DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import queue
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pykka

from actors.journal_store import Durability
from bench import floors
from bench.figures import Figure, Statistic, Target, duration, latency
from bridges.journal_sqlite import SqliteStoreFactory
from bridges.simulated_broker import SimulatedBroker
from messages.broker_events import AccountPosition, AccountPositionChanged
from messages.enums import OrderSide
from messages.journal_protocol import Sync
from messages.order_commands import SubmitOrder
from messages.subscriptions import Subscribe
from supervisors.assembly.runtime import Runtime
from supervisors.assembly.runtime_config import BrokerConfig, RuntimeConfig
from supervisors.assembly.subsystems import Wiring, broker_edge_alone, start_harness
from supervisors.kernel.base import ask
from tools.logging_setup import configure_logging

ACCOUNT = RuntimeConfig().account
TIMEOUT_S = 120.0
POLL_S = 0.001
SECURITIES = 20
"""Resting orders the latency runs fill, one per security, round robin."""

PRICE = Decimal("10")
ONE = Decimal(1)
QUICK = (
    "--repeats", "1", "--page-sizes", "100", "--rates", "5000", "--deals", "3000",
    "--warmup", "300",
)  # fmt: skip
FULL = ("--repeats", "1")
CALLBACK_RATE = 5_000
CALLBACK_TARGET = Target(
    text="broker callback → position visible: p99 ≤ 1 ms at 5,000 fills/s sustained",
    statistic=Statistic.BAD,
    limit=0.001,
    at_most=True,
)


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _wait_for(condition: Callable[[], Any], what: str, timeout_s: float = TIMEOUT_S) -> Any:
    """Poll ``condition`` about every millisecond until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(POLL_S)
    raise TimeoutError(f"no {what} after {timeout_s} s")


# -- startup recovery ------------------------------------------------------------------------


@attrs.frozen
class _Startup:
    enabled_s: float
    book_s: float
    queries: int
    refused: int
    waits: int
    waited_s: float
    limit: tuple[int, float]
    """The rate limit the runtime paced under: (calls, period_s)."""


@attrs.frozen
class _StartupRow:
    name: str
    page_size: int
    runs: list[_Startup]
    floor: bool = False

    @property
    def queries(self) -> int:
        return max(run.queries for run in self.runs)

    @property
    def pacing_bound_s(self) -> float:
        calls, period_s = self.runs[0].limit
        return max(0, math.ceil(self.queries / calls) - 1) * period_s


def _seed(broker: SimulatedBroker, positions: int, open_orders: int) -> dict[str, Decimal]:
    """Positions and open orders held before the runtime starts; returns the truth."""
    truth: dict[str, Decimal] = {}
    for number in range(positions):
        security_id = f"SEC{number:04d}"
        quantity = Decimal(number % 50 - 25) or Decimal(7)
        broker.seed_position(ACCOUNT, security_id, quantity, Decimal("12.5"))
        truth[security_id] = quantity
    for number in range(open_orders):
        broker.seed_open_order(
            ACCOUNT, f"SEC{number:04d}", OrderSide.BUY, Decimal("11"), Decimal("4")
        )
    return truth


def _book(account_positions: Any) -> dict[str, Decimal]:
    positions: tuple[AccountPosition, ...] = account_positions.positions().get(timeout=TIMEOUT_S)
    return {p.security_id: p.quantity for p in positions if p.quantity != 0}


def _startup_once(page_size: int, positions: int, open_orders: int, root: str | None) -> _Startup:
    broker = SimulatedBroker(seed=5, page_size=page_size)
    try:
        truth = _seed(broker, positions, open_orders)
        with tempfile.TemporaryDirectory(dir=root, prefix="bench-broker-") as tmp:
            config = BrokerConfig(broker=broker)
            runtime = Runtime(RuntimeConfig(data_dir=Path(tmp), broker=config))
            failed: list[BaseException] = []

            def start() -> None:
                try:
                    runtime.start()
                except BaseException as error:
                    failed.append(error)

            starter = threading.Thread(target=start, name="bench-runtime-start", daemon=True)
            started = time.perf_counter()
            starter.start()
            try:

                def reconciler() -> Any:
                    if failed:
                        raise RuntimeError("the runtime did not start") from failed[0]
                    return runtime.extra("reconciler")

                proxy = _wait_for(reconciler, "reconciler").proxy()
                _wait_for(lambda: proxy.trading_enabled.get(timeout=TIMEOUT_S), "trading")
                enabled_s = time.perf_counter() - started
                book = _wait_for(lambda: runtime.extra("account_positions"), "account book")
                book_proxy = book.proxy()
                _wait_for(lambda: _book(book_proxy) == truth, "the book equal to the truth")
                book_s = time.perf_counter() - started
                normalizer = runtime.extra("normalizer")
                assert normalizer is not None
                adopted = normalizer.proxy().counters().get(timeout=TIMEOUT_S).open_orders
                if adopted != open_orders:
                    raise AssertionError(f"{adopted} open orders adopted, {open_orders} seeded")
                pacer = proxy.pacer.get(timeout=TIMEOUT_S).stats()
            finally:
                starter.join(TIMEOUT_S)
                runtime.stop()
            if failed:
                raise RuntimeError("the runtime did not start") from failed[0]
        stats = broker.stats()
        return _Startup(
            enabled_s=enabled_s,
            book_s=book_s,
            queries=stats.queries,
            refused=stats.refused,
            waits=pacer.waits,
            waited_s=pacer.waited_s,
            limit=(config.rate_limit_calls, config.rate_limit_period_s),
        )
    finally:
        broker.close()


def _startup_rows(args: argparse.Namespace) -> list[_StartupRow]:
    rows = []
    seeded = f"{args.positions:,} pos + {args.open_orders} orders"
    plan = [("empty broker (floor)", 100, 0, 0, True)]
    plan += [(seeded, size, args.positions, args.open_orders, False) for size in args.page_sizes]
    for name, page_size, positions, open_orders, floor in plan:
        runs = []
        for _ in range(args.repeats):
            runs.append(_startup_once(page_size, positions, open_orders, args.dir))
            pykka.ActorRegistry.stop_all()
        row = _StartupRow(name, page_size, runs, floor)
        print(
            f"  startup {name}, page {page_size}: "
            + ", ".join(f"{run.book_s:.2f} s" for run in runs),
            flush=True,
        )
        rows.append(row)
    return rows


def _print_startup(rows: list[_StartupRow]) -> None:
    floor = next(row for row in rows if row.floor)
    floor_s = statistics.median(run.book_s for run in floor.runs)
    print(
        f"\n{'startup':28} {'page':>4} {'runs':>4} {'queries':>7} {'refused':>7} "
        f"{'waits':>5} {'waited s':>8} {'enabled s':>9} {'max':>6} {'book s':>7} {'max':>6} "
        f"{'bound s':>7} {'- bound':>7} {'x floor':>7}"
    )
    for row in rows:
        enabled = [run.enabled_s for run in row.runs]
        book = [run.book_s for run in row.runs]
        over_bound = statistics.median(book) - row.pacing_bound_s
        print(
            f"{row.name:28} {row.page_size:4d} {len(row.runs):4d} {row.queries:7d} "
            f"{max(run.refused for run in row.runs):7d} "
            f"{max(run.waits for run in row.runs):5d} "
            f"{statistics.median(run.waited_s for run in row.runs):8.2f} "
            f"{statistics.median(enabled):9.3f} {max(enabled):6.3f} "
            f"{statistics.median(book):7.3f} {max(book):6.3f} "
            f"{row.pacing_bound_s:7.1f} {over_bound:7.3f} {over_bound / floor_s:7.1f}"
        )
    print(
        "from Runtime.start() to: enabled = the reconciler's trading_enabled; book = the "
        "account book equal to the broker's positions (medians, then max).\n"
        "queries: pages the broker answered; refused: queries the broker refused (must be 0); "
        "waits, waited s: the pacer holding a query for a free slot.\n"
        "bound: what the rate limit alone imposes on that many queries; - bound: the book "
        "time less it; x floor: that over the empty broker's book time."
    )


# -- callback → account position latency -----------------------------------------------------


class _Collector(pykka.ThreadingActor):
    """Keeps ``applied - recv`` of each deal's position change (or a floor's stamp pair)."""

    def __init__(self, samples: list[int], expect: int, done: threading.Event) -> None:
        super().__init__()
        self.samples = samples
        self.expect = expect
        self.done = done

    def on_receive(self, message: Any) -> None:
        if type(message) is AccountPositionChanged:
            if not message.recv_ns:  # a correction, not a deal
                return
            self.samples.append(message.applied_ns - message.recv_ns)
        elif type(message) is tuple:
            recv_ns, applied_ns = message
            self.samples.append(applied_ns - recv_ns)
        else:
            return
        if len(self.samples) >= self.expect:
            self.done.set()


class _Sink(pykka.ThreadingActor):
    """Stands in for execution: takes the normalizer's reports and drops them."""

    def on_receive(self, _message: Any) -> None:
        return None


class _Stamp(pykka.ThreadingActor):
    """The floor's bare actor: stamps what it is told and tells both stamps on."""

    def __init__(self, target: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.target = target

    def on_receive(self, message: Any) -> None:
        self.target.tell((message, time.time_ns()))


class _Edge:
    """The broker edge the runtime starts (``subsystems.broker_edge_alone``: journal, bus and
    the edge, a sink in execution's place), under a one_for_all supervisor as in the root."""

    def __init__(self, broker: SimulatedBroker, path: Path) -> None:
        config = RuntimeConfig(
            strategy_name="bench",
            broker=BrokerConfig(broker=broker),
            journal_store=SqliteStoreFactory(path, Durability.NORMAL),
        )
        self.broker = broker
        self.wiring = Wiring(config=config, stores=config.stores())
        specs = broker_edge_alone(self.wiring, _Sink.start)
        self.supervisor = start_harness("broker_edge", specs, self.wiring)
        refs = self.wiring.refs
        self.journal = refs["journal"]
        self.bus = refs["bus"]
        self.account_positions = refs["account_positions"]
        self.normalizer = refs["normalizer"]
        self.venue = refs["venue"]
        self.reconciler = refs["reconciler"]

    def place(self, count: int, size: int) -> list[str]:
        """Rest ``count`` orders at the broker through the venue; their order numbers."""
        order_ids = [f"B{number}" for number in range(count)]
        for number, order_id in enumerate(order_ids):
            self.venue.tell(
                SubmitOrder(
                    correlation_id=order_id,
                    order_id=order_id,
                    market_id="bench",
                    security_id=f"NOMKT{number:02d}",
                    side=OrderSide.BUY,
                    price=PRICE,
                    size=Decimal(size),
                )
            )
        venue = self.venue.proxy()
        numbers: dict[str, str] = _wait_for(
            lambda: (
                (known := venue.order_numbers.get(timeout=TIMEOUT_S)).keys() >= set(order_ids)
                and known
            ),
            "orders placed",
        )
        return [numbers[order_id] for order_id in order_ids]

    def settle(self) -> None:
        """Every callback delivered, the normalizer drained, the journal committed."""
        if not self.broker.wait_idle(TIMEOUT_S):
            raise TimeoutError("the broker still has callbacks to deliver")
        self.normalizer.proxy().handled.get(timeout=TIMEOUT_S)
        ask(self.journal, Sync())
        self.account_positions.proxy().handled.get(timeout=TIMEOUT_S)

    def stop(self) -> None:
        self.supervisor.stop(block=True, timeout=TIMEOUT_S)


@attrs.frozen
class Drive:
    """What a paced driver achieved: its rate, and how far it fell behind its schedule."""

    achieved_per_s: float
    worst_lag_ms: float


def drive(rate: float, count: int, send: Callable[[], None]) -> Drive:
    """Call ``send`` ``count`` times on a monotonic schedule of ``rate`` per second, from a
    driver thread; never ahead of the schedule, and straight on when behind it."""
    result: list[Drive] = []

    def run() -> None:
        interval = 1.0 / rate
        worst_lag = 0.0
        started = time.monotonic()
        for number in range(count):
            due = started + number * interval
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            else:
                worst_lag = max(worst_lag, now - due)
            send()
        elapsed = time.monotonic() - started
        result.append(Drive(achieved_per_s=count / elapsed, worst_lag_ms=worst_lag * 1e3))

    driver = threading.Thread(target=run, name="bench-driver")
    driver.start()
    driver.join()
    if not result:
        raise RuntimeError("the driver thread failed")
    return result[0]


@attrs.frozen
class _LatencyRow:
    name: str
    rate: int
    drive: Drive
    samples: list[int]
    note: str = ""

    def us(self, q: float) -> float:
        return _percentile(self.samples, q) / 1e3


def _edge_row(rate: int, deals: int, warmup: int, root: str | None) -> _LatencyRow:
    total = warmup + deals
    samples: list[int] = []
    done = threading.Event()
    collector = _Collector.start(samples, total, done)
    broker = SimulatedBroker(seed=7, drop_rate=0.0, duplicate_rate=0.0, delay_s=(0.0, 0.0))
    try:
        with tempfile.TemporaryDirectory(dir=root, prefix="bench-broker-") as tmp:
            edge = _Edge(broker, Path(tmp) / "journal.sqlite")
            try:
                reconciler = edge.reconciler.proxy()
                _wait_for(lambda: reconciler.trading_enabled.get(timeout=TIMEOUT_S), "trading")
                order_nos = edge.place(SECURITIES, size=total)
                edge.settle()
                edge.bus.tell(Subscribe(subscriber=collector))
                edge.bus.proxy().handled.get(timeout=TIMEOUT_S)  # subscribed from here
                journal = edge.journal.proxy()
                before = reconciler.counters().get(timeout=TIMEOUT_S)
                batches = journal.batches.get(timeout=TIMEOUT_S)
                sent = iter(range(total))

                def send() -> None:
                    number = next(sent)
                    broker.execute(order_nos[number % len(order_nos)], PRICE, ONE)

                driven = drive(rate, total, send)
                if not done.wait(TIMEOUT_S):
                    raise TimeoutError(f"{len(samples)} of {total} deals reached the book")
                after = reconciler.counters().get(timeout=TIMEOUT_S)
                commits = journal.batches.get(timeout=TIMEOUT_S) - batches
                counters = edge.normalizer.proxy().counters().get(timeout=TIMEOUT_S)
                stats = broker.stats()
            finally:
                edge.stop()
    finally:
        broker.close()
        collector.stop()
    note = (
        f"journal commits {commits:,} ({total / commits:.1f} deals each); reconciler: position "
        f"syncs {after.syncs - before.syncs}, reconciles done "
        f"{after.reconciles - before.reconciles}, queries {after.queries - before.queries}; "
        f"normalizer: inferred {counters.inferred}, late {counters.late}, duplicates "
        f"{counters.duplicates}; callbacks delivered {stats.delivered:,}"
    )
    return _LatencyRow("callback → account position", rate, driven, samples[warmup:], note)


def _queue_floor(rate: int, deals: int, warmup: int) -> _LatencyRow:
    total = warmup + deals
    handoff: queue.Queue[int | None] = queue.Queue()
    samples: list[int] = []

    def consume() -> None:
        while (recv_ns := handoff.get()) is not None:
            samples.append(time.time_ns() - recv_ns)

    consumer = threading.Thread(target=consume, name="bench-queue-consumer")
    consumer.start()
    try:
        driven = drive(rate, total, lambda: handoff.put(time.time_ns()))
    finally:
        handoff.put(None)
        consumer.join(TIMEOUT_S)
    return _LatencyRow("thread → queue.Queue → thread", rate, driven, samples[warmup:])


def _pykka_floor(rate: int, deals: int, warmup: int) -> _LatencyRow:
    total = warmup + deals
    samples: list[int] = []
    done = threading.Event()
    collector = _Collector.start(samples, total, done)
    stamp = _Stamp.start(collector)
    try:
        driven = drive(rate, total, lambda: stamp.tell(time.time_ns()))
        if not done.wait(TIMEOUT_S):
            raise TimeoutError(f"{len(samples)} of {total} stamps came back")
    finally:
        stamp.stop()
        collector.stop()
    return _LatencyRow("thread → bare pykka actor", rate, driven, samples[warmup:])


def _latency_rows(args: argparse.Namespace) -> list[_LatencyRow]:
    rows = []
    for rate in args.rates:
        for row in (
            _queue_floor(rate, args.deals, args.warmup),
            _pykka_floor(rate, args.deals, args.warmup),
            _edge_row(rate, args.deals, args.warmup, args.dir),
        ):
            print(
                f"  {rate:,}/s {row.name}: p50 {row.us(0.50):.0f} µs, p99 {row.us(0.99):.0f} µs",
                flush=True,
            )
            rows.append(row)
        pykka.ActorRegistry.stop_all()
    return rows


def _print_latency(rows: list[_LatencyRow]) -> None:
    print(
        f"\n{'latency':32} {'rate/s':>7} {'achieved':>8} {'lag ms':>7} {'deals':>6} "
        f"{'p50 µs':>8} {'p90 µs':>8} {'p99 µs':>8} {'max µs':>8} {'p50 x fl':>8} "
        f"{'p99 x fl':>8}"
    )
    floors = {row.rate: row for row in rows if row.name.startswith("thread → bare pykka")}
    for row in rows:
        floor = floors[row.rate]
        p50, p99 = row.us(0.50), row.us(0.99)
        print(
            f"{row.name:32} {row.rate:7,d} {row.drive.achieved_per_s:8.0f} "
            f"{row.drive.worst_lag_ms:7.1f} {len(row.samples):6d} {p50:8.0f} "
            f"{row.us(0.90):8.0f} {p99:8.0f} {row.us(1.0):8.0f} {p50 / floor.us(0.50):8.1f} "
            f"{p99 / floor.us(0.99):8.1f}"
        )
    for row in rows:
        if row.note:
            print(f"  at {row.rate:,}/s: {row.note}")
    print(
        "callback → account position: applied_ns - recv_ns of each deal's "
        "AccountPositionChanged (bridge stamp on the broker thread → the account book "
        "changed), through normalizer, journal commit and account positions.\n"
        "achieved: deals (or stamps) per second the driver thread sent; lag: its worst lag "
        "behind the schedule. x fl: over the bare pykka actor's figure at the same rate."
    )


def measure(args: argparse.Namespace) -> tuple[list[_StartupRow], list[_LatencyRow]]:
    try:
        return _startup_rows(args), _latency_rows(args)
    finally:
        pykka.ActorRegistry.stop_all()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="fresh startups per row")
    parser.add_argument("--page-sizes", type=int, nargs="+", default=[100, 50, 40])
    parser.add_argument("--positions", type=int, default=1_000)
    parser.add_argument("--open-orders", type=int, default=200)
    parser.add_argument("--rates", type=int, nargs="+", default=[1_000, 5_000], help="deals/s")
    parser.add_argument("--deals", type=int, default=10_000, help="measured deals per rate")
    parser.add_argument("--warmup", type=int, default=500, help="deals left out per rate")
    parser.add_argument("--dir", default=None, help="where the journals go")
    return parser


def figures(quick: bool) -> list[Figure]:
    """Startups against the empty broker's; latencies against the same-rate floors, which
    are against the suite's queue and pykka round trips. The callback target is checked at
    5,000 deals/s."""
    startup, latencies = measure(_parser().parse_args(QUICK if quick else FULL))
    result = []
    floor_name = ""
    for row in startup:
        label = row.name.removesuffix(" (floor)")
        name = f"startup → book equal to the broker's, {label}, page {row.page_size}"
        if row.floor:
            floor_name = f"{name} (bench floor)"
            result.append(
                duration(floor_name, [run.book_s for run in row.runs], floor=floors.PYKKA_LATENCY)
            )
            continue
        result.append(
            duration(
                name,
                [run.book_s for run in row.runs],
                floor=floor_name,
                note=f"{row.queries} queries, pacing bound {row.pacing_bound_s:.0f} s",
            )
        )
    own_floors = {
        "thread → queue.Queue → thread": floors.QUEUE_LATENCY,
        "thread → bare pykka actor": floors.PYKKA_LATENCY,
    }
    for paced in latencies:
        seconds = [ns / 1e9 for ns in paced.samples]
        at = f"at {paced.rate:,}/s"
        if paced.name in own_floors:
            name = f"{paced.name}, {at} (bench floor)"
            result.append(latency(name, seconds, floor=own_floors[paced.name]))
            continue
        result.append(
            latency(
                f"{paced.name}, {at}",
                seconds,
                floor=f"thread → bare pykka actor, {at} (bench floor)",
                target=CALLBACK_TARGET if paced.rate == CALLBACK_RATE else None,
                note=f"achieved {paced.drive.achieved_per_s:,.0f}/s; {paced.note}",
            )
        )
    return result


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The startup logs a warning per corrected position and adopted order.
    configure_logging("error")
    print(
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}",
        flush=True,
    )
    started = time.perf_counter()
    startup, latencies = measure(args)
    _print_startup(startup)
    _print_latency(latencies)
    print(f"whole run {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
