"""Supervision requests: supervisors and execution hand each other the actors of orders and
positions as they start, restart and recover, and tests make actors fail on purpose."""

from __future__ import annotations

import attrs

from messages.fields import text_field, tuple_of
from messages.journal import OrderCreated
from messages.mementos import OrderMemento
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
class PositionRestarted:
    """A market's PositionActor was restarted: ``position`` replaces the ref held so far.

    The market lifecycle actor tells execution and every OrderActor of the market, so nobody
    keeps addressing the dead one.
    """

    market_id: str = text_field()
    position: Recipient = attrs.field()


@attrs.frozen(kw_only=True, slots=True)
class AdoptOrders:
    """Recovery hands execution the orders the journal holds (as immutable mementos)."""

    orders: tuple[OrderMemento, ...] = tuple_of(OrderMemento)


@attrs.frozen(kw_only=True, slots=True)
class InjectFault:
    """Make the receiving actor raise inside its handler (fault injection; tests and chaos)."""

    reason: str = text_field()
