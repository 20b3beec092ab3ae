"""AccountBook reversals without actors: a deal the broker took back leaves the account's leg
exactly as a book that never booked it, also through a memento (a snapshot and restart)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.account_book import AccountBook
from actors.position_accounting import Leg
from messages.broker_events import DealBooked, DealReversed, FeeBooked, PositionCorrected
from messages.enums import OrderSide
from messages.mementos import AccountLegMemento, LegMemento

pytestmark = pytest.mark.timeout(60)

D = Decimal
ACCOUNT = "acct"


def deal(
    number: int, security_id: str, signed: Decimal, price: Decimal, fee: Decimal
) -> DealBooked:
    return DealBooked(
        fill_id=f"B{number}:1:{number}",
        order_no=f"B{number}",
        account=ACCOUNT,
        strategy="s",
        security_id=security_id,
        side=OrderSide.BUY if signed > 0 else OrderSide.SELL,
        price=price,
        size=abs(signed),
        fee=fee,
        match_ts=number,
        recv_ns=number,
    )


def reversal(booked: DealBooked) -> DealReversed:
    return DealReversed(
        fill_id=booked.fill_id,
        order_no=booked.order_no,
        account=booked.account,
        security_id=booked.security_id,
        reason="trade t FAILED on chain after MATCHED",
        recv_ns=99,
    )


def numbers(leg: Leg | None) -> tuple[Decimal, ...]:
    """What a deal moves: quantity, cost, realized PnL, fees (a missing leg is flat)."""
    if leg is None:
        return (D(0),) * 4
    return (leg.quantity, leg.cost, leg.realized_pnl, leg.fees)


Entry = DealBooked | PositionCorrected

sizes = st.integers(min_value=-40, max_value=40).filter(bool).map(D)
prices = st.integers(min_value=1, max_value=99).map(lambda cents: D(cents) / 100)
fees = st.integers(min_value=0, max_value=30).map(lambda mills: D(mills) / 1000)
entries = st.lists(
    st.tuples(
        st.sampled_from(("A", "B")), sizes, prices, fees, st.sampled_from((False, False, True))
    ),
    min_size=1,
    max_size=25,
)


def built(plan: list[tuple[str, Decimal, Decimal, Decimal, bool]]) -> list[Entry]:
    """The plan as deals, some of them adjustments (a reconcile's corrections) instead."""
    out: list[Entry] = []
    for number, (security_id, signed, price, fee, corrected) in enumerate(plan):
        if corrected:
            out.append(
                PositionCorrected(
                    account=ACCOUNT, security_id=security_id, quantity=signed, price=price,
                    reason="reconciled",
                )
            )  # fmt: skip
        else:
            out.append(deal(number, security_id, signed, price, fee))
    return out


def book_of(history: list[Entry]) -> AccountBook:
    book = AccountBook()
    for entry in history:
        if isinstance(entry, DealBooked):
            book.book(entry)
        else:
            book.correct(entry)
    return book


@given(plan=entries, pick=st.integers(min_value=0), restart=st.booleans())
def test_a_reversed_deal_leaves_its_leg_as_a_book_that_never_booked_it(
    plan: list[tuple[str, Decimal, Decimal, Decimal, bool]], pick: int, restart: bool
) -> None:
    history = built(plan)
    deals = [entry for entry in history if isinstance(entry, DealBooked)]
    if not deals:
        return
    gone = deals[pick % len(deals)]
    book = book_of(history)
    if restart:
        book = AccountBook.from_memento(book.memento(), book.deals)

    leg = book.reverse(reversal(gone))

    never = book_of([entry for entry in history if entry is not gone])
    assert leg is not None
    for security_id in ("A", "B"):
        key = (ACCOUNT, security_id)
        assert numbers(book.legs.get(key)) == numbers(never.legs.get(key)), security_id
    assert book.reverse(reversal(gone)) is None  # once: a repeat changes nothing
    assert book.memento() == AccountBook.from_memento(book.memento()).memento()


def test_a_reversal_of_a_deal_the_book_never_booked_changes_nothing() -> None:
    book = book_of([deal(1, "A", D(5), D("0.40"), D("0.01"))])
    before = book.memento()

    assert book.reverse(reversal(deal(2, "A", D(5), D("0.40"), D(0)))) is None
    assert book.memento() == before


def test_a_leg_from_a_snapshot_without_entries_is_left_for_the_reconcile() -> None:
    old = AccountLegMemento(
        account=ACCOUNT,
        leg=LegMemento(
            security_id="A", quantity=D(5), cost=D(2), realized_pnl=D(0), fees=D(0), mark=None
        ),
    )
    book = AccountBook.from_memento((old,))
    later = deal(7, "A", D(5), D("0.50"), D(0))
    book.book(later)

    assert book.reverse(reversal(later)) is None  # no history: nothing recomputed wrongly
    assert numbers(book.legs[(ACCOUNT, "A")]) == (D(10), D("4.50"), D(0), D(0))
    assert book.memento()[0].entries == ()


def test_the_brokers_charge_for_a_deal_stays_when_another_deal_is_reversed() -> None:
    kept, gone = deal(1, "A", D(5), D("0.40"), D("0.01")), deal(2, "A", D(3), D("0.45"), D(0))
    book = book_of([kept, gone])
    charge = FeeBooked(
        fill_id=kept.fill_id,
        order_no=kept.order_no,
        account=ACCOUNT,
        security_id="A",
        booked_fee=D("0.01"),
        fee=D("0.02"),
        tax=D("0.005"),
    )
    book.charge(charge)

    leg = book.reverse(reversal(gone))

    assert leg is not None
    assert (leg.quantity, leg.fees) == (D(5), D("0.025"))
