"""Commands: imperative requests from one actor to another."""

from __future__ import annotations

import concurrent.futures
from decimal import Decimal
from typing import Any

import attrs

from messages.enums import OrderSide
from messages.fields import (
    enum_field,
    id_field,
    non_negative_decimal,
    positive_decimal,
    text_field,
    ts_init_field,
    tuple_of,
)
from messages.journal import OrderCreated
from messages.markets import MarketDefinition
from messages.mementos import OrderMemento, PositionMemento
from messages.positions import PositionSnapshot
from messages.signals import TradeSignal


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


@attrs.frozen(kw_only=True, slots=True)
class SwitchMarket:
    """Route new orders for ``definition``'s market to ``position`` (``position_id``), the
    position of ``account`` and ``strategy``: a signal naming another is denied.

    Sent by the market supervisor to the ExecutionActor before any order for the market can
    exist, so execution never holds a stale position ref (seed 000).
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    definition: MarketDefinition = attrs.field(
        validator=attrs.validators.instance_of(MarketDefinition)
    )
    position: Any = attrs.field()
    position_id: str = text_field()
    account: str = text_field()
    strategy: str = text_field()
    supervisor: Any = attrs.field(default=None)


@attrs.frozen(kw_only=True, slots=True)
class CloseMarket:
    """Stop routing new orders for a market; tell ``notify`` MarketDrained once none is open."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    market_id: str = text_field()
    notify: Any = attrs.field(default=None)


@attrs.frozen(kw_only=True, slots=True)
class SettlePosition:
    """Settle a binary market's position at resolution: the winner pays ``payout`` a share."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    market_id: str = text_field()
    winning_security_id: str = text_field()
    payout: Decimal = positive_decimal()


@attrs.frozen(kw_only=True, slots=True)
class ArchiveMarket:
    """Forget a settled market: its actors stop and execution drops their refs."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    market_id: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class Subscribe:
    """Add ``subscriber`` (an actor ref) to the receivers of what this actor publishes."""

    subscriber: Any = attrs.field()
    welcome: bool = attrs.field(default=True)


@attrs.frozen(kw_only=True, slots=True)
class Unsubscribe:
    """Remove ``subscriber`` from the receivers of what this actor publishes."""

    subscriber: Any = attrs.field()


@attrs.frozen(kw_only=True, slots=True)
class GetSnapshot:
    """Ask an actor for its current immutable snapshot (answered through ``ask``)."""


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


@attrs.frozen(kw_only=True, slots=True)
class OrderClosed:
    """An OrderActor tells the ExecutionActor its order reached a terminal state."""

    order_id: str = text_field()
    market_id: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class MarketDrained:
    """A closed market has no open orders left: its position can be settled safely."""

    market_id: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class SubmitSignal:
    """A client's signal (the ZeroMQ ``submit``): execution handles it as any signal and
    resolves ``answer`` (a ``concurrent.futures.Future``, waited on outside the actor) with
    ``{"order_id": ...}`` once the order is journaled, or ``{"denied": reason}``."""

    signal: TradeSignal = attrs.field(validator=attrs.validators.instance_of(TradeSignal))
    answer: Any = attrs.field(validator=attrs.validators.instance_of(concurrent.futures.Future))


@attrs.frozen(kw_only=True, slots=True)
class AwaitMarket:
    """A client waits until ``market_id`` takes orders (the ZeroMQ ``switch_market``).

    Execution resolves ``answer`` (a ``concurrent.futures.Future``, waited on outside the
    actor) with ``{"opened": True}`` once it routes the market as the current, open one, or
    with ``{"refused": reason}`` when the market is known but closed or no longer current.
    """

    market_id: str = text_field()
    answer: Any = attrs.field(validator=attrs.validators.instance_of(concurrent.futures.Future))


@attrs.frozen(kw_only=True, slots=True)
class ListRoutedOrders:
    """Ask the ExecutionActor for every order it routes, those still starting included."""


@attrs.frozen(kw_only=True, slots=True)
class RoutedOrders:
    """Execution's answer to ``ListRoutedOrders``, read in one handler so no order is in both
    lists or in neither: the running orders' actors, and the journaled ``OrderCreated`` of
    those whose actor is still starting (a client told the order id may already ask)."""

    running: tuple[tuple[str, Any], ...] = attrs.field(
        validator=attrs.validators.instance_of(tuple)
    )
    starting: tuple[OrderCreated, ...] = tuple_of(OrderCreated)


@attrs.frozen(kw_only=True, slots=True)
class ListPositions:
    """Ask the market supervisor for live position refs and archived final snapshots."""


@attrs.frozen(kw_only=True, slots=True)
class PositionRefs:
    """The answer to ListPositions."""

    live: tuple[tuple[str, Any], ...] = attrs.field(validator=attrs.validators.instance_of(tuple))
    archived: tuple[PositionSnapshot, ...] = tuple_of(PositionSnapshot)


@attrs.frozen(kw_only=True, slots=True)
class Append:
    """Journal ``event`` on ``stream``; once it is durable, tell it to ``deliver_to``.

    An event whose ``dedup_key`` is already journaled is not journaled again, which makes a
    redelivered broker or venue event harmless, also across a restart. A fill or deal whose
    content differs from the journaled one is refused: ``deliver_to`` is told
    :class:`DuplicateRefused` instead (``actors.event_content`` says what content is).
    """

    event: Any = attrs.field()
    stream: str = text_field()
    dedup_key: str | None = attrs.field(default=None)
    deliver_to: Any = attrs.field(default=None)


@attrs.frozen(kw_only=True, slots=True)
class DuplicateRefused:
    """The journal did not journal ``event``: its ``dedup_key`` holds ``journaled``, whose
    content differs (``detail`` says how). Told to the Append's ``deliver_to`` (journal →
    the actor that would have applied it), which publishes the refusal; nothing changed.
    """

    event: Any = attrs.field()
    journaled: Any = attrs.field()
    dedup_key: str = text_field()
    detail: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class Forward:
    """Tell ``message`` to ``deliver_to`` once everything journaled before it is delivered.

    A barrier through the journal: the receiver sees it after the events its sender
    appended first, which a direct tell could overtake.
    """

    message: Any = attrs.field()
    deliver_to: Any = attrs.field()


@attrs.frozen(kw_only=True, slots=True)
class Sync:
    """Ask the journal to commit what it holds; answered with the last journaled seq."""


@attrs.frozen(kw_only=True, slots=True)
class AdoptOrders:
    """Recovery hands execution the orders the journal holds (as immutable mementos)."""

    orders: tuple[Any, ...] = attrs.field(validator=attrs.validators.instance_of(tuple))


@attrs.frozen(kw_only=True, slots=True)
class Route:
    """Deliver ``stream``'s events to ``subscriber`` from now on, and again all after ``after_seq``.

    A restarted actor sends this once it has rebuilt itself from the journal up to
    ``after_seq``: whatever was committed since (and delivered to its dead predecessor) comes
    to it again, and nothing committed later goes to the old ref.
    """

    stream: str = text_field()
    subscriber: Any = attrs.field()
    after_seq: int = attrs.field(validator=attrs.validators.instance_of(int))


@attrs.frozen(kw_only=True, slots=True)
class GetFolded:
    """Ask the journal for an order's or a position's state as its fold of ``stream`` stands.

    A restarted actor asks this in ``on_start``: the journal folds every committed event, so
    the answer costs the state's size, not the history's. Safe to ask from an actor, since
    the journal never asks anyone back.
    """

    stream: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class Folded:
    """The journal's answer to ``GetFolded``: the memento (None if its fold holds no such
    order or position) and the last seq the fold covers, for the ``Route`` after it."""

    memento: OrderMemento | PositionMemento | None = attrs.field(
        validator=attrs.validators.optional(
            attrs.validators.instance_of((OrderMemento, PositionMemento))
        )
    )
    seq: int = attrs.field(validator=attrs.validators.instance_of(int))


@attrs.frozen(kw_only=True, slots=True)
class PositionRestarted:
    """A market's PositionActor was restarted: ``position`` replaces the ref held so far.

    The market supervisor tells execution and every OrderActor of the market, so nobody
    keeps addressing the dead one.
    """

    market_id: str = text_field()
    position: Any = attrs.field()


@attrs.frozen(kw_only=True, slots=True)
class InjectFault:
    """Make the receiving actor raise inside its handler (fault injection; tests and chaos)."""

    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class SuperviseOrder:
    """Execution asks a market's supervisor to start the OrderActor of a journaled order."""

    created: Any = attrs.field()


@attrs.frozen(kw_only=True, slots=True)
class OrderStarted:
    """The supervisor started (or restarted) an order's actor; ``ref`` replaces any older one.

    ``submit`` is True the first time a new order's actor starts: execution then marks the
    side pending and sends the order to the venue.
    """

    order_id: str = text_field()
    ref: Any = attrs.field()
    submit: bool = attrs.field(validator=attrs.validators.instance_of(bool))
