"""The child side of supervision: an actor that tells its supervisor when it exits.

pykka has no links or monitors; ``on_failure`` is its only hook, and it misses two ways an
actor ends: an exception in ``on_start`` (pykka stops the actor without calling
``on_failure``) and a stop (``on_stop``). ``Supervised`` therefore hooks one level lower, at
the end of the actor's loop (``KernelActor._loop_exited``: after its thread's loop, or once
the virtual-time kernel saw it stop), and records the first failure pykka hands
to ``_handle_failure``. That gives exactly one ``ChildExited`` per incarnation, sent after
``on_start``/``on_stop``/``on_failure`` and pykka's teardown have all run, so a restarted
child never overlaps its predecessor's cleanup, and subclasses stay free to override every
public hook without calling ``super()``. It also signals the end of ``on_start``
(``_actor_loop_setup``), so the supervisor starts the next child only after this one is set
up, as OTP does. These three hooks are pykka internals; the project pins pykka 4 and
``tests/supervisors/test_supervisor.py`` covers every path through them.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any

import pykka

from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.protocol import ChildExited
from supervisors.kernel.virtual_time import KernelActor

NORMAL_EXIT = "normal"
"""The ``reason`` of a ``ChildExited`` that no exception caused (a stop, by anyone)."""


def describe_exception(error: BaseException) -> str:
    """``Type: message``, the ``reason`` carried by exit notices and events."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Supervised(KernelActor):
    """Mix in first (``class Worker(Supervised, RuntimeActor)``) and pass ``supervision``.

    The supervisor's factory receives a ``SupervisedContext`` and hands it on:
    ``start=lambda ctx: Worker.start(supervision=ctx)``. Without one (``None``) the actor
    runs unsupervised and tells no one.
    """

    def __init__(
        self, *args: Any, supervision: SupervisedContext | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.supervision = supervision
        self._exit_reason: str | None = None

    def _handle_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._exit_reason is None:
            if exception_value is not None:
                self._exit_reason = describe_exception(exception_value)
            else:
                self._exit_reason = getattr(exception_type, "__name__", "unknown failure")
        super()._handle_failure(exception_type, exception_value, traceback)

    def _actor_loop_setup(self) -> None:
        try:
            super()._actor_loop_setup()
        finally:
            if self.supervision is not None:
                self.supervision.started.set()

    def _loop_exited(self) -> None:
        super()._loop_exited()
        self._tell_supervisor()

    def _tell_supervisor(self) -> None:
        if self.supervision is None:
            return
        notice = ChildExited(
            child_id=self.supervision.child_id,
            ref=self.actor_ref,
            abnormal=self._exit_reason is not None,
            reason=self._exit_reason or NORMAL_EXIT,
        )
        # A supervisor that is already gone (shutting the tree down) has nothing to restart.
        with contextlib.suppress(pykka.ActorDeadError):
            self.supervision.supervisor.tell(notice)
