"""Fault injection: every kind of actor killed again and again during a run, and the run ends
exactly where a clean run ends (same orders, fills once each, same positions); `tradeactors
chaos` says so."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from actors.event_bus import EventBusActor
from actors.execution import ExecutionActor
from actors.journal import JournalActor
from actors.market import MarketActor
from actors.order import OrderActor
from actors.position import PositionActor
from actors.position_index import PositionIndexActor
from actors.risk import RiskActor
from actors.strategy import StrategyActor
from bridges.feed_codec import write_feed
from bridges.simulated_venue import SimulatedVenueActor
from supervisors.assembly.market_lifecycle import MarketLifecycleActor
from tools.chaos import ChaosReport, RunResult, economics, replay
from tools.cli import CHAOS_KINDS
from tools.fault_injector import FaultInjector, FaultMethod
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def records():
    # Three markets (two switches to strike around), short ones: the faults, not the feed's
    # length, are what this proves against, so the rate below is high instead.
    return generate_feed(seed=5, markets=3, updates_per_market=40)


@pytest.fixture(scope="module")
def clean(records, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The clean run is deterministic (lockstep), so one serves every kind's chaos run."""
    return replay(records, tmp_path_factory.mktemp("clean"))


@pytest.mark.parametrize(
    ("kinds", "seed"),
    [
        ((PositionActor,), 3),
        ((OrderActor,), 4),
        ((MarketActor,), 6),
        ((MarketActor, OrderActor, PositionActor), 8),
        ((ExecutionActor,), 3),
        ((JournalActor,), 7),
        ((SimulatedVenueActor, StrategyActor, EventBusActor), 9),
        ((MarketLifecycleActor,), 10),
        ((PositionIndexActor, RiskActor), 13),
        (tuple(CHAOS_KINDS.values()), 15),
    ],
    ids=[
        "positions",
        "orders",
        "markets",
        "per-market kinds",
        "execution",
        "journal",
        "venue, strategy, bus",
        "market lifecycle",
        "position index, risk",
        "every kind",
    ],
)
def test_actors_killed_repeatedly_end_exactly_like_the_clean_run(
    records, clean: RunResult, tmp_path: Path, kinds: tuple[type, ...], seed: int
) -> None:
    injector = FaultInjector(seed=seed, kinds=kinds, rate=0.3)
    try:
        chaos = replay(records, tmp_path, injector)
    finally:
        injector.close()
    report = ChaosReport(clean=clean, chaos=chaos, faults=tuple(injector.faults))
    methods = Counter(fault.method for fault in report.faults)
    assert methods[FaultMethod.RAISE] >= 5
    assert methods[FaultMethod.STOP] >= 5
    assert {fault.kind for fault in report.faults} == {kind.kind for kind in kinds}
    assert economics(report.chaos.positions) == economics(report.clean.positions)
    assert report.clean.facts.fills, "the feed must make the strategy trade"
    assert report.chaos.facts == report.clean.facts
    assert report.equal


def test_the_chaos_command_reports_the_faults_and_the_verdict(records, tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    write_feed(records, feed)
    result = subprocess.run(
        [sys.executable, "-m", "tools.cli", "chaos", "--feed", str(feed), "--rate", "0.1"],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "x position by raise" in result.stdout
    assert "ended EQUAL to the clean run" in result.stdout
    assert "\r" not in result.stderr  # piped: no progress line, the summary alone
    assert re.search(
        r"^chaos: [0-9,]+ records twice, \d+ faults, EQUAL to the clean run, in [0-9.]+ s$",
        result.stderr,
        re.MULTILINE,
    )
