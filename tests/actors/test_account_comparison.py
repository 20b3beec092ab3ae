"""AccountComparison without actors: what a comparison with the broker corrects, and why."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.account_book import AccountBook
from actors.account_comparison import AccountComparison, Comparison
from actors.settlement_calendar import SettlementCalendar
from messages.broker import BrokerPosition, BrokerProfitLoss, BrokerSettlement
from messages.broker_events import CorrectionKind, DealBooked
from messages.enums import OrderSide
from messages.reconciliation import ComparePositions, PositionsCompared

pytestmark = pytest.mark.timeout(60)

D = Decimal
ACCOUNT = "acct"
_deals = iter(range(1, 10**9))


def deal(
    security_id: str = "A",
    size: str = "5",
    *,
    side: OrderSide = OrderSide.BUY,
    price: str = "2",
    recv_ns: int = 10,
    inferred: bool = False,
    account: str = ACCOUNT,
    match_ts: int | None = None,
    fee: str = "0",
) -> DealBooked:
    number = next(_deals)
    return DealBooked(
        fill_id=f"f{number}",
        order_no=f"n{number}",
        account=account,
        strategy="s",
        security_id=security_id,
        side=side,
        price=D(price),
        size=D(size),
        fee=D(fee),
        match_ts=number if match_ts is None else match_ts,
        recv_ns=recv_ns,
        inferred=inferred,
    )


def held(
    security_id: str, quantity: str, avg_price: str = "2", account: str = ACCOUNT
) -> BrokerPosition:
    return BrokerPosition(
        account=account, security_id=security_id, quantity=D(quantity), avg_price=D(avg_price)
    )


def compare(
    accounts: AccountComparison,
    *positions: BrokerPosition,
    since_ns: int = 100,
    security_ids: tuple[str, ...] = (),
    pending: tuple[str, ...] = (),
) -> Comparison:
    return accounts.compare(
        ComparePositions(
            account=ACCOUNT,
            positions=positions,
            since_ns=since_ns,
            reason="startup",
            security_ids=security_ids,
            pending=pending,
        )
    )


def apply(accounts: AccountComparison, comparison: Comparison) -> None:
    """What the journal does next: deliver each adjustment back to be booked."""
    for adjustment in comparison.adjustments:
        accounts.correct(adjustment.event)


def test_a_book_equal_to_the_broker_corrects_nothing() -> None:
    accounts = AccountComparison(AccountBook())
    accounts.book_deal(deal("A", "5"))
    comparison = compare(accounts, held("A", "5"))
    assert comparison.adjustments == ()
    assert comparison.answer == PositionsCompared(account=ACCOUNT, corrected=0, unsettled=())


def test_a_difference_no_deal_explains_is_an_adjustment_at_the_brokers_average_price() -> None:
    accounts = AccountComparison(AccountBook())
    accounts.book_deal(deal("A", "5"))
    (adjustment,) = compare(accounts, held("A", "8", avg_price="3")).adjustments
    assert (adjustment.event.quantity, adjustment.event.price) == (D(3), D(3))
    assert adjustment.event.reason == (
        "startup: the broker holds 8, the book 5, and no booked deal explains the difference"
    )
    record = adjustment.record
    assert (record.kind, record.subject, record.old, record.new) == (
        CorrectionKind.POSITION,
        "quantity",
        "5",
        "8",
    )
    assert adjustment.dedup_key == "corrected:acct:A:5:8:1"
    assert accounts.book.quantity(ACCOUNT, "A") == D(5), "booked only when journaled"


def test_an_adjustment_alerts_from_the_threshold_notional_on() -> None:
    accounts = AccountComparison(AccountBook(), alert_notional=D(10))
    below, at = compare(accounts, held("A", "4.5"), held("B", "-5")).adjustments
    assert (below.notional, below.alert) == (D(9), False)
    assert (at.notional, at.alert) == (D(10), True)


def test_a_security_with_a_deal_since_the_broker_was_asked_or_pending_is_unsettled() -> None:
    accounts = AccountComparison(AccountBook())
    accounts.book_deal(deal("A", "5", recv_ns=200))
    theirs = (held("A", "3"), held("B", "1"))
    comparison = compare(accounts, *theirs, since_ns=100, pending=("B",))
    assert comparison.adjustments == ()
    assert comparison.answer.unsettled == ("A", "B")


def test_a_position_the_broker_omits_is_closed_only_when_two_answers_in_a_row_omit_it() -> None:
    accounts = AccountComparison(AccountBook())
    accounts.book_deal(deal("A", "5", price="2"))
    first = compare(accounts)
    assert (first.adjustments, first.answer.unsettled) == ((), ("A",))
    (closing,) = compare(accounts).adjustments
    assert (closing.event.quantity, closing.event.price) == (D(-5), D(2))


def test_an_answer_that_lists_the_position_again_forgets_its_absence() -> None:
    accounts = AccountComparison(AccountBook())
    accounts.book_deal(deal("A", "5"))
    compare(accounts)
    assert compare(accounts, held("A", "5")).adjustments == ()
    assert compare(accounts).answer.unsettled == ("A",)


def test_only_the_named_securities_of_the_named_account_are_compared() -> None:
    accounts = AccountComparison(AccountBook())
    accounts.book_deal(deal("A", "5"))
    accounts.book_deal(deal("B", "5", account="other"))
    theirs = (held("A", "9"), held("C", "1"), held("B", "1", account="other"))
    (adjustment,) = compare(accounts, *theirs, security_ids=("C",)).adjustments
    assert adjustment.event.security_id == "C"


def test_a_deal_no_callback_brought_is_booked_and_recorded_as_a_missing_fill() -> None:
    accounts = AccountComparison(AccountBook())
    accounts.book_deal(deal("A", "5"))
    inferred = deal("A", "2", inferred=True)
    leg, correction = accounts.book_deal(inferred)
    assert leg.quantity == D(7)
    assert correction is not None
    assert (correction.kind, correction.subject, correction.old, correction.new) == (
        CorrectionKind.MISSING_FILL,
        f"deal {inferred.fill_id}",
        "5",
        "7",
    )
    assert accounts.book_deal(deal("A", "1"))[1] is None


_quantities = st.dictionaries(
    st.sampled_from(["A", "B", "C", "D"]),
    st.integers(min_value=-20, max_value=20).map(Decimal),
    max_size=4,
)


@settings(deadline=None, max_examples=200)
@given(ours=_quantities, theirs=_quantities)
def test_two_comparisons_with_their_adjustments_applied_leave_the_book_equal_to_the_broker(
    ours: dict[str, Decimal], theirs: dict[str, Decimal]
) -> None:
    accounts = AccountComparison(AccountBook())
    for security_id, quantity in ours.items():
        if quantity:
            side = OrderSide.BUY if quantity > 0 else OrderSide.SELL
            accounts.book_deal(deal(security_id, str(abs(quantity)), side=side))
    broker = [held(s, str(q)) for s, q in theirs.items() if q]
    for _ in range(2):
        apply(accounts, compare(accounts, *broker))
    assert accounts.book.quantities(ACCOUNT) == {b.security_id: b.quantity for b in broker}
    settled = compare(accounts, *broker)
    assert settled.answer == PositionsCompared(account=ACCOUNT, corrected=0, unsettled=())


def pnl(security_id: str, realized: str, account: str = ACCOUNT) -> BrokerProfitLoss:
    return BrokerProfitLoss(
        account=account,
        security_id=security_id,
        realized_pnl=D(realized),
        fee=D("0.5"),
        tax=D("1.5"),
    )


def compare_pnl(
    accounts: AccountComparison, *figures: BrokerProfitLoss, since_ns: int = 100
) -> Comparison:
    book = accounts.book
    positions = tuple(
        held(security_id, str(leg.quantity), str(leg.avg_open_price))
        for (_, security_id), leg in book.legs.items()
        if leg.quantity
    )
    return accounts.compare(
        ComparePositions(
            account=ACCOUNT,
            positions=positions,
            since_ns=since_ns,
            reason="startup",
            profit_loss=figures,
        )
    )


def test_realized_pnl_within_the_threshold_is_no_mismatch_and_beyond_it_is_one() -> None:
    accounts = AccountComparison(AccountBook(), pnl_alert=D(5))
    accounts.book_deal(deal("A", "10", price="2"))
    accounts.book_deal(deal("A", "10", side=OrderSide.SELL, price="3"))  # realized 10
    accounts.book_deal(deal("B", "4", price="1"))  # open, nothing realized
    assert compare_pnl(accounts, pnl("A", "15")).pnl_mismatches == ()
    [mismatch] = compare_pnl(accounts, pnl("A", "4"), pnl("B", "0")).pnl_mismatches
    assert (mismatch.security_id, mismatch.ours, mismatch.broker, mismatch.difference) == (
        "A",
        D(10),
        D(4),
        D(6),
    )
    assert (mismatch.fee, mismatch.tax) == (D("0.5"), D("1.5"))


def test_pnl_a_broker_lists_and_the_book_lacks_is_a_mismatch_too() -> None:
    accounts = AccountComparison(AccountBook(), pnl_alert=D(5))
    [mismatch] = compare_pnl(accounts, pnl("Z", "-50")).pnl_mismatches
    assert (mismatch.security_id, mismatch.ours, mismatch.difference) == ("Z", D(0), D(50))


def test_pnl_of_a_security_whose_deals_moved_during_the_query_is_not_compared() -> None:
    accounts = AccountComparison(AccountBook(), pnl_alert=D(5))
    accounts.book_deal(deal("A", "10", price="2", recv_ns=10))
    accounts.book_deal(deal("A", "10", side=OrderSide.SELL, price="3", recv_ns=500))
    assert compare_pnl(accounts, pnl("A", "0"), since_ns=100).pnl_mismatches == ()


def test_without_broker_figures_pnl_is_not_compared() -> None:
    accounts = AccountComparison(AccountBook(), pnl_alert=D(0))
    accounts.book_deal(deal("A", "10", price="2"))
    accounts.book_deal(deal("A", "10", side=OrderSide.SELL, price="3"))
    assert compare(accounts).pnl_mismatches == ()


def taipei(year: int, month: int, day: int, hour: int = 10) -> int:
    """A match time in nanoseconds: that day and hour in Taipei (UTC+8)."""
    at = datetime.datetime(year, month, day, hour - 8, tzinfo=datetime.UTC)
    return int(at.timestamp()) * 10**9


def settlement(date: str, amount: str, days: int = 2) -> BrokerSettlement:
    return BrokerSettlement(account=ACCOUNT, date=date, days=days, amount=D(amount))


def compare_settlements(
    accounts: AccountComparison, *figures: BrokerSettlement, since_ns: int = 100
) -> Comparison:
    return accounts.compare(
        ComparePositions(
            account=ACCOUNT,
            positions=(),
            since_ns=since_ns,
            reason="full sync",
            security_ids=("none",),
            settlements=figures,
        )
    )


def settling_accounts() -> AccountComparison:
    """Thursday 3 December 2026 (T+2: Monday the 7th) and Friday the 4th (Tuesday the 8th),
    at 0.1% fees; the 25th of December a holiday."""
    calendar = SettlementCalendar(holidays=frozenset({datetime.date(2026, 12, 25)}))
    accounts = AccountComparison(AccountBook(), calendar=calendar, settlement_alert=D(5))
    thursday, friday = taipei(2026, 12, 3), taipei(2026, 12, 4, 13)
    accounts.book_deal(deal("A", "1000", price="25.5", match_ts=thursday, fee="25.5"))
    accounts.book_deal(
        deal("A", "1000", side=OrderSide.SELL, price="26", match_ts=thursday, fee="26")
    )
    accounts.book_deal(deal("B", "100", price="10", match_ts=friday, fee="1"))
    return accounts


def test_the_cash_our_deals_settle_on_a_date_is_compared_with_the_brokers() -> None:
    accounts = settling_accounts()
    # Thursday: -25,525.5 + 25,974 = 448.5 on Monday; Friday: -1,001 on Tuesday.
    agreeing = (settlement("2026-12-07", "450", 0), settlement("2026-12-08", "-1001", 1))
    assert compare_settlements(accounts, *agreeing).settlement_mismatches == ()
    [mismatch] = compare_settlements(
        accounts, settlement("2026-12-07", "448.5"), settlement("2026-12-08", "-1020")
    ).settlement_mismatches
    assert (mismatch.date, mismatch.ours, mismatch.broker, mismatch.difference) == (
        "2026-12-08",
        D(-1001),
        D(-1020),
        D(19),
    )
    assert "over the threshold 5" in mismatch.reason


def test_a_date_settling_trades_before_the_books_first_deal_or_unreadable_is_not_compared() -> None:
    accounts = settling_accounts()
    figures = (
        settlement("2026-12-03", "-99999", 0),  # trades of Tuesday the 1st: before our first
        settlement("2026-12-04", "-99999", 1),  # Wednesday's
        settlement("T", "-99999", 0),  # the paper broker's own way of dating
    )
    assert compare_settlements(accounts, *figures).settlement_mismatches == ()


def test_settlements_are_not_compared_while_a_deal_moves_or_without_broker_figures() -> None:
    accounts = settling_accounts()
    accounts.book_deal(deal("B", "1", price="10", match_ts=taipei(2026, 12, 4), recv_ns=500))
    assert compare_settlements(accounts, settlement("2026-12-08", "0")).settlement_mismatches == ()
    assert compare(accounts, since_ns=1000).settlement_mismatches == ()
