"""Order commands: place an order at the venue, or cancel one."""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.enums import OrderSide
from messages.fields import (
    enum_field,
    id_field,
    non_negative_decimal,
    positive_decimal,
    text_field,
    ts_init_field,
)


@attrs.frozen(kw_only=True, slots=True)
class SubmitOrder:
    """Place a limit order at the venue (execution → venue)."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    correlation_id: str = text_field()
    order_id: str = text_field()
    market_id: str = text_field()
    security_id: str = text_field()
    side: OrderSide = enum_field(OrderSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()


@attrs.frozen(kw_only=True, slots=True)
class CancelOrder:
    """Cancel an order (anyone → execution → venue); the venue answers cancelled or refused."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    order_id: str = text_field()
    reason: str = text_field()
