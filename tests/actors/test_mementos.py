"""Mementos: an order or a position restored from one, through the journal codec, is the same
object in every way that shows — snapshot, later outcomes, dedup and version numbering."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.order_state import Order
from actors.position_accounting import PositionBook
from messages.codec import decode, encode, kind_of
from messages.enums import OrderSide, Outcome
from messages.fills import Fill
from messages.market_data import BookLevel, InstrumentBook, MarketSnapshot
from messages.mementos import LegMemento, OrderMemento, PositionMemento
from messages.positions import PositionSnapshot

D = Decimal
BUY = OrderSide.BUY
SELL = OrderSide.SELL
MARKET = "m1"
YES = "m1-YES"
NO = "m1-NO"

properties = settings(deadline=None, max_examples=100)

Operation = tuple[Any, ...]
"""A generated call: its name first, then its arguments (data, so hypothesis prints it)."""

FILL_IDS = range(6)
SIZES = (D("3"), D("2.5"), D("4"), D("1"), D("6"), D("0.5"))
PRICES = (D("0.40"), D("0.333"), D("0.41"), D("0.07"), D("0.5"), D("0.999"))
FEES = (D("0"), D("0.01"), D("0.0025"))


def _fill(index: int, *, side: OrderSide, security_id: str, variant: int) -> Fill:
    """Fill ``index`` as first delivered (variant 0); variant 1 conflicts with it."""
    return Fill(
        fill_id=f"F{index}",
        ts_event=index + 100 * variant,
        order_id="O1",
        market_id=MARKET,
        security_id=security_id,
        side=side,
        price=PRICES[(index + variant) % len(PRICES)],
        size=SIZES[index],
        fee=FEES[index % len(FEES)],
    )


def _outcome(call: Callable[[], object]) -> object:
    """What a call returned, or the exception it raised, as a comparable value."""
    try:
        return call()
    except Exception as exc:  # the point is to compare refusals too
        return ("raised", type(exc).__name__, str(exc))


# --- orders --------------------------------------------------------------------------------


def make_order() -> Order:
    return Order(
        order_id="O1",
        correlation_id="S1",
        market_id=MARKET,
        security_id=YES,
        account="paper",
        strategy="default",
        side=BUY,
        price=D("0.45"),
        size=D("10"),
    )


# Variant 2 fills the other side: a mismatch the order refuses.
variants = st.sampled_from([0, 0, 0, 1, 1, 2])
order_operations = st.one_of(
    st.tuples(st.just("fill"), st.sampled_from(FILL_IDS), variants),
    st.tuples(
        st.sampled_from(["accept", "request_cancel", "cancelled", "cancel_refused", "reject"])
    ),
)


def apply_to_order(order: Order, operation: Operation) -> object:
    name, *args = operation
    if name == "fill":
        index, variant = args
        side = SELL if variant == 2 else BUY
        fill = _fill(index, side=side, security_id=YES, variant=min(variant, 1))
        return _outcome(lambda: order.apply_fill(fill))
    return _outcome(getattr(order, name))


@properties
@given(
    before=st.lists(order_operations, max_size=25), after=st.lists(order_operations, max_size=25)
)
def test_an_order_restored_from_its_stored_memento_behaves_exactly_like_the_original(
    before: list[Operation], after: list[Operation]
) -> None:
    original = make_order()
    for operation in before:
        apply_to_order(original, operation)
    memento = original.memento()

    stored = decode(kind_of(memento), encode(memento))
    assert isinstance(stored, OrderMemento)
    restored = Order.from_memento(stored)

    assert stored == memento
    assert restored.snapshot() == original.snapshot()
    assert restored.memento() == memento
    assert [apply_to_order(restored, op) for op in after] == [
        apply_to_order(original, op) for op in after
    ]
    assert restored.snapshot() == original.snapshot()
    assert restored.memento() == original.memento()


def test_an_order_memento_keeps_the_fills_in_the_order_they_were_applied() -> None:
    order = make_order()
    for index in (3, 0, 5):
        order.apply_fill(_fill(index, side=BUY, security_id=YES, variant=0))

    restored = Order.from_memento(order.memento())

    assert restored.fill_ids == ("F3", "F0", "F5")
    assert restored.snapshot().last_fill_id == "F5"


def test_an_order_memento_with_a_fill_id_twice_is_refused() -> None:
    order = make_order()
    order.apply_fill(_fill(0, side=BUY, security_id=YES, variant=0))
    memento = order.memento()

    with pytest.raises(ValueError, match="distinct fill ids"):
        attrs.evolve(memento, fills=memento.fills * 2)


# --- positions -----------------------------------------------------------------------------


def make_book() -> PositionBook:
    return PositionBook(
        position_id="P1",
        market_id=MARKET,
        account="paper",
        strategy="default",
        security_ids=(YES, NO),
    )


def _instrument_book(security_id: str, bid: Decimal | None, ask: Decimal | None) -> InstrumentBook:
    return InstrumentBook(
        security_id=security_id,
        outcome=Outcome.YES if security_id == YES else Outcome.NO,
        bids=() if bid is None else (BookLevel(price=bid, size=D(5)),),
        asks=() if ask is None else (BookLevel(price=ask, size=D(5)),),
        synced=True,
        sequence=1,
    )


quotes = st.none() | st.sampled_from(PRICES)
securities = st.sampled_from([YES, NO])

# Variant 2 is another market's instrument: a mismatch the position refuses.
position_operations = st.one_of(
    st.tuples(
        st.just("fill"),
        st.sampled_from(FILL_IDS),
        variants,
        securities,
        st.sampled_from(OrderSide),
    ),
    st.tuples(
        st.just("mark_pending"),
        st.sampled_from(["O1", "O2", "O3"]),
        securities | st.just("m1-MAYBE"),
        st.sampled_from(OrderSide),
    ),
    st.tuples(st.just("clear_pending"), st.sampled_from(["O1", "O2", "O3", "O4"])),
    st.tuples(st.just("set_marks"), quotes, quotes, quotes, quotes),
    st.tuples(
        st.just("settle"), securities | st.just("m1-MAYBE"), st.sampled_from([D(1), D("0.5")])
    ),
)


def apply_to_book(book: PositionBook, operation: Operation) -> object:
    name, *args = operation
    if name == "fill":
        index, variant, security_id, side = args
        fill = _fill(
            index,
            side=side,
            security_id="m1-MAYBE" if variant == 2 else security_id,
            variant=min(variant, 1),
        )
        return _outcome(lambda: book.apply_fill(fill))
    if name == "set_marks":
        yes_bid, yes_ask, no_bid, no_ask = args
        snapshot = MarketSnapshot(
            ts_event=1,
            market_id=MARKET,
            version=1,
            books=(_instrument_book(YES, yes_bid, yes_ask), _instrument_book(NO, no_bid, no_ask)),
        )
        return _outcome(lambda: book.set_marks(snapshot))
    return _outcome(lambda: getattr(book, name)(*args))


def _state(book: PositionBook) -> PositionSnapshot:
    """The book's snapshot without its per-call message id, so two books can be compared."""
    return attrs.evolve(book.snapshot(), id="snapshot")


@properties
@given(
    before=st.lists(position_operations, max_size=30),
    after=st.lists(position_operations, max_size=30),
)
def test_a_position_restored_from_its_stored_memento_behaves_exactly_like_the_original(
    before: list[Operation], after: list[Operation]
) -> None:
    original = make_book()
    for operation in before:
        apply_to_book(original, operation)
    memento = original.memento()

    stored = decode(kind_of(memento), encode(memento))
    assert isinstance(stored, PositionMemento)
    restored = PositionBook.from_memento(stored)

    assert stored == memento
    assert _state(restored) == _state(original)
    assert restored.memento() == memento
    assert [apply_to_book(restored, op) for op in after] == [
        apply_to_book(original, op) for op in after
    ]
    assert _state(restored) == _state(original)
    assert restored.memento() == original.memento()


def test_a_position_memento_keeps_pending_orders_in_the_order_they_were_marked() -> None:
    book = make_book()
    book.mark_pending("O2", NO, SELL)
    book.mark_pending("O1", YES, BUY)

    assert book.memento().pending == (("O2", NO, SELL), ("O1", YES, BUY))
    assert PositionBook.from_memento(book.memento()).memento() == book.memento()


def test_a_position_memento_whose_legs_do_not_follow_its_security_ids_is_refused() -> None:
    memento = make_book().memento()

    with pytest.raises(ValueError, match="legs must be"):
        attrs.evolve(memento, legs=memento.legs[::-1])


def test_a_position_memento_with_an_order_pending_twice_is_refused() -> None:
    memento = make_book().memento()

    with pytest.raises(ValueError, match="distinct order ids"):
        attrs.evolve(memento, pending=(("O1", YES, BUY), ("O1", NO, SELL)))


def test_a_leg_memento_keeps_every_digit_of_a_pro_rata_close() -> None:
    book = make_book()
    book.apply_fill(_fill(0, side=BUY, security_id=YES, variant=0))  # 3 @ 0.40
    book.apply_fill(_fill(5, side=BUY, security_id=YES, variant=0))  # 0.5 @ 0.999
    book.apply_fill(_fill(3, side=SELL, security_id=YES, variant=0))  # 1 of 3.5 closes
    leg = book.memento().legs[0]

    stored = decode(kind_of(leg), encode(leg))

    assert isinstance(stored, LegMemento)
    assert len(leg.cost.as_tuple().digits) > 28
    assert stored.cost.as_tuple() == leg.cost.as_tuple()
    assert stored.realized_pnl.as_tuple() == leg.realized_pnl.as_tuple()
