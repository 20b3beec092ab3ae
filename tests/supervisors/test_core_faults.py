"""Faults of the core are faults, never log lines: a fold that cannot apply a committed event
fails the journal (the core restarts from the file, and escalates when that fails again),
and a handler that finds a peer dead fails instead of going on half-way."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors.runtime_state import position_stream
from actors.synthetic_arbitrage import SyntheticArbitrage
from bridges.journal_memory import MemoryJournal
from messages.enums import PositionStatus
from messages.journal import FillApplied
from messages.journal_protocol import Append
from messages.market_data import MarketSnapshot
from messages.positions import PositionSnapshot
from messages.signals import TradeSignal
from supervisors.assembly.runtime import Runtime, RuntimeConfig, RuntimeDownError
from supervisors.kernel.events import ChildStartFailed, ChildTerminated, IntensityExceeded
from tests.stubs import arbitrage_feed, collector, fill, opened, wait_for

pytestmark = pytest.mark.timeout(60)

FEED = [*arbitrage_feed(), opened("m2", ts=12)]
RESTING = 5
"""Records up to here leave order O4 (NO, buy) resting at the venue."""


def unfoldable() -> Append:
    """A committed event no fold can apply: a fill for a position nobody created."""
    return Append(
        event=FillApplied(position_id="ghost", fill=fill("GHOST-1")),
        stream=position_stream("ghost"),
    )


def final_realized(runtime: Runtime) -> Decimal:
    (m1,) = [p for p in runtime.positions() if p.market_id == "m1"]
    assert m1.status is PositionStatus.SETTLED
    return sum((leg.realized_pnl for leg in m1.legs), Decimal(0))


def test_an_event_the_fold_cannot_apply_restarts_the_core_from_the_journal_until_it_escalates(
    tmp_path: Path,
) -> None:
    runtime = Runtime(
        RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal(), max_restarts=2)
    ).start(FEED)
    try:
        runtime.replay(FEED, end=RESTING)
        events, inbox = collector()
        runtime.subscribe(events)
        root = runtime.root
        assert root is not None

        runtime.journal.tell(unfoldable())

        terminated = wait_for(
            inbox, lambda m: isinstance(m, ChildTerminated) and m.child_id == "journal"
        )
        assert terminated.reason.startswith("JournalFailedError: the journal failed: cannot fold")
        assert "FillApplied" in terminated.reason
        # Each restart recovers from the file, folds the same record, and fails again.
        failed = wait_for(
            inbox, lambda m: isinstance(m, ChildStartFailed) and m.child_id == "journal"
        )
        assert failed.reason.startswith("FoldError: cannot fold FillApplied")
        assert "position:ghost" in failed.reason
        wait_for(inbox, lambda m: isinstance(m, IntensityExceeded), timeout=20)
        assert root.actor_stopped.wait(10)
        with pytest.raises(RuntimeDownError, match="root supervisor stopped"):
            runtime.refresh()
    finally:
        runtime.stop()


def test_a_fold_failure_inside_a_lockstep_step_tears_it_and_the_run_ends_as_a_clean_one(
    tmp_path: Path,
) -> None:
    """Whether the failing commit runs in a tell or in the facade's ask (stats, Sync), the
    step is torn: the restarted core voids it, the bad event with it, and it is fed again."""
    with Runtime(RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal())).start(
        FEED
    ) as runtime:
        runtime.replay(FEED, end=RESTING)
        journal = runtime.journal
        assert journal is not None

        committed = runtime.feed_and_wait(
            FEED[RESTING], during=lambda _step: journal.tell(unfoldable())
        )

        assert not committed
        assert runtime.generation == 2
        assert runtime.recovery is not None
        assert runtime.recovery.torn_step == RESTING
        assert runtime.next_step == RESTING
        runtime.replay(FEED)
        assert final_realized(runtime) == Decimal("3.00")


class _KillsExecutionOnce:
    """The example strategy, but its first evaluation with signals stops execution first.

    It runs inside the StrategyActor's handler, so the actor then tells a dead execution
    in the middle of handling the book.
    """

    def __init__(self) -> None:
        self.inner = SyntheticArbitrage()
        self.execution: pykka.ActorRef[Any] | None = None

    def __call__(self, market: MarketSnapshot, position: PositionSnapshot) -> Sequence[TradeSignal]:
        signals = self.inner(market, position)
        if signals and self.execution is not None:
            execution, self.execution = self.execution, None
            execution.stop(timeout=5)
        return signals


def test_a_strategy_that_finds_execution_dead_mid_handler_fails_and_the_run_ends_as_a_clean_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    evaluate = _KillsExecutionOnce()
    config = RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal(), evaluate=evaluate)
    with Runtime(config).start(FEED) as runtime:
        evaluate.execution = runtime.execution
        with caplog.at_level(logging.ERROR, logger="pykka"):
            runtime.replay(FEED)

        failures = [
            record
            for record in caplog.records
            if record.name == "pykka"
            and "StrategyActor" in record.getMessage()
            and record.exc_info is not None
        ]
        assert [record.exc_info[0] for record in failures if record.exc_info] == [
            pykka.ActorDeadError
        ]
        assert runtime.generation == 2
        assert final_realized(runtime) == Decimal("3.00")
