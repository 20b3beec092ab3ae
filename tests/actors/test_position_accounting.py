"""Netting, settlement, deduplication and pending flags of ``actors.position_accounting``."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from actors.fill_outcome import APPLIED, DUPLICATE, FillResult
from actors.position_accounting import Leg, PositionBook
from messages.enums import OrderSide, OrderStatus, Outcome, PositionStatus
from messages.fills import Fill, FillReversed
from messages.market_data import BookLevel, InstrumentBook, MarketSnapshot
from messages.mementos import OrderMemento, ReversedFill
from messages.orders import FillRefusal

MARKET = "market-1"
YES = "yes-token"
NO = "no-token"
BUY = OrderSide.BUY
SELL = OrderSide.SELL

_fill_ids = itertools.count()


def make_fill(
    side: OrderSide,
    size: str | int | Decimal,
    price: str | Decimal,
    *,
    fee: str = "0",
    security_id: str = YES,
    market_id: str = MARKET,
    fill_id: str | None = None,
    ts_init: int | None = None,
) -> Fill:
    extra = {} if ts_init is None else {"ts_init": ts_init}
    return Fill(
        fill_id=fill_id if fill_id is not None else f"fill-{next(_fill_ids)}",
        ts_event=1,
        order_id="order-1",
        market_id=market_id,
        security_id=security_id,
        side=side,
        price=Decimal(price),
        size=Decimal(size),
        fee=Decimal(fee),
        **extra,
    )


def make_book() -> PositionBook:
    return PositionBook(
        position_id="position-1",
        market_id=MARKET,
        account="paper",
        strategy="default",
        security_ids=(YES, NO),
    )


def make_instrument_book(
    security_id: str, bid: str | None, ask: str | None, outcome: Outcome = Outcome.YES
) -> InstrumentBook:
    return InstrumentBook(
        security_id=security_id,
        outcome=outcome,
        bids=() if bid is None else (BookLevel(price=Decimal(bid), size=Decimal(10)),),
        asks=() if ask is None else (BookLevel(price=Decimal(ask), size=Decimal(10)),),
        synced=True,
        sequence=1,
    )


def make_market_snapshot(*books: InstrumentBook) -> MarketSnapshot:
    return MarketSnapshot(ts_event=1, market_id=MARKET, version=1, books=books)


def applied_leg(*fills: Fill, security_id: str = YES) -> Leg:
    leg = Leg(security_id)
    for fill in fills:
        leg.apply(fill)
    return leg


def cash_flow(fills: Iterable[Fill]) -> Decimal:
    """Cash in minus cash out over the fills, before fees: the PnL a flat leg must realize."""
    return sum((-fill.signed_size * fill.price for fill in fills), Decimal(0))


def book_state(book: PositionBook) -> tuple[object, ...]:
    """What a refusal must not change (a snapshot's own id and clock always differ)."""
    snapshot = book.snapshot()
    return snapshot.status, snapshot.version, snapshot.legs


# --- netting -------------------------------------------------------------------------------


def test_opening_buy_sets_quantity_and_cost_at_fill_price() -> None:
    leg = applied_leg(make_fill(BUY, 10, "0.40"))

    assert leg.quantity == Decimal(10)
    assert leg.cost == Decimal("4.00")
    assert leg.avg_open_price == Decimal("0.4")
    assert leg.realized_pnl == 0


def test_adding_to_a_long_averages_the_open_price() -> None:
    leg = applied_leg(make_fill(BUY, 10, "0.40"), make_fill(BUY, 30, "0.60"))

    assert leg.quantity == Decimal(40)
    assert leg.cost == Decimal("22.00")
    assert leg.avg_open_price == Decimal("0.55")
    assert leg.realized_pnl == 0


def test_partial_close_realizes_pnl_against_the_average_cost() -> None:
    leg = applied_leg(
        make_fill(BUY, 10, "0.40"), make_fill(BUY, 30, "0.60"), make_fill(SELL, 8, "0.70")
    )

    assert leg.quantity == Decimal(32)
    assert leg.cost == Decimal("17.60")
    assert leg.realized_pnl == Decimal("1.20")
    assert leg.avg_open_price == Decimal("0.55")


def test_closing_to_flat_leaves_cost_exactly_zero() -> None:
    leg = applied_leg(
        make_fill(BUY, 1, "0.5"),
        make_fill(BUY, 2, "0.6"),
        make_fill(SELL, 1, "0.7"),
        make_fill(SELL, 2, "0.3"),
    )

    assert leg.quantity == 0
    assert leg.cost == 0
    assert leg.avg_open_price == 0
    assert leg.realized_pnl == Decimal("-0.4")


def test_pro_rata_rounding_leaves_cash_conserved_to_the_last_digit() -> None:
    fills = (make_fill(BUY, 1, "0.5"), make_fill(BUY, 2, "0.6"), make_fill(SELL, 1, "0.7"))
    leg = applied_leg(*fills)
    leg.mark = Decimal("0.45")

    assert leg.realized_pnl == Decimal("0.7") - Decimal("1.7") / 3
    assert leg.realized_pnl - leg.cost == cash_flow(fills)
    assert leg.realized_pnl + leg.unrealized_pnl == cash_flow(fills) + 2 * Decimal("0.45")


def test_short_open_has_negative_cost_and_buying_back_realizes_pnl() -> None:
    leg = applied_leg(make_fill(SELL, 10, "0.70"))

    assert leg.quantity == Decimal(-10)
    assert leg.cost == Decimal("-7.00")
    assert leg.avg_open_price == Decimal("0.7")

    leg.apply(make_fill(BUY, 4, "0.50"))

    assert leg.quantity == Decimal(-6)
    assert leg.cost == Decimal("-4.20")
    assert leg.realized_pnl == Decimal("0.80")

    leg.apply(make_fill(BUY, 6, "0.90"))

    assert leg.quantity == 0
    assert leg.cost == 0
    assert leg.realized_pnl == Decimal("-0.40")


def test_flip_through_zero_closes_then_opens_at_fill_price() -> None:
    leg = applied_leg(make_fill(BUY, 10, "0.40"), make_fill(SELL, 25, "0.60"))

    assert leg.quantity == Decimal(-15)
    assert leg.cost == Decimal("-9.00")
    assert leg.avg_open_price == Decimal("0.6")
    assert leg.realized_pnl == Decimal("2.00")


def test_fees_are_kept_apart_from_realized_pnl() -> None:
    leg = applied_leg(
        make_fill(BUY, 10, "0.40", fee="0.02"), make_fill(SELL, 10, "0.50", fee="0.03")
    )
    snapshot = leg.snapshot(pending_buy=False, pending_sell=False)

    assert leg.realized_pnl == Decimal("1.00")
    assert leg.fees == Decimal("0.05")
    assert snapshot.realized_pnl_net == Decimal("0.95")


def test_unrealized_pnl_is_zero_until_the_leg_is_marked() -> None:
    leg = applied_leg(make_fill(BUY, 10, "0.40"))

    assert leg.unrealized_pnl == 0

    leg.mark = Decimal("0.55")

    assert leg.unrealized_pnl == Decimal("1.50")


def test_leg_refuses_to_apply_another_instruments_fill() -> None:
    leg = Leg(YES)

    with pytest.raises(ValueError, match=NO):
        leg.apply(make_fill(BUY, 1, "0.5", security_id=NO))
    assert leg.quantity == 0
    assert leg.fees == 0


# --- settlement ----------------------------------------------------------------------------


def test_settlement_pays_the_winner_at_payout_and_the_loser_at_zero() -> None:
    book = make_book()
    book.apply_fill(make_fill(BUY, 10, "0.40", security_id=YES))
    book.apply_fill(make_fill(BUY, 5, "0.55", security_id=NO))
    version = book.version

    book.settle(YES, Decimal(1))

    yes, no = book.leg(YES), book.leg(NO)
    assert book.status is PositionStatus.SETTLED
    assert book.version == version + 1
    assert (yes.quantity, yes.cost, yes.mark) == (0, 0, Decimal(1))
    assert yes.realized_pnl == Decimal("6.00")
    assert (no.quantity, no.cost, no.mark) == (0, 0, Decimal(0))
    assert no.realized_pnl == Decimal("-2.75")
    assert book.snapshot().unrealized_pnl == 0


def test_settlement_closes_a_short_leg_at_its_price() -> None:
    book = make_book()
    book.apply_fill(make_fill(SELL, 10, "0.30", security_id=NO))

    book.settle(YES, Decimal(1))

    assert book.leg(NO).quantity == 0
    assert book.leg(NO).realized_pnl == Decimal("3.00")


def test_settled_book_refuses_fills_and_stays_unchanged() -> None:
    book = make_book()
    book.apply_fill(make_fill(BUY, 10, "0.40"))
    book.settle(YES, Decimal(1))
    before = book_state(book)

    outcome = book.apply_fill(make_fill(BUY, 1, "0.40"))

    assert outcome.result is FillResult.REFUSED
    assert outcome.refusal is FillRefusal.POSITION_SETTLED
    assert book_state(book) == before


def test_settling_twice_is_a_no_op() -> None:
    book = make_book()
    book.apply_fill(make_fill(BUY, 10, "0.40"))
    book.settle(YES, Decimal(1))
    before = book_state(book)

    book.settle(NO, Decimal(1))

    assert book_state(book) == before


def test_settling_with_an_unknown_winner_raises_and_changes_nothing() -> None:
    book = make_book()
    book.apply_fill(make_fill(BUY, 10, "0.40"))
    before = book_state(book)

    with pytest.raises(ValueError, match="other-token"):
        book.settle("other-token", Decimal(1))
    assert book_state(book) == before


def test_settlement_clears_pending_orders() -> None:
    book = make_book()
    book.mark_pending("order-1", YES, BUY)

    book.settle(YES, Decimal(1))

    assert not book.is_pending(YES, BUY)
    assert not book.snapshot().leg(YES).pending_buy


# --- fill deduplication and refusals --------------------------------------------------------


def test_applied_fill_bumps_version_by_one() -> None:
    book = make_book()

    outcome = book.apply_fill(make_fill(BUY, 10, "0.40"))

    assert outcome == APPLIED
    assert book.version == 1


def test_duplicate_fill_is_a_no_op_and_version_unchanged() -> None:
    book = make_book()
    book.apply_fill(make_fill(BUY, 10, "0.40", fill_id="f1", ts_init=1))
    before = book_state(book)

    outcome = book.apply_fill(make_fill(BUY, 10, "0.40", fill_id="f1", ts_init=2))

    assert outcome == DUPLICATE
    assert book_state(book) == before


def test_conflicting_duplicate_is_refused_and_changes_nothing() -> None:
    book = make_book()
    book.apply_fill(make_fill(BUY, 10, "0.40", fill_id="f1"))
    before = book_state(book)

    outcome = book.apply_fill(make_fill(BUY, 11, "0.40", fill_id="f1"))

    assert outcome.result is FillResult.REFUSED
    assert outcome.refusal is FillRefusal.CONFLICTING_DUPLICATE
    assert "f1" in outcome.detail
    assert book_state(book) == before


def test_redelivered_fill_after_settlement_is_a_duplicate_not_a_refusal() -> None:
    book = make_book()
    book.apply_fill(make_fill(BUY, 10, "0.40", fill_id="f1"))
    book.settle(YES, Decimal(1))

    assert book.apply_fill(make_fill(BUY, 10, "0.40", fill_id="f1")) == DUPLICATE


@pytest.mark.parametrize(
    ("market_id", "security_id", "named"),
    [("market-2", YES, "market-2"), (MARKET, "other-token", "other-token")],
    ids=["other market", "other security"],
)
def test_fill_for_another_market_or_security_is_refused_as_mismatched(
    market_id: str, security_id: str, named: str
) -> None:
    book = make_book()
    before = book_state(book)

    outcome = book.apply_fill(
        make_fill(BUY, 10, "0.40", market_id=market_id, security_id=security_id)
    )

    assert outcome.result is FillResult.REFUSED
    assert outcome.refusal is FillRefusal.MISMATCHED_ORDER
    assert named in outcome.detail
    assert book_state(book) == before


# --- pending orders ------------------------------------------------------------------------


def test_pending_flags_are_set_per_leg_and_side_and_cleared() -> None:
    book = make_book()

    book.mark_pending("order-1", YES, BUY)

    assert book.is_pending(YES, BUY)
    assert not book.is_pending(YES, SELL)
    assert not book.is_pending(NO, BUY)
    leg = book.snapshot().leg(YES)
    assert (leg.pending_buy, leg.pending_sell) == (True, False)
    assert book.version == 1

    book.clear_pending("order-1")

    assert not book.is_pending(YES, BUY)
    assert not book.snapshot().leg(YES).pending_buy
    assert book.version == 2


def test_side_stays_pending_while_another_order_works_it() -> None:
    book = make_book()
    book.mark_pending("order-1", NO, SELL)
    book.mark_pending("order-2", NO, SELL)

    book.clear_pending("order-1")

    assert book.is_pending(NO, SELL)
    assert book.snapshot().leg(NO).pending_sell


def test_clearing_an_unknown_order_is_a_no_op_without_version_bump() -> None:
    book = make_book()
    book.mark_pending("order-1", YES, BUY)

    book.clear_pending("order-9")

    assert book.is_pending(YES, BUY)
    assert book.version == 1


def test_marking_the_same_order_pending_again_does_not_bump_version() -> None:
    book = make_book()
    book.mark_pending("order-1", YES, BUY)

    book.mark_pending("order-1", YES, BUY)

    assert book.version == 1


def test_marking_an_order_pending_on_an_unknown_security_raises() -> None:
    book = make_book()

    with pytest.raises(KeyError):
        book.mark_pending("order-1", "other-token", BUY)
    assert book.version == 0


# --- marks ---------------------------------------------------------------------------------


def test_set_marks_marks_each_leg_at_its_books_mid() -> None:
    book = make_book()
    book.apply_fill(make_fill(BUY, 10, "0.40", security_id=YES))
    snapshot = make_market_snapshot(
        make_instrument_book(YES, "0.50", "0.52"),
        make_instrument_book(NO, "0.47", "0.50", Outcome.NO),
    )

    assert book.set_marks(snapshot)

    assert book.leg(YES).mark == Decimal("0.51")
    assert book.leg(NO).mark == Decimal("0.485")
    assert book.snapshot().leg(YES).unrealized_pnl == Decimal("1.10")
    assert book.version == 2


def test_set_marks_keeps_the_mark_of_a_book_without_a_mid() -> None:
    book = make_book()
    book.set_marks(make_market_snapshot(make_instrument_book(YES, "0.50", "0.52")))

    changed = book.set_marks(make_market_snapshot(make_instrument_book(YES, "0.50", None)))

    assert not changed
    assert book.leg(YES).mark == Decimal("0.51")
    assert book.version == 1


def test_set_marks_ignores_books_of_other_securities() -> None:
    book = make_book()

    changed = book.set_marks(make_market_snapshot(make_instrument_book("other", "0.1", "0.2")))

    assert not changed
    assert (book.leg(YES).mark, book.leg(NO).mark) == (None, None)
    assert book.version == 0


def test_set_marks_with_unchanged_mids_reports_no_change() -> None:
    book = make_book()
    snapshot = make_market_snapshot(make_instrument_book(YES, "0.50", "0.52"))
    book.set_marks(snapshot)

    assert not book.set_marks(snapshot)
    assert book.version == 1


def test_set_marks_after_settlement_keeps_the_settlement_marks() -> None:
    book = make_book()
    book.settle(YES, Decimal(1))
    before = book_state(book)

    changed = book.set_marks(make_market_snapshot(make_instrument_book(YES, "0.50", "0.52")))

    assert not changed
    assert book_state(book) == before


# --- snapshot and construction -------------------------------------------------------------


def test_snapshot_lists_legs_in_security_ids_order_with_identity_fields() -> None:
    book = PositionBook(
        position_id="position-7",
        market_id=MARKET,
        account="live",
        strategy="arb",
        security_ids=(NO, YES),
    )
    book.apply_fill(make_fill(BUY, 3, "0.25", security_id=YES))

    snapshot = book.snapshot()

    assert [leg.security_id for leg in snapshot.legs] == [NO, YES]
    assert (snapshot.position_id, snapshot.market_id) == ("position-7", MARKET)
    assert (snapshot.account, snapshot.strategy) == ("live", "arb")
    assert (snapshot.status, snapshot.version) == (PositionStatus.OPEN, 1)
    assert snapshot.leg(YES).quantity == Decimal(3)


@pytest.mark.parametrize("security_ids", [(), (YES, YES)], ids=["empty", "repeated"])
def test_book_needs_distinct_security_ids(security_ids: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="distinct"):
        PositionBook(
            position_id="position-1",
            market_id=MARKET,
            account="paper",
            strategy="default",
            security_ids=security_ids,
        )


# --- properties ----------------------------------------------------------------------------

prices = st.integers(min_value=1, max_value=999).map(lambda ticks: Decimal(ticks).scaleb(-3))
sizes = st.integers(min_value=1, max_value=500).map(Decimal)
fees = st.integers(min_value=0, max_value=50).map(lambda ticks: Decimal(ticks).scaleb(-4))
fill_specs = st.tuples(st.sampled_from(OrderSide), sizes, prices, fees)
fill_sequences = st.lists(fill_specs, min_size=1, max_size=40)
settlement_prices = st.sampled_from([Decimal(0), Decimal(1)]) | prices

FillSpec = tuple[OrderSide, Decimal, Decimal, Decimal]
"""Side, size, price and fee of one generated fill."""

properties = settings(deadline=None, max_examples=100)


def fills_from(specs: Iterable[FillSpec], security_id: str = YES) -> list[Fill]:
    return [
        Fill(
            fill_id=f"{security_id}-{index}",
            ts_event=index,
            order_id=f"order-{index}",
            market_id=MARKET,
            security_id=security_id,
            side=side,
            price=price,
            size=size,
            fee=fee,
        )
        for index, (side, size, price, fee) in enumerate(specs)
    ]


@properties
@given(fill_sequences)
def test_quantity_is_the_signed_sum_of_fills(specs: list[FillSpec]) -> None:
    fills = fills_from(specs)

    leg = applied_leg(*fills)

    assert leg.quantity == sum((fill.signed_size for fill in fills), Decimal(0))


@properties
@given(fill_sequences, prices)
def test_realized_plus_unrealized_equals_cash_flow_pnl_exactly(
    specs: list[FillSpec], mark: Decimal
) -> None:
    fills = fills_from(specs)
    leg = applied_leg(*fills)

    leg.mark = mark

    assert leg.realized_pnl + leg.unrealized_pnl == cash_flow(fills) + leg.quantity * mark
    if leg.quantity == 0:
        assert leg.cost == 0


@properties
@given(fill_sequences, sizes, prices)
def test_flip_fill_equals_closing_to_flat_then_opening_the_rest(
    specs: list[FillSpec], extra: Decimal, price: Decimal
) -> None:
    history = fills_from(specs)
    flipped, split = applied_leg(*history), applied_leg(*history)
    held = flipped.quantity
    assume(held != 0)
    side = SELL if held > 0 else BUY

    flipped.apply(make_fill(side, abs(held) + extra, price))
    split.apply(make_fill(side, abs(held), price))
    split.apply(make_fill(side, extra, price))

    assert (flipped.quantity, flipped.cost, flipped.realized_pnl) == (
        split.quantity,
        split.cost,
        split.realized_pnl,
    )


@properties
@given(fill_sequences)
def test_net_realized_pnl_is_gross_minus_every_fee(specs: list[FillSpec]) -> None:
    fills = fills_from(specs)
    leg = applied_leg(*fills)
    paid = sum((fill.fee for fill in fills), Decimal(0))

    snapshot = leg.snapshot(pending_buy=False, pending_sell=False)

    assert snapshot.fees == paid
    assert snapshot.realized_pnl_net == leg.realized_pnl - paid


@properties
@given(fill_sequences, fill_sequences, st.sampled_from([YES, NO]), settlement_prices)
def test_settlement_realizes_the_cash_flow_pnl_at_the_settlement_price(
    yes_specs: list[FillSpec][FillSpec],
    no_specs: list[FillSpec][FillSpec],
    winner: str,
    payout: Decimal,
) -> None:
    book = make_book()
    fills = {YES: fills_from(yes_specs, YES), NO: fills_from(no_specs, NO)}
    for fill in fills[YES] + fills[NO]:
        book.apply_fill(fill)
    held = {security_id: book.leg(security_id).quantity for security_id in fills}

    book.settle(winner, payout)

    for security_id, leg_fills in fills.items():
        leg = book.leg(security_id)
        price = payout if security_id == winner else Decimal(0)
        assert (leg.quantity, leg.cost, leg.mark) == (0, 0, price)
        assert leg.realized_pnl == cash_flow(leg_fills) + held[security_id] * price


@properties
@given(fill_sequences)
def test_redelivering_every_fill_changes_nothing(specs: list[FillSpec]) -> None:
    book = make_book()
    fills = fills_from(specs)
    for fill in fills:
        assert book.apply_fill(fill) == APPLIED
    before = book_state(book)

    outcomes = [book.apply_fill(fill) for fill in fills]

    assert outcomes == [DUPLICATE] * len(fills)
    assert book_state(book) == before
    assert book.version == len(fills)


def test_a_position_carries_an_order_once_it_holds_each_fill_and_reversal_and_no_pending() -> None:
    book = make_book()
    kept, taken_back = make_fill(BUY, 2, "0.40"), make_fill(BUY, 1, "0.40")
    reversal = FillReversed(
        fill_id=taken_back.fill_id,
        ts_event=2,
        order_id="order-1",
        market_id=MARKET,
        security_id=YES,
        reason="failed on chain",
    )
    order = OrderMemento(
        order_id="order-1",
        correlation_id="s1",
        market_id=MARKET,
        security_id=YES,
        account="paper",
        strategy="default",
        side=BUY,
        price=Decimal("0.40"),
        size=Decimal(2),
        status=OrderStatus.FILLED,
        filled=Decimal(2),
        fees=Decimal(0),
        notional=Decimal("0.80"),
        accepted=True,
        version=4,
        fills=(kept,),
        reversed=(ReversedFill(fill=taken_back, reversal=reversal),),
        reopened=1,
    )
    book.mark_pending("order-1", YES, BUY)
    book.apply_fill(kept)
    book.apply_fill(taken_back)
    book.apply_reversal(reversal)
    assert not book.carries(order)  # its close never cleared the side
    book.clear_pending("order-1")
    assert book.carries(order)
    assert not make_book().carries(order)  # none of its fills came
    unreversed = make_book()
    unreversed.apply_fill(kept)
    unreversed.apply_fill(taken_back)
    assert not unreversed.carries(order)  # the reversal never came


def test_a_snapshot_rebuilds_only_the_legs_that_changed_and_equals_a_fresh_one() -> None:
    book = make_book()
    book.apply_fill(make_fill(BUY, 10, "0.40", security_id=YES))
    before = book.snapshot()
    book.apply_fill(make_fill(BUY, 5, "0.55", security_id=NO))
    after = book.snapshot()
    assert after.legs[0] is before.legs[0]  # YES did not change: the same snapshot
    assert after.legs[1] is not before.legs[1]
    fresh = [
        Leg.from_memento(leg).snapshot(pending_buy=False, pending_sell=False)
        for leg in book.memento().legs
    ]
    assert list(after.legs) == fresh
    assert [leg.quantity for leg in after.legs] == [Decimal(10), Decimal(5)]
