"""ExecutionActor: signals become orders on the right position; denials are events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pykka
import pytest

from actors.execution import ExecutionActor
from actors.journal import JournalActor
from actors.order import OrderActor
from actors.runtime_state import order_from_created
from bridges.journal_memory import MemoryJournal
from messages.enums import OrderSide
from messages.journal import FillApplied
from messages.market_commands import CloseMarket, SwitchMarket
from messages.markets import MarketDrained
from messages.order_commands import CancelOrder, SubmitOrder
from messages.orders import CancelDenied, FillRefusal, FillRefused, OrderCancelled, OrderDenied
from messages.position_commands import MarkPending
from messages.queries import ListRoutedOrders
from messages.supervision import OrderStarted, SuperviseOrder
from supervisors.kernel.base import ask
from tests.stubs import collector, definition, fill, signal, state_with_positions, wait_for

pytestmark = pytest.mark.timeout(10)


class _OrderStarter(pykka.ThreadingActor):
    """Does what the market lifecycle actor does for execution: starts the order's actor and
    says so."""

    def __init__(self, **refs: Any) -> None:
        super().__init__()
        self.refs = refs

    def on_receive(self, message: Any) -> None:
        if isinstance(message, SuperviseOrder):
            created = message.created
            ref = OrderActor.start(
                order_from_created(created),
                position=self.refs["positions"][created.market_id],
                position_id=f"{created.market_id}/p",
                execution=self.refs["execution"],
                venue=self.refs["venue"],
                bus=self.refs["bus"],
                journal=self.refs["journal"],
            )
            self.refs["execution"].tell(
                OrderStarted(order_id=created.order_id, ref=ref, submit=True)
            )


@pytest.fixture
def journal(journal_stores: MemoryJournal) -> pykka.ActorRef[Any]:
    """A real journal whose fold holds the positions these tests address (m1/p, m2/p)."""
    return JournalActor.start(journal_stores.writer(), state=state_with_positions("m1", "m2"))


@pytest.fixture
def wired(journal):
    venue, venue_inbox = collector()
    bus, bus_inbox = collector()
    execution = ExecutionActor.start(venue=venue, bus=bus, journal=journal)
    positions: dict[str, Any] = {}
    starter = _OrderStarter.start(
        positions=positions, execution=execution, venue=venue, bus=bus, journal=journal
    )

    def switch(market_id: str, position) -> SwitchMarket:
        positions[market_id] = position
        return SwitchMarket(
            definition=definition(market_id),
            position=position,
            position_id=f"{market_id}/p",
            account="paper",
            strategy="s",
            supervisor=starter,
        )

    return execution, venue_inbox, bus_inbox, switch


def test_a_signal_without_a_position_for_its_market_is_denied(wired) -> None:
    execution, venue_inbox, bus_inbox, _switch = wired
    execution.tell(signal("m1-YES"))
    denied = wait_for(bus_inbox, lambda m: isinstance(m, OrderDenied))
    assert denied.reason == "no position for market m1"
    assert venue_inbox.empty()


def test_a_signal_marks_pending_on_the_current_position_before_it_reaches_the_venue(
    wired,
) -> None:
    execution, venue_inbox, _, _switch = wired
    position, position_inbox = collector()
    execution.tell(_switch("m1", position))
    execution.tell(signal("m1-NO", price="0.55", size="20"))
    pending = wait_for(position_inbox, lambda m: isinstance(m, MarkPending))
    submitted = wait_for(venue_inbox, lambda m: isinstance(m, SubmitOrder))
    assert pending.order_id == submitted.order_id
    assert (submitted.security_id, submitted.side, submitted.price, submitted.size) == (
        "m1-NO",
        OrderSide.BUY,
        Decimal("0.55"),
        Decimal(20),
    )


def test_a_second_order_on_a_pending_side_is_denied(wired) -> None:
    execution, _, bus_inbox, _switch = wired
    position, _ = collector()
    execution.tell(_switch("m1", position))
    execution.tell(signal("m1-YES"))
    execution.tell(signal("m1-YES"))
    denied = wait_for(bus_inbox, lambda m: isinstance(m, OrderDenied))
    assert "pending on m1-YES BUY" in denied.reason


def test_after_a_switch_new_orders_go_to_the_new_position_and_old_fills_to_the_old(
    wired,
) -> None:
    execution, venue_inbox, _, _switch = wired
    old_position, old_inbox = collector()
    new_position, new_inbox = collector()
    execution.tell(_switch("m1", old_position))
    execution.tell(signal("m1-YES", size="10"))
    old_order = wait_for(venue_inbox, lambda m: isinstance(m, SubmitOrder)).order_id
    execution.tell(CloseMarket(market_id="m1"))
    execution.tell(_switch("m2", new_position))
    execution.tell(signal("m1-YES"))
    execution.tell(signal("m2-YES", size="5"))
    new_order = wait_for(venue_inbox, lambda m: isinstance(m, SubmitOrder))
    assert new_order.market_id == "m2"
    assert wait_for(new_inbox, lambda m: isinstance(m, MarkPending)).order_id == new_order.order_id

    execution.tell(fill("V1", order_id=old_order, security_id="m1-YES", size="10"))
    late = wait_for(old_inbox, lambda m: isinstance(m, FillApplied))
    assert (late.position_id, late.fill.fill_id) == ("m1/p", "V1")
    routed = execution.ask(ListRoutedOrders(), timeout=5)
    # The filled old order may be stopped already: then its last snapshot answers for it.
    orders = set(dict(routed.running)) | {order.order_id for order in routed.closed}
    assert orders == {old_order, new_order.order_id}


def test_a_fill_for_an_unknown_order_is_refused_and_published(wired) -> None:
    execution, _, bus_inbox, _switch = wired
    execution.tell(fill("V9", order_id="nobody"))
    refused = wait_for(bus_inbox, lambda m: isinstance(m, FillRefused))
    assert refused.reason is FillRefusal.UNKNOWN_ORDER
    assert execution.is_alive()


def test_a_closed_market_reports_drained_once_its_last_order_closes(wired) -> None:
    execution, venue_inbox, _, _switch = wired
    position, _ = collector()
    supervisor, supervisor_inbox = collector()
    execution.tell(_switch("m1", position))
    execution.tell(signal("m1-YES"))
    order_id = wait_for(venue_inbox, lambda m: isinstance(m, SubmitOrder)).order_id
    execution.tell(CloseMarket(market_id="m1", notify=supervisor))
    execution.tell(signal("m1-NO"))
    assert supervisor_inbox.empty()
    execution.tell(OrderCancelled(ts_event=5, order_id=order_id, reason="market closed"))
    drained = wait_for(supervisor_inbox, lambda m: isinstance(m, MarketDrained))
    assert drained.market_id == "m1"


def test_a_cancel_for_an_order_still_starting_waits_for_it_instead_of_being_refused(
    journal,
) -> None:
    venue, venue_inbox = collector()
    bus, bus_inbox = collector()
    supervisor, supervisor_inbox = collector()
    position, _ = collector()
    execution = ExecutionActor.start(venue=venue, bus=bus, journal=journal)
    execution.tell(
        SwitchMarket(
            definition=definition("m1"),
            position=position,
            position_id="m1/p",
            account="paper",
            strategy="s",
            supervisor=supervisor,
        )
    )
    execution.tell(signal("m1-YES"))
    created = wait_for(supervisor_inbox, lambda m: isinstance(m, SuperviseOrder)).created

    denied = ask(execution, CancelOrder(order_id=created.order_id, reason="now"))
    assert denied is None
    order = OrderActor.start(
        order_from_created(created),
        position=position,
        position_id="m1/p",
        execution=execution,
        venue=venue,
        bus=bus,
        journal=journal,
    )
    execution.tell(OrderStarted(order_id=created.order_id, ref=order, submit=True))

    wait_for(venue_inbox, lambda m: isinstance(m, SubmitOrder))
    cancel = wait_for(venue_inbox, lambda m: isinstance(m, CancelOrder))
    assert cancel.order_id == created.order_id
    assert not any(isinstance(m, CancelDenied) for m in list(bus_inbox.queue))
