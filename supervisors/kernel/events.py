"""Supervision events: what a supervisor publishes to its subscribers, one class per fact.

Every event names its ``supervisor`` (the supervisor's name) and, where it is about one
child, the ``child_id``, so one subscriber can watch a whole tree.
"""

from __future__ import annotations

from typing import Any

import attrs
import pykka

from messages.fields import id_field, text_field, ts_init_field

_is_ref = attrs.validators.instance_of(pykka.ActorRef)


def _bool_field() -> Any:
    return attrs.field(validator=attrs.validators.instance_of(bool))


def _non_negative_int() -> Any:
    return attrs.field(
        validator=[attrs.validators.instance_of(int), attrs.validators.ge(0)],
    )


@attrs.frozen(kw_only=True, slots=True)
class ChildStarted:
    """A child was started for the first time (initial start or ``AddChild``)."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    supervisor: str = text_field()
    child_id: str = text_field()
    ref: pykka.ActorRef[Any] = attrs.field(validator=_is_ref)


@attrs.frozen(kw_only=True, slots=True)
class ChildRestarted:
    """A child was started again by the strategy; ``restarts`` counts its restarts so far."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    supervisor: str = text_field()
    child_id: str = text_field()
    ref: pykka.ActorRef[Any] = attrs.field(validator=_is_ref)
    restarts: int = _non_negative_int()


@attrs.frozen(kw_only=True, slots=True)
class ChildTerminated:
    """A child exited without its supervisor asking (failure, own stop, stop from outside).

    ``restarting`` says whether the strategy starts it again (now or after a backoff delay).
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    supervisor: str = text_field()
    child_id: str = text_field()
    abnormal: bool = _bool_field()
    reason: str = text_field()
    restarting: bool = _bool_field()


@attrs.frozen(kw_only=True, slots=True)
class ChildStopped:
    """The supervisor stopped a child (strategy, ``RemoveChild``, shutdown) within its timeout."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    supervisor: str = text_field()
    child_id: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class ChildAbandoned:
    """A child did not stop within ``shutdown_s``; the supervisor moved on without it."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    supervisor: str = text_field()
    child_id: str = text_field()
    shutdown_s: float = attrs.field(validator=attrs.validators.instance_of(float))


@attrs.frozen(kw_only=True, slots=True)
class ChildStartFailed:
    """A child's factory raised (or returned no actor ref); ``reason`` names the error."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    supervisor: str = text_field()
    child_id: str = text_field()
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class IntensityExceeded:
    """More than ``max_restarts`` restarts within ``period_s``: the supervisor gives up."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    supervisor: str = text_field()
    max_restarts: int = _non_negative_int()
    period_s: float = attrs.field(validator=attrs.validators.instance_of(float))
