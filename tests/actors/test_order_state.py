"""The order state table pair by pair, and the Order's fill arithmetic under any sequence."""

from __future__ import annotations

import itertools
import types
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from actors.errors import InvalidTransitionError
from actors.fill_outcome import APPLIED, DUPLICATE, FillResult
from actors.order_state import (
    CLOSED_STATUSES,
    TRANSITIONS,
    Order,
    OrderStateMachine,
    OrderTrigger,
)
from messages.enums import OrderSide, OrderStatus
from messages.fills import Fill
from messages.orders import FillRefusal

S = OrderStatus
T = OrderTrigger

# The specification, written out independently of the module so the test can disagree with it.
EXPECTED_TABLE = {
    (S.PENDING, T.ACCEPT): S.ACCEPTED,
    (S.PENDING, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PENDING, T.FILL): S.FILLED,
    (S.PENDING, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.PENDING, T.CANCEL_ACK): S.CANCELLED,
    (S.PENDING, T.REJECT): S.REJECTED,
    (S.ACCEPTED, T.ACCEPT): S.ACCEPTED,
    (S.ACCEPTED, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.ACCEPTED, T.FILL): S.FILLED,
    (S.ACCEPTED, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.ACCEPTED, T.CANCEL_ACK): S.CANCELLED,
    (S.ACCEPTED, T.REJECT): S.REJECTED,
    (S.PARTIALLY_FILLED, T.ACCEPT): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, T.CANCEL_ACK): S.CANCELLED,
    (S.PENDING_CANCEL, T.ACCEPT): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.PARTIAL_FILL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.FILL): S.FILLED,
    (S.PENDING_CANCEL, T.CANCEL_ACK): S.CANCELLED,
    (S.PENDING_CANCEL, T.CANCEL_REFUSED): S.PENDING,
    (S.PENDING_CANCEL, T.CANCEL_REFUSED_ACCEPTED): S.ACCEPTED,
    (S.PENDING_CANCEL, T.CANCEL_REFUSED_PARTIAL): S.PARTIALLY_FILLED,
    (S.PENDING_CANCEL, T.REJECT): S.REJECTED,
    (S.CANCELLED, T.PARTIAL_FILL): S.CANCELLED,
    (S.CANCELLED, T.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, T.REVERSE_PART): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.REVERSE_ALL): S.ACCEPTED,
    (S.FILLED, T.REVERSE_PART): S.PARTIALLY_FILLED,
    (S.FILLED, T.REVERSE_ALL): S.ACCEPTED,
    (S.PENDING_CANCEL, T.REVERSE_PART): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.REVERSE_ALL): S.PENDING_CANCEL,
    (S.CANCELLED, T.REVERSE_PART): S.CANCELLED,
    (S.CANCELLED, T.REVERSE_ALL): S.CANCELLED,
}

ALL_PAIRS = list(itertools.product(OrderStatus, OrderTrigger))
CLOSED = [S.FILLED, S.CANCELLED, S.REJECTED]


def make_order(*, size: Decimal = Decimal(100), price: Decimal = Decimal("0.50")) -> Order:
    return Order(
        order_id="o1",
        correlation_id="c1",
        market_id="m1",
        security_id="yes",
        account="paper",
        strategy="arb",
        side=OrderSide.BUY,
        price=price,
        size=size,
    )


def make_fill(
    fill_id: str = "f1",
    *,
    size: Decimal = Decimal(10),
    price: Decimal = Decimal("0.50"),
    fee: Decimal = Decimal(0),
    **overrides: Any,
) -> Fill:
    fields: dict[str, Any] = {
        "fill_id": fill_id,
        "ts_event": 1,
        "order_id": "o1",
        "market_id": "m1",
        "security_id": "yes",
        "side": OrderSide.BUY,
        "price": price,
        "size": size,
        "fee": fee,
    }
    fields.update(overrides)
    return Fill(**fields)


def order_in(status: OrderStatus, *, filled: Decimal = Decimal(0)) -> Order:
    """An order driven to ``status`` through its public API, with ``filled`` applied first."""
    order = make_order()
    if filled:
        assert order.apply_fill(make_fill("setup", size=filled)).applied
    if status is S.ACCEPTED:
        order.accept()
    elif status is S.PENDING_CANCEL:
        assert order.request_cancel() is None
    elif status is S.CANCELLED:
        order.cancelled()
    elif status is S.REJECTED:
        order.reject()
    elif status is S.FILLED:
        assert order.apply_fill(make_fill("rest", size=order.size - order.filled)).applied
    assert order.status is status
    return order


# --- the table ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "trigger"), ALL_PAIRS, ids=[f"{s.name}-{t.name}" for s, t in ALL_PAIRS]
)
def test_every_pair_moves_where_the_table_says_or_raises_naming_the_pair(
    state: OrderStatus, trigger: OrderTrigger
) -> None:
    machine = OrderStateMachine(state)
    expected = EXPECTED_TABLE.get((state, trigger))
    assert machine.can_fire(trigger) is (expected is not None)
    if expected is None:
        with pytest.raises(InvalidTransitionError) as raised:
            machine.fire(trigger)
        assert str(raised.value) == f"{state.name} -> {trigger.name}"
        assert (raised.value.state, raised.value.trigger) == (state, trigger)
        assert machine.state is state
    else:
        assert machine.fire(trigger) is expected
        assert machine.state is expected


def test_the_table_has_exactly_the_specified_pairs() -> None:
    assert dict(TRANSITIONS) == EXPECTED_TABLE


def test_the_table_is_read_only() -> None:
    assert isinstance(TRANSITIONS, types.MappingProxyType)
    with pytest.raises(TypeError):
        TRANSITIONS[S.FILLED, T.FILL] = S.PENDING  # type: ignore[index]


def test_filled_cancelled_and_rejected_are_the_closed_states() -> None:
    assert frozenset(CLOSED) == CLOSED_STATUSES


def test_a_new_state_machine_starts_pending() -> None:
    assert OrderStateMachine().state is S.PENDING


def test_rejected_is_a_dead_end_and_filled_leaves_only_by_a_reversal() -> None:
    assert not any(state is S.REJECTED for state, _ in TRANSITIONS)
    leaving_filled = {trigger for state, trigger in TRANSITIONS if state is S.FILLED}
    assert leaving_filled == {T.REVERSE_PART, T.REVERSE_ALL}


# --- fills -------------------------------------------------------------------------------


def test_partial_then_full_fill_moves_pending_to_partially_filled_to_filled() -> None:
    order = make_order()
    assert order.apply_fill(make_fill("f1", size=Decimal(40))) == APPLIED
    assert (order.status, order.filled, order.version) == (S.PARTIALLY_FILLED, 40, 1)
    assert order.apply_fill(make_fill("f2", size=Decimal(60))) == APPLIED
    assert (order.status, order.filled, order.version) == (S.FILLED, 100, 2)
    assert order.is_closed


def test_average_fill_price_is_exact_notional_over_filled() -> None:
    order = make_order(size=Decimal(3))
    fills = [
        make_fill("f1", size=Decimal(1), price=Decimal("0.10"), fee=Decimal("0.001")),
        make_fill("f2", size=Decimal(1), price=Decimal("0.20"), fee=Decimal("0.002")),
        make_fill("f3", size=Decimal(1), price=Decimal("0.40"), fee=Decimal("0.004")),
    ]
    for fill in fills:
        assert order.apply_fill(fill).applied
    assert order.avg_fill_price == Decimal("0.70") / Decimal(3)
    assert order.snapshot().avg_fill_price == order.avg_fill_price
    assert order.fees == Decimal("0.007")


def test_average_fill_price_is_none_before_any_fill() -> None:
    assert make_order().avg_fill_price is None
    assert make_order().snapshot().avg_fill_price is None


def test_duplicate_fill_is_a_silent_no_op_even_with_another_ts_init() -> None:
    order = make_order()
    fill = make_fill("f1", fee=Decimal("0.01"))
    order.apply_fill(fill)
    before = order.snapshot()
    assert order.apply_fill(attrs.evolve(fill, ts_init=fill.ts_init + 1)) == DUPLICATE
    assert order.snapshot() == before


def test_conflicting_duplicate_is_refused_and_changes_nothing() -> None:
    order = make_order()
    order.apply_fill(make_fill("f1", size=Decimal(10)))
    before = order.snapshot()
    outcome = order.apply_fill(make_fill("f1", size=Decimal(11)))
    assert outcome.result is FillResult.REFUSED
    assert outcome.refusal is FillRefusal.CONFLICTING_DUPLICATE
    assert "f1" in outcome.detail
    assert order.snapshot() == before


def test_overfill_is_refused_with_the_numbers_and_changes_nothing() -> None:
    order = make_order()
    order.apply_fill(make_fill("f1", size=Decimal(80)))
    before = order.snapshot()
    outcome = order.apply_fill(make_fill("f2", size=Decimal(30)))
    assert outcome.refusal is FillRefusal.OVERFILL
    assert outcome.detail == "fill 30 would take filled 80 past size 100"
    assert order.snapshot() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("order_id", "o2"),
        ("market_id", "m2"),
        ("security_id", "no"),
        ("side", OrderSide.SELL),
    ],
)
def test_fill_for_another_order_market_security_or_side_is_refused(field: str, value: Any) -> None:
    order = make_order()
    outcome = order.apply_fill(make_fill(**{field: value}))
    assert outcome.refusal is FillRefusal.MISMATCHED_ORDER
    assert field in outcome.detail
    assert order.snapshot() == make_order().snapshot()


def test_mismatch_is_checked_before_duplicates() -> None:
    order = make_order()
    order.apply_fill(make_fill("f1"))
    outcome = order.apply_fill(make_fill("f1", security_id="no"))
    assert outcome.refusal is FillRefusal.MISMATCHED_ORDER


def test_conflicting_duplicate_is_checked_before_overfill() -> None:
    order = make_order()
    order.apply_fill(make_fill("f1", size=Decimal(100)))
    outcome = order.apply_fill(make_fill("f1", size=Decimal(50)))
    assert outcome.refusal is FillRefusal.CONFLICTING_DUPLICATE


def test_fill_after_cancel_requested_is_applied_and_stays_pending_cancel() -> None:
    order = order_in(S.PENDING_CANCEL)
    assert order.apply_fill(make_fill("f1", size=Decimal(10))).applied
    assert (order.status, order.filled) == (S.PENDING_CANCEL, 10)


def test_completing_fill_after_cancel_requested_fills_the_order() -> None:
    order = order_in(S.PENDING_CANCEL, filled=Decimal(40))
    assert order.apply_fill(make_fill("f1", size=Decimal(60))).applied
    assert order.status is S.FILLED


def test_late_fill_after_cancel_acknowledged_is_applied_and_stays_cancelled() -> None:
    order = order_in(S.CANCELLED)
    version = order.version
    assert order.apply_fill(make_fill("f1", size=Decimal(10))).applied
    assert (order.status, order.filled, order.version) == (S.CANCELLED, 10, version + 1)


def test_late_completing_fill_after_cancel_acknowledged_fills_the_order() -> None:
    order = order_in(S.CANCELLED, filled=Decimal(30))
    assert order.apply_fill(make_fill("f1", size=Decimal(70))).applied
    assert order.status is S.FILLED


def test_fill_on_rejected_order_is_refused_and_changes_nothing() -> None:
    order = order_in(S.REJECTED)
    before = order.snapshot()
    outcome = order.apply_fill(make_fill("f1"))
    assert outcome.refusal is FillRefusal.ORDER_REJECTED
    assert order.snapshot() == before


def test_any_fill_on_filled_order_is_refused_as_overfill() -> None:
    order = order_in(S.FILLED)
    outcome = order.apply_fill(make_fill("f9", size=Decimal("0.01")))
    assert outcome.refusal is FillRefusal.OVERFILL
    assert order.status is S.FILLED


def test_snapshot_lists_fill_ids_in_application_order() -> None:
    order = make_order()
    for fill_id in ("c", "a", "b"):
        order.apply_fill(make_fill(fill_id, size=Decimal(1)))
    order.apply_fill(make_fill("a", size=Decimal(1)))
    snapshot = order.snapshot()
    assert order.fill_ids == ("c", "a", "b")
    assert (snapshot.fill_count, snapshot.last_fill_id) == (3, "b")
    assert (snapshot.filled, snapshot.leaves, snapshot.version) == (3, 97, 3)


# --- acknowledgements and cancels --------------------------------------------------------


def test_first_accept_makes_the_order_accepted_and_repeats_change_nothing() -> None:
    order = make_order()
    order.accept()
    order.accept()
    assert (order.status, order.version) == (S.ACCEPTED, 1)


def test_an_accepted_order_whose_cancel_is_refused_is_accepted_again() -> None:
    order = order_in(S.ACCEPTED)
    assert order.request_cancel() is None
    order.cancel_refused()
    assert (order.status, order.version) == (S.ACCEPTED, 3)


def test_an_ack_that_arrives_while_a_cancel_is_pending_is_remembered_if_it_is_refused() -> None:
    order = order_in(S.PENDING_CANCEL)
    order.accept()
    assert order.status is S.PENDING_CANCEL
    order.cancel_refused()
    assert order.status is S.ACCEPTED


def test_a_memento_written_before_accepted_existed_restores_an_acked_order_as_accepted() -> None:
    order = order_in(S.ACCEPTED)
    old = attrs.evolve(order.memento(), status=S.PENDING)  # how such a journal recorded it
    restored = Order.from_memento(old)
    assert (restored.status, restored.version) == (S.ACCEPTED, order.version)
    unacked = Order.from_memento(make_order().memento())
    assert unacked.status is S.PENDING


def test_accept_after_a_fill_keeps_partially_filled() -> None:
    order = order_in(S.PARTIALLY_FILLED, filled=Decimal(10))
    order.accept()
    assert (order.status, order.version) == (S.PARTIALLY_FILLED, 2)


@pytest.mark.parametrize("status", CLOSED)
def test_accept_after_the_order_closed_is_ignored(status: OrderStatus) -> None:
    order = order_in(status)
    before = order.snapshot()
    order.accept()
    assert order.snapshot() == before


def test_request_cancel_moves_an_open_order_to_pending_cancel() -> None:
    order = make_order()
    assert order.request_cancel() is None
    assert (order.status, order.version) == (S.PENDING_CANCEL, 1)


@pytest.mark.parametrize("status", CLOSED)
def test_request_cancel_on_closed_order_is_refused_with_its_status(status: OrderStatus) -> None:
    order = order_in(status)
    before = order.snapshot()
    assert order.request_cancel() == f"order is {status.name}"
    assert order.snapshot() == before


def test_second_cancel_request_is_refused() -> None:
    order = order_in(S.PENDING_CANCEL)
    version = order.version
    assert order.request_cancel() == "cancel already requested"
    assert (order.status, order.version) == (S.PENDING_CANCEL, version)


@pytest.mark.parametrize("status", [S.PENDING, S.ACCEPTED, S.PARTIALLY_FILLED, S.PENDING_CANCEL])
def test_cancel_ack_cancels_any_open_order(status: OrderStatus) -> None:
    order = order_in(status, filled=Decimal(10) if status is S.PARTIALLY_FILLED else Decimal(0))
    version = order.version
    order.cancelled()
    assert (order.status, order.version) == (S.CANCELLED, version + 1)


@pytest.mark.parametrize("status", CLOSED)
def test_cancel_ack_after_the_order_closed_is_ignored(status: OrderStatus) -> None:
    order = order_in(status)
    before = order.snapshot()
    order.cancelled()
    assert order.snapshot() == before


def test_cancel_refused_returns_to_pending_when_nothing_filled() -> None:
    order = order_in(S.PENDING_CANCEL)
    order.cancel_refused()
    assert (order.status, order.version) == (S.PENDING, 2)


def test_cancel_refused_returns_to_partially_filled_after_a_fill() -> None:
    order = order_in(S.PENDING_CANCEL, filled=Decimal(10))
    order.cancel_refused()
    assert (order.status, order.version) == (S.PARTIALLY_FILLED, 3)


@pytest.mark.parametrize("status", [S.PENDING, S.FILLED, S.CANCELLED])
def test_cancel_refused_is_ignored_unless_a_cancel_is_pending(status: OrderStatus) -> None:
    order = order_in(status)
    before = order.snapshot()
    order.cancel_refused()
    assert order.snapshot() == before


def test_reject_of_a_pending_order_closes_it() -> None:
    order = make_order()
    order.reject()
    assert (order.status, order.version, order.is_closed) == (S.REJECTED, 1, True)


def test_reject_after_a_fill_raises_and_changes_nothing() -> None:
    order = order_in(S.PENDING_CANCEL, filled=Decimal(10))
    before = order.snapshot()
    with pytest.raises(InvalidTransitionError, match="PENDING_CANCEL -> REJECT"):
        order.reject()
    assert order.snapshot() == before


def test_reject_of_a_filled_order_raises() -> None:
    with pytest.raises(InvalidTransitionError, match="FILLED -> REJECT"):
        order_in(S.FILLED).reject()


def test_order_refuses_a_float_size() -> None:
    with pytest.raises(TypeError, match="size"):
        make_order(size=100.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [Decimal(0), Decimal(-1), Decimal("NaN")])
def test_order_refuses_a_size_that_is_not_positive_and_finite(size: Decimal) -> None:
    with pytest.raises(ValueError, match="size"):
        make_order(size=size)


# --- any sequence of operations ----------------------------------------------------------

_MISMATCHES: tuple[tuple[str, Any], ...] = (
    ("order_id", "o2"),
    ("market_id", "m2"),
    ("security_id", "no"),
    ("side", OrderSide.SELL),
)
_amounts = st.decimals(min_value=Decimal("0.1"), max_value=Decimal(30), places=1)
_prices = st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=2)
_fees = st.decimals(min_value=Decimal(0), max_value=Decimal("0.05"), places=3)
_POOL_SIZE = 6
# Mostly fills for this order, so the order does not sit closed while mismatches pile up.
_MISMATCH_OR_NONE = (None, None, None, None, *_MISMATCHES)


class OrderLifecycle(RuleBasedStateMachine):
    """Fills (redelivered, altered, mismatched, overfilling) and venue answers in any order.

    Fills come from a small pool keyed by id, so redeliveries and conflicts are common; the
    ``fill_rest`` rule completes the order exactly, which random sizes would almost never do.
    The model is the simplest record there is: the fills that should have been applied.
    """

    @initialize(
        size=st.decimals(min_value=Decimal(10), max_value=Decimal(100), places=1),
        pool=st.lists(
            st.tuples(_amounts, _prices, _fees), min_size=_POOL_SIZE, max_size=_POOL_SIZE
        ),
    )
    def place_order(self, size: Decimal, pool: list[tuple[Decimal, Decimal, Decimal]]) -> None:
        self.order = make_order(size=size)
        self.pool = pool
        self.applied: dict[str, Fill] = {}
        self.accepted = False
        self.rest_count = 0

    @property
    def model_filled(self) -> Decimal:
        return sum((fill.size for fill in self.applied.values()), Decimal(0))

    def _step(self, operation: Callable[[], bool]) -> None:
        """Run one operation; a change bumps version by one, anything else changes nothing."""
        before = self.order.snapshot()
        if operation():
            assert self.order.version == before.version + 1
        else:
            assert self.order.snapshot() == before
        assert self.order.status is before.status or any(
            TRANSITIONS.get((before.status, trigger)) is self.order.status
            for trigger in OrderTrigger
        )

    def _deliver(self, fill: Fill) -> bool:
        """Apply ``fill`` and check the outcome against the rules, in their order."""
        order = self.order
        outcome = order.apply_fill(fill)
        if any(getattr(fill, name) != getattr(order, name) for name, _ in _MISMATCHES):
            assert outcome.refusal is FillRefusal.MISMATCHED_ORDER
        elif fill.fill_id in self.applied:
            if self.applied[fill.fill_id] == fill:
                assert outcome == DUPLICATE
            else:
                assert outcome.refusal is FillRefusal.CONFLICTING_DUPLICATE
        elif order.status is S.REJECTED:
            assert outcome.refusal is FillRefusal.ORDER_REJECTED
        elif self.model_filled + fill.size > order.size:
            assert outcome.refusal is FillRefusal.OVERFILL
        else:
            assert outcome == APPLIED
            self.applied[fill.fill_id] = fill
        return outcome.applied

    @rule(
        key=st.integers(0, _POOL_SIZE - 1),
        conflict=st.booleans(),
        mismatch=st.sampled_from(_MISMATCH_OR_NONE),
    )
    def deliver_pool_fill(self, key: int, conflict: bool, mismatch: tuple[str, Any] | None) -> None:
        amount, price, fee = self.pool[key]
        fill = make_fill(f"f{key}", size=amount, price=price, fee=fee)
        if conflict:
            fill = attrs.evolve(fill, fee=fee + Decimal("0.001"))
        if mismatch is not None:
            fill = attrs.evolve(fill, **{mismatch[0]: mismatch[1]})
        self._step(lambda: self._deliver(fill))

    @rule()
    def fill_rest(self) -> None:
        remaining = self.order.size - self.model_filled
        self.rest_count += 1
        fill_id = f"rest{self.rest_count}"
        self._step(lambda: remaining > 0 and self._deliver(make_fill(fill_id, size=remaining)))

    @rule()
    def accept(self) -> None:
        def operation() -> bool:
            changed = not self.accepted and not self.order.is_closed
            self.order.accept()
            self.accepted = self.accepted or changed
            return changed

        self._step(operation)

    @rule()
    def request_cancel(self) -> None:
        def operation() -> bool:
            was_open = self.order.status in (S.PENDING, S.ACCEPTED, S.PARTIALLY_FILLED)
            reason = self.order.request_cancel()
            assert (reason is None) is was_open
            return was_open

        self._step(operation)

    @rule()
    def cancel_ack(self) -> None:
        def operation() -> bool:
            was_open = not self.order.is_closed
            self.order.cancelled()
            return was_open

        self._step(operation)

    @rule()
    def cancel_refused(self) -> None:
        def operation() -> bool:
            was_pending_cancel = self.order.status is S.PENDING_CANCEL
            self.order.cancel_refused()
            return was_pending_cancel

        self._step(operation)

    @rule()
    def reject(self) -> None:
        def operation() -> bool:
            legal = (self.order.status, T.REJECT) in TRANSITIONS and self.model_filled == 0
            try:
                self.order.reject()
            except InvalidTransitionError:
                assert not legal
                return False
            assert legal
            return True

        self._step(operation)

    @invariant()
    def filled_stays_between_zero_and_size(self) -> None:
        assert 0 <= self.order.filled <= self.order.size

    @invariant()
    def filled_and_fees_are_the_sums_of_the_applied_fills(self) -> None:
        assert self.order.filled == self.model_filled
        assert self.order.fees == sum((f.fee for f in self.applied.values()), Decimal(0))
        assert self.order.fill_ids == tuple(self.applied)

    @invariant()
    def average_price_is_notional_over_filled(self) -> None:
        notional = sum((f.notional for f in self.applied.values()), Decimal(0))
        filled = self.order.filled
        assert self.order.avg_fill_price == (notional / filled if filled else None)

    @invariant()
    def order_is_filled_exactly_when_filled_reaches_size(self) -> None:
        assert (self.order.status is S.FILLED) is (self.order.filled == self.order.size)

    @invariant()
    def an_order_rests_accepted_exactly_when_acked_and_nothing_filled_or_asked(self) -> None:
        status = self.order.status
        if status in (S.ACCEPTED, S.PENDING):
            assert self.accepted is (status is S.ACCEPTED)
            assert self.order.filled == 0

    @invariant()
    def a_rejected_order_has_no_fills(self) -> None:
        assert self.order.status is not S.REJECTED or self.order.filled == 0


OrderLifecycle.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
TestAnySequenceOfOperationsKeepsTheOrderConsistent = OrderLifecycle.TestCase
