"""The position index's metadata and the risk actor's limits, questions and answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from messages.enums import PositionStatus
from messages.fields import (
    decimal_field,
    enum_field,
    id_field,
    non_negative_decimal,
    text_field,
    ts_init_field,
    tuple_of,
)
from messages.refs import Recipient
from messages.signals import TradeSignal


@attrs.frozen(kw_only=True, slots=True)
class PositionMeta:
    """One position's leg in one security, as the position index serves it (seed 004)."""

    position_id: str = text_field()
    market_id: str = text_field()
    account: str = text_field()
    strategy: str = text_field()
    security_id: str = text_field()
    quantity: Decimal = decimal_field()
    cost: Decimal = decimal_field()
    avg_price: Decimal = non_negative_decimal()
    realized_pnl: Decimal = decimal_field()
    fees: Decimal = non_negative_decimal()
    status: PositionStatus = enum_field(PositionStatus)
    version: int = attrs.field(validator=attrs.validators.instance_of(int))


@attrs.frozen(kw_only=True, slots=True)
class TrackersFor:
    """Ask the index about ``security_ids`` (every position leg in them) and, for
    ``account``, its running totals; with ``market_id`` also that market's legs.

    Answered by a tell of ``Trackers`` to ``reply_to`` carrying ``context`` (the asker's
    correlation id: risk's check id) back, so the asker never blocks; from outside an actor,
    ``ask`` it without ``reply_to``.
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    security_ids: tuple[str, ...] = tuple_of(str)
    account: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    market_id: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    reply_to: Recipient | None = attrs.field(default=None)
    context: str | None = attrs.field(default=None)


@attrs.frozen(kw_only=True, slots=True)
class Trackers:
    """The index's answer. Account figures are running totals the index keeps, so a check
    costs the same whatever the account holds.

    ``exposure``: the account's gross notional at cost (sum of |cost| over its legs);
    ``realized_net``: realized PnL - fees of its live legs; ``unrealized``: quantity x mark
    - cost over its marked legs; ``closed_pnl``: realized - fees of its archived positions.
    """

    by_security: tuple[PositionMeta, ...] = tuple_of(PositionMeta)
    market_legs: tuple[PositionMeta, ...] = tuple_of(PositionMeta, default=())
    exposure: Decimal = decimal_field(default=Decimal(0))
    realized_net: Decimal = decimal_field(default=Decimal(0))
    unrealized: Decimal = decimal_field(default=Decimal(0))
    closed_pnl: Decimal = decimal_field(default=Decimal(0))
    context: str | None = attrs.field(default=None)


def _not_negative(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must not be negative, got {value}")


def _optional_decimal() -> Any:
    return attrs.field(
        default=None,
        validator=[
            attrs.validators.optional(attrs.validators.instance_of(Decimal)),
            _not_negative,
        ],
    )


@attrs.frozen(kw_only=True, slots=True)
class RiskLimits:
    """Pre-trade limits; None switches a rule off. Money is in the market's price unit.

    - ``max_order_size``, ``max_order_notional``: one order.
    - ``max_position``: |net quantity| per security in the account, after the order.
    - ``max_account_exposure``: the account's gross notional at cost, after the order.
    - ``max_open_orders``: orders open at once, this one included.
    - ``daily_loss_limit``: the account's PnL (realized + unrealized - fees) may fall to
      -limit; below, no order.
    - ``profit_lock`` / ``stop_loss``: a position whose PnL reached +lock / -loss takes no
      more orders (seed 003's priority-3 safety checks).
    """

    max_order_size: Decimal | None = _optional_decimal()
    max_order_notional: Decimal | None = _optional_decimal()
    max_position: Decimal | None = _optional_decimal()
    max_account_exposure: Decimal | None = _optional_decimal()
    max_open_orders: int | None = attrs.field(
        default=None,
        validator=[attrs.validators.optional(attrs.validators.instance_of(int)), _not_negative],
    )
    daily_loss_limit: Decimal | None = _optional_decimal()
    profit_lock: Decimal | None = _optional_decimal()
    stop_loss: Decimal | None = _optional_decimal()


@attrs.frozen(kw_only=True, slots=True)
class CheckSignal:
    """Execution asks risk about ``signal``; the answer is told to ``reply_to``."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    signal: TradeSignal = attrs.field(validator=attrs.validators.instance_of(TradeSignal))
    open_orders: int = attrs.field(validator=attrs.validators.instance_of(int))
    reply_to: Recipient | None = attrs.field(default=None)


@attrs.frozen(kw_only=True, slots=True)
class RiskApproved:
    id: str = id_field()
    ts_init: int = ts_init_field()
    signal: TradeSignal = attrs.field(validator=attrs.validators.instance_of(TradeSignal))


@attrs.frozen(kw_only=True, slots=True)
class RiskDenied:
    id: str = id_field()
    ts_init: int = ts_init_field()
    signal: TradeSignal = attrs.field(validator=attrs.validators.instance_of(TradeSignal))
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class SetLimits:
    """Replace the risk limits now; the next check uses them."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    limits: RiskLimits = attrs.field(validator=attrs.validators.instance_of(RiskLimits))


@attrs.frozen(kw_only=True, slots=True)
class LimitsChanged:
    """Journaled when limits change at run time, so a restart keeps them."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    limits: RiskLimits = attrs.field(validator=attrs.validators.instance_of(RiskLimits))
