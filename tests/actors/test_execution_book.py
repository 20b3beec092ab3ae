"""ExecutionBook without actors: routes, side reservations, order numbers, denials as values."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from actors.execution_book import Denial, ExecutionBook, MarketRoute, Started
from actors.runtime_state import order_from_created
from messages.enums import OrderSide, OrderStatus
from messages.journal import OrderCreated
from messages.mementos import OrderMemento
from messages.order_commands import CancelOrder
from messages.signals import TradeSignal
from tests.messages.examples import ORDER
from tests.stubs import definition, signal

pytestmark = pytest.mark.timeout(60)

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def route(market_id: str = "m1", *, position: Any = "position-1") -> MarketRoute:
    """A route as SwitchMarket makes it; the refs are plain tokens, the book never calls them."""
    return MarketRoute(
        definition=definition(market_id),
        position=position,
        position_id=f"{market_id}/p",
        account="paper",
        strategy="s",
        supervisor=f"supervisor-{market_id}",
    )


def routed(*market_ids: str, **book: Any) -> ExecutionBook:
    """A book told each market in turn (the last one is current)."""
    execution = ExecutionBook(**book)
    for market_id in market_ids:
        execution.switch(route(market_id))
    return execution


def admitted(book: ExecutionBook, trade: TradeSignal) -> TradeSignal:
    decision = book.admit(trade)
    assert isinstance(decision, TradeSignal), decision
    return decision


def denial(book: ExecutionBook, trade: TradeSignal) -> str:
    decision = book.admit(trade)
    assert isinstance(decision, Denial), decision
    assert decision.signal == trade
    return decision.reason


def created(book: ExecutionBook, trade: TradeSignal) -> OrderCreated:
    return book.create(admitted(book, trade))


def memento(order: OrderCreated, *, closed: bool = False) -> OrderMemento:
    """The order as recovery hands it back: still open, or cancelled."""
    restored = order_from_created(order)
    if closed:
        restored.cancelled()
    return restored.memento()


# Routes.


def test_a_signal_for_a_market_never_routed_is_denied_without_a_position() -> None:
    assert denial(ExecutionBook(), signal("m1-YES")) == "no position for market m1"


def test_before_the_startup_reconciliation_every_signal_is_denied() -> None:
    book = routed("m1", trading_enabled=False)
    said = denial(book, signal("m1-YES"))
    assert said == "trading waits for the startup reconciliation with the broker"
    book.trading_enabled = True
    admitted(book, signal("m1-YES"))


def test_a_switched_away_market_is_not_current_and_a_closed_one_is_closed() -> None:
    book = routed("m1", "m2")
    assert denial(book, signal("m1-YES")) == "market m1 is not the current market"
    assert book.close("m2", notify=None)
    assert denial(book, signal("m2-YES")) == "market m2 is closed"
    assert book.current_market_id is None


def test_closing_a_market_never_routed_is_refused_as_false() -> None:
    book = routed("m1")
    assert not book.close("m9", notify="someone")
    assert book.current_market_id == "m1"


def test_a_security_outside_the_market_is_denied() -> None:
    trade = attrs.evolve(signal("m1-YES"), security_id="m2-YES")
    assert denial(routed("m1"), trade) == "m2-YES is not an instrument of m1"


def test_a_signal_naming_nothing_is_addressed_to_the_markets_position() -> None:
    addressed = admitted(routed("m1"), signal("m1-YES"))
    assert (addressed.account, addressed.strategy) == ("paper", "s")


def test_a_signal_naming_another_strategy_is_a_misaddressed_denial() -> None:
    trade = attrs.evolve(signal("m1-YES"), strategy="other")
    decision = routed("m1").admit(trade)
    assert decision == Denial(
        signal=trade,
        reason="market m1 has no position for account 'paper' and strategy 'other'; "
        "its position is m1/p",
        misaddressed=True,
    )


def test_a_restarted_position_replaces_the_ref_only_of_a_routed_market() -> None:
    book = routed("m1")
    assert book.replace_position("m1", "position-2")
    assert book.markets["m1"].position == "position-2"
    assert not book.replace_position("m9", "position-3")
    assert set(book.markets) == {"m1"}


# Side reservations.


def test_an_order_reserves_its_side_and_a_second_signal_on_it_is_denied() -> None:
    book = routed("m1")
    order = created(book, signal("m1-YES"))
    assert denial(book, signal("m1-YES")) == f"order {order.order_id} is pending on m1-YES BUY"
    admitted(book, signal("m1-YES", side=SELL))
    admitted(book, signal("m1-NO"))


def test_a_side_is_free_again_once_its_order_closes() -> None:
    book = routed("m1")
    order = created(book, signal("m1-YES"))
    book.order_closed(order.order_id)
    assert book.open_orders == {}
    admitted(book, signal("m1-YES"))


def test_a_side_under_a_risk_check_is_reserved_and_risk_sees_the_other_open_orders() -> None:
    book = routed("m1")
    created(book, signal("m1-NO"))
    checked = admitted(book, signal("m1-YES"))
    assert book.reserve_for_risk(checked) == 1
    assert (
        denial(book, signal("m1-YES")) == f"order risk check {checked.id} is pending on m1-YES BUY"
    )


def test_risk_saying_no_frees_the_side_and_is_a_denial_with_its_reason() -> None:
    book = routed("m1")
    checked = admitted(book, signal("m1-YES"))
    book.reserve_for_risk(checked)
    assert book.risk_denied(checked.id, "too big") == Denial(signal=checked, reason="risk: too big")
    assert book.open_orders == {}
    assert book.risk_denied(checked.id, "again") is None


def test_risk_approving_a_signal_gives_it_back_to_become_an_order() -> None:
    book = routed("m1")
    checked = admitted(book, signal("m1-YES"))
    book.reserve_for_risk(checked)
    assert book.risk_approved(checked.id) == checked
    order = book.create(checked)
    assert book.open_orders == {("m1-YES", BUY): order.order_id}
    assert book.risk_approved(checked.id) is None


def test_a_market_closed_while_risk_decided_denies_the_approved_signal_and_frees_its_side() -> None:
    book = routed("m1")
    checked = admitted(book, signal("m1-YES"))
    book.reserve_for_risk(checked)
    book.close("m1", notify=None)
    assert book.risk_approved(checked.id) == Denial(
        signal=checked, reason="market m1 is closed (it changed while risk decided)"
    )
    assert book.open_orders == {}


# Order numbers and recovery.


def test_orders_are_numbered_from_the_first_number_with_the_prefix() -> None:
    book = routed("m1", id_prefix="X", first_order_number=7)
    first = created(book, signal("m1-YES"))
    second = created(book, signal("m1-NO"))
    assert (first.order_id, second.order_id) == ("X7", "X8")
    assert book.next_order_number == 9


def test_an_order_takes_its_terms_from_the_signal_and_its_owner_from_the_route() -> None:
    book = routed("m1")
    trade = signal("m1-NO", side=SELL, price="0.55", size="20")
    order = created(book, trade)
    assert attrs.asdict(order, filter=lambda a, _v: a.name not in {"id", "ts_init"}) == {
        "order_id": "O1",
        "correlation_id": trade.id,
        "market_id": "m1",
        "security_id": "m1-NO",
        "account": "paper",
        "strategy": "s",
        "side": SELL,
        "price": trade.price,
        "size": trade.size,
        "manual": False,
    }


def test_adopted_open_orders_guard_their_sides_and_closed_ones_do_not() -> None:
    before = routed("m1")
    open_order = created(before, signal("m1-YES"))
    closed_order = created(before, signal("m1-NO"))
    book = routed("m1", first_order_number=3)
    book.adopt([memento(open_order), memento(closed_order, closed=True)])
    assert book.open_orders == {("m1-YES", BUY): open_order.order_id}
    assert book.order_markets == {"O1": "m1", "O2": "m1"}
    assert created(book, signal("m1-NO")).order_id == "O3"


# Orders starting, closing, draining.


def test_a_cancel_for_an_order_still_starting_is_held_until_it_starts() -> None:
    book = routed("m1")
    order = created(book, signal("m1-YES"))
    cancel = CancelOrder(order_id=order.order_id, reason="now")
    assert not book.hold(order.order_id, cancel)
    assert book.begin(order) is book.markets["m1"]
    assert book.hold(order.order_id, cancel)
    assert book.started(order.order_id, "order-ref") == Started(created=order, held=(cancel,))
    assert book.orders == {order.order_id: "order-ref"}
    assert book.starting == {}
    assert not book.hold(order.order_id, cancel)


def test_an_adopted_order_starts_with_nothing_to_submit() -> None:
    assert ExecutionBook().started("O1", "order-ref") == Started(created=None, held=())


def test_an_order_created_for_an_archived_market_has_no_route_and_is_not_starting() -> None:
    book = routed("m1")
    order = created(book, signal("m1-YES"))
    book.archive("m1")
    assert book.begin(order) is None
    assert book.starting == {}


def test_a_closed_market_drains_once_its_last_order_closes_and_says_so_once() -> None:
    book = routed("m1")
    order = created(book, signal("m1-YES"))
    book.close("m1", notify="supervisor")
    assert book.drained("m1") is None
    book.order_closed(order.order_id)
    assert book.drained("m1") == "supervisor"
    assert book.drained("m1") is None


def test_an_open_market_or_one_nobody_waits_on_never_drains() -> None:
    book = routed("m1", "m2")
    assert book.drained("m2") is None
    book.close("m1", notify=None)
    assert book.drained("m1") is None
    assert book.drained("m9") is None


def test_archiving_a_market_forgets_its_route_and_orders_but_not_the_others() -> None:
    book = routed("m1")
    old = created(book, signal("m1-YES"))
    book.switch(route("m2"))
    new = created(book, signal("m2-YES"))
    for order in (old, new):
        book.started(order.order_id, f"ref-{order.order_id}")
    book.archive("m1")
    assert set(book.markets) == {"m2"}
    assert book.orders == {new.order_id: f"ref-{new.order_id}"}
    assert book.order_markets == {new.order_id: "m2"}


# Any sequence.

_SIDES = [("m1-YES", BUY), ("m1-YES", SELL), ("m1-NO", BUY), ("m1-NO", SELL)]


class ExecutionLifecycle(RuleBasedStateMachine):
    """Signals (with and without a risk check), risk answers, closes and restarts in any order.

    The model is what the journal would hold: every order created (never renumbered) and
    which of them are open. A restart is what recovery does: a new book numbered past every
    order, told the market again, handed every order back.
    """

    @initialize()
    def start(self) -> None:
        self.book = routed("m1")
        self.orders: list[OrderCreated] = []
        self.open: dict[str, OrderCreated] = {}
        self.checking: dict[str, TradeSignal] = {}

    def _side_holder(self, side: tuple[str, OrderSide]) -> str | None:
        return self.book.open_orders.get(side)

    @rule(side=st.sampled_from(_SIDES), risk=st.booleans())
    def trade(self, side: tuple[str, OrderSide], risk: bool) -> None:
        security_id, order_side = side
        held = self._side_holder(side)
        decision = self.book.admit(signal(security_id, side=order_side))
        if held is not None:
            assert isinstance(decision, Denial)
            assert decision.reason == f"order {held} is pending on {security_id} {order_side.value}"
            return
        assert isinstance(decision, TradeSignal)
        if risk:
            others = len(self.book.open_orders)
            assert self.book.reserve_for_risk(decision) == others
            self.checking[decision.id] = decision
        else:
            self._create(decision)

    def _create(self, trade: TradeSignal) -> None:
        order = self.book.create(trade)
        self.orders.append(order)
        self.open[order.order_id] = order

    @precondition(lambda self: self.checking)
    @rule(data=st.data(), approve=st.booleans())
    def risk_answers(self, data: st.DataObject, approve: bool) -> None:
        signal_id = data.draw(st.sampled_from(sorted(self.checking)))
        trade = self.checking.pop(signal_id)
        if approve:
            assert self.book.risk_approved(signal_id) == trade
            self._create(trade)
        else:
            assert self.book.risk_denied(signal_id, "no") == Denial(signal=trade, reason="risk: no")

    @precondition(lambda self: self.open)
    @rule(data=st.data())
    def close_order(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.open)))
        del self.open[order_id]
        self.book.order_closed(order_id)

    @rule()
    def restart(self) -> None:
        """Risk checks die with the old actor; orders and their numbers come back."""
        self.book = routed("m1", first_order_number=len(self.orders) + 1)
        self.book.adopt(memento(o, closed=o.order_id not in self.open) for o in self.orders)
        self.checking.clear()

    @invariant()
    def numbers_only_go_up_across_restarts(self) -> None:
        numbers = [int(order.order_id.removeprefix("O")) for order in self.orders]
        assert numbers == list(range(1, len(numbers) + 1))

    @invariant()
    def each_side_is_held_by_its_open_order_or_risk_check_and_by_nothing_else(self) -> None:
        expected = {(o.security_id, o.side): o.order_id for o in self.open.values()}
        expected |= {(s.security_id, s.side): f"risk check {s.id}" for s in self.checking.values()}
        assert self.book.open_orders == expected
        assert len(expected) == len(self.open) + len(self.checking)
        assert set(self.book.checking) == set(self.checking)


ExecutionLifecycle.TestCase.settings = settings(
    max_examples=100, stateful_step_count=30, deadline=None
)
TestAnySequenceKeepsOneReservationPerSideAndNumbersUnique = ExecutionLifecycle.TestCase


def test_recovered_closed_orders_are_routed_as_their_snapshots_and_hold_no_side() -> None:
    book = routed("m1")
    closed = attrs.evolve(ORDER, order_id="O7", market_id="m1")
    book.adopt((), (closed,))
    assert book.closed == {"O7": closed}
    assert book.order_markets == {"O7": "m1"}
    assert book.open_orders == {}
    # A late report for it: held for the actor its market's supervisor revives.
    assert book.revive("O7", "late fill") == "supervisor-m1"


def test_an_order_that_closed_before_its_actor_ran_is_quiesced_once_it_runs() -> None:
    book = routed("m1")
    book.adopt((), (attrs.evolve(ORDER, order_id="O7", market_id="m1"),))
    book.revive("O7", "late fill")
    assert book.order_closed("O7") is None  # the revived actor reports its close first
    started = book.started("O7", "order-ref")
    assert started == Started(created=None, held=("late fill",), retire=True)
    assert book.retire("O7") == "order-ref"
    assert book.retiring == {"O7": "order-ref"}
    assert book.orders == {}
    assert book.quiesced("O7", attrs.evolve(ORDER, order_id="O7")) == ("supervisor-m1", False)
    assert set(book.closed) == {"O7"}


def test_a_quiescing_order_that_a_held_reversal_opened_again_keeps_its_actor() -> None:
    book = routed("m1")
    book.started("O7", "order-ref")
    assert book.order_closed("O7") == "order-ref"
    reopened = attrs.evolve(ORDER, order_id="O7", status=OrderStatus.PARTIALLY_FILLED)
    assert book.quiesced("O7", reopened) == (None, False)
    assert book.orders == {"O7": "order-ref"}
    assert book.closed == {}
