"""`tradeactors chaos`: replay a feed with actors killed at random, compare with a clean run.

Both runs are lockstep replays (each record fully processed before the next), so without
faults they are identical; with faults, supervision and the journal must make them so.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from actors.base import RuntimeActor
from bridges.feed_codec import FeedRecord
from messages.positions import PositionSnapshot
from supervisors.runtime import Runtime, RuntimeConfig
from tools.fault_injector import Fault, FaultInjector


@attrs.frozen(kw_only=True)
class ChaosReport:
    """The clean run's positions, the faulty run's, and the faults that were injected."""

    clean: tuple[PositionSnapshot, ...]
    chaos: tuple[PositionSnapshot, ...]
    faults: tuple[Fault, ...]

    @property
    def equal(self) -> bool:
        return economics(self.clean) == economics(self.chaos)


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
    records: Sequence[FeedRecord], data_dir: Path, injector: FaultInjector | None = None
) -> tuple[PositionSnapshot, ...]:
    """One lockstep replay in this process; ``injector`` strikes while each record runs."""
    # Faults come far faster than in production here, so the restart limit is lifted.
    config = RuntimeConfig(data_dir=data_dir, max_restarts=1_000_000, restart_period_s=1.0)
    runtime = Runtime(config).start(records)
    try:
        runtime.replay(records, during=injector.strike if injector is not None else None)
        if injector is not None:
            injector.close()
            runtime.wait_idle()
        return tuple(runtime.positions())
    finally:
        runtime.stop()


def run_chaos(
    records: Sequence[FeedRecord],
    *,
    seed: int,
    kinds: Sequence[type[RuntimeActor]],
    rate: float,
) -> ChaosReport:
    """The same feed twice, in fresh journals: clean, then with faults."""
    with tempfile.TemporaryDirectory(prefix="tradeactors-chaos-") as scratch:
        clean = replay(records, Path(scratch) / "clean")
        injector = FaultInjector(seed=seed, kinds=kinds, rate=rate)
        try:
            chaos = replay(records, Path(scratch) / "chaos", injector)
        finally:
            injector.close()
    return ChaosReport(clean=clean, chaos=chaos, faults=tuple(injector.faults))
