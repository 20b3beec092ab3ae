"""Order events: what the venue reported, and what the runtime published or told about an
order."""

from __future__ import annotations

import enum
from decimal import Decimal

import attrs

from messages.enums import OrderSide, OrderStatus
from messages.fields import (
    added_later_flag,
    enum_field,
    id_field,
    non_negative_decimal,
    positive_decimal,
    text_field,
    ts_init_field,
)
from messages.fills import Fill, FillCharged, FillReversed
from messages.signals import TradeSignal


@attrs.frozen(kw_only=True, slots=True)
class OrderSnapshot:
    """An order's full state at one version; published on every change.

    It names the last fill and counts them rather than listing every fill id, so a
    long-resting order with many small fills does not make each update grow.
    """

    order_id: str = text_field()
    correlation_id: str = text_field()
    market_id: str = text_field()
    security_id: str = text_field()
    account: str = text_field()
    strategy: str = text_field()
    side: OrderSide = enum_field(OrderSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()
    filled: Decimal = non_negative_decimal()
    avg_fill_price: Decimal | None = attrs.field(
        validator=attrs.validators.optional(attrs.validators.instance_of(Decimal))
    )
    fees: Decimal = non_negative_decimal()
    status: OrderStatus = enum_field(OrderStatus)
    fill_count: int = attrs.field(validator=attrs.validators.instance_of(int))
    last_fill_id: str | None = attrs.field(
        validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    version: int = attrs.field(validator=attrs.validators.instance_of(int))
    manual: bool = added_later_flag()
    """A client submitted it: while it is open the pending-flag guard keeps the strategy
    from trading its security and side (the shipped strategy stands aside in the market)."""

    @property
    def leaves(self) -> Decimal:
        """Size still open at the venue (0 once the order is closed)."""
        if self.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.FILLED):
            return Decimal(0)
        return self.size - self.filled


@attrs.frozen(kw_only=True, slots=True)
class OrderAccepted:
    """The venue took the order onto its book."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    ts_event: int = attrs.field(validator=attrs.validators.instance_of(int))
    order_id: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class OrderRejected:
    """The venue refused the order (not our risk: see OrderDenied)."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    ts_event: int = attrs.field(validator=attrs.validators.instance_of(int))
    order_id: str = text_field()
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class OrderCancelled:
    """The venue took the rest of the order off its book."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    ts_event: int = attrs.field(validator=attrs.validators.instance_of(int))
    order_id: str = text_field()
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class CancelRejected:
    """The venue refused a cancel, e.g. because the order had already filled."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    ts_event: int = attrs.field(validator=attrs.validators.instance_of(int))
    order_id: str = text_field()
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class OrderUpdated:
    """Published whenever an order changes; ``cause`` names the trigger that changed it."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    correlation_id: str = text_field()
    cause: str = text_field()
    order: OrderSnapshot = attrs.field(validator=attrs.validators.instance_of(OrderSnapshot))


@attrs.frozen(kw_only=True, slots=True)
class OrderDenied:
    """Our side said no to a signal before it reached the venue; ``reason`` says why."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    correlation_id: str = text_field()
    signal: TradeSignal = attrs.field(validator=attrs.validators.instance_of(TradeSignal))
    reason: str = text_field()


class FillRefusal(enum.Enum):
    """Why a fill was not applied. Every refusal is logged and published; nothing changes."""

    UNKNOWN_ORDER = "unknown_order"
    OVERFILL = "overfill"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    MISMATCHED_ORDER = "mismatched_order"
    ORDER_REJECTED = "order_rejected"
    POSITION_SETTLED = "position_settled"
    UNKNOWN_FILL = "unknown_fill"
    """A reversal names a fill the order (or position) never applied."""
    ALREADY_REVERSED = "already_reversed"
    """A reversal, or a fill, names a fill that was reversed before."""


@attrs.frozen(kw_only=True, slots=True)
class FillRefused:
    """A fill that was not applied, with the reason, so it is never silently lost."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    correlation_id: str = text_field()
    fill: Fill = attrs.field(validator=attrs.validators.instance_of(Fill))
    reason: FillRefusal = enum_field(FillRefusal)
    detail: str = attrs.field(default="", validator=attrs.validators.instance_of(str))


@attrs.frozen(kw_only=True, slots=True)
class FillReversalRefused:
    """A reversal that changed nothing (its order, or its fill, is unknown, or the fill was
    reversed already), with the reason: published, never raised."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    correlation_id: str = text_field()
    reversal: FillReversed = attrs.field(validator=attrs.validators.instance_of(FillReversed))
    reason: FillRefusal = enum_field(FillRefusal)
    detail: str = attrs.field(default="", validator=attrs.validators.instance_of(str))


@attrs.frozen(kw_only=True, slots=True)
class FillChargeRefused:
    """A broker's charge for a fill that changed nothing (its order, or its fill, is
    unknown, the fill was reversed, the position settled, or the fill was charged with
    other figures), with the reason: published, never raised."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    correlation_id: str = text_field()
    charge: FillCharged = attrs.field(validator=attrs.validators.instance_of(FillCharged))
    reason: FillRefusal = enum_field(FillRefusal)
    detail: str = attrs.field(default="", validator=attrs.validators.instance_of(str))


@attrs.frozen(kw_only=True, slots=True)
class CancelDenied:
    """We did not send a cancel to the venue, e.g. because the order is already closed."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    correlation_id: str = text_field()
    order_id: str = text_field()
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class OrderClosed:
    """An OrderActor tells the ExecutionActor its order reached a terminal state."""

    order_id: str = text_field()
    market_id: str = text_field()
