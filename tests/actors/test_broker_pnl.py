"""Seed 001's broker PnL reconciliation and recovery alert, in the assembled broker edge:
realized PnL compared with the broker's ``list_profit_loss``, a difference over the
threshold an alert (log, metric, bus event), and a slow startup recovery an alert before
trading resumes (time on a manual clock, not slept)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog

from actors.metrics import PNL_MISMATCH_ALERTS, RECOVERY_SLOW_ALERTS
from bridges.simulated_broker import SimulatedBroker
from messages.broker_events import PnlMismatch, RecoverySlow
from messages.enums import OrderSide
from messages.reconciliation import ReconcileRequest, TradingEnabled
from supervisors.kernel.scheduler import ManualScheduler
from tests.broker_edge import ACCOUNT, Edge, wait_until

pytestmark = pytest.mark.timeout(60)
D = Decimal


@pytest.fixture
def paper() -> Any:
    broker = SimulatedBroker(seed=3, rate_limit_calls=100_000)
    yield broker
    broker.close()


def drain(inbox: Any) -> list[Any]:
    items = []
    while not inbox.empty():
        items.append(inbox.get_nowait())
    return items


def round_trip(edge: Edge, paper: SimulatedBroker) -> None:
    """Buy 10 at 5 and sell them at 6: a realized PnL of 10 at both ends."""
    bought = edge.submit("O1", "S1", OrderSide.BUY, "10", price="5")
    paper.execute(bought, D("5"), D("10"))
    sold = edge.submit("O2", "S1", OrderSide.SELL, "10", price="6")
    paper.execute(sold, D("6"), D("10"))
    edge.settle()


def test_the_paper_broker_reports_the_realized_pnl_of_its_own_deals(
    paper: SimulatedBroker, tmp_path: Path
) -> None:
    edge = Edge(paper, tmp_path / "journal.sqlite").start()
    wait_until(edge.trading_enabled)
    round_trip(edge, paper)
    [pnl] = paper.list_profit_loss(ACCOUNT).items
    assert (pnl.security_id, pnl.realized_pnl) == ("S1", D(10))
    [settled] = paper.list_settlements(ACCOUNT).items
    assert settled.amount == D(10)
    edge.stop()


def test_a_pnl_off_by_more_than_the_threshold_is_an_alert_log_metric_and_bus_event(
    paper: SimulatedBroker, tmp_path: Path
) -> None:
    edge = Edge(paper, tmp_path / "journal.sqlite").start()
    wait_until(edge.trading_enabled)
    round_trip(edge, paper)
    before = PNL_MISMATCH_ALERTS.labels(account=ACCOUNT)._value.get()
    paper.set_profit_loss_offset("S1", D(50))  # within the default threshold of 100
    edge.reconciler.tell(ReconcileRequest(reason="within"))
    edge.settle()
    assert not [e for e in drain(edge.events) if isinstance(e, PnlMismatch)]
    paper.set_profit_loss_offset("S1", D(150))
    with structlog.testing.capture_logs() as logs:
        edge.reconciler.tell(ReconcileRequest(reason="beyond"))
        wait_until(lambda: PNL_MISMATCH_ALERTS.labels(account=ACCOUNT)._value.get() > before)
        edge.settle()
    [alert] = [e for e in logs if e["event"] == "pnl_mismatch"]
    assert (alert["log_level"], alert["ours"], alert["broker"], alert["difference"]) == (
        "error",
        "10",
        "160",
        "-150",
    )
    [event] = [e for e in drain(edge.events) if isinstance(e, PnlMismatch)]
    assert (event.security_id, event.difference) == ("S1", D(-150))
    assert PNL_MISMATCH_ALERTS.labels(account=ACCOUNT)._value.get() == before + 1
    edge.stop()


def test_a_startup_recovery_over_ten_seconds_is_an_alert_before_trading_resumes(
    paper: SimulatedBroker, tmp_path: Path
) -> None:
    clock = ManualScheduler()
    paper.disconnect()
    before = RECOVERY_SLOW_ALERTS._value.get()
    edge = Edge(paper, tmp_path / "journal.sqlite", scheduler=clock).start()
    failures = edge.reconciler.proxy().counters
    wait_until(lambda: failures().get().failures >= 1, what="the first startup failure")
    while clock.now_ns() < 12 * 10**9:  # the broker is down for 12 s of the clock
        clock.advance(0.5)
        edge.reconciler.proxy().handled.get(timeout=5)
    paper.reconnect()
    while not edge.trading_enabled():
        assert clock.now_ns() < 60 * 10**9, "startup never completed"
        clock.advance(0.5)
        edge.settle()
    # The reconciler says it trades before the bus has handed its events on: wait for them.
    seen: list[Any] = []

    def trading_enabled_arrived() -> bool:
        seen.extend(drain(edge.events))
        return any(isinstance(e, TradingEnabled) for e in seen)

    wait_until(trading_enabled_arrived, what="TradingEnabled on the event stream")
    kinds = [type(e) for e in seen if isinstance(e, RecoverySlow | TradingEnabled)]
    assert kinds == [RecoverySlow, TradingEnabled]
    assert RECOVERY_SLOW_ALERTS._value.get() == before + 1
    edge.stop()


def test_a_quick_startup_raises_no_recovery_alert(paper: SimulatedBroker, tmp_path: Path) -> None:
    edge = Edge(paper, tmp_path / "journal.sqlite", scheduler=ManualScheduler()).start()
    wait_until(edge.trading_enabled)
    edge.settle()
    assert not [e for e in drain(edge.events) if isinstance(e, RecoverySlow)]
    edge.stop()
