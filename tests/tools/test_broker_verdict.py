"""The end-of-run broker verdict: EQUALS only when the book, the table and the orders agree."""

from __future__ import annotations

from decimal import Decimal

import pytest

from messages.broker import BrokerOrder, BrokerOrderStatus
from messages.enums import OrderSide, OrderStatus, PositionStatus
from tests.tools.dashboard_events import leg, order, position
from tools.broker_verdict import broker_verdict

pytestmark = pytest.mark.timeout(10)

D = Decimal
SETTLED = position(leg("m1-YES", "0"), version=9, status=PositionStatus.SETTLED)
OPEN = position(leg("m1-YES", "450", cost="180"), version=3)
TRUTH = {"m1-YES": D(450)}


def broker_order(client_order_id: str | None) -> BrokerOrder:
    return BrokerOrder(
        order_no="SIM-1",
        account="paper",
        security_id="m1-YES",
        side=OrderSide.BUY,
        price=D("0.4"),
        size=D(50),
        filled=D(0),
        status=BrokerOrderStatus.SUBMITTED,
        client_order_id=client_order_id,
    )


def test_everything_agreeing_is_one_equal_verdict() -> None:
    verdict = broker_verdict(positions=[OPEN], book=TRUTH, truth=TRUTH, orders=[], broker_open=[])
    assert verdict.equal
    assert verdict.lines == (
        "the account book EQUALS the broker's positions (1 securities)",
        "the positions table EQUALS the broker's positions (1 open legs)",
        "our open orders EQUAL the broker's (0 here: none; 0 there: none)",
        "the run EQUALS the broker's truth",
    )


def test_an_open_leg_short_of_the_broker_differs_though_the_book_equals() -> None:
    verdict = broker_verdict(
        positions=[SETTLED, OPEN],
        book={"m1-YES": D(500)},
        truth={"m1-YES": D(500)},
        orders=[],
        broker_open=[],
    )
    assert not verdict.equal
    assert verdict.lines[0] == "the account book EQUALS the broker's positions (1 securities)"
    assert verdict.lines[1] == (
        "the positions table DIFFERS FROM the broker's positions (1 open legs): "
        "m1-YES 450 here, 500 at the broker"
    )
    assert verdict.lines[-1] == "the run DIFFERS FROM the broker's truth"


def test_a_settled_leg_is_not_compared_with_the_shares_the_broker_still_holds() -> None:
    verdict = broker_verdict(
        positions=[SETTLED], book=TRUTH, truth=TRUTH, orders=[], broker_open=[]
    )
    assert verdict.equal


def test_an_order_open_on_one_side_only_differs() -> None:
    ours = order("O7", "m1-YES", price="0.40", status=OrderStatus.PENDING)
    verdict = broker_verdict(
        positions=[OPEN], book=TRUTH, truth=TRUTH, orders=[ours], broker_open=[]
    )
    assert not verdict.equal
    assert (
        verdict.lines[2] == "our open orders DIFFER FROM the broker's (1 here: O7; 0 there: none)"
    )
    both = broker_verdict(
        positions=[OPEN],
        book=TRUTH,
        truth=TRUTH,
        orders=[ours],
        broker_open=[broker_order("O7")],
    )
    assert both.equal


def test_a_book_that_differs_from_the_broker_is_named_with_both_quantities() -> None:
    verdict = broker_verdict(
        positions=[], book={"m1-NO": D(3)}, truth=TRUTH, orders=[], broker_open=[]
    )
    assert not verdict.equal
    assert verdict.lines[0] == (
        "the account book DIFFERS FROM the broker's positions (1 securities): "
        "m1-NO 3 here, 0 at the broker; m1-YES 0 here, 450 at the broker"
    )
