"""Queries and their answers: what an actor is asked (through ``ask``) about its state."""

from __future__ import annotations

import attrs

from messages.enums import MarketPhase
from messages.fields import enum_field, optional_text_field, text_field, tuple_of
from messages.journal import OrderCreated
from messages.orders import OrderSnapshot
from messages.positions import PositionSnapshot
from messages.refs import Recipient


@attrs.frozen(kw_only=True, slots=True)
class GetSnapshot:
    """Ask an actor for its current immutable snapshot (answered through ``ask``)."""


@attrs.frozen(kw_only=True, slots=True)
class ListRoutedOrders:
    """Ask the ExecutionActor for every order it routes, those still starting included."""


@attrs.frozen(kw_only=True, slots=True)
class RoutedOrders:
    """Execution's answer to ``ListRoutedOrders``, read in one handler so no order is in both
    lists or in neither: the running orders' OrderActors by order id, and the journaled
    ``OrderCreated`` of those whose actor is still starting (a client told the order id may
    already ask), and the last snapshots of closed orders whose actors were stopped."""

    running: tuple[tuple[str, Recipient], ...] = attrs.field(
        validator=attrs.validators.instance_of(tuple)
    )
    starting: tuple[OrderCreated, ...] = tuple_of(OrderCreated)
    closed: tuple[OrderSnapshot, ...] = tuple_of(OrderSnapshot, default=())


@attrs.frozen(kw_only=True, slots=True)
class ListPositions:
    """Ask the market lifecycle actor for live position refs and archived final snapshots."""


@attrs.frozen(kw_only=True, slots=True)
class PositionRefs:
    """The answer to ListPositions: the live PositionActors by market id, and the final
    snapshots of archived positions."""

    live: tuple[tuple[str, Recipient], ...] = attrs.field(
        validator=attrs.validators.instance_of(tuple)
    )
    archived: tuple[PositionSnapshot, ...] = tuple_of(PositionSnapshot)


@attrs.frozen(kw_only=True, slots=True)
class ListMarkets:
    """Ask the market lifecycle actor where every market of the run is in its life."""


@attrs.frozen(kw_only=True, slots=True)
class MarketState:
    """One market's phase; ``winning_security_id`` once it resolved (if known)."""

    market_id: str = text_field()
    phase: MarketPhase = enum_field(MarketPhase)
    winning_security_id: str | None = optional_text_field()


@attrs.frozen(kw_only=True, slots=True)
class MarketStates:
    """The answer to ListMarkets: archived markets, then live ones, each group in the order
    they opened; the last is the one opened last (the current market)."""

    markets: tuple[MarketState, ...] = tuple_of(MarketState)
