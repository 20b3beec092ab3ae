"""Position snapshots, deltas and lifecycle events."""

from __future__ import annotations

from decimal import Decimal

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
from messages.fills import Fill, FillCharged, FillReversed


@attrs.frozen(kw_only=True, slots=True)
class LegSnapshot:
    """One instrument's netted position.

    ``cost`` is the signed cash paid to open the current quantity (negative for a short);
    ``avg_open_price`` is ``cost / quantity`` for display. Realized PnL is gross of fees.
    """

    security_id: str = text_field()
    quantity: Decimal = decimal_field()
    cost: Decimal = decimal_field()
    avg_open_price: Decimal = non_negative_decimal()
    realized_pnl: Decimal = decimal_field()
    fees: Decimal = non_negative_decimal()
    mark: Decimal | None = attrs.field(
        validator=attrs.validators.optional(attrs.validators.instance_of(Decimal))
    )
    unrealized_pnl: Decimal = decimal_field()
    pending_buy: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    pending_sell: bool = attrs.field(validator=attrs.validators.instance_of(bool))

    @property
    def realized_pnl_net(self) -> Decimal:
        return self.realized_pnl - self.fees


@attrs.frozen(kw_only=True, slots=True)
class PositionSnapshot:
    """A position (one market, account and strategy) with every leg, at one version."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    position_id: str = text_field()
    market_id: str = text_field()
    account: str = text_field()
    strategy: str = text_field()
    status: PositionStatus = enum_field(PositionStatus)
    version: int = attrs.field(validator=attrs.validators.instance_of(int))
    legs: tuple[LegSnapshot, ...] = tuple_of(LegSnapshot)

    def leg(self, security_id: str) -> LegSnapshot:
        for leg in self.legs:
            if leg.security_id == security_id:
                return leg
        raise KeyError(security_id)

    @property
    def realized_pnl(self) -> Decimal:
        return sum((leg.realized_pnl for leg in self.legs), Decimal(0))

    @property
    def unrealized_pnl(self) -> Decimal:
        return sum((leg.unrealized_pnl for leg in self.legs), Decimal(0))

    @property
    def fees(self) -> Decimal:
        return sum((leg.fees for leg in self.legs), Decimal(0))


@attrs.frozen(kw_only=True, slots=True)
class PositionDelta:
    """One leg changed because of ``fill``; carries the leg as it is now."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    correlation_id: str = text_field()
    position_id: str = text_field()
    market_id: str = text_field()
    version: int = attrs.field(validator=attrs.validators.instance_of(int))
    fill: Fill = attrs.field(validator=attrs.validators.instance_of(Fill))
    leg: LegSnapshot = attrs.field(validator=attrs.validators.instance_of(LegSnapshot))


@attrs.frozen(kw_only=True, slots=True)
class PositionFillReversed:
    """One leg changed because ``reversal`` took a fill back; carries the leg as it is now,
    recomputed from the fills that remain (``PositionDelta``'s counterpart)."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    correlation_id: str = text_field()
    position_id: str = text_field()
    market_id: str = text_field()
    version: int = attrs.field(validator=attrs.validators.instance_of(int))
    reversal: FillReversed = attrs.field(validator=attrs.validators.instance_of(FillReversed))
    leg: LegSnapshot = attrs.field(validator=attrs.validators.instance_of(LegSnapshot))


@attrs.frozen(kw_only=True, slots=True)
class PositionFillCharged:
    """One leg's fees changed because the broker's ``charge`` for a fill replaced the fee
    it was booked with; carries the leg as it is now (``PositionDelta``'s counterpart)."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    correlation_id: str = text_field()
    position_id: str = text_field()
    market_id: str = text_field()
    version: int = attrs.field(validator=attrs.validators.instance_of(int))
    charge: FillCharged = attrs.field(validator=attrs.validators.instance_of(FillCharged))
    leg: LegSnapshot = attrs.field(validator=attrs.validators.instance_of(LegSnapshot))


@attrs.frozen(kw_only=True, slots=True)
class PositionOpened:
    """A fresh position exists for a market (spawned by the market supervisor)."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    position: PositionSnapshot = attrs.field(
        validator=attrs.validators.instance_of(PositionSnapshot)
    )


@attrs.frozen(kw_only=True, slots=True)
class PositionSettled:
    """The market resolved; every leg was closed at its payout."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    position: PositionSnapshot = attrs.field(
        validator=attrs.validators.instance_of(PositionSnapshot)
    )


@attrs.frozen(kw_only=True, slots=True)
class PositionArchived:
    """The settled position's actor stopped; this is its final state."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    position: PositionSnapshot = attrs.field(
        validator=attrs.validators.instance_of(PositionSnapshot)
    )
