"""A deadline on the command line's shutdown: past it, say what it waited on, and exit.

Stopping waits on other threads: the ZeroMQ edge's socket thread, the metrics server, every
actor's ``on_stop`` (the journal's last commit and snapshot), and at interpreter exit every
actor thread still alive. Each wait is bounded somewhere, some only by minutes, and one
that never returns would keep a SIGTERMed process alive. The deadline is a daemon timer:
the shutdown names each stage as it enters it, and if the timer fires first it logs the
stage and the threads still alive (an actor's thread is named after it), and ends the process with
``os._exit``. What the journal committed is durable already; only the final snapshot may be
missing, which costs the next start a longer replay, never data.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TextIO

import structlog

EXIT_SHUTDOWN_DEADLINE = 4
"""Exit status when the shutdown did not finish within its deadline."""

_log = structlog.get_logger("tradeactors", component="shutdown")


class ShutdownDeadline:
    """``arm`` it when shutting down begins; ``stage`` names what is being waited on."""

    def __init__(self, seconds: float, out: TextIO | None = None) -> None:
        self.seconds = seconds
        self.out = out if out is not None else sys.stdout
        self.waiting_on = "the run to stop"
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        """Start the countdown (a no-op once started).

        Called on the main thread only, from the code or from a signal handler there, so it
        takes no lock (a handler interrupting a holder of one would deadlock on it).
        """
        if self._timer is not None:
            return
        timer = threading.Timer(self.seconds, self._expired)
        timer.name = "shutdown-deadline"
        timer.daemon = True
        self._timer = timer
        timer.start()

    def stage(self, waiting_on: str) -> None:
        self.waiting_on = waiting_on

    def disarm_if_done(self) -> None:
        """Stop the countdown if no thread is left that the interpreter's exit would wait
        on: the shutdown is over, and a caller that runs on after ``main`` returned (a test)
        must not be ended by it later. Else it stays armed for that exit."""
        current = threading.current_thread()
        waiting = [t for t in threading.enumerate() if t is not current and not t.daemon]
        if self._timer is not None and not any(t.is_alive() for t in waiting):
            self._timer.cancel()

    def _expired(self) -> None:
        # pykka unregisters an actor as it begins to stop, so its thread is what remains
        # of one that is stuck stopping ("JournalActor-3").
        threads = sorted(t.name for t in threading.enumerate() if t.is_alive() and not t.daemon)
        _log.error(
            "shutdown_deadline_exceeded",
            deadline_s=self.seconds,
            waiting_on=self.waiting_on,
            threads_alive=threads,
        )
        self.out.write(
            f"\ntradeactors: shutdown took longer than {self.seconds} s (waiting on "
            f"{self.waiting_on}); exiting now; the journal keeps everything committed\n"
        )
        self.out.flush()
        sys.stderr.flush()
        os._exit(EXIT_SHUTDOWN_DEADLINE)
