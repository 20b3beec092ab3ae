"""Risk lookups: a check's round trip through the position index, and what risk costs orders.

Every signal is checked by the RiskActor before it becomes an order; when a rule reads
positions, risk asks the PositionIndexActor by tell (``TrackersFor`` → ``Trackers``), so a
check is driver → risk → index → risk → driver, four actor hops. This measures that path
on an index of ``--securities`` securities (binary markets, two legs each, their positions
spread over ``--accounts`` accounts), and whether the order path keeps at least half its
throughput with risk switched on, as the issue requires.

1. Lookups. A real PositionIndexActor is loaded as a restarted one is
   (``PositionIndex.bulk_load_active``) with one position per market; every position has
   random quantities, costs and realized PnL on both legs. A driver actor keeps
   ``--window`` requests in flight (a new one goes out as each answer comes back) and
   times each from its tell to its answer: first one at a time (latency, p50/p99), then
   pipelined (requests/s). The requests, to random securities of the big accounts:
   ``TrackersFor`` straight to the index (by security, as ``Runtime.lookup`` asks; and by
   security and account, as risk asks), ``CheckSignal`` to a real RiskActor with order
   rules only (risk answers at once: two hops), with ``max_position`` (every check asks the
   index and is approved), the same for an account that holds two legs, and with every
   rule set (approved too: the limits are far away). The floors, in the same run: a bare
   pykka actor that echoes (two hops) and a bare relay in front of it that does what risk
   does with the index (four hops), same driver, same window, measured at the start, half
   way and at the end and pooled; and the plain ``PositionIndex`` calls, with what else one
   check costs on one thread: the index's account lookup, building its ``Trackers`` answer
   (validated) and ``risk_rules.denial``. Risk asks for the signal's security *and*
   account, and its rules read the account's legs, so a check's cost follows how many legs
   the account holds, not how many securities the index holds: hence the two-leg account.

   One at a time, a round trip is mostly threads waking up (each hop hands the GIL to a
   sleeping thread; on a VM that is tens of µs and bimodal: a thread still awake answers in
   a few µs), so the latency of a cheap path is noisy; requests/s, pipelined, is the
   figure that says what a check costs.

2. The order path. The runtime's own journal, bus, execution (and, with risk on, index and
   risk) children, started from its specs (``supervisors.assembly.subsystems``) on a
   temporary data dir (synchronous=NORMAL, group commit); execution is routed to a market by
   ``SwitchMarket``; the market supervisor is a stand-in that does for ``SuperviseOrder``
   what the real one does (tells ``OrderStarted(submit=True)``), but with a sink for the
   order actor, which it reports closed at once (``OrderClosed``) so the pending guard frees
   the side; the position is a sink for the journaled ``MarkPending``. The driver stands in
   for the venue and listens to the bus: it sends ``TradeSignal``s and counts an order when
   its ``SubmitOrder`` arrives (journaled ``OrderCreated``, supervised, marked pending,
   sent) and a denial when an ``OrderDenied`` does. The market has ``--instruments``
   instruments (a binary market has two: four (security, side) keys would hold at most four
   orders in flight) and signals go round them, both sides, so a key comes back only long
   after its last order closed: none is denied. Measured with ``risk=None`` (the harness
   starts no risk child, so execution has none), then with the runtime's RiskActor (and, in
   the index's place, a PositionIndexActor loaded as above plus the market's position in a
   big account and in an account that holds nothing else) with order rules only, and with
   ``max_position`` and with every rule for signals of either account, in ``--rounds``
   interleaved rounds; the ratio is each round's figure over the same round's ``risk=None``,
   median over rounds. Each run is a fresh set of actors and data dir: a warm-up,
   ``--order-samples`` signals one at a time (latency), then ``--signals`` with
   ``--order-window`` in flight (orders/s).

Everything runs in one process on threads (pykka's), so actors do not run in parallel: a
check's CPU time comes straight out of the order path's throughput. Logging is at warning.

    python -m bench.lookup [--securities 10000] [--accounts 4] [--checks 4000]
                           [--latency-samples 1000] [--window 32] [--signals 3000]
                           [--order-samples 500] [--order-window 16] [--instruments 32]
                           [--rounds 3] [--skip-orders]

The runtime itself trades one account (``RuntimeConfig.account``): there, every live leg
is in the account a check asks about; ``--accounts 1`` measures that case.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import random
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

from actors.position_index import PositionIndexActor
from actors.position_index_book import PositionIndex
from actors.risk import RiskActor
from actors.risk_rules import denial
from actors.runtime_state import position_stream
from bench import floors
from bench.figures import Figure, Statistic, Target, latency, rate
from messages.enums import OrderSide, Outcome, PositionStatus
from messages.journal import PositionCreated
from messages.journal_protocol import Append, Sync
from messages.market_commands import SwitchMarket
from messages.markets import Instrument, MarketDefinition
from messages.order_commands import SubmitOrder
from messages.orders import OrderClosed, OrderDenied
from messages.positions import LegSnapshot, PositionSnapshot
from messages.risk import (
    CheckSignal,
    RiskApproved,
    RiskDenied,
    RiskLimits,
    Trackers,
    TrackersFor,
)
from messages.signals import TradeSignal
from messages.supervision import OrderStarted, SuperviseOrder
from supervisors.assembly.runtime_config import RuntimeConfig
from supervisors.assembly.subsystems import Wiring, harness_specs, start_harness
from supervisors.kernel.child_spec import SupervisedContext
from tools.logging_setup import configure_logging

STRATEGY = "bench-strategy"
SMALL_ACCOUNT = "acct-small"
SOLO_ACCOUNT = "acct-solo"
"""Holds only a position in the order path's market."""
ORDER_MARKET = "orders"
TIMEOUT_S = 300.0
FAR = Decimal(10**9)
"""A limit no bench signal comes near: the rule runs and approves."""
RISK_OFF = "risk=None"
QUICK = (
    "--securities", "1000", "--checks", "1000", "--latency-samples", "200",
    "--signals", "600", "--order-samples", "100", "--rounds", "1",
)  # fmt: skip
FULL = ("--rounds", "2")
RISK_TARGET = Target(
    text="the order path with risk on keeps ≥ 0.5 of its throughput with risk=None",
    statistic=Statistic.RATIO,
    limit=0.5,
    at_most=False,
)

ORDER_RULES = RiskLimits(
    max_order_size=Decimal(1000), max_order_notional=Decimal(10**6), max_open_orders=10**6
)
MAX_POSITION = RiskLimits(max_position=FAR)
EVERY_RULE = RiskLimits(
    max_order_size=Decimal(1000),
    max_order_notional=Decimal(10**6),
    max_position=FAR,
    max_account_exposure=FAR,
    max_open_orders=10**6,
    daily_loss_limit=FAR,
    profit_lock=FAR,
    stop_loss=FAR,
)


# The positions.


@attrs.define
class _Universe:
    """The index's positions and who holds what."""

    snapshots: list[PositionSnapshot]
    big: list[tuple[str, str, str]]
    """(market, security, account) of every security the big accounts hold."""
    small: list[tuple[str, str, str]]
    order_market: MarketDefinition
    order_account: str
    """A big account, with a position in the order path's market besides."""


def _leg(rng: random.Random, security_id: str) -> LegSnapshot:
    quantity = Decimal(rng.randint(-50, 50))
    price = Decimal(rng.randint(1, 99)) / 100
    return LegSnapshot(
        security_id=security_id,
        quantity=quantity,
        cost=quantity * price,
        avg_open_price=price if quantity else Decimal(0),
        realized_pnl=Decimal(rng.randint(-500, 500)) / 100,
        fees=Decimal(rng.randint(0, 50)) / 1000,
        mark=None,
        unrealized_pnl=Decimal(0),
        pending_buy=False,
        pending_sell=False,
    )


def _position(market_id: str, account: str, legs: tuple[LegSnapshot, ...]) -> PositionSnapshot:
    return PositionSnapshot(
        position_id=f"{market_id}/{account}/{STRATEGY}",
        market_id=market_id,
        account=account,
        strategy=STRATEGY,
        status=PositionStatus.OPEN,
        version=1,
        legs=legs,
    )


def _universe(securities: int, accounts: int, instruments: int, seed: int) -> _Universe:
    """``securities // 2`` binary markets, one position each: the last market's in an
    account of its own, the others' round the big accounts. Plus the order path's market
    (``instruments`` instruments), with a position in the first big account and one in
    ``SOLO_ACCOUNT``, which holds nothing else."""
    rng = random.Random(seed)
    snapshots: list[PositionSnapshot] = []
    big: list[tuple[str, str, str]] = []
    small: list[tuple[str, str, str]] = []
    markets = securities // 2
    for number in range(markets):
        market_id = f"m{number}"
        account = SMALL_ACCOUNT if number == markets - 1 else f"acct-{number % accounts}"
        ids = (f"{market_id}-YES", f"{market_id}-NO")
        snapshots.append(_position(market_id, account, tuple(_leg(rng, s) for s in ids)))
        (small if account == SMALL_ACCOUNT else big).extend((market_id, s, account) for s in ids)
    order_market = MarketDefinition(
        market_id=ORDER_MARKET,
        instruments=tuple(
            Instrument(
                security_id=f"{ORDER_MARKET}-{i}", outcome=Outcome.YES if i % 2 else Outcome.NO
            )
            for i in range(instruments)
        ),
    )
    order_account = "acct-0"
    for account in (order_account, SOLO_ACCOUNT):
        legs = tuple(_leg(rng, s) for s in order_market.security_ids)
        snapshots.append(_position(ORDER_MARKET, account, legs))
    return _Universe(snapshots, big, small, order_market, order_account)


def _signal(market_id: str, security_id: str, account: str, side: OrderSide) -> TradeSignal:
    return TradeSignal(
        market_id=market_id,
        security_id=security_id,
        side=side,
        price=Decimal("0.50"),
        size=Decimal(1),
        reason="bench",
        strategy=STRATEGY,
        account=account,
    )


def _random_signals(
    rng: random.Random, held: Sequence[tuple[str, str, str]], count: int
) -> list[TradeSignal]:
    return [
        _signal(*rng.choice(held), rng.choice((OrderSide.BUY, OrderSide.SELL)))
        for _ in range(count)
    ]


# The driver and the floors.


Request = tuple[pykka.ActorRef[Any], Any, Any]
"""Whom to tell, what, and the key its answer will carry."""


@attrs.frozen
class _Go:
    """Send ``count`` requests made by ``make``, ``window`` of them in flight at once."""

    make: Callable[[], Request]
    count: int
    window: int
    tally: _Tally


class _Tally:
    """What the driver saw, read by the main thread once ``done`` is set."""

    def __init__(self) -> None:
        self.latencies_ns: list[int] = []
        self.denied = 0
        self.started_ns = 0
        self.finished_ns = 0
        self.done = threading.Event()


def _key_of(message: Any) -> Any:
    """The key of an answer: what its request was filed under."""
    if isinstance(message, RiskApproved | RiskDenied):
        return message.signal.id
    if isinstance(message, SubmitOrder | OrderDenied):
        return message.correlation_id
    if isinstance(message, Trackers | _Answer):
        return message.context
    return None


class _Driver(pykka.ThreadingActor):
    """Keeps a window of requests in flight and times each from its tell to its answer.

    In the order path it is the venue (``SubmitOrder``) and the bus (``OrderDenied``) too.
    """

    def __init__(self) -> None:
        super().__init__()
        self.tally = _Tally()
        self.go: _Go | None = None
        self.sent_ns: dict[Any, int] = {}
        self.next = 0
        self.received = 0

    def on_receive(self, message: Any) -> None:
        if isinstance(message, _Go):
            self.go, self.tally, self.next, self.received = message, message.tally, 0, 0
            self.tally.started_ns = time.perf_counter_ns()
            for _ in range(min(message.window, message.count)):
                self._send_next()
            return
        key = _key_of(message)
        if key is None or self.go is None:
            return
        now = time.perf_counter_ns()
        sent = self.sent_ns.pop(key, None)
        if sent is None:
            return
        self.tally.latencies_ns.append(now - sent)
        if isinstance(message, RiskDenied | OrderDenied):
            self.tally.denied += 1
        self.received += 1
        if self.next < self.go.count:
            self._send_next()
        if self.received == self.go.count:
            self.tally.finished_ns = now
            self.tally.done.set()

    def _send_next(self) -> None:
        assert self.go is not None
        target, message, key = self.go.make()
        self.next += 1
        self.sent_ns[key] = time.perf_counter_ns()
        target.tell(message)


class _Ask:
    __slots__ = ("context", "reply_to")

    def __init__(self, reply_to: pykka.ActorRef[Any], context: Any) -> None:
        self.reply_to = reply_to
        self.context = context


class _Answer:
    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


class _Echo(pykka.ThreadingActor):
    """The index's floor: answers the asker by a tell."""

    def on_receive(self, message: Any) -> None:
        if isinstance(message, _Ask):
            message.reply_to.tell(_Answer(message.context))


class _Relay(pykka.ThreadingActor):
    """Risk's floor: files the question, asks the echo, answers when the echo does."""

    def __init__(self, echo: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.echo = echo
        self.waiting: dict[Any, pykka.ActorRef[Any]] = {}

    def on_receive(self, message: Any) -> None:
        if isinstance(message, _Ask):
            self.waiting[message.context] = message.reply_to
            self.echo.tell(_Ask(self.actor_ref, message.context))
        elif isinstance(message, _Answer):
            self.waiting.pop(message.context).tell(message)


class _Sink(pykka.ThreadingActor):
    """An order or a position nobody needs to hear from: takes anything, does nothing."""

    def on_receive(self, _message: Any) -> None:
        return None


class _SupervisorStandIn(pykka.ThreadingActor):
    """Answers ``SuperviseOrder`` as the market supervisor does, ``OrderStarted(submit=True)``,
    but with a sink for the order's actor instead of starting one; then reports the order
    closed, as its actor would once terminal, so the pending guard frees the side."""

    def __init__(self, execution: pykka.ActorRef[Any], order: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.execution = execution
        self.order = order

    def on_receive(self, message: Any) -> None:
        if isinstance(message, SuperviseOrder):
            created = message.created
            self.execution.tell(
                OrderStarted(order_id=created.order_id, ref=self.order, submit=True)
            )
            self.execution.tell(OrderClosed(order_id=created.order_id, market_id=created.market_id))


# Measuring.


@attrs.define
class _Run:
    latencies_ns: list[int]
    seconds: float
    count: int
    denied: int

    @property
    def per_s(self) -> float:
        return self.count / self.seconds


def _drive(
    driver: pykka.ActorRef[Any], make: Callable[[], Request], count: int, window: int
) -> _Run:
    tally = _Tally()
    driver.tell(_Go(make, count, window, tally))
    if not tally.done.wait(TIMEOUT_S):
        raise RuntimeError(f"{len(tally.latencies_ns)} of {count} answers in {TIMEOUT_S} s")
    return _Run(
        tally.latencies_ns, (tally.finished_ns - tally.started_ns) / 1e9, count, tally.denied
    )


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


@attrs.define
class _Row:
    """One path's runs: one at a time (latency) and pipelined (throughput), pooled over
    repeats where it was measured more than once."""

    name: str
    hops: int
    serial: list[_Run]
    pipelined: list[_Run]

    def _pooled(self, runs: list[_Run], q: float) -> float:
        return _percentile([ns for run in runs for ns in run.latencies_ns], q) / 1e3

    @property
    def p50_us(self) -> float:
        return self._pooled(self.serial, 0.50)

    @property
    def p99_us(self) -> float:
        return self._pooled(self.serial, 0.99)

    @property
    def loaded_p99_us(self) -> float:
        return self._pooled(self.pipelined, 0.99)

    @property
    def per_s(self) -> float:
        return statistics.median(run.per_s for run in self.pipelined)

    def merge(self, other: _Row) -> None:
        self.serial.extend(other.serial)
        self.pipelined.extend(other.pipelined)


Maker = Callable[[pykka.ActorRef[Any]], Callable[[], Request]]
"""Given the driver's ref (the reply_to), the request maker for its runs."""


def _row(
    name: str, hops: int, maker: Maker, *, samples: int, count: int, window: int, warmup: int
) -> _Row:
    """Warm up, then one at a time (latency), then ``window`` in flight (throughput)."""
    driver = _Driver.start()
    try:
        make = maker(driver)
        _drive(driver, make, warmup, window)
        serial = _drive(driver, make, samples, 1)
        pipelined = _drive(driver, make, count, window)
    finally:
        driver.stop()
    denied = serial.denied + pipelined.denied
    if denied:
        raise RuntimeError(f"{name}: {denied} requests denied; the bench expects none")
    print(
        f"  {name}: p50 {_percentile(serial.latencies_ns, 0.5) / 1e3:.1f} µs, "
        f"{pipelined.per_s:,.0f}/s",
        flush=True,
    )
    return _Row(name, hops, [serial], [pipelined])


def _to(target: pykka.ActorRef[Any]) -> Maker:
    """The floors' request: a bare ``_Ask`` with the driver as reply_to."""

    def maker(driver: pykka.ActorRef[Any]) -> Callable[[], Request]:
        numbers = itertools.count()

        def make() -> Request:
            number = next(numbers)
            return target, _Ask(driver, number), number

        return make

    return maker


def _checks(risk: pykka.ActorRef[Any], signals: list[TradeSignal]) -> Maker:
    """``CheckSignal`` as execution tells it, round ``signals`` (more than are in flight:
    a signal's id is its answer's key)."""

    def maker(driver: pykka.ActorRef[Any]) -> Callable[[], Request]:
        numbers = itertools.count()

        def make() -> Request:
            signal = signals[next(numbers) % len(signals)]
            return risk, CheckSignal(signal=signal, open_orders=0, reply_to=driver), signal.id

        return make

    return maker


def _lookups(
    index: pykka.ActorRef[Any], securities: list[tuple[str, str]], *, by_account: bool
) -> Maker:
    """``TrackersFor`` round (security, account) pairs, with or without the account."""

    def maker(driver: pykka.ActorRef[Any]) -> Callable[[], Request]:
        numbers = itertools.count()

        def make() -> Request:
            number = next(numbers)
            security_id, account = securities[number % len(securities)]
            message = TrackersFor(
                security_ids=(security_id,),
                account=account if by_account else None,
                reply_to=driver,
                context=str(number),
            )
            return index, message, message.context

        return make

    return maker


def _legs_of(index: PositionIndex, account: str) -> int:
    return sum(1 for meta in index.all() if meta.account == account)


@attrs.frozen
class _Bare:
    label: str
    us: float


def _per_call_us(call: Callable[[int], Any], count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        call(i)
    return (time.perf_counter() - started) / count * 1e6


def _bare_calls(index: PositionIndex, universe: _Universe, count: int) -> dict[str, _Bare]:
    """The plain class and the rules on this thread: what one check costs without actors."""
    rng = random.Random(3)
    held = [rng.choice(universe.big) for _ in range(count)]
    securities = [security for _m, security, _a in held]
    account = universe.big[0][2]
    legs = _legs_of(index, account)
    question = TrackersFor(security_ids=(held[0][1],), account=account, market_id=held[0][0])
    answer = index.answer(question)
    signal = _signal(held[0][0], held[0][1], account, OrderSide.BUY)
    few = count // 10 or 1
    return {
        "trackers_for": _Bare(
            "PositionIndex.trackers_for(security)",
            _per_call_us(lambda i: index.trackers_for(securities[i]), count),
        ),
        "of_account": _Bare(
            f"PositionIndex.answer(every rule's question), {legs:,} legs held",
            _per_call_us(lambda _i: index.answer(question), few),
        ),
        "answer": _Bare(
            f"Trackers(...), the index's answer ({len(answer.market_legs)} market legs)",
            _per_call_us(lambda _i: attrs.evolve(answer, context="x"), few),
        ),
        "max_position": _Bare(
            "risk_rules.denial(...), max_position",
            _per_call_us(
                lambda _i: denial(signal, MAX_POSITION, open_orders=0, trackers=answer, marks={}),
                few,
            ),
        ),
        "every_rule": _Bare(
            "risk_rules.denial(...), every rule",
            _per_call_us(
                lambda _i: denial(signal, EVERY_RULE, open_orders=0, trackers=answer, marks={}),
                few,
            ),
        ),
        "check": _Bare(
            "CheckSignal(...), as execution builds it",
            _per_call_us(
                lambda _i: CheckSignal(signal=signal, open_orders=0, reply_to=None), count
            ),
        ),
    }


def _lookup_rows(universe: _Universe, args: argparse.Namespace) -> list[_Row]:
    rng = random.Random(args.seed)
    started = time.perf_counter()
    index = PositionIndex.bulk_load_active(universe.snapshots)
    loaded_s = time.perf_counter() - started
    accounts = sorted({snapshot.account for snapshot in universe.snapshots})
    print(
        f"index: {len(index):,} legs in {len(universe.snapshots):,} positions, loaded in "
        f"{loaded_s:.2f} s; legs per account: "
        + ", ".join(f"{account} {_legs_of(index, account):,}" for account in accounts),
        flush=True,
    )
    common = {"samples": args.latency_samples, "window": args.window, "warmup": 200}
    fast = args.checks * 4
    rows: list[_Row] = []
    floors = _floors(fast, common)
    rows.extend(floors)

    index_ref = PositionIndexActor.start(index)
    probe: Trackers = index_ref.ask(
        TrackersFor(security_ids=(universe.big[0][1],)), block=True, timeout=TIMEOUT_S
    )
    if [m.security_id for m in probe.by_security] != [universe.big[0][1]]:
        raise AssertionError(f"the index answered {probe}")
    asked = [(security, account) for _m, security, account in universe.big]
    rng.shuffle(asked)
    rows.append(
        _row(
            "TrackersFor(security) → index",
            2,
            _lookups(index_ref, asked, by_account=False),
            count=fast,
            **common,
        )
    )
    rows.append(
        _row(
            "TrackersFor(security, account) → index",
            2,
            _lookups(index_ref, asked, by_account=True),
            count=args.checks,
            **common,
        )
    )
    # The floors again half-way and at the end: the machine drifts, and they are cheap.
    for floor, again in zip(floors, _floors(fast, common), strict=True):
        floor.merge(again)
    pool = args.checks + args.latency_samples + 200
    big_signals = _random_signals(rng, universe.big, pool)
    small_signals = _random_signals(rng, universe.small, pool)
    for name, hops, limits, signals in (
        ("risk check, order rules (no index)", 2, ORDER_RULES, big_signals),
        ("risk check, max_position → index", 4, MAX_POSITION, big_signals),
        (f"  the same, {SMALL_ACCOUNT} (2 legs)", 4, MAX_POSITION, small_signals),
        ("risk check, every rule → index", 4, EVERY_RULE, big_signals),
    ):
        risk = RiskActor.start(index=index_ref, limits=limits)
        rows.append(_row(name, hops, _checks(risk, signals), count=args.checks, **common))
        risk.stop()
    index_ref.stop()
    for floor, again in zip(floors, _floors(fast, common), strict=True):
        floor.merge(again)
    return rows


def _floors(count: int, common: dict[str, int]) -> list[_Row]:
    echo = _Echo.start()
    relay = _Relay.start(echo)
    try:
        return [
            _row("bare pykka echo (floor)", 2, _to(echo), count=count, **common),
            _row("bare pykka relay → echo (floor)", 4, _to(relay), count=count, **common),
        ]
    finally:
        relay.stop()
        echo.stop()


def _print_lookups(rows: list[_Row], bare_calls: dict[str, _Bare], window: int) -> None:
    floors = {row.hops: row for row in rows[:2]}
    print(
        f"\n{'path':42} {'hops':>4} {'p50 µs':>8} {'p99 µs':>8} {'/s':>8} "
        f"{'p50 x floor':>11} {'/s ÷ floor':>10} {f'p99 µs @{window}':>10}"
    )
    for row in rows:
        floor = floors[row.hops]
        print(
            f"{row.name:42} {row.hops:4d} {row.p50_us:8.1f} {row.p99_us:8.1f} "
            f"{row.per_s:8.0f} {row.p50_us / floor.p50_us:11.2f} "
            f"{row.per_s / floor.per_s:10.2f} {row.loaded_p99_us:10.0f}"
        )
    print(
        f"p50/p99: one request at a time, tell → answer at the driver actor (each floor "
        f"pooled over its 3 runs). /s: {window} in flight. floor: the bare row with as many "
        f"hops; p99 @{window}: the pipelined run's.\n\nplain calls on one thread, ns per call:"
    )
    for bare in bare_calls.values():
        print(f"  {bare.label:58} {bare.us * 1e3:11,.0f}")
    common = ("trackers_for", "of_account", "answer", "check")
    for rule in ("max_position", "every_rule"):
        us = sum(bare_calls[key].us for key in (*common, rule))
        print(
            f"  one {rule} check's work, summed (no actor, no hop): {us:,.0f} µs, "
            f"at most {1e6 / us:,.0f} checks/s on one thread"
        )


# The order path.


def _order_signals(market: MarketDefinition, account: str, count: int) -> list[TradeSignal]:
    """Round the instruments, buys then sells: a (security, side) comes back every
    2 x instruments signals."""
    securities = market.security_ids
    return [
        _signal(
            market.market_id,
            securities[i % len(securities)],
            account,
            OrderSide.BUY if (i // len(securities)) % 2 == 0 else OrderSide.SELL,
        )
        for i in range(count)
    ]


def _order_path(
    universe: _Universe,
    index: PositionIndex,
    limits: RiskLimits | None,
    account: str,
    data_dir: Path,
    *,
    serial: int,
    count: int,
    window: int,
) -> tuple[_Run, _Run]:
    """One fresh set of actors: a warm-up, then signals one at a time, then pipelined."""
    warmup = 200
    signals = _order_signals(universe.order_market, account, warmup + serial + count)
    position_id = f"{ORDER_MARKET}/{account}/{STRATEGY}"
    # The driver is the venue, and hears the bus.
    driver = _Driver.start()
    sink = _Sink.start()
    wanted = ["journal", "bus", "execution", "venue"]
    stand_ins: dict[str, Callable[[SupervisedContext], pykka.ActorRef[Any]]] = {
        "venue": lambda _context: driver
    }
    if limits is not None:
        wanted += ["index", "risk"]
        stand_ins["index"] = lambda context: PositionIndexActor.start(index, supervision=context)
    config = RuntimeConfig(data_dir=data_dir, risk=limits or RiskLimits())
    wiring = Wiring(config=config, stores=config.stores(), listeners=[driver])
    harness = start_harness("order-path", harness_specs(wiring, wanted, stand_ins), wiring)
    journal, execution = wiring.refs["journal"], wiring.refs["execution"]
    supervisor = _SupervisorStandIn.start(execution, sink)
    try:
        # The position's stream starts as the market supervisor starts it, so the journal
        # can fold the MarkPending events execution appends to it.
        journal.tell(
            Append(
                event=PositionCreated(
                    position_id=position_id,
                    market_id=ORDER_MARKET,
                    account=account,
                    strategy=STRATEGY,
                    security_ids=universe.order_market.security_ids,
                ),
                stream=position_stream(position_id),
                dedup_key=f"position:{position_id}",
            )
        )
        execution.tell(
            SwitchMarket(
                definition=universe.order_market,
                position=sink,
                position_id=position_id,
                account=account,
                strategy=STRATEGY,
                supervisor=supervisor,
            )
        )
        numbers = itertools.count()

        def make() -> Request:
            signal = signals[next(numbers)]
            return execution, signal, signal.id

        runs = [
            _drive(driver, make, n, in_flight)
            for n, in_flight in ((warmup, window), (serial, 1), (count, window))
        ]
        # Every MarkPending is in the journal's mailbox before its SubmitOrder left
        # execution: after this, nothing is on its way to the sink.
        journal.ask(Sync(), block=True, timeout=TIMEOUT_S)
    finally:
        supervisor.stop()
        sink.stop()
        harness.stop(timeout=TIMEOUT_S)
    denied = sum(run.denied for run in runs)
    if denied:
        raise RuntimeError(f"{denied} signals denied; the bench expects none")
    return runs[1], runs[2]


@attrs.define
class _OrderRuns:
    """The order path's variants, in order (``risk=None`` first), over the rounds."""

    names: list[str]
    serial: dict[str, list[int]]
    """ns, one signal at a time."""
    per_s: dict[str, list[float]]
    """orders/s, pipelined: one per round."""
    account: str


def _order_runs(universe: _Universe, args: argparse.Namespace) -> _OrderRuns:
    index = PositionIndex.bulk_load_active(universe.snapshots)
    big = universe.order_account
    big_legs = _legs_of(index, big)
    solo_legs = _legs_of(index, SOLO_ACCOUNT)
    variants: list[tuple[str, RiskLimits | None, str]] = [
        (RISK_OFF, None, big),
        ("risk on, order rules (no index)", ORDER_RULES, big),
        (f"risk on, max_position, {big_legs:,} legs", MAX_POSITION, big),
        (f"risk on, every rule, {big_legs:,} legs", EVERY_RULE, big),
        (f"risk on, max_position, {solo_legs} legs", MAX_POSITION, SOLO_ACCOUNT),
        (f"risk on, every rule, {solo_legs} legs", EVERY_RULE, SOLO_ACCOUNT),
    ]
    runs = _OrderRuns(
        names=[name for name, _, _ in variants],
        serial={name: [] for name, _, _ in variants},
        per_s={name: [] for name, _, _ in variants},
        account=big,
    )
    with tempfile.TemporaryDirectory(prefix="bench-lookup-") as tmp:
        for round_number in range(args.rounds):
            for number, (name, limits, account) in enumerate(variants):
                one, many = _order_path(
                    universe,
                    index,
                    limits,
                    account,
                    Path(tmp) / f"run-{round_number}-{number}",
                    serial=args.order_samples,
                    count=args.signals,
                    window=args.order_window,
                )
                runs.serial[name].extend(one.latencies_ns)
                runs.per_s[name].append(many.per_s)
                print(
                    f"  round {round_number + 1}, {name}: {many.per_s:,.0f} orders/s",
                    flush=True,
                )
    return runs


def _print_orders(runs: _OrderRuns, args: argparse.Namespace) -> None:
    off = runs.per_s[RISK_OFF]
    print(
        f"\n{'order path (legs: the account holds)':36} {'p50 µs':>8} {'p99 µs':>8} "
        f"{'orders/s':>9} {'range':>13} {'÷ risk=None':>11} {'≥ 0.5?':>7}"
    )
    failing: list[str] = []
    for name in runs.names:
        per_s, serial = runs.per_s[name], runs.serial[name]
        ratios = [mine / base for mine, base in zip(per_s, off, strict=True)]
        ratio = statistics.median(ratios)
        if ratio < 0.5:
            failing.append(f"{name} ({ratio:.2f})")
        print(
            f"{name:36} {_percentile(serial, 0.5) / 1e3:8.1f} "
            f"{_percentile(serial, 0.99) / 1e3:8.1f} "
            f"{statistics.median(per_s):9.0f} "
            f"{f'{min(per_s):,.0f}-{max(per_s):,.0f}':>13} "
            f"{ratio:11.2f} {'yes' if ratio >= 0.5 else 'NO':>7}"
        )
    print(
        f"signal → SubmitOrder at the venue (journaled, supervised, marked pending, sent). "
        f"p50/p99: one signal at a time; orders/s: {args.order_window} in flight, median of "
        f"{args.rounds} rounds (range: min-max); ÷ risk=None: median of the rounds' ratios.\n"
        f"legs: what the signals' account holds in the index ({runs.account}: its share of "
        f"the {args.securities:,} securities and the market's {args.instruments}; "
        f"{SOLO_ACCOUNT}: the market's {args.instruments} only)."
    )
    if failing:
        print(
            "requirement (risk on keeps ≥ 0.5 of the order path's throughput): does NOT "
            f"hold for {'; '.join(failing)}"
        )
    else:
        print("requirement (risk on keeps ≥ 0.5 of the order path's throughput): holds")


def measure(args: argparse.Namespace) -> tuple[list[_Row], dict[str, _Bare], _OrderRuns | None]:
    """The lookups with their floors, the plain calls, then (unless skipped) the order path."""
    universe = _universe(args.securities, args.accounts, args.instruments, args.seed)
    try:
        print("\n1. lookups", flush=True)
        rows = _lookup_rows(universe, args)
        bare = _bare_calls(PositionIndex.bulk_load_active(universe.snapshots), universe, 20_000)
        orders = None
        if not args.skip_orders:
            print("\n2. the order path", flush=True)
            orders = _order_runs(universe, args)
    finally:
        pykka.ActorRegistry.stop_all()
    return rows, bare, orders


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--securities", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=4, help="big accounts")
    parser.add_argument("--checks", type=int, default=4_000, help="pipelined checks per row")
    parser.add_argument("--latency-samples", type=int, default=1_000, help="one at a time")
    parser.add_argument("--window", type=int, default=32, help="checks in flight")
    parser.add_argument("--signals", type=int, default=3_000, help="pipelined, per variant")
    parser.add_argument("--order-window", type=int, default=16, help="signals in flight")
    parser.add_argument(
        "--order-samples", type=int, default=500, help="signals one at a time, per variant"
    )
    parser.add_argument("--instruments", type=int, default=32, help="of the order path's market")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-orders", action="store_true", help="lookups only")
    return parser


def _args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    if args.instruments < args.order_window:
        parser.error("--instruments must be at least --order-window (the pending guard)")
    return args


def figures(quick: bool) -> list[Figure]:
    """Each lookup path against the bare pykka path with as many hops; the order path with
    risk on against risk=None (the issue's ≥ 0.5 of its throughput), risk=None against the
    suite's pykka floors."""
    args = _args(_parser(), QUICK if quick else FULL)
    rows, _bare, orders = measure(args)
    own_floors = {row.hops: row.name.removesuffix(" (floor)") for row in rows[:2]}
    one, many = "one at a time", f"{args.window} in flight"
    result = []
    for row in rows:
        label = row.name.strip().removesuffix(" (floor)")
        label = label.replace("the same", "risk check, max_position → index")
        serial = [ns / 1e9 for run in row.serial for ns in run.latencies_ns]
        pipelined = [run.per_s for run in row.pipelined]
        own = f"{own_floors[row.hops]}, {{}} (bench floor)"
        if label in own_floors.values():
            names = own.format(one), own.format(many)
            floor = floors.PYKKA_LATENCY, floors.PYKKA_RATE
        else:
            names = f"{label}, {one}", f"{label}, {many}"
            floor = own.format(one), own.format(many)
        result.append(latency(names[0], serial, floor=floor[0]))
        result.append(rate(names[1], pipelined, unit="checks/s", floor=floor[1]))
    if orders is None:
        return result
    many = f"{args.order_window} in flight"
    for name in orders.names:
        if name == RISK_OFF:
            floor, target = (floors.PYKKA_LATENCY, floors.PYKKA_RATE), None
        else:
            floor = (f"order path, {RISK_OFF}, {one}", f"order path, {RISK_OFF}, {many}")
            target = RISK_TARGET
        serial = [ns / 1e9 for ns in orders.serial[name]]
        result.append(latency(f"order path, {name}, {one}", serial, floor=floor[0]))
        result.append(
            rate(
                f"order path, {name}, {many}",
                orders.per_s[name],
                unit="orders/s",
                floor=floor[1],
                target=target,
            )
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = _args(parser, argv)
    configure_logging("warning")
    started = time.perf_counter()
    print(
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        flush=True,
    )
    rows, bare, orders = measure(args)
    _print_lookups(rows, bare, args.window)
    if orders is not None:
        _print_orders(orders, args)
    print(f"whole run {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
