"""The order state machine, kept as a table, and the ``Order`` that applies fills through it.

Plain classes with no threads: the ExecutionActor owns the orders and turns venue messages
into calls here. Business refusals (an overfill, a cancel of a filled order) come back as
values; only a pair the table does not have raises ``InvalidTransitionError``.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping
from decimal import Decimal
from typing import TypeAlias

import structlog

from actors.errors import InvalidTransitionError
from actors.fill_outcome import APPLIED, FillOutcome, charge_repeat, refused, repeat_outcome
from messages.enums import OrderSide, OrderStatus
from messages.fills import Fill, FillCharged, FillReversed
from messages.journal import CancelRequested
from messages.mementos import OrderMemento, ReversedFill
from messages.orders import (
    CancelRejected,
    FillRefusal,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderSnapshot,
)

_log = structlog.get_logger("tradeactors", actor="order_state")


class OrderTrigger(enum.Enum):
    """What can happen to an order; each one fires at most one transition."""

    ACCEPT = "ACCEPT"  # the venue acknowledged the order: it rests there (PENDING -> ACCEPTED)
    PARTIAL_FILL = "PARTIAL_FILL"  # a fill that leaves size open
    FILL = "FILL"  # a fill that completes the order's size
    CANCEL_REQUEST = "CANCEL_REQUEST"  # we asked the venue to cancel
    CANCEL_ACK = "CANCEL_ACK"  # the venue cancelled, asked or on its own (e.g. market close)
    CANCEL_REFUSED = "CANCEL_REFUSED"  # the venue refused our cancel and nothing had filled
    CANCEL_REFUSED_ACCEPTED = "CANCEL_REFUSED_ACCEPTED"  # same, the venue had acknowledged it
    CANCEL_REFUSED_PARTIAL = "CANCEL_REFUSED_PARTIAL"  # refused, and some had filled
    REJECT = "REJECT"  # the venue rejected the order
    REVERSE_PART = "REVERSE_PART"  # a fill taken back, and some filled quantity remains
    REVERSE_ALL = "REVERSE_ALL"  # a fill taken back, and nothing filled remains


_S = OrderStatus
_T = OrderTrigger

TRANSITIONS: Mapping[tuple[OrderStatus, OrderTrigger], OrderStatus] = types.MappingProxyType(
    {
        (_S.PENDING, _T.ACCEPT): _S.ACCEPTED,
        (_S.PENDING, _T.PARTIAL_FILL): _S.PARTIALLY_FILLED,
        (_S.PENDING, _T.FILL): _S.FILLED,
        (_S.PENDING, _T.CANCEL_REQUEST): _S.PENDING_CANCEL,
        (_S.PENDING, _T.CANCEL_ACK): _S.CANCELLED,
        (_S.PENDING, _T.REJECT): _S.REJECTED,
        (_S.ACCEPTED, _T.ACCEPT): _S.ACCEPTED,
        (_S.ACCEPTED, _T.PARTIAL_FILL): _S.PARTIALLY_FILLED,
        (_S.ACCEPTED, _T.FILL): _S.FILLED,
        (_S.ACCEPTED, _T.CANCEL_REQUEST): _S.PENDING_CANCEL,
        (_S.ACCEPTED, _T.CANCEL_ACK): _S.CANCELLED,
        # A broker's callbacks may come out of order: its rejection after its ack.
        (_S.ACCEPTED, _T.REJECT): _S.REJECTED,
        (_S.PARTIALLY_FILLED, _T.ACCEPT): _S.PARTIALLY_FILLED,
        (_S.PARTIALLY_FILLED, _T.PARTIAL_FILL): _S.PARTIALLY_FILLED,
        (_S.PARTIALLY_FILLED, _T.FILL): _S.FILLED,
        (_S.PARTIALLY_FILLED, _T.CANCEL_REQUEST): _S.PENDING_CANCEL,
        (_S.PARTIALLY_FILLED, _T.CANCEL_ACK): _S.CANCELLED,
        (_S.PENDING_CANCEL, _T.ACCEPT): _S.PENDING_CANCEL,
        (_S.PENDING_CANCEL, _T.PARTIAL_FILL): _S.PENDING_CANCEL,
        (_S.PENDING_CANCEL, _T.FILL): _S.FILLED,
        (_S.PENDING_CANCEL, _T.CANCEL_ACK): _S.CANCELLED,
        (_S.PENDING_CANCEL, _T.CANCEL_REFUSED): _S.PENDING,
        (_S.PENDING_CANCEL, _T.CANCEL_REFUSED_ACCEPTED): _S.ACCEPTED,
        (_S.PENDING_CANCEL, _T.CANCEL_REFUSED_PARTIAL): _S.PARTIALLY_FILLED,
        (_S.PENDING_CANCEL, _T.REJECT): _S.REJECTED,
        # Late fills: the venue filled before our cancel took effect. The order stays
        # addressable and the fill is applied, or the position would silently drift.
        (_S.CANCELLED, _T.PARTIAL_FILL): _S.CANCELLED,
        (_S.CANCELLED, _T.FILL): _S.FILLED,
        # A reversal (a trade that failed to settle) takes back filled quantity: the order
        # is as if that fill never came, so what it gave back is open again, unless a
        # cancel was asked for or done (then that stands). Only states that hold fills.
        (_S.PARTIALLY_FILLED, _T.REVERSE_PART): _S.PARTIALLY_FILLED,
        (_S.PARTIALLY_FILLED, _T.REVERSE_ALL): _S.ACCEPTED,
        (_S.FILLED, _T.REVERSE_PART): _S.PARTIALLY_FILLED,
        (_S.FILLED, _T.REVERSE_ALL): _S.ACCEPTED,
        (_S.PENDING_CANCEL, _T.REVERSE_PART): _S.PENDING_CANCEL,
        (_S.PENDING_CANCEL, _T.REVERSE_ALL): _S.PENDING_CANCEL,
        (_S.CANCELLED, _T.REVERSE_PART): _S.CANCELLED,
        (_S.CANCELLED, _T.REVERSE_ALL): _S.CANCELLED,
    }
)
"""Every legal ``(state, trigger) -> next state``; any pair not here is invalid."""

CLOSED_STATUSES: frozenset[OrderStatus] = frozenset({_S.FILLED, _S.CANCELLED, _S.REJECTED})
"""States with nothing left open at the venue (CANCELLED still takes late fills)."""


class OrderStateMachine:
    """Holds one order's state and moves it only along ``TRANSITIONS``."""

    __slots__ = ("_state",)

    def __init__(self, state: OrderStatus = OrderStatus.PENDING) -> None:
        self._state = state

    @property
    def state(self) -> OrderStatus:
        return self._state

    def can_fire(self, trigger: OrderTrigger) -> bool:
        """Whether ``trigger`` is legal now, so callers can ignore a known race up front."""
        return (self._state, trigger) in TRANSITIONS

    def fire(self, trigger: OrderTrigger) -> OrderStatus:
        """Move to the table's next state; an unlisted pair is a bug, so it raises.

        Raises ``InvalidTransitionError`` and leaves the state unchanged when the table has
        no entry for ``(state, trigger)``.
        """
        try:
            self._state = TRANSITIONS[self._state, trigger]
        except KeyError:
            raise InvalidTransitionError(self._state, trigger) from None
        return self._state

    def __repr__(self) -> str:
        return f"OrderStateMachine({self._state.name})"


def _show(value: object) -> str:
    return value.name if isinstance(value, enum.Enum) else str(value)


def _check_decimal(name: str, value: object, *, positive: bool) -> None:
    if type(value) is not Decimal:
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite() or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")


class Order:
    """One limit order: its state, its fills and what they add up to, in exact Decimals.

    Fills are keyed on ``fill_id`` so a redelivery is a no-op. ``version`` goes up by one on
    every change and never on a refusal, so subscribers can drop stale snapshots.
    """

    def __init__(
        self,
        *,
        order_id: str,
        correlation_id: str,
        market_id: str,
        security_id: str,
        account: str,
        strategy: str,
        side: OrderSide,
        price: Decimal,
        size: Decimal,
        manual: bool = False,
    ) -> None:
        _check_decimal("price", price, positive=False)
        _check_decimal("size", size, positive=True)
        self.order_id = order_id
        self.correlation_id = correlation_id
        self.market_id = market_id
        self.security_id = security_id
        self.account = account
        self.strategy = strategy
        self.side = side
        self.price = price
        self.size = size
        self.manual = manual
        """A client submitted it, not a strategy (``OrderSnapshot.manual``)."""
        self._machine = OrderStateMachine()
        self._fills: dict[str, Fill] = {}
        self._filled = Decimal(0)
        self._fees = Decimal(0)
        self._notional = Decimal(0)
        self._accepted = False
        self._version = 0
        self._reversed: dict[str, ReversedFill] = {}
        self._reopened = 0
        self._charges: dict[str, FillCharged] = {}

    @property
    def status(self) -> OrderStatus:
        return self._machine.state

    @property
    def filled(self) -> Decimal:
        return self._filled

    @property
    def fees(self) -> Decimal:
        return self._fees

    @property
    def avg_fill_price(self) -> Decimal | None:
        """Size-weighted average price of the applied fills; None before the first one."""
        if self._filled == 0:
            return None
        return self._notional / self._filled

    @property
    def version(self) -> int:
        return self._version

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    def apply_fill(self, fill: Fill) -> FillOutcome:
        """Apply a venue fill once, or say why not; a refusal or a duplicate changes nothing."""
        mismatches = [
            f"{name} {_show(theirs)} != {_show(ours)}"
            for name, theirs, ours in (
                ("order_id", fill.order_id, self.order_id),
                ("market_id", fill.market_id, self.market_id),
                ("security_id", fill.security_id, self.security_id),
                ("side", fill.side, self.side),
            )
            if theirs != ours
        ]
        if mismatches:
            return refused(
                FillRefusal.MISMATCHED_ORDER,
                f"fill {fill.fill_id} does not match order {self.order_id}: "
                + ", ".join(mismatches),
            )
        repeat = repeat_outcome(self._fills, fill)
        if repeat is not None:
            return repeat
        if fill.fill_id in self._reversed:
            return refused(FillRefusal.ALREADY_REVERSED, f"fill {fill.fill_id} was reversed before")
        if self.status is OrderStatus.REJECTED:
            return refused(FillRefusal.ORDER_REJECTED, f"order {self.order_id} is REJECTED")
        filled = self._filled + fill.size
        if filled > self.size:
            return refused(
                FillRefusal.OVERFILL,
                f"fill {fill.size} would take filled {self._filled} past size {self.size}",
            )
        trigger = OrderTrigger.FILL if filled == self.size else OrderTrigger.PARTIAL_FILL
        self._machine.fire(trigger)
        self._fills[fill.fill_id] = fill
        self._filled = filled
        self._fees += fill.fee
        self._notional += fill.notional
        self._version += 1
        return APPLIED

    def apply_reversal(self, reversal: FillReversed) -> FillOutcome:
        """Take back an applied fill: filled, fees and average price as if it never came.

        The state follows ``TRANSITIONS``: a FILLED or PARTIALLY_FILLED order whose fill is
        reversed is open again for what it gave back (PARTIALLY_FILLED while some fill
        remains, else ACCEPTED); a cancel asked for or done stands. A repeated reversal, or
        one of a fill this order never applied, is refused and changes nothing.
        """
        if reversal.order_id != self.order_id:
            return refused(
                FillRefusal.MISMATCHED_ORDER,
                f"reversal of {reversal.fill_id} is for order {reversal.order_id}, "
                f"not {self.order_id}",
            )
        if reversal.fill_id in self._reversed:
            return refused(
                FillRefusal.ALREADY_REVERSED, f"fill {reversal.fill_id} was reversed before"
            )
        fill = self._fills.get(reversal.fill_id)
        if fill is None:
            return refused(
                FillRefusal.UNKNOWN_FILL,
                f"order {self.order_id} applied no fill {reversal.fill_id}",
            )
        closed = self.is_closed
        remaining = len(self._fills) > 1
        self._machine.fire(OrderTrigger.REVERSE_PART if remaining else OrderTrigger.REVERSE_ALL)
        del self._fills[fill.fill_id]
        self._reversed[fill.fill_id] = ReversedFill(fill=fill, reversal=reversal)
        self._charges.pop(fill.fill_id, None)
        # Summed again over the fills left, in their order: the very sums that never saw it.
        self._filled = self._fees = self._notional = Decimal(0)
        for kept in self._fills.values():
            self._filled += kept.size
            self._fees += kept.fee
            self._notional += kept.notional
        for charge in self._charges.values():
            self._fees += charge.change
        if closed and not self.is_closed:
            self._reopened += 1
        self._version += 1
        return APPLIED

    def apply_charge(self, charge: FillCharged) -> FillOutcome:
        """The broker's fee and tax for an applied fill, in place of the fee it was booked
        with: ``fees`` change by ``charge.change``, once; nothing else does. A repeat is a
        duplicate; other figures for a charged fill, or a charge of a fill this order does
        not hold (never applied, or reversed), are refused and change nothing.
        """
        if charge.order_id != self.order_id:
            return refused(
                FillRefusal.MISMATCHED_ORDER,
                f"charge of {charge.fill_id} is for order {charge.order_id}, not {self.order_id}",
            )
        repeat = charge_repeat(self._charges, charge)
        if repeat is not None:
            return repeat
        if charge.fill_id in self._reversed:
            return refused(FillRefusal.ALREADY_REVERSED, f"fill {charge.fill_id} was reversed")
        if charge.fill_id not in self._fills:
            return refused(
                FillRefusal.UNKNOWN_FILL, f"order {self.order_id} applied no fill {charge.fill_id}"
            )
        self._charges[charge.fill_id] = charge
        self._fees += charge.change
        self._version += 1
        return APPLIED

    @property
    def charges(self) -> tuple[FillCharged, ...]:
        """The broker's charges for the fills held, in the order they came."""
        return tuple(self._charges.values())

    @property
    def reopened(self) -> int:
        """How often a reversal took this closed order back open."""
        return self._reopened

    @property
    def reversed_fills(self) -> tuple[ReversedFill, ...]:
        """The fills taken back, in the order they were reversed."""
        return tuple(self._reversed.values())

    def accept(self) -> None:
        """Record the venue's acknowledgement; only the first one is a change.

        Ignored once the order is closed: the acknowledgement lost a race with a final fill,
        a cancel or a rejection, and there is nothing left for it to say.
        """
        if self.is_closed:
            return
        self._machine.fire(OrderTrigger.ACCEPT)
        if not self._accepted:
            self._accepted = True
            self._version += 1

    def cancel_refusal(self) -> str | None:
        """Why a cancel cannot be requested now (closed, or one already pending), else None."""
        if self.is_closed:
            return f"order is {self.status.name}"
        if self.status is OrderStatus.PENDING_CANCEL:
            return "cancel already requested"
        return None

    def request_cancel(self) -> str | None:
        """Mark a cancel as requested: None means send it to the venue, a string says why not."""
        refusal = self.cancel_refusal()
        if refusal is not None:
            return refusal
        self._machine.fire(OrderTrigger.CANCEL_REQUEST)
        self._version += 1
        return None

    def cancelled(self) -> None:
        """Record the venue's cancel; ignored once closed (it raced a final fill, or repeats)."""
        if self.is_closed:
            return
        self._machine.fire(OrderTrigger.CANCEL_ACK)
        self._version += 1

    def cancel_refused(self) -> None:
        """Record that the venue kept the order open; ignored unless a cancel is pending.

        Anything but PENDING_CANCEL means a fill already closed the order (or an answer
        repeats), so there is nothing to undo.
        """
        if self.status is not OrderStatus.PENDING_CANCEL:
            return
        if self._filled > 0:
            trigger = OrderTrigger.CANCEL_REFUSED_PARTIAL
        elif self._accepted:
            trigger = OrderTrigger.CANCEL_REFUSED_ACCEPTED
        else:
            trigger = OrderTrigger.CANCEL_REFUSED
        self._machine.fire(trigger)
        self._version += 1

    def reject(self) -> None:
        """Record the venue's rejection of the order.

        Raises ``InvalidTransitionError`` when the table forbids it, and also once anything
        has filled: the venue cannot reject an order it executed, and a REJECTED order with
        fills would hide them from the books.
        """
        if self._filled > 0:
            raise InvalidTransitionError(self.status, OrderTrigger.REJECT)
        self._machine.fire(OrderTrigger.REJECT)
        self._version += 1

    @property
    def fill_ids(self) -> tuple[str, ...]:
        """Ids of the applied fills, in the order they were applied."""
        return tuple(self._fills)

    def snapshot(self) -> OrderSnapshot:
        """The order as an immutable message, for publishing and for ``ask`` answers."""
        return OrderSnapshot(
            order_id=self.order_id,
            correlation_id=self.correlation_id,
            market_id=self.market_id,
            security_id=self.security_id,
            account=self.account,
            strategy=self.strategy,
            side=self.side,
            price=self.price,
            size=self.size,
            filled=self._filled,
            avg_fill_price=self.avg_fill_price,
            fees=self._fees,
            status=self.status,
            fill_count=len(self._fills),
            last_fill_id=next(reversed(self._fills), None),
            version=self._version,
            manual=self.manual,
        )

    def memento(self) -> OrderMemento:
        """Everything the order holds, so a journal snapshot can restore it without replay."""
        return OrderMemento(
            order_id=self.order_id,
            correlation_id=self.correlation_id,
            market_id=self.market_id,
            security_id=self.security_id,
            account=self.account,
            strategy=self.strategy,
            side=self.side,
            price=self.price,
            size=self.size,
            status=self.status,
            filled=self._filled,
            fees=self._fees,
            notional=self._notional,
            accepted=self._accepted,
            version=self._version,
            fills=tuple(self._fills.values()),
            manual=self.manual,
            reversed=tuple(self._reversed.values()),
            reopened=self._reopened,
            charges=tuple(self._charges.values()),
        )

    @classmethod
    def from_memento(cls, memento: OrderMemento) -> Order:
        """The order ``memento`` was taken from, state set directly rather than replayed.

        Replaying the fills would bump ``version`` and lose the accept and cancel history;
        the restored order answers every later call exactly as the original would.
        """
        order = cls(
            order_id=memento.order_id,
            correlation_id=memento.correlation_id,
            market_id=memento.market_id,
            security_id=memento.security_id,
            account=memento.account,
            strategy=memento.strategy,
            side=memento.side,
            price=memento.price,
            size=memento.size,
            manual=memento.manual,
        )
        status = memento.status
        if status is OrderStatus.PENDING and memento.accepted:
            # Written before ACCEPTED existed, when an acknowledged order stayed PENDING.
            status = OrderStatus.ACCEPTED
        order._machine = OrderStateMachine(status)
        order._fills = {fill.fill_id: fill for fill in memento.fills}
        order._filled = memento.filled
        order._fees = memento.fees
        order._notional = memento.notional
        order._accepted = memento.accepted
        order._version = memento.version
        order._reversed = {entry.fill.fill_id: entry for entry in memento.reversed}
        order._reopened = memento.reopened
        order._charges = {charge.fill_id: charge for charge in memento.charges}
        return order

    def __repr__(self) -> str:
        return (
            f"Order({self.order_id} {self.side.name} {self.filled}/{self.size}"
            f" @ {self.price} {self.status.name} v{self._version})"
        )


OrderEvent: TypeAlias = (
    Fill
    | FillReversed
    | FillCharged
    | OrderAccepted
    | OrderRejected
    | OrderCancelled
    | CancelRejected
    | CancelRequested
)
"""The order's own events on the journal's ``order:<id>`` stream, after its ``OrderCreated``
(a broker run's stream also holds the intent registry's ``OrderRouted``, not the order's)."""


def apply_order_event(order: Order, event: OrderEvent) -> FillOutcome | None:
    """One journaled order event, applied: the only code the OrderActor and the fold use.

    A fill, a reversal or a charge answers its outcome; the other events answer None (compare
    ``version`` to see a change). A venue rejection that lost a race with a fill or a
    cancel is logged and changes nothing. Any other kind raises ``TypeError``: a stream
    that holds it is a bug.
    """
    if isinstance(event, Fill):
        return order.apply_fill(event)
    if isinstance(event, FillReversed):
        return order.apply_reversal(event)
    if isinstance(event, FillCharged):
        return order.apply_charge(event)
    if isinstance(event, OrderAccepted):
        order.accept()
    elif isinstance(event, OrderRejected):
        try:
            order.reject()
        except InvalidTransitionError as error:
            _log.error(
                "venue_reject_ignored",
                order_id=order.order_id,
                reason=event.reason,
                transition=str(error),
            )
    elif isinstance(event, OrderCancelled):
        order.cancelled()
    elif isinstance(event, CancelRejected):
        order.cancel_refused()
    elif isinstance(event, CancelRequested):
        order.request_cancel()
    else:
        raise TypeError(f"{type(event).__name__} is not an order event")
    return None
