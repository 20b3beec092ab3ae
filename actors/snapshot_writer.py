"""Encodes and stores the journal's snapshots on a thread of its own.

A snapshot holds every applied fill (positions and orders dedup on them), so its cost grows
with the history: at 100k fills the JSON is 18 MB and takes 300 ms to encode, plus the
write. Done in the journal actor, that stalled every commit behind it once per
``snapshot_every`` events. The journal takes the memento (immutable, 15 ms at that size)
and hands it here; this thread encodes it and writes it through a store of its own, opened
by the journal's store factory.

Only the newest snapshot matters: one handed over while another waits replaces it.
Snapshots are an optimisation of recovery (the journal alone is the record), so one lost
with a crash costs a longer replay, never data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from actors.journal_store import JournalStore, JournalStoreError, Snapshot, StoreFactory

_log = structlog.get_logger("tradeactors", actor="snapshot_writer")

Encode = Callable[[], str]
"""Builds a snapshot's payload (runs on the writer's thread)."""


class SnapshotWriter:
    """Writes the latest snapshot handed to ``submit`` into a store that ``stores`` opens."""

    def __init__(self, stores: StoreFactory) -> None:
        self.stores = stores
        self.written = 0
        self.replaced = 0
        self._pending: tuple[int, int, Encode] | None = None
        self._busy = False
        self._closing = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="snapshot-writer", daemon=True)

    def start(self) -> SnapshotWriter:
        self._thread.start()
        return self

    def submit(self, seq: int, ts_ns: int, encode: Encode) -> None:
        """Write the snapshot at ``seq`` (payload from ``encode``) soon; replaces a waiting one."""
        with self._changed:
            if self._pending is not None:
                self.replaced += 1
            self._pending = (seq, ts_ns, encode)
            self._changed.notify_all()

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until what was submitted is written; False if ``timeout_s`` ran out."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._pending is None and not self._busy, timeout=timeout_s
            )

    def close(self) -> None:
        """Write what is waiting, then stop the thread."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        store = self.stores()
        try:
            while True:
                with self._changed:
                    self._changed.wait_for(lambda: self._pending is not None or self._closing)
                    if self._pending is None:
                        return
                    job, self._pending = self._pending, None
                    self._busy = True
                try:
                    self._write(store, *job)
                finally:
                    # Not kept while it waits for the next: the job holds the whole state.
                    del job
                    with self._changed:
                        self._busy = False
                        self._changed.notify_all()
        finally:
            store.close()

    def _write(self, store: JournalStore, seq: int, ts_ns: int, encode: Encode) -> None:
        try:
            store.write_snapshot(Snapshot(seq=seq, payload=encode(), ts_ns=ts_ns))
            self.written += 1
            _log.info("snapshot_written", seq=seq)
        except (JournalStoreError, ValueError, TypeError) as error:
            # Recovery then starts from an older snapshot: slower, nothing lost.
            _log.error("snapshot_failed", seq=seq, error=str(error))
