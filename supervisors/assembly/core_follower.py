"""The runtime's current core, followed from outside the actors across its restarts.

A restart replaces the core's actors, so a ref held from before may be dead. The follower
asks the root (``CurrentCore``) for the running incarnation and holds it; the lockstep
driver and the query view both reach the core through it, so they see the same one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pykka

from supervisors.assembly.runtime_tree import CoreRefs, CurrentCore
from supervisors.kernel.base import ask
from supervisors.kernel.root_watch import exit_reason

RESTART_WAIT_S = 60.0
"""How long the facade waits for a restarting core before it calls the runtime down."""


class RuntimeDownError(Exception):
    """The runtime's root is gone (it gave up, or its parent stopped it) and did not return."""


class CoreFollower:
    """Holds the core last found running; ``await_core`` finds the next one.

    ``locate`` finds the current root (a parent's child, for an embedded runtime); by
    default it is ``root``, the standalone root whose ``watch`` tells why it stopped.
    """

    def __init__(
        self,
        locate: Callable[[], pykka.ActorRef[Any] | None] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.core: CoreRefs | None = None
        self.root: pykka.ActorRef[Any] | None = None
        self.watch: pykka.ActorRef[Any] | None = None
        self._locate = locate if locate is not None else lambda: self.root
        self._clock = clock
        self._sleep = sleep

    def require(self) -> CoreRefs:
        if self.core is None:
            raise RuntimeError("the runtime is not started")
        return self.core

    def current(self) -> CoreRefs | None:
        """The root's running core now (None with no root); raises if the root is dead."""
        root = self._locate()
        if root is None:
            return None
        core: CoreRefs | None = ask(root, CurrentCore())
        return core

    def unchanged(self, core: CoreRefs) -> bool:
        """True when none of ``core``'s actors died, so its root still runs it: a root
        starts a new core only by restarting the journal (each journal start is a new
        generation), and a new root only after the old one stopped. No ask: this is
        checked twice a lockstep step."""
        return core.intact()

    def await_core(self, deadline_s: float) -> CoreRefs:
        """Wait for a live core and hold it; RuntimeDownError if the root stopped, or none
        ran within ``deadline_s``. A core with a dead actor is never taken: its root is
        about to replace it."""
        deadline = self._clock() + deadline_s
        last_error = "no root"
        while self._clock() < deadline:
            if self.root is not None and not self.root.is_alive():
                reason = exit_reason(self.watch)
                raise RuntimeDownError(
                    "the runtime's root supervisor stopped: "
                    + (reason or "restart intensity exceeded, or stopped from outside")
                )
            try:
                core = self.current()
            except (pykka.ActorDeadError, pykka.Timeout) as error:
                core, last_error = None, f"{type(error).__name__}: {error}"
            if core is not None and core.intact():
                self.core = core
                return core
            self._sleep(0.01)
        raise RuntimeDownError(f"no running runtime core after {deadline_s} s ({last_error})")
