"""`tradeactors chaos`: replay a feed with actors killed at random, compare with a clean run.

Both runs are lockstep replays (each record fully processed before the next), so without
faults they are identical; with faults, supervision and the journal must make them so: the
same orders, the same fills (each journaled once and applied once), the same positions.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from actors.journal_store import StoreFactory
from bridges.feed_codec import FeedRecord
from messages.codec import decode
from messages.positions import PositionSnapshot
from messages.risk import RiskLimits
from supervisors.assembly.recovery import recover_state
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.kernel.base import RuntimeActor
from tools.fault_injector import Fault, FaultInjector


@attrs.frozen(kw_only=True)
class JournalFacts:
    """What a run's journal holds, without the ids and timestamps that differ between runs.

    ``fills`` are the venue's fills in journal order, each as many times as it was
    journaled; ``applied`` the fill ids positions applied (sorted: two orders filled by one
    book may reach the journal in either order); ``positions`` the journal's own fold.
    """

    orders: tuple[tuple[Any, ...], ...]
    fills: tuple[tuple[Any, ...], ...]
    applied: tuple[str, ...]
    positions: tuple[tuple[Any, ...], ...]


def journal_facts(stores: StoreFactory) -> JournalFacts:
    """Read a (stopped) run's journal: its orders, fills and folded positions."""
    store = stores()
    try:
        fills: list[tuple[Any, ...]] = []
        applied: list[str] = []
        orders: list[tuple[Any, ...]] = []
        for record in store.read():
            event: Any = decode(record.kind, record.payload)
            if record.kind == "Fill":
                fills.append(
                    (event.fill_id, event.order_id, event.side, event.price, event.size, event.fee)
                )
            elif record.kind == "FillApplied":
                applied.append(event.fill.fill_id)
            elif record.kind == "OrderCreated":
                orders.append(
                    (event.order_id, event.security_id, event.side, event.price, event.size)
                )
        state, _ = recover_state(store)
    finally:
        store.close()
    positions = tuple(
        (position_id, book.status, book.snapshot().legs)
        for position_id, book in sorted(state.positions.items())
    )
    return JournalFacts(
        orders=tuple(orders),
        fills=tuple(fills),
        applied=tuple(sorted(applied)),
        positions=positions,
    )


@attrs.frozen(kw_only=True)
class RunResult:
    """One replay's end: the positions the actors report and what its journal holds."""

    positions: tuple[PositionSnapshot, ...]
    facts: JournalFacts


@attrs.frozen(kw_only=True)
class ChaosReport:
    """The clean run, the faulty run, and the faults that were injected."""

    clean: RunResult
    chaos: RunResult
    faults: tuple[Fault, ...]

    @property
    def equal(self) -> bool:
        return self.chaos.facts == self.clean.facts and economics(
            self.chaos.positions
        ) == economics(self.clean.positions)


def economics(positions: Sequence[PositionSnapshot]) -> list[tuple[Any, ...]]:
    """What must survive any fault: status and each leg's quantity, cost, PnL and fees."""
    return [
        (
            p.position_id,
            p.status,
            tuple((g.security_id, g.quantity, g.cost, g.realized_pnl, g.fees) for g in p.legs),
        )
        for p in sorted(positions, key=lambda p: p.position_id)
    ]


def replay(
    records: Sequence[FeedRecord],
    data_dir: Path,
    injector: FaultInjector | None = None,
    on_step: Callable[[int], object] | None = None,
) -> RunResult:
    """One lockstep replay in this process; ``injector`` strikes while each record runs,
    and ``on_step`` hears of each (a progress line)."""

    def during(step: int) -> None:
        if injector is not None:
            injector.strike(step)
        if on_step is not None:
            on_step(step)

    # Faults come far faster than in production here, so the restart limit is lifted.
    config = RuntimeConfig(
        data_dir=data_dir,
        max_restarts=1_000_000,
        restart_period_s=1.0,
        # A limit that never binds but makes every check ask the position index.
        risk=RiskLimits(max_position=Decimal(1_000_000)),
    )
    runtime = Runtime(config).start(records)
    try:
        runtime.replay(records, during=during)
        if injector is not None:
            injector.close()
            runtime.wait_idle()
        positions = tuple(runtime.positions())
    finally:
        runtime.stop()
    return RunResult(positions=positions, facts=journal_facts(config.stores()))


def run_chaos(
    records: Sequence[FeedRecord],
    *,
    seed: int,
    kinds: Sequence[type[RuntimeActor]],
    rate: float,
    on_step: Callable[[str, int], object] | None = None,
) -> ChaosReport:
    """The same feed twice, in fresh journals: clean, then with faults; ``on_step`` hears
    which run is at which record."""

    def heard(run: str) -> Callable[[int], object] | None:
        return None if on_step is None else lambda step: on_step(run, step)

    with tempfile.TemporaryDirectory(prefix="tradeactors-chaos-") as scratch:
        clean = replay(records, Path(scratch) / "clean", on_step=heard("clean run"))
        injector = FaultInjector(seed=seed, kinds=kinds, rate=rate)
        try:
            chaos = replay(records, Path(scratch) / "chaos", injector, heard("run with faults"))
        finally:
            injector.close()
    return ChaosReport(clean=clean, chaos=chaos, faults=tuple(injector.faults))
