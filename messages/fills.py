"""Fills: one execution of part or all of an order at the venue."""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.enums import OrderSide
from messages.fields import (
    enum_field,
    non_negative_decimal,
    positive_decimal,
    text_field,
    ts_init_field,
)


@attrs.frozen(kw_only=True, slots=True)
class Fill:
    """One execution. ``fill_id`` is the venue's id and the key every consumer deduplicates on.

    Equality covers the economic data and the venue's timestamp, not ``ts_init``, so a
    redelivered fill compares equal and a conflicting one (same id, other data) does not.
    """

    fill_id: str = text_field()
    ts_init: int = ts_init_field()
    ts_event: int = attrs.field(validator=attrs.validators.instance_of(int))
    order_id: str = text_field()
    market_id: str = text_field()
    security_id: str = text_field()
    side: OrderSide = enum_field(OrderSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()
    fee: Decimal = non_negative_decimal(default=Decimal(0))

    @property
    def signed_size(self) -> Decimal:
        return self.size if self.side is OrderSide.BUY else -self.size

    @property
    def notional(self) -> Decimal:
        return self.price * self.size


@attrs.frozen(kw_only=True, slots=True)
class FillReversed:
    """The venue took back fill ``fill_id`` of order ``order_id`` after it was booked (a
    Polymarket trade that FAILED on chain): the order and its position hold it no more.

    Keyed on ``fill_id`` like the fill itself; equality leaves out ``ts_init``, so a
    redelivered reversal compares equal.
    """

    fill_id: str = text_field()
    ts_init: int = ts_init_field()
    ts_event: int = attrs.field(validator=attrs.validators.instance_of(int))
    order_id: str = text_field()
    market_id: str = text_field()
    security_id: str = text_field()
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class FillCharged:
    """The broker's own fee and tax for fill ``fill_id`` of order ``order_id``, which was
    booked with ``booked_fee`` (the run's rate: Shioaji's deal message carries no fee): the
    order's and the position's fees change by ``change``, once (``FeeBooked`` does the same
    for the account book).

    Keyed on ``fill_id`` like the fill itself; equality leaves out ``ts_init``, so a
    redelivered charge compares equal.
    """

    fill_id: str = text_field()
    ts_init: int = ts_init_field()
    order_id: str = text_field()
    market_id: str = text_field()
    security_id: str = text_field()
    booked_fee: Decimal = non_negative_decimal()
    fee: Decimal = non_negative_decimal()
    tax: Decimal = non_negative_decimal()

    @property
    def change(self) -> Decimal:
        return self.fee + self.tax - self.booked_fee
