"""What a strategy asks for: a trade signal, before risk and execution turn it into an order."""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.enums import OrderSide
from messages.fields import (
    enum_field,
    id_field,
    non_negative_decimal,
    optional_text_field,
    positive_decimal,
    text_field,
    ts_init_field,
)


@attrs.frozen(kw_only=True, slots=True)
class TradeSignal:
    """A limit order a strategy wants: side, limit price, size, priority and a human reason.

    Priority follows seed 003: 0 arbitrage, 1 oracle-filtered, 2 inventory, 3 safety.

    ``strategy`` and ``account`` name the position the order is for. Left None, they are
    the market's position's: execution fills them in from the position the order would land
    on, before risk judges it. Named, they must be that position's, or execution denies the
    signal; so risk always judges the position the order lands on.
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    market_id: str = text_field()
    security_id: str = text_field()
    side: OrderSide = enum_field(OrderSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()
    priority: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))
    reason: str = text_field()
    strategy: str | None = optional_text_field()
    account: str | None = optional_text_field()
