"""A fill the venue takes back (a Polymarket trade that FAILED on chain): the order, the
position and the journal's fold end exactly as if it never came, whatever else happened
between; a reversal that cannot apply is refused and changes nothing."""

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
from messages.enums import OrderSide, OrderStatus
from messages.fills import Fill, FillReversed
from messages.journal import (
    FillApplied,
    OrderCreated,
    PositionCreated,
    PositionSettlement,
    ReversalApplied,
)
from messages.orders import FillRefusal

pytestmark = pytest.mark.timeout(60)
D = Decimal
SECURITIES = ("m1-YES", "m1-NO")


def order_of(size: int = 1000) -> Order:
    return Order(
        order_id="O1",
        correlation_id="S1",
        market_id="m1",
        security_id="m1-YES",
        account="paper",
        strategy="s",
        side=OrderSide.BUY,
        price=D("0.50"),
        size=D(size),
    )


def book_of() -> PositionBook:
    return PositionBook(
        position_id="P1", market_id="m1", account="paper", strategy="s", security_ids=SECURITIES
    )


def reversal_of(fill: Fill) -> FillReversed:
    return FillReversed(
        fill_id=fill.fill_id,
        ts_event=9,
        order_id=fill.order_id,
        market_id=fill.market_id,
        security_id=fill.security_id,
        reason=f"trade {fill.fill_id} FAILED on chain after MATCHED",
    )


def fill_of(  # noqa: PLR0917 - the terms hypothesis draws, in order
    index: int, side: OrderSide, cents: int, size: int, fee_bp: int, security_id: str
) -> Fill:
    price = D(cents) / 100
    return Fill(
        fill_id=f"F{index}",
        ts_event=index,
        order_id="O1",
        market_id="m1",
        security_id=security_id,
        side=side,
        price=price,
        size=D(size) / 10,
        fee=price * D(size) / 10 * fee_bp / 10_000,
    )


FILL_TERMS = st.tuples(
    st.sampled_from(OrderSide),
    st.integers(1, 99),
    st.integers(1, 500),
    st.integers(0, 50),
    st.sampled_from(SECURITIES),
)


@st.composite
def fills_and_reversals(draw: st.DrawFn) -> tuple[list[Fill], list[tuple[str, int]]]:
    """Fills in order, and a sequence that applies each and reverses some of them, every
    reversal somewhere after its fill."""
    terms = draw(st.lists(FILL_TERMS, min_size=1, max_size=12))
    fills = [fill_of(i, *t) for i, t in enumerate(terms)]
    steps: list[tuple[str, int]] = []
    for i in range(len(fills)):
        steps.append(("fill", i))
    for i in draw(st.sets(st.integers(0, len(fills) - 1))):
        after = steps.index(("fill", i)) + 1
        steps.insert(draw(st.integers(after, len(steps))), ("reverse", i))
    return fills, steps


def order_view(order: Order) -> tuple[object, ...]:
    return (order.status, order.filled, order.fees, order.avg_fill_price, order.fill_ids)


def leg_views(book: PositionBook) -> list[tuple[object, ...]]:
    return [
        (leg.quantity, leg.cost, leg.avg_open_price, leg.realized_pnl, leg.fees)
        for leg in (book.leg(security_id) for security_id in SECURITIES)
    ]


@settings(max_examples=200, deadline=None)
@given(fills_and_reversals())
def test_fills_with_a_random_subset_reversed_equal_never_having_had_those_fills(
    drawn: tuple[list[Fill], list[tuple[str, int]]],
) -> None:
    fills, steps = drawn
    reversed_ids = {fills[i].fill_id for kind, i in steps if kind == "reverse"}
    kept = [fill for fill in fills if fill.fill_id not in reversed_ids]

    book, never_book = book_of(), book_of()
    for kind, i in steps:
        event = FillApplied(position_id="P1", fill=fills[i])
        if kind == "reverse":
            event = ReversalApplied(
                position_id="P1", reversal=reversal_of(fills[i]), correlation_id="S1"
            )
        outcome = apply_position_event(book, event)
        assert outcome is not None
        assert outcome.applied
    for fill in kept:
        apply_position_event(never_book, FillApplied(position_id="P1", fill=fill))
    assert leg_views(book) == leg_views(never_book)

    # The order: one security and side, so only the sizes count; accepted, so "nothing
    # filled" is ACCEPTED both ways.
    same_leg = [attrs.evolve(f, security_id="m1-YES", side=OrderSide.BUY) for f in fills]
    order, never_order = order_of(), order_of()
    order.accept()
    never_order.accept()
    for kind, i in steps:
        event = reversal_of(same_leg[i]) if kind == "reverse" else same_leg[i]
        outcome = apply_order_event(order, event)
        assert outcome is not None
        assert outcome.applied
    for fill in same_leg:
        if fill.fill_id not in reversed_ids:
            apply_order_event(never_order, fill)
    assert order_view(order) == order_view(never_order)


def test_a_filled_order_whose_fill_is_reversed_is_open_again_for_what_it_gave_back() -> None:
    order = order_of(size=30)
    first = fill_of(1, OrderSide.BUY, 50, 100, 0, "m1-YES")
    second = fill_of(2, OrderSide.BUY, 40, 200, 0, "m1-YES")
    apply_order_event(order, first)
    apply_order_event(order, second)
    assert order.status is OrderStatus.FILLED

    assert apply_order_event(order, reversal_of(second)) is not None
    assert (order.status, order.filled, order.avg_fill_price) == (
        OrderStatus.PARTIALLY_FILLED,
        D(10),
        D("0.5"),
    )
    assert order.reopened == 1
    apply_order_event(order, reversal_of(first))
    assert (order.status, order.filled, order.avg_fill_price) == (OrderStatus.ACCEPTED, 0, None)
    restored = Order.from_memento(order.memento())
    assert order_view(restored) == order_view(order)
    assert restored.reopened == 1


def test_a_cancelled_order_stays_cancelled_when_its_fill_is_reversed() -> None:
    order = order_of(size=30)
    fill = fill_of(1, OrderSide.BUY, 50, 100, 0, "m1-YES")
    apply_order_event(order, fill)
    order.cancelled()
    apply_order_event(order, reversal_of(fill))
    assert (order.status, order.filled, order.reopened) == (OrderStatus.CANCELLED, 0, 0)


def test_a_reversal_of_an_unknown_or_reversed_fill_is_refused_and_changes_nothing() -> None:
    order, book = order_of(), book_of()
    fill = fill_of(1, OrderSide.BUY, 50, 100, 10, "m1-YES")
    apply_order_event(order, fill)
    book.apply_fill(fill)
    unknown = reversal_of(fill_of(7, OrderSide.BUY, 50, 100, 10, "m1-YES"))
    for target, apply in ((order, order.apply_reversal), (book, book.apply_reversal)):
        version = target.version
        outcome = apply(unknown)
        assert (outcome.result, outcome.refusal) == (FillResult.REFUSED, FillRefusal.UNKNOWN_FILL)
        assert apply(reversal_of(fill)).applied
        again = apply(reversal_of(fill))
        assert (again.result, again.refusal) == (FillResult.REFUSED, FillRefusal.ALREADY_REVERSED)
        assert target.version == version + 1
    # The fill itself, delivered again, stays taken back.
    assert order.apply_fill(fill).refusal is FillRefusal.ALREADY_REVERSED
    assert book.apply_fill(fill).refusal is FillRefusal.ALREADY_REVERSED


def test_a_settled_position_refuses_a_reversal() -> None:
    book = book_of()
    fill = fill_of(1, OrderSide.BUY, 50, 100, 0, "m1-YES")
    book.apply_fill(fill)
    apply_position_event(
        book,
        PositionSettlement(
            position_id="P1", market_id="m1", winning_security_id="m1-YES", payout=D(1)
        ),
    )
    assert book.apply_reversal(reversal_of(fill)).refusal is FillRefusal.POSITION_SETTLED


def test_the_fold_applies_reversals_as_the_actors_do_and_a_snapshot_keeps_them() -> None:
    fills = [
        fill_of(1, OrderSide.BUY, 50, 100, 10, "m1-YES"),
        fill_of(2, OrderSide.BUY, 40, 50, 10, "m1-YES"),
    ]
    state = RuntimeState()
    events: list[tuple[str, object]] = [
        (
            position_stream("P1"),
            PositionCreated(
                position_id="P1",
                market_id="m1",
                account="paper",
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
                security_id="m1-YES",
                account="paper",
                strategy="s",
                side=OrderSide.BUY,
                price=D("0.50"),
                size=D(15),
            ),
        ),
    ]
    for fill in fills:
        events += [
            (order_stream("O1"), fill),
            (position_stream("P1"), FillApplied(position_id="P1", fill=fill)),
        ]
    reversal = reversal_of(fills[0])
    events += [
        (order_stream("O1"), reversal),
        (
            position_stream("P1"),
            ReversalApplied(position_id="P1", reversal=reversal, correlation_id="S1"),
        ),
    ]
    for seq, (stream, event) in enumerate(events, 1):
        state.apply(seq, stream, event)

    order = state.orders["O1"]
    assert (order.status, order.filled, order.fill_ids) == (
        OrderStatus.PARTIALLY_FILLED,
        D(5),
        ("F2",),
    )
    never = book_of()
    never.apply_fill(fills[1])
    assert leg_views(state.positions["P1"]) == leg_views(never)
    restored = RuntimeState.from_memento(state.memento())
    assert order_view(restored.orders["O1"]) == order_view(order)
    assert leg_views(restored.positions["P1"]) == leg_views(never)
    refused = restored.positions["P1"].apply_reversal(reversal)
    assert refused.refusal is FillRefusal.ALREADY_REVERSED
