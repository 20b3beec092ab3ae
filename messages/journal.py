"""Events that exist for the journal: order creation, cancel requests, fills applied to (and
taken back from) a position, settlement, and the markers of a lockstep replay's units of
work."""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.enums import OrderSide
from messages.fields import (
    added_later_flag,
    added_later_text,
    enum_field,
    id_field,
    non_negative_decimal,
    positive_decimal,
    text_field,
    ts_init_field,
    tuple_of,
)
from messages.fills import Fill, FillCharged, FillReversed


@attrs.frozen(kw_only=True, slots=True)
class PositionCreated:
    """The market lifecycle actor opened a position; the first event of a position stream."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    position_id: str = text_field()
    market_id: str = text_field()
    account: str = text_field()
    strategy: str = text_field()
    security_ids: tuple[str, ...] = tuple_of(str)


@attrs.frozen(kw_only=True, slots=True)
class OrderCreated:
    """Execution accepted a signal and made it an order; the first event of an order stream."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    order_id: str = text_field()
    correlation_id: str = text_field()
    market_id: str = text_field()
    security_id: str = text_field()
    account: str = text_field()
    strategy: str = text_field()
    side: OrderSide = enum_field(OrderSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()
    manual: bool = added_later_flag()
    """A client submitted it (not a strategy): the strategy stands aside while it is open."""


@attrs.frozen(kw_only=True, slots=True)
class CancelRequested:
    """An order asked the venue to cancel it (state PENDING_CANCEL from here on)."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    order_id: str = text_field()
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class FillApplied:
    """An order accepted ``fill``; the position ``position_id`` applies it in journal order.

    ``correlation_id`` is the order's (its signal's id), so the position's lines and events
    for the fill trace back to the signal; empty in journals written before it existed.
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    position_id: str = text_field()
    fill: Fill = attrs.field(validator=attrs.validators.instance_of(Fill))
    correlation_id: str = added_later_text()


@attrs.frozen(kw_only=True, slots=True)
class ReversalApplied:
    """An order took back the fill ``reversal`` names; the position ``position_id`` takes it
    back too, in journal order (``FillApplied``'s counterpart)."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    position_id: str = text_field()
    reversal: FillReversed = attrs.field(validator=attrs.validators.instance_of(FillReversed))
    correlation_id: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class ChargeApplied:
    """An order took the broker's charge ``charge`` for one of its fills; the position
    ``position_id`` takes it too, in journal order (``FillApplied``'s counterpart)."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    position_id: str = text_field()
    charge: FillCharged = attrs.field(validator=attrs.validators.instance_of(FillCharged))
    correlation_id: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class PositionSettlement:
    """A resolved, drained market's position settles: the winner pays ``payout`` a share."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    position_id: str = text_field()
    market_id: str = text_field()
    winning_security_id: str = text_field()
    payout: Decimal = positive_decimal()


@attrs.frozen(kw_only=True, slots=True)
class MarketArchived:
    """A settled market's actors stopped; its orders and position are final."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    market_id: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class StepStarted:
    """Feed record ``step`` (0-based index in the feed) is being handed to the runtime.

    ``atomic`` steps (a lockstep replay) are units of work: if the process dies before the
    matching StepCommitted, recovery voids the step's events and the record is fed again,
    which regenerates them exactly. ``unit`` 0 is the record itself; 1, 2, … are the client
    commands that changed state after it, each its own unit (voided whole if torn, and then
    never acknowledged to the client), so a lockstep step never waits on a client.
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    step: int = attrs.field(validator=attrs.validators.instance_of(int))
    atomic: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    unit: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))


@attrs.frozen(kw_only=True, slots=True)
class StepCommitted:
    """Everything feed record ``step`` (or its client ``unit``) caused has been processed and
    journaled."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    step: int = attrs.field(validator=attrs.validators.instance_of(int))
    unit: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))
