"""The broker edge's data: raw callbacks as the bridge enqueues them, and broker truth.

Raw events are what a broker thread hands over, stamped and nothing more; the normalizer
turns them into the runtime's order events and fills. ``BrokerOrder``, ``BrokerFill`` and
``BrokerPosition`` are the broker's answers to queries, what reconciliation compares with.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

import attrs

from messages.enums import OrderSide
from messages.fields import (
    ADDED_LATER,
    decimal_field,
    enum_field,
    non_negative_decimal,
    positive_decimal,
    text_field,
)


def _optional_fee(_instance: Any, attribute: Any, value: Any) -> None:
    if value is None:
        return
    if type(value) is not Decimal or not value.is_finite() or value < 0:
        raise ValueError(f"{attribute.name} must be None or a finite Decimal >= 0, got {value!r}")


class BrokerOrderStatus(enum.Enum):
    """An order's status as the broker reports it."""

    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in (BrokerOrderStatus.SUBMITTED, BrokerOrderStatus.PARTIALLY_FILLED)


@attrs.frozen(kw_only=True, slots=True)
class RawOrderEvent:
    """An order callback: the broker's status for ``order_no`` at ``broker_ts_ns``.

    ``seq_no`` orders one order's callbacks; ``recv_ns`` is our wall clock when the broker
    thread handed it over (the start of the callback-to-position latency).
    """

    order_no: str = text_field()
    seq_no: int = attrs.field(validator=attrs.validators.instance_of(int))
    status: BrokerOrderStatus = enum_field(BrokerOrderStatus)
    broker_ts_ns: int = attrs.field(validator=attrs.validators.instance_of(int))
    recv_ns: int = attrs.field(validator=attrs.validators.instance_of(int))
    reason: str = attrs.field(default="", validator=attrs.validators.instance_of(str))


@attrs.frozen(kw_only=True, slots=True)
class RawDealEvent:
    """A deal (fill) callback; ``(order_no, seq_no, match_ts)`` identifies it at the broker."""

    order_no: str = text_field()
    seq_no: int = attrs.field(validator=attrs.validators.instance_of(int))
    match_ts: int = attrs.field(validator=attrs.validators.instance_of(int))
    security_id: str = text_field()
    side: OrderSide = enum_field(OrderSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()
    recv_ns: int = attrs.field(validator=attrs.validators.instance_of(int))
    fee: Decimal | None = attrs.field(default=None, validator=_optional_fee)
    """The broker's own fee for the deal (IB's commission report); None: the runtime's rate."""

    @property
    def key(self) -> str:
        return deal_key(self.order_no, self.seq_no, self.match_ts)


@attrs.frozen(kw_only=True, slots=True)
class RawDealReversal:
    """A reversal callback: the broker took back deal ``(order_no, seq_no, match_ts)``,
    booked before (a trade that failed to settle), for ``reason``."""

    order_no: str = text_field()
    seq_no: int = attrs.field(validator=attrs.validators.instance_of(int))
    match_ts: int = attrs.field(validator=attrs.validators.instance_of(int))
    reason: str = text_field()
    recv_ns: int = attrs.field(validator=attrs.validators.instance_of(int))

    @property
    def key(self) -> str:
        return deal_key(self.order_no, self.seq_no, self.match_ts)


def deal_key(order_no: str, seq_no: int, match_ts: int) -> str:
    """A broker deal's identity, and the fill id it gets here: the same from a callback and
    from a reconciliation query, so one deal is booked once whichever arrives first."""
    return f"{order_no}:{seq_no}:{match_ts}"


@attrs.frozen(kw_only=True, slots=True)
class BrokerOrderRequest:
    """What the runtime asks a broker to place; ``client_order_id`` is our order id."""

    client_order_id: str = text_field()
    account: str = text_field()
    security_id: str = text_field()
    side: OrderSide = enum_field(OrderSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()


@attrs.frozen(kw_only=True, slots=True)
class BrokerOrder:
    """An order as the broker knows it."""

    order_no: str = text_field()
    account: str = text_field()
    security_id: str = text_field()
    side: OrderSide = enum_field(OrderSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()
    filled: Decimal = non_negative_decimal()
    status: BrokerOrderStatus = enum_field(BrokerOrderStatus)
    client_order_id: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )


@attrs.frozen(kw_only=True, slots=True)
class BrokerFill:
    """A deal as the broker's fill query lists it; ``client_order_id`` is the id its order
    was placed under (None for an order placed elsewhere), as the order's own listing says."""

    order_no: str = text_field()
    seq_no: int = attrs.field(validator=attrs.validators.instance_of(int))
    match_ts: int = attrs.field(validator=attrs.validators.instance_of(int))
    account: str = text_field()
    security_id: str = text_field()
    side: OrderSide = enum_field(OrderSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()
    client_order_id: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(str)),
        metadata={ADDED_LATER: True},
    )
    fee: Decimal | None = attrs.field(
        default=None, validator=_optional_fee, metadata={ADDED_LATER: True}
    )
    """The broker's fee for the deal where it reports one; None: the runtime's rate."""

    @property
    def key(self) -> str:
        return deal_key(self.order_no, self.seq_no, self.match_ts)

    @property
    def signed_size(self) -> Decimal:
        return self.size if self.side is OrderSide.BUY else -self.size


@attrs.frozen(kw_only=True, slots=True)
class BrokerPosition:
    """The broker's net position in one security: signed quantity and average open price."""

    account: str = text_field()
    security_id: str = text_field()
    quantity: Decimal = decimal_field()
    avg_price: Decimal = non_negative_decimal()


@attrs.frozen(kw_only=True, slots=True)
class BrokerProfitLoss:
    """The broker's realized PnL in one security: ``realized_pnl`` gross of the ``fee`` and
    ``tax`` it charged (reported apart, as the account book keeps fees apart)."""

    account: str = text_field()
    security_id: str = text_field()
    realized_pnl: Decimal = decimal_field()
    fee: Decimal = non_negative_decimal()
    tax: Decimal = non_negative_decimal()


@attrs.frozen(kw_only=True, slots=True)
class BrokerDealCharge:
    """The fee and tax the broker charged for one deal, which its deal message did not carry
    (Shioaji's portfolio details): the deal's identity, and its terms to check the match."""

    order_no: str = text_field()
    seq_no: int = attrs.field(validator=attrs.validators.instance_of(int))
    match_ts: int = attrs.field(validator=attrs.validators.instance_of(int))
    account: str = text_field()
    security_id: str = text_field()
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()
    fee: Decimal = non_negative_decimal()
    tax: Decimal = non_negative_decimal()

    @property
    def key(self) -> str:
        return deal_key(self.order_no, self.seq_no, self.match_ts)


@attrs.frozen(kw_only=True, slots=True)
class BrokerSettlement:
    """Cash the broker settles on ``date`` (T+``days``): signed, received when positive."""

    account: str = text_field()
    date: str = text_field()
    days: int = attrs.field(validator=attrs.validators.instance_of(int))
    amount: Decimal = decimal_field()
