"""Journal: appends through the JournalActor against a bare sqlite3 floor, and recovery time.

Part 1 tells the real ``JournalActor`` (on a ``SqliteJournalStore``, default
``JournalConfig``) ``--events`` Appends of the fill path, a ``Fill`` on its order's stream
then a ``FillApplied`` on the position's, each delivered to a bare counting actor, and
times them until the counter has all of them: appended, committed, folded into the
journal's state and delivered. The messages are built before the clock starts, so the
figure is the journal's, not the producers'. Snapshots are inside the measurement, and
they get dearer as it goes: the state keeps every fill (the orders' and the position's
dedup), as one busy market's would. The floor is bare
``sqlite3``: ``executemany`` of the same payload strings into a one-column table, in
batches of the average size the group commit reached, same WAL mode and synchronous
setting, measured in the same run just after, so the ratio says what the journal's own
work costs on this (noisy) machine.

Part 2 builds journals of ``--sizes`` events straight through the store (not the actor,
to build fast) from a run-like mix: markets one after another, each with its position and
orders that are accepted, filled once or twice and cleared, every ~10 events wrapped in a
lockstep step, whole steps up to the size. It times ``recover_state`` on a freshly
opened store, first with no snapshot, then with a snapshot of the state at ~99% of the
journal, so only the tail is replayed. The files were just written, so the page cache is
warm.

    python -m bench.journal [--events 50000] [--sizes 100000,1000000] [--dir DIR]

Put ``--dir`` on the disk the journal will live on: fsync costs what that disk costs
(on tmpfs it costs nothing).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import random
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pykka

from actors.journal import JournalActor
from actors.journal_store import Duplicate, Durability, NewEntry, Snapshot
from actors.runtime_state import (
    RUNTIME_STREAM,
    RuntimeState,
    encode_state,
    market_stream,
    order_stream,
    position_stream,
)
from bench import floors
from bench.figures import Figure, Statistic, Target, duration, rate
from bridges.journal_sqlite import SqliteJournalStore
from messages.codec import encode, kind_of
from messages.enums import OrderSide, Outcome
from messages.fills import Fill
from messages.journal import (
    FillApplied,
    MarketArchived,
    OrderCreated,
    PositionCreated,
    PositionSettlement,
    StepCommitted,
    StepStarted,
)
from messages.journal_protocol import Append, Sync
from messages.markets import (
    Instrument,
    MarketClosed,
    MarketDefinition,
    MarketOpened,
    MarketResolved,
)
from messages.orders import OrderAccepted
from messages.position_commands import ClearPending, MarkPending
from supervisors.assembly.recovery import recover_state
from tools.logging_setup import configure_logging

Event = tuple[str, Any, str | None]
"""(stream, message, dedup key): one journal entry before it is encoded."""

ACCOUNT = "bench-account"
STRATEGY = "bench-strategy"
OPEN_ORDERS = 100
"""Part 1's fills rotate over this many resting orders of one market, as a live run's would."""
MARKET_EVENTS = 2_000
"""Part 2 opens the next market (and settles the last) after about this many events."""
STEP_EVENTS = 10
BUILD_BATCH = 1_000
SNAPSHOT_AT = 0.99
_T0 = 1_718_000_000_000_000_000
QUICK = ("--events", "10000", "--sizes", "100000")
FULL = ("--sizes", "1000000")
SQLITE = floors.SQLITE_RATE
FROM_NOTHING = "nothing"
FROM_SNAPSHOT = "snapshot + tail"
RECOVERY_EVENTS = 1_000_000
RECOVERY_TARGET = Target(
    text="cold recovery of 1M journaled events ≤ 4 s",
    statistic=Statistic.MEDIAN,
    limit=4.0,
    at_most=True,
)


def _definition(market_id: str) -> MarketDefinition:
    """A binary market, like the runtime's up/down markets."""
    return MarketDefinition(
        market_id=market_id,
        instruments=(
            Instrument(security_id=f"{market_id}-YES", outcome=Outcome.YES),
            Instrument(security_id=f"{market_id}-NO", outcome=Outcome.NO),
        ),
    )


def _position_created(definition: MarketDefinition) -> Event:
    """The position's first event, keyed as the market lifecycle actor keys it."""
    position_id = f"{definition.market_id}/{ACCOUNT}/{STRATEGY}"
    event = PositionCreated(
        position_id=position_id,
        market_id=definition.market_id,
        account=ACCOUNT,
        strategy=STRATEGY,
        security_ids=definition.security_ids,
    )
    return position_stream(position_id), event, f"position:{position_id}"


# Part 1: appends through the actor.


class _Counter(pykka.ThreadingActor):
    """Stands in for the actors the journal delivers to: counts, and wakes the driver."""

    def __init__(self, expect: int, done: threading.Event) -> None:
        super().__init__()
        self.expect = expect
        self.done = done
        self.count = 0

    def on_receive(self, _message: Any) -> None:
        self.count += 1
        if self.count >= self.expect:
            self.done.set()


class _TimedStore(SqliteJournalStore):
    """The real store, adding up the time the journal actor spends appending (so the table
    can say how much of the gap to the floor is SQLite's) and counting its snapshots."""

    append_s = 0.0
    snapshots = 0

    def append(self, entries: Sequence[NewEntry]) -> list[int | Duplicate | None]:
        started = time.perf_counter()
        try:
            return super().append(entries)
        finally:
            self.append_s += time.perf_counter() - started

    def write_snapshot(self, snapshot: Snapshot) -> None:
        super().write_snapshot(snapshot)
        self.snapshots += 1


def _fill_path(n_events: int) -> tuple[list[Event], list[Event]]:
    """(setup, timed): the position and resting orders, then Fill/FillApplied pairs."""
    definition = _definition("bench")
    position_event = _position_created(definition)
    position_id = position_event[1].position_id
    fills_per_order = math.ceil(n_events / 2 / OPEN_ORDERS)
    orders = [
        OrderCreated(
            order_id=f"O{i}",
            correlation_id=f"signal-{i}",
            market_id="bench",
            security_id=definition.security_ids[i % 2],
            account=ACCOUNT,
            strategy=STRATEGY,
            side=OrderSide.BUY if i % 4 < 2 else OrderSide.SELL,
            price=Decimal("0.47") if i % 2 == 0 else Decimal("0.53"),
            size=Decimal(10 * fills_per_order),
        )
        for i in range(OPEN_ORDERS)
    ]
    setup = [position_event] + [
        (order_stream(o.order_id), o, f"created:{o.order_id}") for o in orders
    ]
    timed: list[Event] = []
    for i in range(n_events // 2):
        order = orders[i % OPEN_ORDERS]
        fill = Fill(
            fill_id=f"F{i}",
            ts_event=_T0 + i,
            order_id=order.order_id,
            market_id="bench",
            security_id=order.security_id,
            side=order.side,
            price=order.price,
            size=Decimal(10),
            fee=Decimal("0.0005"),
        )
        timed.append((order_stream(order.order_id), fill, f"fill:{fill.fill_id}"))
        applied = FillApplied(position_id=position_id, fill=fill)
        timed.append((position_stream(position_id), applied, f"applied:{fill.fill_id}"))
    return setup, timed


def _through_actor(
    path: Path, durability: Durability, setup: list[Event], timed: list[Event]
) -> dict[str, Any]:
    """Events/s of ``timed`` from the first tell until the counter holds them all, and the
    batching the group commit reached, which sizes the floor's batches."""
    done = threading.Event()
    counter = _Counter.start(len(timed), done)
    store = _TimedStore(path, durability=durability)
    journal = JournalActor.start(store)
    try:
        for stream, event, key in setup:
            journal.tell(Append(event=event, stream=stream, dedup_key=key))
        journal.ask(Sync(), timeout=30)
        proxy = journal.proxy()
        batches_before, appended_before = proxy.batches.get(), proxy.appended.get()
        store.append_s, store.snapshots = 0.0, 0
        messages = [
            Append(event=event, stream=stream, dedup_key=key, deliver_to=counter)
            for stream, event, key in timed
        ]
        started = time.perf_counter()
        for message in messages:
            journal.tell(message)
        if not done.wait(600):
            raise TimeoutError("the counter did not receive every event in 600 s")
        elapsed = time.perf_counter() - started
        batches = proxy.batches.get() - batches_before
        appended = proxy.appended.get() - appended_before
        snapshots, append_s = store.snapshots, store.append_s  # the one on stop is not timed
    finally:
        journal.stop()
        counter.stop()
    return {
        "per_s": len(timed) / elapsed,
        "avg_batch": appended / batches,
        "snapshots": snapshots,
        "append_share": append_s / elapsed,
    }


@attrs.frozen
class _AppendRow:
    durability: Durability
    per_s: float
    avg_batch: float
    snapshots: int
    append_share: float
    floor: float
    """Rows/s of the same payloads, bare, in batches of the journal's average batch size."""


def _appends(directory: Path, n_events: int) -> list[_AppendRow]:
    """Part 1: each durability through the actor, then its floor, on fresh files."""
    setup, timed = _fill_path(n_events)
    payloads = [encode(event) for _stream, event, _key in timed]
    rows = []
    for durability in Durability:
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            result = _through_actor(Path(tmp) / "journal.db", durability, setup, timed)
            batch = max(1, round(result["avg_batch"]))
            floor = floors.sqlite_insert_rate(
                Path(tmp) / "floor.db", payloads, batch, durability.value
            )
        rows.append(_AppendRow(durability=durability, floor=floor, **result))
    return rows


def _print_appends(rows: list[_AppendRow], n_events: int) -> None:
    print(f"\n1. Appends through the JournalActor: {n_events:,} fill-path events, delivered")
    print(
        f"{'synchronous':11} {'events/s':>9} {'avg batch':>9} {'snapshots':>9} "
        f"{'in append':>9} {'floor rows/s':>12} {'journal/floor':>13}"
    )
    for row in rows:
        print(
            f"{row.durability.value:11} {row.per_s:9,.0f} {row.avg_batch:9.1f} "
            f"{row.snapshots:9d} {row.append_share:9.0%} "
            f"{row.floor:12,.0f} {row.per_s / row.floor:13.3f}"
        )
    print("in append: share of the wall time the journal actor spent inside store.append")


# Part 2: recovery.


class _RunEvents:
    """Domain events of a run, market after market; the source of a built journal."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.markets = itertools.count()
        self.orders = itertools.count()
        self.fills = itertools.count()
        self.clock = itertools.count(_T0, 1_000_000)

    def __iter__(self) -> Iterator[Event]:
        previous: tuple[MarketDefinition, str] | None = None
        for number in self.markets:
            if previous is not None:
                yield from self._settle(*previous)
            definition = _definition(f"btc-updown-{number:05d}")
            market_id = definition.market_id
            opened = MarketOpened(ts_event=next(self.clock), definition=definition)
            yield market_stream(market_id), opened, f"MarketOpened:{market_id}"
            created = _position_created(definition)
            yield created
            emitted = 0
            while emitted < MARKET_EVENTS:
                for event in self._order(definition, created[1].position_id):
                    emitted += 1
                    yield event
            previous = (definition, created[1].position_id)

    def _order(self, definition: MarketDefinition, position_id: str) -> Iterator[Event]:
        """One order's life as the runtime journals it: created, pending, accepted, filled."""
        rng = self.rng
        order_id = f"O{next(self.orders)}"
        stream = order_stream(order_id)
        size = Decimal(rng.choice((5, 10, 20, 50)))
        created = OrderCreated(
            order_id=order_id,
            correlation_id=f"signal-{order_id}",
            market_id=definition.market_id,
            security_id=rng.choice(definition.security_ids),
            account=ACCOUNT,
            strategy=STRATEGY,
            side=rng.choice((OrderSide.BUY, OrderSide.SELL)),
            price=Decimal(rng.randint(1, 99)) / 100,
            size=size,
        )
        yield stream, created, f"created:{order_id}"
        pending = MarkPending(order_id=order_id, security_id=created.security_id, side=created.side)
        yield position_stream(position_id), pending, None
        accepted = OrderAccepted(ts_event=next(self.clock), order_id=order_id)
        yield stream, accepted, f"OrderAccepted:{order_id}"
        sizes = (size,) if rng.random() < 0.5 else (size * 2 / 5, size * 3 / 5)
        for fill_size in sizes:
            fill = Fill(
                fill_id=f"F{next(self.fills)}",
                ts_event=next(self.clock),
                order_id=order_id,
                market_id=definition.market_id,
                security_id=created.security_id,
                side=created.side,
                price=created.price,
                size=fill_size,
                fee=fill_size * Decimal("0.001"),
            )
            yield stream, fill, f"fill:{fill.fill_id}"
            applied = FillApplied(position_id=position_id, fill=fill)
            yield position_stream(position_id), applied, f"applied:{fill.fill_id}"
        yield position_stream(position_id), ClearPending(order_id=order_id), None

    def _settle(self, definition: MarketDefinition, position_id: str) -> Iterator[Event]:
        """The market's end: closed, resolved, its position settled, archived."""
        market_id = definition.market_id
        stream = market_stream(market_id)
        winner = self.rng.choice(definition.security_ids)
        closed = MarketClosed(ts_event=next(self.clock), market_id=market_id)
        yield stream, closed, f"MarketClosed:{market_id}"
        resolved = MarketResolved(
            ts_event=next(self.clock), market_id=market_id, winning_security_id=winner
        )
        yield stream, resolved, f"MarketResolved:{market_id}"
        settlement = PositionSettlement(
            position_id=position_id,
            market_id=market_id,
            winning_security_id=winner,
            payout=definition.payout,
        )
        yield position_stream(position_id), settlement, f"settle:{position_id}"
        yield stream, MarketArchived(market_id=market_id), f"archived:{market_id}"


def _steps(events: Iterator[Event]) -> Iterator[list[Event]]:
    """The events cut into lockstep units of work, each StepStarted ... StepCommitted."""
    for step in itertools.count():
        unit: list[Event] = [(RUNTIME_STREAM, StepStarted(step=step, atomic=True), None)]
        unit.extend(itertools.islice(events, STEP_EVENTS))
        unit.append((RUNTIME_STREAM, StepCommitted(step=step), None))
        yield unit


def _build(path: Path, size: int) -> tuple[int, Snapshot, float]:
    """Write a journal of at least ``size`` events (whole steps) in batches of 1000.

    Returns the count, a snapshot of the state folded up to ~99% of it (at a step
    boundary, as the journal actor takes them) and the seconds the build took.
    """
    started = time.perf_counter()
    store = SqliteJournalStore(path)
    state = RuntimeState()
    snapshot: Snapshot | None = None
    count = 0
    pending: list[Event] = []
    try:
        for unit in _steps(iter(_RunEvents())):
            pending.extend(unit)
            last = count + len(pending) >= size
            while len(pending) >= BUILD_BATCH or (last and pending):
                batch, pending = pending[:BUILD_BATCH], pending[BUILD_BATCH:]
                entries = [
                    NewEntry(
                        stream=stream,
                        kind=kind_of(event),
                        payload=encode(event),
                        dedup_key=key,
                        ts_ns=_T0 + count + i,
                    )
                    for i, (stream, event, key) in enumerate(batch)
                ]
                seqs = store.append(entries)
                count += len(entries)
                for seq, (stream, event, _key) in zip(seqs, batch, strict=True):
                    if snapshot is not None or not isinstance(seq, int):
                        continue
                    state.apply(seq, stream, event)
                    if seq >= SNAPSHOT_AT * size and not state.in_step:
                        snapshot = Snapshot(seq=seq, payload=encode_state(state), ts_ns=_T0)
            if last:
                break
    finally:
        store.close()
    if snapshot is None:
        raise RuntimeError(f"no step boundary after {SNAPSHOT_AT:.0%} of {count} events")
    return count, snapshot, time.perf_counter() - started


def _recover(path: Path) -> tuple[int, int | None, float]:
    """(events replayed, snapshot seq, seconds) of ``recover_state`` on a fresh store."""
    store = SqliteJournalStore(path)
    try:
        started = time.perf_counter()
        _state, report = recover_state(store)
        elapsed = time.perf_counter() - started
    finally:
        store.close()
    return report.replayed, report.snapshot_seq, elapsed


@attrs.frozen
class _Recovery:
    """One journal of ``count`` events, recovered from nothing and from snapshot + tail."""

    count: int
    build_s: float
    file_mb: float
    snapshot_mb: float
    runs: list[tuple[str, int, int | None, float]]
    """(from, events replayed, snapshot seq, seconds)."""


def _recoveries(directory: Path, sizes: Sequence[int]) -> list[_Recovery]:
    """Part 2: per size, one journal recovered from nothing, then from snapshot + tail."""
    result = []
    for size in sizes:
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            path = Path(tmp) / "journal.db"
            count, snapshot, build_s = _build(path, size)
            file_mb = sum(f.stat().st_size for f in path.parent.glob("journal.db*")) / 1e6
            runs = [(FROM_NOTHING, *_recover(path))]
            store = SqliteJournalStore(path)
            try:
                store.write_snapshot(snapshot)
            finally:
                store.close()
            runs.append((FROM_SNAPSHOT, *_recover(path)))
        snapshot_mb = len(snapshot.payload.encode()) / 1e6
        result.append(_Recovery(count, build_s, file_mb, snapshot_mb, runs))
    return result


def _print_recoveries(recoveries: list[_Recovery]) -> None:
    print("\n2. Recovery (recover_state on a freshly opened store, warm page cache)")
    print(
        f"{'events':>9} {'build s':>7} {'file MB':>7} {'from':15} {'snap seq':>9} "
        f"{'snap MB':>7} {'replayed':>9} {'seconds':>8} {'replayed/s':>10} {'journal/s':>10}"
    )
    for recovery in recoveries:
        for name, replayed, snapshot_seq, seconds in recovery.runs:
            snap = (
                f"{'-':>9} {'-':>7}"
                if snapshot_seq is None
                else f"{snapshot_seq:9,d} {recovery.snapshot_mb:7.1f}"
            )
            print(
                f"{recovery.count:9,d} {recovery.build_s:7.1f} {recovery.file_mb:7.1f} "
                f"{name:15} {snap} {replayed:9,d} {seconds:8.2f} {replayed / seconds:10,.0f} "
                f"{recovery.count / seconds:10,.0f}"
            )
    print("journal/s: events the recovered state covers, per second of recovery")


def _sizes(text: str) -> tuple[int, ...]:
    """``--sizes 100000,1000000``."""
    return tuple(int(part) for part in text.split(","))


def measure(args: argparse.Namespace) -> tuple[list[_AppendRow], list[_Recovery]]:
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-journal-") as tmp:
        directory = Path(tmp)
        return _appends(directory, args.events), _recoveries(directory, args.sizes)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000, help="appends for part 1")
    parser.add_argument(
        "--sizes", type=_sizes, default=(100_000, 1_000_000), help="journal sizes for part 2"
    )
    parser.add_argument("--dir", type=Path, default=None, help="where the files go")
    return parser


def figures(quick: bool) -> list[Figure]:
    """Appends against bare inserts of the same payloads; recoveries against the suite's
    SQLite floor (the time it takes to insert as many rows), and the recovery target."""
    appends, recoveries = measure(_parser().parse_args(QUICK if quick else FULL))
    result = []
    for row in appends:
        floor = f"bare executemany, same payloads and batching, {row.durability.value}"
        result.append(rate(f"{floor} (bench floor)", row.floor, unit="rows/s", floor=SQLITE))
        result.append(
            rate(
                f"JournalActor appends, delivered, {row.durability.value}",
                row.per_s,
                unit="events/s",
                floor=f"{floor} (bench floor)",
                note=f"{row.avg_batch:.0f} events a commit, {row.snapshots} snapshots",
            )
        )
    for recovery in recoveries:
        judged = ""
        if recovery.count < RECOVERY_EVENTS:
            judged = f"measured at {recovery.count:,} events; the target is for 1M"
        for name, _replayed, _seq, seconds in recovery.runs:
            result.append(
                duration(
                    f"recover_state, {recovery.count:,} events, from {name}",
                    seconds,
                    items=recovery.count,
                    floor=SQLITE,
                    target=attrs.evolve(RECOVERY_TARGET, not_judged=judged),
                    note="warm page cache",
                )
            )
    return result


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging("warning")
    print(
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    appends, recoveries = measure(args)
    _print_appends(appends, args.events)
    _print_recoveries(recoveries)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
