"""Each pre-trade rule approves at its limit and denies just past it, saying why."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.position_index_book import PositionIndex
from actors.risk_rules import denial, needs_index
from messages.enums import OrderSide, PositionStatus
from messages.risk import PositionMeta, RiskLimits, Trackers, TrackersFor
from messages.signals import TradeSignal
from supervisors.assembly.zmq_commands import MAX_LIMIT, MAX_MAGNITUDE, MAX_PLACES

pytestmark = pytest.mark.timeout(10)
D = Decimal


def meta(security_id: str, quantity: str, cost: str, **fields: Any) -> PositionMeta:
    values: dict[str, Any] = {
        "position_id": "m1/paper/s",
        "market_id": "m1",
        "account": "paper",
        "strategy": "s",
        "realized_pnl": D(0),
        "fees": D(0),
        "status": PositionStatus.OPEN,
        "version": 1,
    }
    values.update(fields)
    quantity_d, cost_d = D(quantity), D(cost)
    avg = abs(cost_d / quantity_d) if quantity_d else D(0)
    return PositionMeta(
        security_id=security_id, quantity=quantity_d, cost=cost_d, avg_price=avg, **values
    )


def buy(size: str, price: str = "0.50", security_id: str = "m1-YES") -> TradeSignal:
    return TradeSignal(
        market_id="m1",
        security_id=security_id,
        side=OrderSide.BUY,
        price=D(price),
        size=D(size),
        reason="test",
        strategy="s",
        account="paper",
    )


def held(*metas: PositionMeta, closed_pnl: str = "0") -> Trackers:
    """The index's answer about m1-YES, market m1 and account paper, holding ``metas``."""
    index = PositionIndex()
    for each in metas:
        index.add(each)
    if closed_pnl != "0":
        index.closed_pnl["paper"] = D(closed_pnl)
    return index.answer(TrackersFor(security_ids=("m1-YES",), account="paper", market_id="m1"))


CASES = [
    # rule, limits, trackers, at the limit (approved), past it (denied), reason contains
    ("order size", RiskLimits(max_order_size=D(10)), None, buy("10"), buy("10.01"), "order size"),
    (
        "order notional",
        RiskLimits(max_order_notional=D(5)),
        None,
        buy("10", "0.50"),
        buy("10", "0.51"),
        "order notional",
    ),
    (
        "position per security",
        RiskLimits(max_position=D(50)),
        held(meta("m1-YES", "40", "20")),
        buy("10"),
        buy("10.5"),
        "position in m1-YES would be 50.5",
    ),
    (
        "account exposure",
        RiskLimits(max_account_exposure=D(30)),
        held(meta("m1-YES", "20", "10"), meta("m1-NO", "-20", "-10")),
        buy("20", "0.50"),
        buy("20", "0.5005"),
        "account exposure",
    ),
]


@pytest.mark.parametrize(
    ("limits", "trackers", "at_limit", "past_limit", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_an_order_rule_approves_at_its_limit_and_denies_just_past_it(
    limits: RiskLimits, trackers: Trackers | None, at_limit: Any, past_limit: Any, reason: str
) -> None:
    assert denial(at_limit, limits, open_orders=0, trackers=trackers) is None
    said = denial(past_limit, limits, open_orders=0, trackers=trackers)
    assert said is not None
    assert reason in said


def test_open_orders_counts_this_one() -> None:
    limits = RiskLimits(max_open_orders=3)
    assert denial(buy("1"), limits, open_orders=2) is None
    assert denial(buy("1"), limits, open_orders=3) == "3 orders are open; the maximum is 3"


@pytest.mark.parametrize(
    ("limits", "position_pnl_at", "position_pnl_past", "reason"),
    [
        (RiskLimits(daily_loss_limit=D(5)), "-5", "-5.01", "daily loss limit"),
        (RiskLimits(stop_loss=D(2)), "-2", "-2.01", "stop loss"),
        (RiskLimits(profit_lock=D(3)), "3", "3.01", "profit lock"),
    ],
    ids=["daily loss", "stop loss", "profit lock"],
)
def test_a_pnl_rule_approves_at_its_limit_and_denies_just_past_it(
    limits: RiskLimits, position_pnl_at: str, position_pnl_past: str, reason: str
) -> None:
    for pnl, approved in ((position_pnl_at, True), (position_pnl_past, False)):
        # Realized PnL gross, fees 0.01 apart: the rule sees realized - fees.
        trackers = held(meta("m1-YES", "0", "0", realized_pnl=D(pnl) + D("0.01"), fees=D("0.01")))
        said = denial(buy("1"), limits, open_orders=0, trackers=trackers)
        assert (said is None) is approved, said
        if not approved:
            assert reason in str(said)


def test_unrealized_pnl_marks_each_leg_at_the_latest_mid_risk_has_seen() -> None:
    limits = RiskLimits(stop_loss=D(1))
    trackers = held(meta("m1-YES", "10", "5"))  # 10 @ 0.50
    at_limit = {"m1-YES": D("0.40")}
    assert denial(buy("1"), limits, open_orders=0, trackers=trackers, marks=at_limit) is None
    said = denial(buy("1"), limits, open_orders=0, trackers=trackers, marks={"m1-YES": D("0.399")})
    assert said == "stop loss: position PnL -1.010 is under -1"


def test_the_daily_loss_counts_archived_positions_of_the_account() -> None:
    limits = RiskLimits(daily_loss_limit=D(5))
    assert denial(buy("1"), limits, open_orders=0, trackers=held(closed_pnl="-5")) is None
    said = denial(buy("1"), limits, open_orders=0, trackers=held(closed_pnl="-5.5"))
    assert said == "account PnL -5.5 is past the daily loss limit -5"


def test_other_accounts_and_other_markets_do_not_count_for_a_position_rule() -> None:
    limits = RiskLimits(max_position=D(10), stop_loss=D(1))
    foreign = meta("m1-YES", "100", "50", account="other", position_id="m1/other/s")
    elsewhere = meta("m2-YES", "0", "0", market_id="m2", position_id="m2/paper/s")
    trackers = held(foreign, elsewhere)
    assert denial(buy("10"), limits, open_orders=0, trackers=trackers) is None


def test_only_position_rules_need_the_index() -> None:
    assert not needs_index(RiskLimits(max_order_size=D(1), max_open_orders=2))
    assert needs_index(RiskLimits(stop_loss=D(1)))


def test_a_number_past_what_the_edges_let_in_is_denied_never_raised() -> None:
    huge = buy("1e999999999", price="1e999999999")  # notional overflows the decimal context
    said = denial(huge, RiskLimits(max_order_notional=D(5)), open_orders=0)
    assert said == "numbers out of range for the risk rules (Overflow)"


def _bounded(maximum: Decimal, *, places: int = MAX_PLACES) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=0, max_value=maximum, places=places, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(
    size=_bounded(MAX_MAGNITUDE).filter(lambda d: d > 0),
    price=_bounded(MAX_MAGNITUDE),
    limits=st.builds(
        RiskLimits,
        max_order_size=_bounded(MAX_LIMIT),
        max_order_notional=_bounded(MAX_LIMIT),
        max_position=_bounded(MAX_LIMIT),
        max_account_exposure=_bounded(MAX_LIMIT),
        max_open_orders=st.integers(min_value=0, max_value=int(MAX_MAGNITUDE)),
        daily_loss_limit=_bounded(MAX_LIMIT),
        profit_lock=_bounded(MAX_LIMIT),
        stop_loss=_bounded(MAX_LIMIT),
    ),
    held_quantity=_bounded(MAX_MAGNITUDE),
    mark=_bounded(MAX_MAGNITUDE),
)
def test_values_the_edges_let_in_never_reach_the_arithmetic_safety_net(
    size: Decimal,
    price: Decimal,
    limits: RiskLimits,
    held_quantity: Decimal,
    mark: Decimal,
) -> None:
    """What the ZeroMQ edge accepts (supervisors.assembly.zmq_commands bounds) is judged by a
    rule, never by the ArithmeticError net: the domain raises nothing on a value that passed
    validation."""
    trackers = held(meta("m1-YES", str(held_quantity), str(held_quantity * price)))
    said = denial(
        buy(str(size), price=str(price)),
        limits,
        open_orders=0,
        trackers=trackers,
        marks={"m1-YES": mark},
    )
    assert said is None or "numbers out of range" not in said
