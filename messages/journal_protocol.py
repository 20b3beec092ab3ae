"""The journal protocol: what actors ask of the JournalActor, and what it answers.

The events the journal holds are in ``messages.journal`` and the other event modules; these
are the requests around them (append, forward, route, fold, sync), never journaled.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import attrs

from messages.fields import text_field
from messages.mementos import OrderMemento, PositionMemento
from messages.refs import Recipient

Event = TypeVar("Event")


@attrs.frozen(kw_only=True, slots=True)
class Append:
    """Journal ``event`` on ``stream``; once it is durable, tell it to ``deliver_to``.

    ``event`` is any kind ``messages.codec`` knows (it refuses others with ``TypeError``), so
    it is typed ``object``. An event whose ``dedup_key`` is already journaled is not journaled
    again, which makes a redelivered broker or venue event harmless, also across a restart. A
    fill or deal whose content differs from the journaled one is refused: ``deliver_to`` is
    told :class:`DuplicateRefused` instead (``actors.event_content`` says what content is).
    """

    event: object = attrs.field()
    stream: str = text_field()
    dedup_key: str | None = attrs.field(default=None)
    deliver_to: Recipient | None = attrs.field(default=None)


@attrs.frozen(kw_only=True, slots=True)
class AppendAll:
    """``appends`` in order, as that many Appends told one after the other: one delivery
    instead of several (a lockstep step's StepStarted and its feed record)."""

    appends: tuple[Append, ...] = attrs.field(
        validator=attrs.validators.deep_iterable(
            attrs.validators.instance_of(Append), attrs.validators.instance_of(tuple)
        )
    )


@attrs.frozen(kw_only=True, slots=True)
class DuplicateRefused(Generic[Event]):
    """The journal did not journal ``event``: its ``dedup_key`` holds ``journaled``, whose
    content differs (``detail`` says how). Told to the Append's ``deliver_to`` (journal →
    the actor that would have applied it), which publishes the refusal; nothing changed.

    ``Event`` is the kind the receiver appended: a ``Fill`` (an OrderActor) or a
    ``DealBooked`` (the account's positions), the only kinds compared by content.
    """

    event: Event = attrs.field()
    journaled: Event = attrs.field()
    dedup_key: str = text_field()
    detail: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class Forward:
    """Tell ``message`` to ``deliver_to`` once everything journaled before it is delivered.

    A barrier through the journal: the receiver sees it after the events its sender
    appended first, which a direct tell could overtake. ``message`` is whatever the receiver
    handles, so it is typed ``object``.
    """

    message: object = attrs.field()
    deliver_to: Recipient = attrs.field()


@attrs.frozen(kw_only=True, slots=True)
class Sync:
    """Ask the journal to commit what it holds; answered with the last journaled seq.

    ``last`` is appended first, in the same commit: a lockstep step's end marker and the
    wait for its durability are one round trip, not two messages.
    """

    last: Append | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(Append))
    )


@attrs.frozen(kw_only=True, slots=True)
class Route:
    """Deliver ``stream``'s events to ``subscriber`` from now on, and again all after ``after_seq``.

    A restarted actor sends this once it has rebuilt itself from the journal up to
    ``after_seq``: whatever was committed since (and delivered to its dead predecessor) comes
    to it again, and nothing committed later goes to the old ref.
    """

    stream: str = text_field()
    subscriber: Recipient = attrs.field()
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
class Delivered:
    """Events one commit delivers to one actor, in journal order: one message instead of one
    an event, applied in one turn, each as if told alone (``supervisors.kernel.base``).

    Told only to an actor whose class sets ``takes_batches``; a commit with one event for it
    tells the event alone. No validator: only the journal builds it, from what it committed.
    """

    events: tuple[object, ...] = attrs.field()
