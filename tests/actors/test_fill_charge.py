"""The broker's own fee and tax for a fill (Shioaji's portfolio details), in place of the
fee it was booked with: the order's and the position's fees change by exactly the charge's
``change``, once, and nothing else changes; a charge that cannot apply is refused."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.fill_outcome import FillResult
from actors.order_state import Order, apply_order_event
from actors.position_accounting import PositionBook, apply_position_event
from actors.runtime_state import RuntimeState, order_stream, position_stream
from messages.enums import OrderSide
from messages.fills import Fill, FillCharged, FillReversed
from messages.journal import (
    ChargeApplied,
    FillApplied,
    OrderCreated,
    PositionCreated,
    PositionSettlement,
    ReversalApplied,
)
from messages.orders import FillRefusal

pytestmark = pytest.mark.timeout(60)
D = Decimal
SECURITIES = ("2890", "2330")


def order_of() -> Order:
    return Order(
        order_id="O1",
        correlation_id="S1",
        market_id="m1",
        security_id="2890",
        account="A1",
        strategy="s",
        side=OrderSide.BUY,
        price=D("25.5"),
        size=D(3000),
    )


def book_of() -> PositionBook:
    return PositionBook(
        position_id="P1", market_id="m1", account="A1", strategy="s", security_ids=SECURITIES
    )


def fill_of(index: int, side: OrderSide = OrderSide.BUY, price: str = "25.5") -> Fill:
    return Fill(
        fill_id=f"F{index}",
        ts_event=index,
        order_id="O1",
        market_id="m1",
        security_id="2890",
        side=side,
        price=D(price),
        size=D(1000),
        fee=D(price) * 1000 * D("0.001"),
    )


def charge_of(fill: Fill, fee: str = "36", tax: str = "0") -> FillCharged:
    return FillCharged(
        fill_id=fill.fill_id,
        order_id=fill.order_id,
        market_id=fill.market_id,
        security_id=fill.security_id,
        booked_fee=fill.fee,
        fee=D(fee),
        tax=D(tax),
    )


def leg_view(book: PositionBook) -> tuple[Decimal, ...]:
    leg = book.leg("2890")
    return (leg.quantity, leg.cost, leg.realized_pnl, leg.fees)


def test_a_charge_changes_the_fees_by_its_change_and_nothing_else_and_a_repeat_is_a_no_op() -> None:
    order, book = order_of(), book_of()
    buys = [fill_of(1), fill_of(2, price="26")]
    sell = attrs.evolve(fill_of(3, OrderSide.SELL, "27"), order_id="O2")
    for fill in buys:
        apply_order_event(order, fill)
    for fill in (*buys, sell):
        apply_position_event(book, FillApplied(position_id="P1", fill=fill))
    before_order, before_leg = order.fees, leg_view(book)
    assert before_leg[2] != 0
    charge = charge_of(buys[1], fee="37", tax="1")
    applied = ChargeApplied(position_id="P1", charge=charge, correlation_id="S1")

    assert apply_order_event(order, charge) == apply_position_event(book, applied)
    assert order.fees == before_order + charge.change == D("63.5")
    quantity, cost, realized, fees = leg_view(book)
    assert (quantity, cost, realized) == before_leg[:3]
    assert fees == before_leg[3] + charge.change == D("90.5")

    versions = (order.version, book.version)
    again_order = apply_order_event(order, attrs.evolve(charge, ts_init=charge.ts_init + 1))
    again_book = apply_position_event(book, applied)
    assert again_order is not None
    assert again_book is not None
    assert (again_order.result, again_book.result) == (FillResult.DUPLICATE,) * 2
    assert (order.version, book.version) == versions
    assert (order.fees, leg_view(book)[3]) == (D("63.5"), D("90.5"))


def test_other_figures_for_a_charged_fill_and_a_charge_of_an_unknown_fill_are_refused() -> None:
    order, book = order_of(), book_of()
    fill = fill_of(1)
    order.apply_fill(fill)
    book.apply_fill(fill)
    order.apply_charge(charge_of(fill))
    book.apply_charge(charge_of(fill))
    unknown = charge_of(fill_of(7))
    for target, apply in ((order, order.apply_charge), (book, book.apply_charge)):
        version = target.version
        outcome = apply(unknown)
        assert (outcome.result, outcome.refusal) == (FillResult.REFUSED, FillRefusal.UNKNOWN_FILL)
        other = apply(charge_of(fill, fee="40"))
        assert other.refusal is FillRefusal.CONFLICTING_DUPLICATE
        assert target.version == version
    assert order.fees == book.leg("2890").fees == D(36)
    other_order = order.apply_charge(attrs.evolve(charge_of(fill), order_id="O9"))
    assert other_order.refusal is FillRefusal.MISMATCHED_ORDER


def test_a_settled_position_refuses_a_charge() -> None:
    book = book_of()
    fill = fill_of(1)
    book.apply_fill(fill)
    apply_position_event(
        book,
        PositionSettlement(
            position_id="P1", market_id="m1", winning_security_id="2890", payout=D(1)
        ),
    )
    assert book.apply_charge(charge_of(fill)).refusal is FillRefusal.POSITION_SETTLED
    assert book.leg("2890").fees == fill.fee


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 200)), min_size=2, max_size=8))
def test_a_reversal_after_charges_nets_the_leg_as_if_the_reversed_fill_and_its_charge_never_came(
    drawn: list[tuple[bool, int]],
) -> None:
    fills = [fill_of(i, OrderSide.BUY if i % 2 == 0 else OrderSide.SELL) for i in range(len(drawn))]
    charges = {
        fill.fill_id: charge_of(fill, fee=str(fee))
        for fill, (charged, fee) in zip(fills, drawn, strict=True)
        if charged
    }
    book, never = book_of(), book_of()
    for fill in fills:
        book.apply_fill(fill)
        if fill.fill_id in charges:
            assert book.apply_charge(charges[fill.fill_id]).applied
    gone = fills[0]
    reversal = FillReversed(
        fill_id=gone.fill_id,
        ts_event=9,
        order_id="O1",
        market_id="m1",
        security_id="2890",
        reason="test",
    )
    outcome = apply_position_event(
        book, ReversalApplied(position_id="P1", reversal=reversal, correlation_id="S1")
    )
    assert outcome is not None
    assert outcome.applied
    for fill in fills[1:]:
        never.apply_fill(fill)
        if fill.fill_id in charges:
            never.apply_charge(charges[fill.fill_id])
    assert leg_view(book) == leg_view(never)
    restored = PositionBook.from_memento(book.memento())
    assert leg_view(restored) == leg_view(never)
    if gone.fill_id in charges:
        refused = restored.apply_charge(charges[gone.fill_id])
        assert refused.refusal is FillRefusal.ALREADY_REVERSED


def test_the_fold_applies_charges_as_the_actors_do_and_a_snapshot_keeps_them() -> None:
    fill = fill_of(1)
    charge = charge_of(fill, fee="36")
    events: list[tuple[str, object]] = [
        (
            position_stream("P1"),
            PositionCreated(
                position_id="P1",
                market_id="m1",
                account="A1",
                strategy="s",
                security_ids=SECURITIES,
            ),
        ),
        (
            order_stream("O1"),
            OrderCreated(
                order_id="O1",
                correlation_id="S1",
                market_id="m1",
                security_id="2890",
                account="A1",
                strategy="s",
                side=OrderSide.BUY,
                price=D("25.5"),
                size=D(3000),
            ),
        ),
        (order_stream("O1"), fill),
        (position_stream("P1"), FillApplied(position_id="P1", fill=fill)),
        (order_stream("O1"), charge),
        (
            position_stream("P1"),
            ChargeApplied(position_id="P1", charge=charge, correlation_id="S1"),
        ),
    ]
    state = RuntimeState()
    for seq, (stream, event) in enumerate(events, 1):
        state.apply(seq, stream, event)
    assert state.orders["O1"].fees == state.positions["P1"].leg("2890").fees == D(36)

    restored = RuntimeState.from_memento(state.memento())
    assert restored.orders["O1"].fees == restored.positions["P1"].leg("2890").fees == D(36)
    assert restored.orders["O1"].apply_charge(charge).result is FillResult.DUPLICATE
    assert restored.positions["P1"].apply_charge(charge).result is FillResult.DUPLICATE
    assert restored.positions["P1"].carries(restored.orders["O1"].memento())
