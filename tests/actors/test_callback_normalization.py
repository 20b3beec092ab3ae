"""``actors.callback_normalization``: the normalizer's rules, with no threads and no actors.

Each call returns the decisions the NormalizerActor would carry out; the tests read them.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actors.callback_normalization import EXTERNAL_STRATEGY, CallbackNormalizer
from actors.normalization_decisions import (
    DEAL_CALLBACK,
    AppendAccountEvent,
    AppendDeal,
    AppendFee,
    AppendReversedDeal,
    AskReconcile,
    Decision,
    Note,
    Publish,
    RecordCorrection,
    Refuse,
    Reply,
    SendOn,
)
from messages.broker import (
    BrokerDealCharge,
    BrokerFill,
    BrokerOrder,
    BrokerOrderStatus,
    RawDealEvent,
    RawDealReversal,
    RawOrderEvent,
)
from messages.broker_events import (
    CallbackQuarantined,
    CorrectionKind,
    OpenOrderAdopted,
    OpenOrderClosed,
    OrderRouted,
)
from messages.enums import OrderSide
from messages.fills import Fill, FillCharged, FillReversed
from messages.journal_protocol import Forward
from messages.orders import FillRefusal, OrderAccepted, OrderCancelled
from messages.reconciliation import (
    BookInferred,
    ComparePositions,
    OpenOrdersSeen,
    OrderTruth,
    ReconcileRequest,
)

ACCOUNT = "acct-1"
SECOND = 1_000_000_000


class FakeClock:
    """Nanoseconds that move only when the test says so."""

    def __init__(self, now: int = 1_000 * SECOND) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * SECOND)


def routed(order_no: str = "B1", order_id: str = "o1", security_id: str = "yes") -> OrderRouted:
    return OrderRouted(
        order_id=order_id,
        order_no=order_no,
        account=ACCOUNT,
        strategy="arb",
        market_id="m1",
        security_id=security_id,
        side=OrderSide.BUY,
    )


def deal(
    order_no: str = "B1",
    seq_no: int = 1,
    *,
    size: str = "10",
    price: str = "0.50",
    security_id: str = "yes",
    recv_ns: int = 5,
) -> RawDealEvent:
    return RawDealEvent(
        order_no=order_no,
        seq_no=seq_no,
        match_ts=100 + seq_no,
        security_id=security_id,
        side=OrderSide.BUY,
        price=Decimal(price),
        size=Decimal(size),
        recv_ns=recv_ns,
    )


def listed(
    order_no: str = "B1",
    seq_no: int = 1,
    *,
    size: str = "10",
    security_id: str = "yes",
    client_order_id: str | None = None,
) -> BrokerFill:
    return BrokerFill(
        order_no=order_no,
        seq_no=seq_no,
        match_ts=100 + seq_no,
        account=ACCOUNT,
        security_id=security_id,
        side=OrderSide.BUY,
        price=Decimal("0.50"),
        size=Decimal(size),
        client_order_id=client_order_id,
    )


def order_event(
    status: BrokerOrderStatus, order_no: str = "B1", seq_no: int = 1, reason: str = ""
) -> RawOrderEvent:
    return RawOrderEvent(
        order_no=order_no, seq_no=seq_no, status=status, broker_ts_ns=7, recv_ns=5, reason=reason
    )


def broker_order(
    order_no: str = "X1",
    *,
    status: BrokerOrderStatus = BrokerOrderStatus.SUBMITTED,
    client_order_id: str | None = None,
) -> BrokerOrder:
    return BrokerOrder(
        order_no=order_no,
        account=ACCOUNT,
        security_id="yes",
        side=OrderSide.SELL,
        price=Decimal("0.60"),
        size=Decimal(5),
        filled=Decimal(1),
        status=status,
        client_order_id=client_order_id,
    )


def normalizer(**kwargs: Any) -> CallbackNormalizer:
    kwargs.setdefault("clock", FakeClock())
    return CallbackNormalizer(**kwargs)


def booked(decisions: Iterable[Decision]) -> list[AppendDeal]:
    return [d for d in decisions if isinstance(d, AppendDeal)]


def fills(decisions: Iterable[Decision]) -> list[Fill]:
    return [d.report for d in decisions if isinstance(d, Publish) and isinstance(d.report, Fill)]


def notes(decisions: Iterable[Decision]) -> list[str]:
    return [d.event for d in decisions if isinstance(d, Note)]


def asked(decisions: Iterable[Decision]) -> list[ReconcileRequest]:
    return [d.request for d in decisions if isinstance(d, AskReconcile)]


# -- booking -------------------------------------------------------------------------------


def test_a_deal_of_our_order_is_journaled_with_its_fee_published_and_triggers_a_sync() -> None:
    core = normalizer(routed=(routed(),), open_order_ids=frozenset({"o1"}))
    decisions = core.callback(deal())
    [append, publish, sync] = decisions
    assert isinstance(append, AppendDeal)
    assert append.booked.fill_id == "B1:1:101"
    assert append.booked.order_id == "o1"
    assert append.booked.strategy == "arb"
    assert append.booked.fee == Decimal("0.001") * Decimal("0.50") * 10
    assert not append.booked.inferred
    assert isinstance(publish, Publish)
    assert isinstance(publish.report, Fill)
    assert publish.report.fill_id == "B1:1:101"
    assert publish.report.order_id == "o1"
    assert publish.report.fee == append.booked.fee
    assert sync == DEAL_CALLBACK
    assert core.stats().deals == 1


def charge(seq_no: int = 1, *, size: str = "10", fee: str = "0.02") -> BrokerDealCharge:
    return BrokerDealCharge(
        order_no="B1",
        seq_no=seq_no,
        match_ts=100 + seq_no,
        account=ACCOUNT,
        security_id="yes",
        price=Decimal("0.50"),
        size=Decimal(size),
        fee=Decimal(fee),
        tax=Decimal("0.01"),
    )


def charged(core: CallbackNormalizer, *charges: BrokerDealCharge) -> list[Decision]:
    return core.book_inferred(BookInferred(fills=(), reason="r", recv_ns=9, charges=charges))


def test_the_broker_s_charge_for_a_booked_deal_replaces_its_fee_once() -> None:
    core = normalizer(routed=(routed(),), open_order_ids=frozenset({"o1"}))
    core.callback(deal())
    [append, publish] = charged(core, charge(), charge())
    assert isinstance(append, AppendFee)
    assert isinstance(publish, Publish)
    assert publish.report == FillCharged(
        fill_id="B1:1:101",
        order_id="o1",
        market_id="m1",
        security_id="yes",
        booked_fee=Decimal("0.00500"),
        fee=Decimal("0.02"),
        tax=Decimal("0.01"),
    )
    fee = append.booked
    assert (fee.fill_id, fee.account, fee.security_id) == ("B1:1:101", ACCOUNT, "yes")
    assert (fee.booked_fee, fee.fee, fee.tax, fee.change) == (
        Decimal("0.00500"),
        Decimal("0.02"),
        Decimal("0.01"),
        Decimal("0.02500"),
    )
    assert charged(core, charge()) == []


def test_a_charge_for_a_deal_not_booked_or_in_other_terms_waits_for_a_later_reconcile() -> None:
    core = normalizer(routed=(routed(),), open_order_ids=frozenset({"o1"}))
    assert notes(charged(core, charge())) == ["deal_charge_unmatched"]
    core.callback(deal())
    assert notes(charged(core, charge(size="9"))) == ["deal_charge_unmatched"]
    assert [type(d) for d in charged(core, charge())] == [AppendFee, Publish]


def test_a_charge_for_an_outside_order_s_deal_is_for_the_account_book_only() -> None:
    core = normalizer()
    core.book_inferred(BookInferred(fills=(listed(),), reason="r", recv_ns=9))
    assert [type(d) for d in charged(core, charge())] == [AppendFee]


def test_a_repeated_callback_is_dropped_counted_and_logged() -> None:
    core = normalizer(routed=(routed(),))
    core.callback(deal())
    decisions = core.callback(deal())
    assert notes(decisions) == ["duplicate_callback_dropped"]
    assert booked(decisions) == []
    assert core.stats().duplicates == 1
    assert core.stats().deals == 1


def reversal(order_no: str = "B1", seq_no: int = 1) -> RawDealReversal:
    return RawDealReversal(
        order_no=order_no,
        seq_no=seq_no,
        match_ts=100 + seq_no,
        reason="trade t1 FAILED on chain after MATCHED",
        recv_ns=9,
    )


def test_a_reversal_of_our_deal_is_published_once_and_a_repeat_is_refused_and_counted() -> None:
    core = normalizer(routed=(routed(),))
    core.callback(deal())
    core.callback(order_event(BrokerOrderStatus.FILLED))
    decisions = core.reversal(reversal())
    [published] = [d.report for d in decisions if isinstance(d, Publish)]
    assert published == FillReversed(
        fill_id="B1:1:101",
        ts_event=9,
        order_id="o1",
        market_id="m1",
        security_id="yes",
        reason="trade t1 FAILED on chain after MATCHED",
    )
    assert notes(decisions) == ["deal_reversed"]
    assert core.intents["B1"].open  # reconciliation follows it again
    [ask] = [d.request for d in decisions if isinstance(d, AskReconcile)]
    assert (ask.order_nos, ask.reason) == (("B1",), "trade t1 FAILED on chain after MATCHED")
    [account] = [d.reversed for d in decisions if isinstance(d, AppendReversedDeal)]
    assert (account.fill_id, account.account, account.security_id) == ("B1:1:101", ACCOUNT, "yes")

    again = core.reversal(reversal())
    [refused] = [d.refusal for d in again if isinstance(d, Refuse)]
    assert (refused.reason, refused.reversal) == (FillRefusal.ALREADY_REVERSED, published)
    assert notes(again) == ["repeated_reversal_refused"]
    assert not [d for d in again if isinstance(d, Publish)]
    assert (core.stats().reversals, core.stats().reversals_refused) == (1, 1)


def test_a_reversal_for_an_unknown_order_waits_in_quarantine_until_the_order_is_known() -> None:
    core = normalizer()
    held = core.reversal(reversal())
    assert notes(held) == ["callback_for_unknown_order_quarantined"]
    released = core.routed(routed())
    assert [d.report.fill_id for d in released if isinstance(d, Publish)] == ["B1:1:101"]


def test_a_reversal_of_an_outside_orders_deal_is_counted_and_reaches_no_order() -> None:
    outside = OpenOrderAdopted(
        order_no="B1",
        account=ACCOUNT,
        security_id="yes",
        side=OrderSide.BUY,
        price=Decimal("0.50"),
        size=Decimal(10),
        filled=Decimal(0),
    )
    core = normalizer(adopted=(outside,))
    decisions = core.reversal(reversal())
    assert notes(decisions) == ["reversal_of_outside_deal"]
    assert not [d for d in decisions if isinstance(d, Publish)]
    [account] = [d.reversed for d in decisions if isinstance(d, AppendReversedDeal)]
    assert account.fill_id == "B1:1:101"  # only the account view held it: it takes it back
    assert core.stats().reversals_refused == 1
    assert not [d for d in core.reversal(reversal()) if isinstance(d, AppendReversedDeal)]


def test_a_callback_resets_the_heartbeat_to_its_receipt_time() -> None:
    core = normalizer(routed=(routed(),), clock=FakeClock(now=3))
    core.callback(deal(recv_ns=9))
    assert core.stats().last_callback_ns == 9


def test_a_deal_seen_again_in_other_terms_is_sent_on_once_for_the_journal_to_refuse() -> None:
    core = normalizer(routed=(routed(),))
    core.callback(deal(size="10"))
    conflict = core.callback(deal(size="11"))
    assert notes(conflict) == ["conflicting_deal"]
    [append] = booked(conflict)
    assert append.booked.fill_id == "B1:1:101"  # the same dedup key: the journal refuses it
    assert append.booked.size == Decimal(11)
    assert [fill.size for fill in fills(conflict)] == [Decimal(11)]
    again = core.callback(deal(size="11"))
    assert booked(again) == []
    assert notes(again) == ["duplicate_callback_dropped"]
    stats = core.stats()
    assert (stats.deals, stats.conflicts, stats.duplicates) == (1, 1, 1)


def test_a_listed_deal_in_other_terms_is_a_conflict_too() -> None:
    core = normalizer(routed=(routed(),))
    core.callback(deal(size="10"))
    decisions = core.book_inferred(BookInferred(fills=(listed(size="12"),), reason="r", recv_ns=1))
    [append] = booked(decisions)
    assert append.booked.size == Decimal(12)
    assert append.booked.inferred
    assert core.stats().conflicts == 1


def test_an_order_event_of_our_order_is_published_as_its_report() -> None:
    core = normalizer(routed=(routed(),), open_order_ids=frozenset({"o1"}))
    [accepted] = core.callback(order_event(BrokerOrderStatus.SUBMITTED))
    assert isinstance(accepted, Publish)
    assert accepted.report == OrderAccepted(
        id=accepted.report.id, ts_init=accepted.report.ts_init, ts_event=7, order_id="o1"
    )
    cancelled = core.callback(order_event(BrokerOrderStatus.CANCELLED, seq_no=2))
    [report] = [d.report for d in cancelled if isinstance(d, Publish)]
    assert isinstance(report, OrderCancelled)
    assert report.reason == "cancelled at broker"
    assert core.stats().open_orders == 0
    assert notes(core.callback(order_event(BrokerOrderStatus.CANCELLED, seq_no=2))) == [
        "duplicate_callback_dropped"
    ]


def test_an_adopted_order_that_closes_journals_its_close_once() -> None:
    core = normalizer(adopted=(adopted(),))
    closed = core.callback(order_event(BrokerOrderStatus.FILLED, order_no="X1"))
    [append] = closed
    assert isinstance(append, AppendAccountEvent)
    assert isinstance(append.event, OpenOrderClosed)
    assert append.dedup_key == "closed:X1"
    assert core.callback(order_event(BrokerOrderStatus.CANCELLED, order_no="X1", seq_no=2)) == []


def adopted(order_no: str = "X1") -> OpenOrderAdopted:
    return OpenOrderAdopted(
        order_no=order_no,
        account=ACCOUNT,
        security_id="yes",
        side=OrderSide.SELL,
        price=Decimal("0.60"),
        size=Decimal(5),
        filled=Decimal(0),
    )


def test_a_deal_of_an_adopted_order_is_booked_as_external_and_not_published() -> None:
    core = normalizer(adopted=(adopted(),))
    decisions = core.callback(deal(order_no="X1"))
    [append] = booked(decisions)
    assert append.booked.strategy == EXTERNAL_STRATEGY
    assert append.booked.order_id is None
    assert fills(decisions) == []


# -- quarantine ----------------------------------------------------------------------------


def test_a_callback_for_an_unknown_order_waits_and_is_released_when_routed() -> None:
    core = normalizer()
    held = core.callback(deal())
    assert notes(held) == ["callback_for_unknown_order_quarantined"]
    assert booked(held) == []
    released = core.routed(routed())
    assert notes(released) == ["quarantine_released"]
    assert [append.booked.fill_id for append in booked(released)] == ["B1:1:101"]
    assert [fill.order_id for fill in fills(released)] == ["o1"]
    stats = core.stats()
    assert (stats.quarantined, stats.released, stats.deals) == (1, 1, 1)


def test_a_quarantined_order_is_reconciled_after_the_grace_and_again_only_after_another() -> None:
    clock = FakeClock()
    core = normalizer(clock=clock, grace_s=0.5)
    core.callback(deal())
    assert asked(core.tick(clock.now)) == []
    clock.advance(0.6)
    [request] = asked(core.tick(clock.now))
    assert request.order_nos == ("B1",)
    clock.advance(0.3)
    assert asked(core.tick(clock.now)) == []
    clock.advance(0.3)
    assert len(asked(core.tick(clock.now))) == 1


def test_adoption_releases_a_quarantined_callback_as_an_outside_deal() -> None:
    core = normalizer()
    core.callback(deal(order_no="X1"))
    [append] = booked(core.adopted(adopted()))
    assert append.booked.strategy == EXTERNAL_STRATEGY


# -- the heartbeat -------------------------------------------------------------------------


def test_a_callback_gap_with_our_orders_open_asks_for_their_securities_and_backs_off() -> None:
    clock = FakeClock()
    core = normalizer(routed=(routed(),), open_order_ids=frozenset({"o1"}), clock=clock, gap_s=2.0)
    clock.advance(2.5)
    decisions = core.tick(clock.now)
    assert notes(decisions) == ["callback_gap"]
    [request] = asked(decisions)
    assert (request.order_nos, request.security_ids) == (("B1",), ("yes",))
    clock.advance(2.5)
    assert asked(core.tick(clock.now)) == []  # the next alert waits twice as long
    clock.advance(2.0)
    assert len(asked(core.tick(clock.now))) == 1


def test_no_gap_alert_without_our_orders_open() -> None:
    clock = FakeClock()
    core = normalizer(routed=(routed(),), clock=clock)  # routed, but not open
    clock.advance(60)
    assert core.tick(clock.now) == []


def test_a_malformed_callback_is_kept_and_counts_as_the_broker_heard_from() -> None:
    core = normalizer(clock=FakeClock(now=1))
    core.malformed_callback(
        CallbackQuarantined(callback="on_deal", arguments=("1",), reason="bad", recv_ns=40)
    )
    stats = core.stats()
    assert (stats.malformed, stats.last_callback_ns) == (1, 40)


# -- reconciliation's findings -------------------------------------------------------------


def test_a_listed_deal_is_booked_as_inferred_and_its_late_callback_changes_nothing() -> None:
    core = normalizer(routed=(routed(),))
    decisions = core.book_inferred(BookInferred(fills=(listed(),), reason="sync", recv_ns=77))
    [append] = booked(decisions)
    assert append.booked.inferred
    assert append.booked.recv_ns == 77
    assert notes(decisions) == ["deal_inferred"]
    assert core.callback(deal()) == []
    stats = core.stats()
    assert (stats.inferred, stats.late, stats.deals) == (1, 1, 1)


def test_a_listed_deal_already_booked_is_not_booked_again_and_then_is_sent_on() -> None:
    core = normalizer(routed=(routed(),))
    core.callback(deal())
    then = Forward(message="compare", deliver_to=None)
    decisions = core.book_inferred(
        BookInferred(fills=(listed(),), reason="r", recv_ns=1, then=then)
    )
    assert decisions == [SendOn(command=then)]


def compare(pending: tuple[str, ...] = ()) -> Forward:
    return Forward(
        message=ComparePositions(
            account=ACCOUNT, positions=(), since_ns=0, reason="r", pending=pending
        ),
        deliver_to=None,
    )


def test_a_listed_deal_of_our_unrouted_order_is_held_and_its_security_kept_from_the_compare() -> (
    None
):
    core = normalizer()
    decisions = core.book_inferred(
        BookInferred(
            fills=(listed(client_order_id="o1", security_id="no"),),
            reason="r",
            recv_ns=1,
            then=compare(pending=("yes",)),
        )
    )
    assert booked(decisions) == []
    assert notes(decisions) == ["broker_order_not_in_journal_held"]
    [send_on] = [d for d in decisions if isinstance(d, SendOn)]
    assert send_on.command.message.pending == ("no", "yes")
    assert core.stats().unrouted == 1
    released = core.routed(routed(security_id="no"))
    [append] = booked(released)
    assert append.booked.order_id == "o1"
    assert append.booked.inferred
    assert [fill.order_id for fill in fills(released)] == ["o1"]
    assert core.stats().unrouted == 0


def test_an_unrouted_open_order_is_accepted_for_our_order_when_routed() -> None:
    core = normalizer()
    order = broker_order("B1", client_order_id="o1")
    assert booked(core.open_orders_seen(OpenOrdersSeen(account=ACCOUNT, orders=(order,)))) == []
    released = core.routed(routed())
    [report] = [d.report for d in released if isinstance(d, Publish)]
    assert isinstance(report, OrderAccepted)


def test_held_orders_no_routed_names_in_time_are_adopted_and_booked_as_outside() -> None:
    clock = FakeClock()
    core = normalizer(clock=clock, unrouted_grace_s=30.0)
    order = broker_order("B1", client_order_id="o1")
    core.open_orders_seen(OpenOrdersSeen(account=ACCOUNT, orders=(order,)))
    core.book_inferred(BookInferred(fills=(listed(client_order_id="o1"),), reason="r", recv_ns=1))
    clock.advance(29)
    assert booked(core.tick(clock.now)) == []
    clock.advance(2)
    decisions = core.tick(clock.now)
    assert "broker_order_not_routed_booked_as_outside" in notes(decisions)
    assert [d.event.order_no for d in decisions if isinstance(d, AppendAccountEvent)] == ["B1"]
    [append] = booked(decisions)
    assert append.booked.strategy == EXTERNAL_STRATEGY
    assert core.stats().unrouted == 0
    # Not ours after all: a later listing of its deals is no longer held.
    later = core.book_inferred(
        BookInferred(fills=(listed(seq_no=2, client_order_id="o1"),), reason="r", recv_ns=1)
    )
    assert len(booked(later)) == 1


def test_an_unknown_open_order_is_adopted_with_a_correction_and_ours_unlisted_reported() -> None:
    core = normalizer(routed=(routed(),), open_order_ids=frozenset({"o1"}))
    decisions = core.open_orders_seen(
        OpenOrdersSeen(account=ACCOUNT, orders=(broker_order("X1"),), reply_to="reconciler")
    )
    adopt, correct, reply = decisions
    assert isinstance(adopt, AppendAccountEvent)
    assert isinstance(adopt.event, OpenOrderAdopted)
    assert adopt.dedup_key == "adopted:X1"
    assert isinstance(correct, RecordCorrection)
    assert correct.correction.kind is CorrectionKind.OPEN_ORDER
    assert correct.correction.new == "open SELL 4 @ 0.60"
    assert isinstance(reply, Reply)
    assert reply.to == "reconciler"
    assert reply.missing.order_nos == ("B1",)  # ours, open here, not listed there
    again = core.open_orders_seen(
        OpenOrdersSeen(account=ACCOUNT, orders=(broker_order("X1"),), complete=False)
    )
    assert again == []


def test_an_order_the_broker_says_is_closed_is_corrected_and_reported() -> None:
    core = normalizer(routed=(routed(),), open_order_ids=frozenset({"o1"}))
    closed = broker_order("B1", status=BrokerOrderStatus.CANCELLED)
    decisions = core.order_truth(OrderTruth(orders=(closed,), reason="lost callbacks"))
    [report] = [d.report for d in decisions if isinstance(d, Publish)]
    assert isinstance(report, OrderCancelled)
    assert report.reason == "reconciled: lost callbacks"
    [correct] = [d for d in decisions if isinstance(d, RecordCorrection)]
    assert correct.correction.kind is CorrectionKind.ORDER_STATUS
    assert (correct.correction.old, correct.correction.new) == ("open", "cancelled")
    assert core.order_truth(OrderTruth(orders=(closed,), reason="again")) == []


def test_a_reversed_order_the_broker_closed_is_cancelled_with_the_reversals_reason() -> None:
    core = normalizer(routed=(routed(),))
    core.callback(deal())
    core.callback(order_event(BrokerOrderStatus.FILLED))
    core.reversal(reversal())
    closed = broker_order("B1", status=BrokerOrderStatus.CANCELLED)

    decisions = core.order_truth(OrderTruth(orders=(closed,), reason="open here, not there"))

    [report] = [d.report for d in decisions if isinstance(d, Publish)]
    assert isinstance(report, OrderCancelled)
    assert report.reason == "reconciled: trade t1 FAILED on chain after MATCHED"
    assert not core.intents["B1"].open


# -- properties ----------------------------------------------------------------------------

properties = settings(deadline=None, max_examples=100)

DEALS = [deal(order_no, seq_no) for order_no, seq_no in itertools.product(["B1", "B2"], [1, 2, 3])]


@properties
@given(
    st.lists(st.sampled_from(DEALS), min_size=1, max_size=30).flatmap(st.permutations),
    st.sets(st.sampled_from(["B1", "B2"])),
)
def test_any_order_and_repeats_of_callbacks_book_and_publish_each_deal_exactly_once(
    callbacks: list[RawDealEvent], routed_first: set[str]
) -> None:
    """Orders routed before the callbacks, or after them (their callbacks quarantined)."""
    intents = {"B1": routed("B1", "o1"), "B2": routed("B2", "o2")}
    core = normalizer(routed=tuple(intents[o] for o in sorted(routed_first)))
    decisions: list[Decision] = []
    for raw in callbacks:
        decisions += core.callback(raw)
    for order_no in sorted(set(intents) - routed_first):
        decisions += core.routed(intents[order_no])
    delivered = {raw.key for raw in callbacks}
    assert Counter(a.booked.fill_id for a in booked(decisions)) == dict.fromkeys(delivered, 1)
    assert Counter(fill.fill_id for fill in fills(decisions)) == dict.fromkeys(delivered, 1)
    stats = core.stats()
    assert stats.deals == len(delivered)
    assert stats.duplicates == len(callbacks) - len(delivered)


VERSIONS = ["10", "11", "12"]


@properties
@given(st.lists(st.sampled_from(VERSIONS), min_size=1, max_size=20))
def test_every_conflicting_version_of_a_deal_is_sent_on_once_under_the_same_identity(
    sizes: list[str],
) -> None:
    """The first version is booked; each other is sent on once under the same fill id, so
    the journal, which holds the first under that dedup key, refuses it."""
    core = normalizer(routed=(routed(),))
    decisions: list[Decision] = []
    for size in sizes:
        decisions += core.callback(deal(size=size))
    appended = booked(decisions)
    assert {a.booked.fill_id for a in appended} == {"B1:1:101"}
    assert [a.booked.size for a in appended] == [Decimal(s) for s in dict.fromkeys(sizes)]
    stats = core.stats()
    assert stats.deals == 1
    assert stats.conflicts == len(set(sizes)) - 1
    assert stats.duplicates == len(sizes) - len(set(sizes))


class CallbacksAndListings(RuleBasedStateMachine):
    """Callbacks, listings by reconciliation (naming our client order id) and routings, in
    any order and repeated: a deal of a routed order is booked once, by whichever way
    brought it first; nothing of an unrouted order is booked."""

    def __init__(self) -> None:
        super().__init__()
        self.core = normalizer()
        self.routed: set[str] = set()
        self.delivered: set[tuple[str, str]] = set()
        self.decisions: list[Decision] = []

    @rule(raw=st.sampled_from(DEALS))
    def callback(self, raw: RawDealEvent) -> None:
        self.delivered.add((raw.order_no, raw.key))
        self.decisions += self.core.callback(raw)

    @rule(
        fills=st.lists(
            st.sampled_from(
                [
                    listed(raw.order_no, raw.seq_no, client_order_id=f"o-{raw.order_no}")
                    for raw in DEALS
                ]
            ),
            max_size=4,
        )
    )
    def listing(self, fills: list[BrokerFill]) -> None:
        self.delivered.update((fill.order_no, fill.key) for fill in fills)
        self.decisions += self.core.book_inferred(
            BookInferred(fills=tuple(fills), reason="sync", recv_ns=1)
        )

    @precondition(lambda self: len(self.routed) < 2)
    @rule(order_no=st.sampled_from(["B1", "B2"]))
    def route(self, order_no: str) -> None:
        if order_no in self.routed:
            return
        self.routed.add(order_no)
        self.decisions += self.core.routed(routed(order_no, f"o-{order_no}"))

    @invariant()
    def each_deal_of_a_routed_order_is_booked_once_and_nothing_else_is(self) -> None:
        expected = {key for order_no, key in self.delivered if order_no in self.routed}
        counted = Counter(a.booked.fill_id for a in booked(self.decisions))
        assert counted == dict.fromkeys(expected, 1)
        assert Counter(fill.fill_id for fill in fills(self.decisions)) == counted
        assert all(a.booked.order_id is not None for a in booked(self.decisions))
        assert self.core.stats().deals == len(expected)


CallbacksAndListings.TestCase.settings = settings(
    max_examples=100, stateful_step_count=25, deadline=None
)
test_callbacks_and_listings = CallbacksAndListings.TestCase
