"""The supervisor a standalone runtime's root reports to: it only remembers why it ended.

A standalone root has no parent to tell its exit to, so when it gave up (a journal whose
disk is full, a core that keeps crashing) the facade knew only that it was gone. Started
under this watcher, the root's ``ChildExited`` says why, and ``RuntimeDownError`` can too.
"""

from __future__ import annotations

import time
from typing import Any

import pykka

from supervisors.kernel.protocol import ChildExited

_WAIT_S = 2.0
"""How long to wait for the notice: the root is marked dead before its thread has ended."""


class RootWatch(pykka.ThreadingActor):
    """Keeps the last ``ChildExited`` it was told; ``ask`` anything else returns it."""

    def __init__(self) -> None:
        super().__init__()
        self.notice: ChildExited | None = None

    def on_receive(self, message: Any) -> ChildExited | None:
        if isinstance(message, ChildExited):
            self.notice = message
        return self.notice


def exit_reason(watch: pykka.ActorRef[Any] | None) -> str | None:
    """Why the watched root ended, once its notice arrived (None if it did not in time)."""
    deadline = time.monotonic() + _WAIT_S
    while watch is not None and time.monotonic() < deadline:
        try:
            notice = watch.ask("exit?", block=True, timeout=_WAIT_S)
        except (pykka.ActorDeadError, pykka.Timeout):
            return None
        if notice is not None:
            return str(notice.reason)
        time.sleep(0.01)
    return None
