"""Actor subclasses that hold one kind of message until told to go on.

A race between two actors (risk deciding while the market switches, a reply sent before
the market lifecycle actor has opened the market) is made deterministic by holding one side's
message in a real actor of the runtime: the test waits until it is held, makes the other
side happen, then tells the actor ``GoOn``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from supervisors.kernel.base import RuntimeActor, handles

A = TypeVar("A", bound=type[RuntimeActor])


@attrs.frozen(kw_only=True, slots=True)
class GoOn:
    """Tell a holding actor to handle what it holds, in the order it came, and hold no more."""


class Gate:
    """Set once the holding actor holds a message."""

    def __init__(self) -> None:
        self.holding = threading.Event()

    def wait_holding(self, timeout_s: float = 5.0) -> None:
        assert self.holding.wait(timeout_s), "the actor never held a message"


def holding(base: A, message_type: type, hold: Callable[[Any], bool], gate: Gate) -> A:
    """A subclass of ``base`` that holds each ``message_type`` for which ``hold`` is True."""
    handler = base._dispatch[message_type]

    class Holding(base):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[Any] = []
            self._released = False

        @handles(message_type)
        def _maybe_hold(self, message: Any) -> Any:
            if not self._released and hold(message):
                self._held.append(message)
                gate.holding.set()
                return None
            return handler(self, message)

        @handles(GoOn)
        def _go_on(self, _message: GoOn) -> None:
            self._released = True
            held, self._held = self._held, []
            for message in held:
                handler(self, message)

    Holding.__name__ = Holding.__qualname__ = f"Holding{base.__name__}"
    return Holding  # type: ignore[return-value]
