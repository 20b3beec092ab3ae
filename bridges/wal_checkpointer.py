"""Checkpoints the journal's WAL on a thread of its own, off the commit path.

SQLite checkpoints a WAL file from inside the COMMIT that pushes it past 1000 pages: with
the journal committing every few hundred microseconds, one commit in about two hundred took
4 to 7 ms instead of 0.2, and that commit's events reached their actors that much later (the
p99 of a broker callback → position). The journal's connection turns automatic
checkpoints off and this thread runs a PASSIVE checkpoint every ``interval_s`` on its own
connection. A PASSIVE checkpoint never waits for the writer, and the sqlite3 module lets
go of the GIL while it copies pages, so commits go on meanwhile.

A PASSIVE checkpoint never restarts the WAL either: SQLite writes it from the start again
only once a writer finds every frame checkpointed, and a writer that never pauses (a
lockstep replay commits every few hundred microseconds) never does, so the file grew by
about 30 KiB a record (455 MiB for a 15k-record replay whose journal is 12 MiB). Past
``RESTART_FRAMES`` the thread therefore runs one RESTART checkpoint, which waits at most
``RESTART_WAIT_S`` for the writer and the readers: commits pause that long at worst, once
per that many frames, and the WAL stays within about that size.

Durability is unchanged: a commit is in the WAL either way, and a crash between
checkpoints leaves a WAL that the next open replays.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import structlog

_log = structlog.get_logger("tradeactors", actor="wal_checkpointer")

DEFAULT_INTERVAL_S = 0.25
RESTART_FRAMES = 4096
"""WAL frames (pages: 16 MiB at 4 KiB) past which a checkpoint makes the writer start the
WAL again."""
RESTART_WAIT_S = 0.05
"""How long a RESTART checkpoint waits for the writer and readers before it gives up."""


class WalCheckpointer:
    """A daemon thread checkpointing ``path``'s WAL every ``interval_s`` until stopped."""

    def __init__(self, path: Path, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.path = path
        self.interval_s = interval_s
        self.checkpoints = 0
        self._stop = threading.Event()
        self._conn = sqlite3.connect(
            path, timeout=RESTART_WAIT_S, isolation_level=None, check_same_thread=False
        )
        self.restarts = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, name=f"wal-checkpointer:{path.name}", daemon=True
        )

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def checkpoint_now(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the WAL, frames checkpointed)."""
        with self._lock:
            busy, log, done = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
        return busy, log, done

    def restart_now(self) -> tuple[int, int, int]:
        """One RESTART checkpoint (busy 1 if the writer or a reader held on too long)."""
        with self._lock:
            busy, log, done = self._conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            self.restarts += 1
        return busy, log, done

    def stop(self) -> None:
        """Stop the thread and close its connection (the writer's close checkpoints last)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            self._conn.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                _busy, log, _done = self.checkpoint_now()
                if log >= RESTART_FRAMES:
                    self.restart_now()
            except sqlite3.Error as error:
                # A failed checkpoint loses nothing (the WAL keeps the commits); the next
                # one tries again, and the writer's close checkpoints in any case.
                _log.warning("wal_checkpoint_failed", path=str(self.path), error=str(error))
