"""Messages a supervisor understands and the replies it gives.

``AddChild``, ``RemoveChild`` and ``WhichChildren`` come from users: ``ask`` them from outside
an actor; an actor ``tell``s ``AddChild`` and ``RemoveChild`` with a ``reply_to`` and is told
the same answer (``AddChildReply``, ``RemoveChildReply``), since a handler must not block on
an ask. ``ChildExited`` comes from the children themselves
(``supervisors.kernel.supervised.Supervised`` sends it, once, when a child's thread ends).
"""

from __future__ import annotations

from typing import Any

import attrs
import pykka

from messages.fields import id_field, text_field, ts_init_field
from messages.refs import Recipient
from supervisors.kernel.child_spec import ChildSpec, Restart


@attrs.frozen(kw_only=True, slots=True)
class AddChild:
    """Start ``spec`` now and supervise it; answered with ``ChildInfo`` or ``ChildRefused``.

    ``reply_to``, if set, is also told that answer as an ``AddChildReply``.
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    spec: ChildSpec = attrs.field(validator=attrs.validators.instance_of(ChildSpec))
    reply_to: Recipient | None = attrs.field(default=None)


@attrs.frozen(kw_only=True, slots=True)
class RemoveChild:
    """Stop the child ``child_id`` (within its shutdown timeout) and forget its spec.

    Answered with ``True``, or ``False`` when there is no such child. Not a failure: nothing
    is restarted. ``reply_to``, if set, is also told that answer as a ``RemoveChildReply``.
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    child_id: str = text_field()
    reply_to: Recipient | None = attrs.field(default=None)


@attrs.frozen(kw_only=True, slots=True)
class WhichChildren:
    """Answered with a tuple of ``ChildInfo``, in start order."""

    id: str = id_field()
    ts_init: int = ts_init_field()


@attrs.frozen(kw_only=True, slots=True)
class ChildExited:
    """A child's last word to its supervisor: its thread is ending.

    ``abnormal`` is true when an exception ended it (in ``on_start``, a handled ``tell``,
    ``on_stop`` or ``on_failure``); a stop (asked by anyone) is normal. ``ref`` names the
    incarnation, so a notice from one the supervisor already replaced is ignored.
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    child_id: str = text_field()
    ref: pykka.ActorRef[Any] = attrs.field(validator=attrs.validators.instance_of(pykka.ActorRef))
    abnormal: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class ChildInfo:
    """One supervised child: ``ref`` is None while its restart waits for a backoff delay."""

    child_id: str = text_field()
    ref: pykka.ActorRef[Any] | None = attrs.field(
        validator=attrs.validators.optional(attrs.validators.instance_of(pykka.ActorRef))
    )
    restart: Restart = attrs.field(validator=attrs.validators.instance_of(Restart))
    restarts: int = attrs.field(validator=attrs.validators.instance_of(int))


@attrs.frozen(kw_only=True, slots=True)
class ChildRefused:
    """The answer to an ``AddChild`` that was not started (duplicate id, factory failed)."""

    child_id: str = text_field()
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class AddChildReply:
    """The told answer to the ``AddChild`` whose id is ``correlation_id``."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    correlation_id: str = text_field()
    answer: ChildInfo | ChildRefused = attrs.field(
        validator=attrs.validators.instance_of((ChildInfo, ChildRefused))
    )


@attrs.frozen(kw_only=True, slots=True)
class RemoveChildReply:
    """The told answer to the ``RemoveChild`` whose id is ``correlation_id``: whether
    ``child_id`` was there to stop."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    correlation_id: str = text_field()
    child_id: str = text_field()
    removed: bool = attrs.field(validator=attrs.validators.instance_of(bool))
