"""Mementos: everything an order or a position holds, as immutable data.

A memento restores its object exactly, private running sums and applied fills included, so
a journal snapshot can stand in for the events before it and the restored object refuses a
duplicate or conflicting fill just as the original would. ``messages.codec`` stores them
like any other message. They are state, not messages between actors, so they carry no id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from messages.broker_events import OpenOrderAdopted, OrderRouted
from messages.enums import OrderSide, OrderStatus, PositionStatus
from messages.fields import (
    ADDED_LATER,
    added_later_flag,
    decimal_field,
    enum_field,
    non_negative_decimal,
    positive_decimal,
    text_field,
    tuple_members,
    tuple_of,
)
from messages.fills import Fill, FillCharged, FillReversed
from messages.journal import CancelRequested, OrderCreated
from messages.markets import MarketDefinition
from messages.risk import RiskLimits


def _distinct_fill_ids(_instance: Any, attribute: attrs.Attribute[Any], fills: Any) -> None:
    if len({fill.fill_id for fill in fills}) != len(fills):
        ids = [fill.fill_id for fill in fills]
        raise ValueError(f"{attribute.name} must have distinct fill ids, got {ids}")


def _fills_field() -> Any:
    """The applied fills in application order; their ids key the dedup, so they are unique."""
    return attrs.field(validator=[tuple_members(Fill), _distinct_fill_ids])


@attrs.frozen(kw_only=True, slots=True)
class ReversedFill:
    """A fill an order applied and then took back, with the reversal that took it."""

    fill: Fill = attrs.field(validator=attrs.validators.instance_of(Fill))
    reversal: FillReversed = attrs.field(validator=attrs.validators.instance_of(FillReversed))


@attrs.frozen(kw_only=True, slots=True)
class OrderMemento:
    """An ``actors.order_state.Order``: its terms, state, running sums and applied fills."""

    order_id: str = text_field()
    correlation_id: str = text_field()
    market_id: str = text_field()
    security_id: str = text_field()
    account: str = text_field()
    strategy: str = text_field()
    side: OrderSide = enum_field(OrderSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()
    status: OrderStatus = enum_field(OrderStatus)
    filled: Decimal = non_negative_decimal()
    fees: Decimal = non_negative_decimal()
    notional: Decimal = non_negative_decimal()
    accepted: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    version: int = attrs.field(validator=attrs.validators.instance_of(int))
    fills: tuple[Fill, ...] = _fills_field()
    manual: bool = added_later_flag()
    reversed: tuple[ReversedFill, ...] = tuple_of(
        ReversedFill, default=(), metadata={ADDED_LATER: True}
    )
    """Fills taken back, in the order they were reversed."""
    reopened: int = attrs.field(
        default=0, validator=attrs.validators.instance_of(int), metadata={ADDED_LATER: True}
    )
    """How often a reversal took the closed order back open (each close is reported anew)."""
    charges: tuple[FillCharged, ...] = tuple_of(
        FillCharged, default=(), metadata={ADDED_LATER: True}
    )
    """The broker's charges for fills held, in the order they came (in ``fees`` already)."""


@attrs.frozen(kw_only=True, slots=True)
class LegMemento:
    """An ``actors.position_accounting.Leg``, digit for digit."""

    security_id: str = text_field()
    quantity: Decimal = decimal_field()
    cost: Decimal = decimal_field()
    realized_pnl: Decimal = decimal_field()
    fees: Decimal = non_negative_decimal()
    mark: Decimal | None = attrs.field(
        validator=attrs.validators.optional(attrs.validators.instance_of(Decimal))
    )


@attrs.frozen(kw_only=True, slots=True)
class AccountEntry:
    """One entry an account leg is netted from: a deal (its ``fill_id``) or an adjustment
    (None), with the signed quantity, price and fee it traded."""

    fill_id: str | None = attrs.field(
        validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    quantity: Decimal = decimal_field()
    price: Decimal = non_negative_decimal()
    fee: Decimal = non_negative_decimal()


@attrs.frozen(kw_only=True, slots=True)
class AccountLegMemento:
    """One leg of an ``actors.account_book.AccountBook``: an account's position in a security,
    and the entries it was netted from (what a reversed deal's leg is netted again from)."""

    account: str = text_field()
    leg: LegMemento = attrs.field(validator=attrs.validators.instance_of(LegMemento))
    entries: tuple[AccountEntry, ...] = tuple_of(
        AccountEntry, default=(), metadata={ADDED_LATER: True}
    )


@attrs.frozen(kw_only=True, slots=True)
class AccountCashMemento:
    """The cash an account's deals settle, for the deals matched in one UTC hour."""

    account: str = text_field()
    hour: int = attrs.field(validator=attrs.validators.instance_of(int))
    amount: Decimal = decimal_field()


def _legs_match_security_ids(
    instance: PositionMemento, attribute: attrs.Attribute[Any], legs: tuple[LegMemento, ...]
) -> None:
    ids = tuple(leg.security_id for leg in legs)
    if ids != instance.security_ids:
        raise ValueError(f"{attribute.name} must be {instance.security_ids} in order, got {ids}")


def _pending_order(_instance: Any, attribute: attrs.Attribute[Any], entry: Any) -> None:
    if not (
        type(entry) is tuple
        and len(entry) == 3
        and type(entry[0]) is str
        and type(entry[1]) is str
        and isinstance(entry[2], OrderSide)
    ):
        raise TypeError(f"{attribute.name} entries must be (order_id, security_id, side)")


def _distinct_pending_orders(
    _instance: Any, attribute: attrs.Attribute[Any], pending: tuple[tuple[str, str, OrderSide], ...]
) -> None:
    ids = [order_id for order_id, _, _ in pending]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{attribute.name} must have distinct order ids, got {ids}")


@attrs.frozen(kw_only=True, slots=True)
class PositionMemento:
    """An ``actors.position_accounting.PositionBook``: legs, open orders and applied fills.

    ``legs`` follow ``security_ids``; ``pending`` holds ``(order_id, security_id, side)`` in
    the order the orders were marked.
    """

    position_id: str = text_field()
    market_id: str = text_field()
    account: str = text_field()
    strategy: str = text_field()
    security_ids: tuple[str, ...] = tuple_of(str)
    status: PositionStatus = enum_field(PositionStatus)
    version: int = attrs.field(validator=attrs.validators.instance_of(int))
    legs: tuple[LegMemento, ...] = attrs.field(
        validator=[tuple_members(LegMemento), _legs_match_security_ids]
    )
    pending: tuple[tuple[str, str, OrderSide], ...] = attrs.field(
        validator=[
            attrs.validators.deep_iterable(_pending_order, attrs.validators.instance_of(tuple)),
            _distinct_pending_orders,
        ]
    )
    fills: tuple[Fill, ...] = _fills_field()
    reversed: tuple[str, ...] = tuple_of(str, default=(), metadata={ADDED_LATER: True})
    """Ids of the fills taken back, in the order they were reversed."""
    charges: tuple[FillCharged, ...] = tuple_of(
        FillCharged, default=(), metadata={ADDED_LATER: True}
    )
    """The broker's charges for fills held, in the order they came (in the legs' fees)."""


@attrs.frozen(kw_only=True, slots=True)
class MarketMemento:
    """What the journal knows of one market's lifecycle (``actors.runtime_state``)."""

    definition: MarketDefinition = attrs.field(
        validator=attrs.validators.instance_of(MarketDefinition)
    )
    opened_step: int = attrs.field(validator=attrs.validators.instance_of(int))
    position_id: str | None = attrs.field(
        validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    closed: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    winning_security_id: str | None = attrs.field(
        validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    archived: bool = attrs.field(validator=attrs.validators.instance_of(bool))


@attrs.frozen(kw_only=True, slots=True)
class VenueCommandMemento:
    """An order (``created``) or a cancel the simulated venue was handed for a live market,
    with the feed step that caused it: what ``bridges.venue_replay`` replays after a restart,
    so rebuilding the venue never reads the history a snapshot covers."""

    step: int = attrs.field(validator=attrs.validators.instance_of(int))
    market_id: str = attrs.field(validator=attrs.validators.instance_of(str))
    created: OrderCreated | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(OrderCreated)),
    )
    cancel: CancelRequested | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(CancelRequested)),
    )


@attrs.frozen(kw_only=True, slots=True)
class RuntimeStateMemento:
    """A whole ``actors.runtime_state.RuntimeState``: what a journal snapshot holds.

    ``seq`` is the last journal record folded in; recovery replays the records after it.
    """

    seq: int = attrs.field(validator=attrs.validators.instance_of(int))
    orders: tuple[OrderMemento, ...] = tuple_of(OrderMemento)
    positions: tuple[PositionMemento, ...] = tuple_of(PositionMemento)
    markets: tuple[MarketMemento, ...] = tuple_of(MarketMemento)
    order_count: int = attrs.field(validator=attrs.validators.instance_of(int))
    step: int = attrs.field(validator=attrs.validators.instance_of(int))
    step_atomic: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    committed_step: int = attrs.field(validator=attrs.validators.instance_of(int))
    record_step: int = attrs.field(default=-1, validator=attrs.validators.instance_of(int))
    step_open: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    account_legs: tuple[AccountLegMemento, ...] = tuple_of(AccountLegMemento, default=())
    account_deals: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))
    account_cash: tuple[AccountCashMemento, ...] = tuple_of(
        AccountCashMemento, default=(), metadata={ADDED_LATER: True}
    )
    routed: tuple[OrderRouted, ...] = tuple_of(OrderRouted, default=())
    adopted: tuple[OpenOrderAdopted, ...] = tuple_of(OpenOrderAdopted, default=())
    risk_limits: RiskLimits | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(RiskLimits))
    )
    venue_commands: tuple[VenueCommandMemento, ...] | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(tuple_members(VenueCommandMemento)),
        metadata={ADDED_LATER: True},
    )
    """None in a snapshot written before it existed: the venue replay then reads the journal."""
