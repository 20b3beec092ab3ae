"""The dashboard's model and frame: a hand-written run folded to exact figures, the same
figures from the ZeroMQ stream's form of the events, rates on a fake clock, and frames that
fit any terminal."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import attrs
import pytest

from bridges.zmq_protocol import encode_json, plain
from messages.enums import MarketPhase, OrderStatus, PositionStatus
from messages.fills import FillCharged
from messages.positions import PositionFillCharged, PositionOpened, PositionSnapshot
from supervisors.kernel.events import ChildTerminated
from tests.stubs import D, opened
from tests.tools.dashboard_events import (
    O1,
    O2_PART,
    POSITION_ID,
    TRADING,
    FakeClock,
    delta,
    fold,
    leg,
    order,
    position,
    updated,
    whole_run,
)
from tools.client_cli import stream_event
from tools.dashboard import DashboardState, PnL, Restarted, Unknown
from tools.dashboard_render import render

pytestmark = pytest.mark.timeout(10)


def test_a_traded_market_shows_its_open_orders_and_legs_with_exact_pnl() -> None:
    state = fold(TRADING)
    assert state.current_market == "m1"
    assert state.markets["m1"].phase is MarketPhase.OPEN
    assert list(state.open_orders) == ["O2"]
    assert state.open_orders["O2"].filled == D(4)
    assert [(row.leg.security_id, row.leg.quantity) for row in state.legs()] == [
        ("m1-YES", D(10)),
        ("m1-NO", D(4)),
    ]
    assert state.total() == PnL(realized=D(0), unrealized=D("0.30"), fees=D("0.0062"))
    assert state.total().net == D("0.2938")
    assert (state.counts["orders"], state.counts["fills"], state.counts["deltas"]) == (2, 2, 2)


def test_the_whole_run_folds_to_settled_pnl_restarts_counters_and_the_next_market() -> None:
    events = whole_run()
    state = fold(events)
    assert state.current_market == "m2"
    assert state.markets["m1"].phase is MarketPhase.RESOLVED
    assert state.markets["m1"].winner == "m1-YES"
    assert state.markets["m2"].phase is MarketPhase.OPEN
    assert state.open_orders == {}
    assert [row.status for row in state.legs()] == [PositionStatus.SETTLED] * 2
    assert state.total() == PnL(realized=D("3.80"), unrealized=D(0), fees=D("0.0062"))
    assert state.total().net == D("3.7938")
    assert state.restarts == {"position": 1, "journal": 1}
    assert dict(state.counts) == {
        "events": len(events),
        "orders": 2,
        "fills": 2,
        "deltas": 2,
        "denied": 1,
        "refused": 1,
    }


def test_an_event_older_than_the_state_is_counted_but_changes_nothing() -> None:
    state = fold(TRADING)
    fold([updated("accepted", order("O2", "m1-NO", price="0.55", version=2))], state)
    assert state.open_orders["O2"] == O2_PART
    fold([delta(1, leg("m1-NO", "1", cost="0.55"), "O2")], state)
    assert {row.leg.security_id: row.leg.quantity for row in state.legs()}["m1-NO"] == D(4)
    assert state.counts["events"] == len(TRADING) + 2


def test_a_seed_from_a_snapshot_is_not_undone_by_events_it_already_includes() -> None:
    state = DashboardState(clock=FakeClock())
    state.seed(
        [position(leg("m1-YES", "10", cost="4.00"), leg("m1-NO", "4", cost="2.20"), version=2)],
        [O2_PART, order("O1", "m1-YES", filled="10", status=OrderStatus.FILLED, version=3)],
    )
    fold(TRADING, state)
    assert list(state.open_orders) == ["O2"]
    assert state.open_orders["O2"] == O2_PART
    quantities = {row.leg.security_id: row.leg.quantity for row in state.legs()}
    assert quantities == {"m1-YES": D(10), "m1-NO": D(4)}


def test_the_stream_form_of_every_event_folds_to_the_same_figures() -> None:
    def streamed(event: Any) -> dict[str, Any]:
        fields = json.loads(encode_json(plain(event)), parse_float=Decimal)
        return {"seq": 1, "kind": type(event).__name__, "event": fields}

    events = whole_run()
    decoded = [stream_event(streamed(event)) for event in events]
    restarts = slice(len(TRADING), len(TRADING) + 2)
    assert decoded[restarts] == [
        Restarted(supervisor="markets", child_id="position:m1", restarts=1),
        Restarted(supervisor="tradeactors", child_id="journal", restarts=1),
    ]
    del decoded[restarts], events[restarts]
    assert decoded == events
    direct = fold(whole_run())
    from_stream = fold([stream_event(streamed(event)) for event in whole_run()])
    assert from_stream.total() == direct.total()
    assert from_stream.restarts == direct.restarts
    assert from_stream.markets == direct.markets
    assert from_stream.counts == direct.counts


def test_a_stream_event_this_client_cannot_rebuild_is_unknown() -> None:
    terminated = ChildTerminated(
        supervisor="markets", child_id="order:O1", abnormal=True, reason="boom", restarting=True
    )
    message = {"seq": 3, "kind": "ChildTerminated", "event": plain(terminated)}
    assert stream_event(message) == Unknown(kind="ChildTerminated")
    assert stream_event({"seq": 4, "kind": "OrderUpdated", "event": {}}) == Unknown(
        kind="OrderUpdated"
    )
    state = DashboardState(clock=FakeClock())
    state.apply(Unknown(kind="ChildTerminated"))
    assert state.counts["events"] == 1


def test_rates_count_the_last_window_and_the_time_run_so_far_before_it_is_whole() -> None:
    clock = FakeClock()
    state = DashboardState(clock=clock, window_s=5.0)
    clock.now = 2.0
    fold([updated("submitted", order(f"O{i}", "m1-YES")) for i in range(3)], state)
    assert state.rate("orders") == pytest.approx(1.5)  # 3 in the 2 s run so far
    assert state.rate("fills") == 0.0
    clock.now = 4.0
    fold([updated("fill", O2_PART)] * 2, state)
    assert state.rate("fills") == pytest.approx(0.5)  # 2 in 4 s
    assert state.rate("events") == pytest.approx(5 / 4)
    clock.now = 6.5
    assert state.rate("orders") == pytest.approx(3 / 5)  # 4.5 s ago: still in the window
    clock.now = 7.0
    assert state.rate("orders") == 0.0  # 5 s ago: out
    assert state.rate("fills") == pytest.approx(2 / 5)
    clock.now = 7.5
    state.apply(updated("submitted", O1))
    assert state.rate("orders") == pytest.approx(1 / 5)


def full_state() -> DashboardState:
    return fold(whole_run())


def test_a_frame_shows_the_figures() -> None:
    lines = render(full_state(), 100, 40).splitlines()
    assert lines[0].startswith("tradeactors  market m2 open  net PnL 3.7938")
    count = len(whole_run())
    assert lines[2] == f"seen      {count} events  2 orders  2 fills  2 deltas  1 denied  1 refused"
    assert lines[3] == "restarts  journal 1  position 1"
    assert "  m1  resolved  m1-YES wins" in lines
    assert "* m2  open" in lines
    assert "OPEN ORDERS: none" in lines
    total = lines[-1].split()
    assert total == ["TOTAL", "3.8000", "0.0000", "0.0062", "3.7938"]
    yes = next(line for line in lines if line.startswith("m1") and " YES " in line).split()
    assert yes == ["m1", "SETTLED", "YES", "0", "0.0000", "6.0000", "0.0000", "0.0040", "5.9960"]


def many_markets(count: int) -> DashboardState:
    state = DashboardState(clock=FakeClock())
    for index in range(count):
        market = f"btc-up-{index:04d}"
        state.apply(opened(market))
        state.apply(
            PositionOpened(
                position=PositionSnapshot(
                    position_id=f"{market}/paper/s",
                    market_id=market,
                    account="paper",
                    strategy="s",
                    status=PositionStatus.OPEN,
                    version=1,
                    legs=(
                        leg(f"{market}-YES", "10", cost="4.5", realized="1"),
                        leg(f"{market}-NO", "10", cost="5", fees="0.01"),
                    ),
                )
            )
        )
        state.apply(updated("submitted", order(f"O{index}", f"{market}-YES")))
    return state


@pytest.mark.parametrize(
    ("width", "height"),
    [(0, 0), (1, 1), (20, 5), (40, 10), (60, 16), (80, 24), (132, 50), (250, 200)],
)
def test_a_frame_fits_the_terminal_whatever_its_size(width: int, height: int) -> None:
    for state in (DashboardState(clock=FakeClock()), full_state(), many_markets(40)):
        lines = render(state, width, height).split("\n") if width and height else []
        assert len(lines) <= height
        assert all(len(line) <= width for line in lines)


def test_a_short_terminal_keeps_the_newest_rows_and_the_total() -> None:
    lines = render(many_markets(40), 100, 24).splitlines()
    assert len(lines) == 24
    assert lines[-1].split() == ["TOTAL", "40.0000", "0.0000", "0.4000", "39.6000"]
    assert any(line.startswith("POSITIONS (last ") and "of 80)" in line for line in lines)
    assert any(line.startswith("btc-up-0039") for line in lines)
    assert not any(line.startswith("btc-up-0000") for line in lines)
    assert any(line.startswith("OPEN ORDERS (last ") for line in lines)
    assert "* btc-up-0039  open" in lines


def test_a_narrow_terminal_drops_columns_before_it_cuts_the_net() -> None:
    lines = render(full_state(), 44, 40).splitlines()
    head = next(line for line in lines if line.startswith("market"))
    assert head.split() == ["market", "instrument", "qty", "realized", "net"]
    assert lines[-1].split() == ["TOTAL", "3.8000", "3.7938"]


def test_a_broker_s_charge_for_a_fill_changes_the_leg_s_fees_and_net_and_counts_no_delta() -> None:
    state = fold(TRADING)
    (yes,) = [row.leg for row in state.legs() if row.leg.security_id == "m1-YES"]
    before = state.total()
    charged = attrs.evolve(yes, fees=yes.fees + D(20))
    fold(
        [
            PositionFillCharged(
                correlation_id="O1",
                position_id=POSITION_ID,
                market_id="m1",
                version=99,
                charge=FillCharged(
                    fill_id="O1-1",
                    order_id="O1",
                    market_id="m1",
                    security_id="m1-YES",
                    booked_fee=yes.fees,
                    fee=yes.fees + D(20),
                    tax=D(0),
                ),
                leg=charged,
            )
        ],
        state,
    )
    assert state.total().fees == before.fees + 20
    assert state.total().net == before.net - 20
    assert state.counts["deltas"] == 2
