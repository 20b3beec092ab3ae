"""Supervision requests: supervisors and execution hand each other the actors of orders and
positions as they start, restart and recover, and tests make actors fail on purpose."""

from __future__ import annotations

import attrs

from messages.fields import text_field, tuple_of
from messages.journal import OrderCreated
from messages.mementos import OrderMemento
from messages.orders import OrderSnapshot
from messages.refs import Recipient


@attrs.frozen(kw_only=True, slots=True)
class SuperviseOrder:
    """Execution asks a market's supervisor to start the OrderActor of a journaled order."""

    created: OrderCreated = attrs.field(validator=attrs.validators.instance_of(OrderCreated))


@attrs.frozen(kw_only=True, slots=True)
class OrderStarted:
    """The supervisor started (or restarted) an order's actor; ``ref`` replaces any older one.

    ``submit`` is True the first time a new order's actor starts: execution then marks the
    side pending and sends the order to the venue.
    """

    order_id: str = text_field()
    ref: Recipient = attrs.field()
    submit: bool = attrs.field(validator=attrs.validators.instance_of(bool))


@attrs.frozen(kw_only=True, slots=True)
class QuiesceOrder:
    """Execution, through the journal's ``Forward``: this closed order's actor has had every
    event journaled for it, and no more will be routed to it; it answers ``OrderQuiesced``."""

    order_id: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class OrderQuiesced:
    """A closed order's actor, to execution: its final snapshot, kept once the actor stops."""

    order_id: str = text_field()
    snapshot: OrderSnapshot = attrs.field(validator=attrs.validators.instance_of(OrderSnapshot))


@attrs.frozen(kw_only=True, slots=True)
class StopOrder:
    """Execution asks the market's supervisor to stop a quiesced closed order's actor, so a
    run of many orders holds threads only for the open ones."""

    order_id: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class ReviveOrder:
    """Execution asks the market's supervisor to start a stopped order's actor again, from the
    journal: a late report (a fill the venue made before a cancel took effect) came for it."""

    order_id: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class PositionRestarted:
    """A market's PositionActor was restarted: ``position`` replaces the ref held so far.

    The market lifecycle actor tells execution and every OrderActor of the market, so nobody
    keeps addressing the dead one.
    """

    market_id: str = text_field()
    position: Recipient = attrs.field()


@attrs.frozen(kw_only=True, slots=True)
class AdoptOrders:
    """Recovery hands execution the orders the journal holds: those whose actors start (as
    immutable mementos), and the closed ones whose effects the journal holds in full, as
    their last snapshots, with no actor (a late fill revives one from the journal)."""

    orders: tuple[OrderMemento, ...] = tuple_of(OrderMemento)
    closed: tuple[OrderSnapshot, ...] = tuple_of(OrderSnapshot, default=())


@attrs.frozen(kw_only=True, slots=True)
class InjectFault:
    """Make the receiving actor raise inside its handler (fault injection; tests and chaos)."""

    reason: str = text_field()
