"""OrderActor: fills applied once, late fills after a cancel, refusals published, not fatal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pykka
import pytest

from actors.journal import JournalActor
from actors.order import OrderActor
from actors.order_state import Order
from bridges.journal_memory import MemoryJournal
from messages.enums import OrderSide, OrderStatus
from messages.fills import FillCharged, FillReversed
from messages.journal import ChargeApplied, FillApplied, ReversalApplied
from messages.order_commands import CancelOrder
from messages.orders import (
    CancelDenied,
    FillChargeRefused,
    FillRefusal,
    FillRefused,
    FillReversalRefused,
    OrderCancelled,
    OrderClosed,
    OrderRejected,
    OrderUpdated,
)
from messages.position_commands import ClearPending, MarkPending
from messages.queries import GetSnapshot
from messages.supervision import AdoptOrders
from tests.stubs import collector, fill, state_with_positions, wait_for

pytestmark = pytest.mark.timeout(10)


def _order(size: str = "100") -> Order:
    return Order(
        order_id="O1",
        correlation_id="S1",
        market_id="m1",
        security_id="m1-YES",
        account="paper",
        strategy="test",
        side=OrderSide.BUY,
        price=Decimal("0.40"),
        size=Decimal(size),
    )


@pytest.fixture
def journal(journal_stores: MemoryJournal) -> pykka.ActorRef[Any]:
    """A real journal whose fold holds the positions these tests address (m1/p, m2/p)."""
    return JournalActor.start(journal_stores.writer(), state=state_with_positions("m1", "m2"))


@pytest.fixture
def wired(journal):
    position, position_inbox = collector()
    execution, execution_inbox = collector()
    venue, venue_inbox = collector()
    bus, bus_inbox = collector()
    order = OrderActor.start(
        _order(),
        position=position,
        position_id="m1/p",
        execution=execution,
        venue=venue,
        bus=bus,
        journal=journal,
    )
    return order, position_inbox, execution_inbox, venue_inbox, bus_inbox


def _applied(message: object) -> bool:
    return isinstance(message, FillApplied)


def test_an_applied_fill_is_journaled_for_the_position_and_a_duplicate_is_not(wired) -> None:
    order, position_inbox, _, _, bus_inbox = wired
    order.tell(fill("F1", size="30"))
    order.tell(fill("F1", size="30"))
    order.tell(fill("F2", size="70"))
    assert wait_for(position_inbox, _applied).fill.fill_id == "F1"
    assert wait_for(position_inbox, _applied).fill.fill_id == "F2"
    assert isinstance(wait_for(position_inbox, lambda m: True), ClearPending)
    snapshot = order.ask(GetSnapshot(), timeout=5)
    assert snapshot.status is OrderStatus.FILLED
    assert (snapshot.fill_count, snapshot.last_fill_id) == (2, "F2")
    # The bus may still be handing on the updates: take them up to F2's (the last), so a
    # duplicate's update, published before it, would be among them.
    causes = []
    while not causes or causes[-1][1] != "F2":
        update = wait_for(bus_inbox, lambda m: isinstance(m, OrderUpdated))
        causes.append((update.cause, update.order.last_fill_id))
    assert [cause for cause, _ in causes] == ["submitted", "fill", "fill"]


def test_an_overfill_is_refused_published_and_changes_nothing(wired) -> None:
    order, position_inbox, _, _, bus_inbox = wired
    order.tell(fill("F1", size="90"))
    order.tell(fill("F2", size="20"))
    refused = wait_for(bus_inbox, lambda m: isinstance(m, FillRefused))
    assert refused.reason is FillRefusal.OVERFILL
    snapshot = order.ask(GetSnapshot(), timeout=5)
    assert snapshot.filled == Decimal(90)
    assert order.is_alive()
    wait_for(position_inbox, _applied)
    assert position_inbox.empty()


def test_a_fill_after_the_cancel_was_acknowledged_is_still_applied(wired) -> None:
    order, position_inbox, execution_inbox, venue_inbox, _ = wired
    order.tell(CancelOrder(order_id="O1", reason="test"))
    assert isinstance(wait_for(venue_inbox, lambda m: True), CancelOrder)
    order.tell(OrderCancelled(ts_event=2, order_id="O1", reason="cancelled by request"))
    closed = wait_for(execution_inbox, lambda m: isinstance(m, OrderClosed))
    assert closed.order_id == "O1"
    order.tell(fill("F1", size="25"))
    late = wait_for(position_inbox, _applied)
    assert late.fill.size == Decimal(25)
    snapshot = order.ask(GetSnapshot(), timeout=5)
    assert snapshot.status is OrderStatus.CANCELLED
    assert snapshot.filled == Decimal(25)


def test_a_cancel_of_a_filled_order_is_denied_and_never_sent(wired) -> None:
    order, _, _, venue_inbox, bus_inbox = wired
    order.tell(fill("F1", size="100"))
    order.tell(CancelOrder(order_id="O1", reason="test"))
    denied = wait_for(bus_inbox, lambda m: isinstance(m, CancelDenied))
    assert "FILLED" in denied.reason
    assert venue_inbox.empty()


def test_a_venue_reject_after_fills_is_logged_and_the_order_survives(wired) -> None:
    order, _, _, _, _ = wired
    order.tell(fill("F1", size="10"))
    order.tell(OrderRejected(ts_event=3, order_id="O1", reason="late reject"))
    snapshot = order.ask(GetSnapshot(), timeout=5)
    assert snapshot.status is OrderStatus.PARTIALLY_FILLED
    assert order.is_alive()


def _reversal(fill_id: str) -> FillReversed:
    return FillReversed(
        fill_id=fill_id,
        ts_event=3,
        order_id="O1",
        market_id="m1",
        security_id="m1-YES",
        reason=f"trade {fill_id} FAILED on chain after MATCHED",
    )


def test_a_reversed_fill_reopens_the_filled_order_and_is_taken_back_from_its_position(
    wired,
) -> None:
    order, position_inbox, execution_inbox, _, bus_inbox = wired
    order.tell(fill("F1", size="100"))
    wait_for(position_inbox, _applied)
    assert isinstance(wait_for(position_inbox, lambda m: True), ClearPending)
    wait_for(execution_inbox, lambda m: isinstance(m, OrderClosed))

    order.tell(_reversal("F1"))
    taken_back = wait_for(position_inbox, lambda m: isinstance(m, ReversalApplied))
    assert (taken_back.reversal.fill_id, taken_back.position_id) == ("F1", "m1/p")
    # Open again: the side is pending on the position and execution guards it again.
    pending = wait_for(position_inbox, lambda m: isinstance(m, MarkPending))
    assert (pending.order_id, pending.side) == ("O1", OrderSide.BUY)
    adopted = wait_for(execution_inbox, lambda m: isinstance(m, AdoptOrders))
    assert [o.status for o in adopted.orders] == [OrderStatus.ACCEPTED]
    update = wait_for(
        bus_inbox, lambda m: isinstance(m, OrderUpdated) and m.cause.startswith("fill reversed")
    )
    assert (update.order.status, update.order.filled) == (OrderStatus.ACCEPTED, Decimal(0))

    # The venue cancels what it gave back: that close is reported anew.
    order.tell(OrderCancelled(ts_event=4, order_id="O1", reason="cancelled at broker"))
    assert isinstance(wait_for(position_inbox, lambda m: True), ClearPending)
    assert wait_for(execution_inbox, lambda m: isinstance(m, OrderClosed)).order_id == "O1"


def test_a_reversal_of_a_fill_the_order_never_had_is_refused_published_and_not_fatal(
    wired,
) -> None:
    order, position_inbox, _, _, bus_inbox = wired
    order.tell(_reversal("F9"))
    refused = wait_for(bus_inbox, lambda m: isinstance(m, FillReversalRefused))
    assert (refused.reason, refused.reversal.fill_id) == (FillRefusal.UNKNOWN_FILL, "F9")
    assert order.is_alive()
    assert order.ask(GetSnapshot(), timeout=5).version == 0
    assert position_inbox.empty()


def _charge(fill_id: str, fee: str = "0.02", tax: str = "0.01") -> FillCharged:
    return FillCharged(
        fill_id=fill_id,
        order_id="O1",
        market_id="m1",
        security_id="m1-YES",
        booked_fee=Decimal("0.004"),
        fee=Decimal(fee),
        tax=Decimal(tax),
    )


def test_a_broker_s_charge_changes_the_order_s_fees_once_and_is_journaled_for_its_position(
    wired,
) -> None:
    order, position_inbox, _, _, bus_inbox = wired
    order.tell(fill("F1", size="10", fee="0.004"))
    wait_for(position_inbox, _applied)
    order.tell(_charge("F1"))
    order.tell(_charge("F1"))
    applied = wait_for(position_inbox, lambda m: isinstance(m, ChargeApplied))
    assert (applied.charge, applied.position_id) == (_charge("F1"), "m1/p")
    update = wait_for(
        bus_inbox, lambda m: isinstance(m, OrderUpdated) and m.cause == "fill charged"
    )
    assert update.order.fees == Decimal("0.030")
    order.tell(_charge("F9"))
    refused = wait_for(bus_inbox, lambda m: isinstance(m, FillChargeRefused))
    assert (refused.reason, refused.charge.fill_id) == (FillRefusal.UNKNOWN_FILL, "F9")
    assert order.is_alive()
    snapshot = order.ask(GetSnapshot(), timeout=5)
    assert (snapshot.fees, snapshot.version) == (Decimal("0.030"), 2)
