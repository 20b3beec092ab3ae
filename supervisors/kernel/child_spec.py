"""What a supervisor needs to know about a child: how to start it, when to restart it.

A ``ChildSpec`` is data, like an OTP child specification: the supervisor owns the running
actor, the spec only says how to make one again.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from typing import Any

import attrs
import pykka

from messages.fields import text_field


class Restart(enum.Enum):
    """When a child that exited is started again (OTP's restart types)."""

    PERMANENT = "permanent"
    """Always restarted, whether it failed or stopped normally."""
    TRANSIENT = "transient"
    """Restarted only after an abnormal exit (an exception)."""
    TEMPORARY = "temporary"
    """Never restarted, not even when a sibling's failure took it down."""


class Strategy(enum.Enum):
    """Which children a supervisor restarts when one of them exits."""

    ONE_FOR_ONE = "one_for_one"
    """Only the child that exited."""
    ONE_FOR_ALL = "one_for_all"
    """Every child: the others are stopped in reverse start order, then all start again."""
    REST_FOR_ONE = "rest_for_one"
    """The child that exited and every child started after it."""


def _positive(_instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")


@attrs.frozen(kw_only=True, slots=True)
class SupervisedContext:
    """What a supervisor hands the factory of one incarnation of its child ``child_id``.

    The factory passes it to the child (``Supervised(supervision=context)``), so the child
    can tell its supervisor when it exits; ``Supervised`` sets ``started`` once ``on_start``
    has returned (or raised), which is what makes starts ordered.
    """

    supervisor: pykka.ActorRef[Any] = attrs.field(
        validator=attrs.validators.instance_of(pykka.ActorRef)
    )
    child_id: str = text_field()
    started: threading.Event = attrs.field(
        factory=threading.Event, validator=attrs.validators.instance_of(threading.Event)
    )


ChildFactory = Callable[[SupervisedContext], pykka.ActorRef[Any]]
"""Starts one incarnation of a child; called in the supervisor's thread."""


@attrs.frozen(kw_only=True, slots=True)
class ChildSpec:
    """How to (re)start the child ``id`` and how long to wait for it to start and to stop.

    ``start`` is called by the supervisor, in the supervisor's thread, each time the child is
    (re)started. The supervisor waits up to ``start_timeout_s`` for a ``Supervised`` child's
    ``on_start`` to finish before it starts the next child (a slower one is reported and
    keeps starting). A child that has not stopped ``shutdown_s`` seconds after it was asked
    to is abandoned (reported, left to finish on its own) and the supervisor moves on.
    ``backoff``, if set, spaces this child's restarts instead of the supervisor's backoff.
    """

    id: str = text_field()
    start: ChildFactory = attrs.field(validator=attrs.validators.is_callable())
    restart: Restart = attrs.field(
        default=Restart.PERMANENT, validator=attrs.validators.instance_of(Restart)
    )
    shutdown_s: float = attrs.field(default=5.0, converter=float, validator=_positive)
    start_timeout_s: float = attrs.field(default=5.0, converter=float, validator=_positive)
    backoff: Backoff | None = attrs.field(default=None)
    """This child's own backoff, in place of its supervisor's."""


@attrs.frozen(kw_only=True, slots=True)
class Backoff:
    """Exponential delay before restarting a child that keeps failing.

    The n-th consecutive restart of a child waits ``min(initial_s * factor**n, max_s)``; a
    child that stayed up for the supervisor's intensity period starts again at ``initial_s``.
    ``only_for`` limits it to exits whose reason names one of these exception types (a full
    disk, not a crash a restart cures at once); other exits restart at once and do not count.
    ``give_up_after``: that many delayed restarts in a row and the supervisor gives up, as
    when its restart intensity is exceeded (a fault that outlasts the backoff is not
    transient, and backing off keeps the intensity window from ever filling).
    """

    initial_s: float = attrs.field(converter=float, validator=_positive)
    factor: float = attrs.field(default=2.0, converter=float)
    max_s: float = attrs.field(default=30.0, converter=float)
    only_for: tuple[str, ...] = attrs.field(default=())
    give_up_after: int | None = attrs.field(default=None)

    @factor.validator
    def _check_factor(self, _attribute: attrs.Attribute[float], value: float) -> None:
        if not value >= 1:
            raise ValueError(f"factor must be >= 1, got {value}")

    @max_s.validator
    def _check_max(self, _attribute: attrs.Attribute[float], value: float) -> None:
        if not value >= self.initial_s:
            raise ValueError(f"max_s must be >= initial_s, got {value} < {self.initial_s}")

    def applies_to(self, reason: str) -> bool:
        """Whether an exit with ``reason`` (``"Type: message"``) is backed off."""
        return not self.only_for or reason.split(":", 1)[0] in self.only_for

    def delay_s(self, attempt: int) -> float:
        """The wait before restart number ``attempt`` (0 for the first) of a failure streak."""
        try:
            return min(self.initial_s * self.factor**attempt, self.max_s)
        except OverflowError:
            return self.max_s
