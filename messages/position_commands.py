"""Position commands: execution and orders keep a PositionActor's pending flags true."""

from __future__ import annotations

import attrs

from messages.enums import OrderSide
from messages.fields import enum_field, text_field


@attrs.frozen(kw_only=True, slots=True)
class MarkPending:
    """Tell a PositionActor that an order is open on one side of one leg (seed 003's flag)."""

    order_id: str = text_field()
    security_id: str = text_field()
    side: OrderSide = enum_field(OrderSide)


@attrs.frozen(kw_only=True, slots=True)
class ClearPending:
    """Tell a PositionActor that an order reached a terminal state and is no longer pending."""

    order_id: str = text_field()
