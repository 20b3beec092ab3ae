"""The paper broker's own file: the calls that changed its state, in order, in SQLite.

A venue outlives the process that trades with it; the paper broker lives in that process,
so it writes down each call that changed it (``messages.paper_broker``) and a restarted
broker replays them. One row per call, committed before the call returns and before any
callback it owes can be delivered (the broker writes under its lock), so a kill -9 loses
only what nobody saw. WAL with ``synchronous = NORMAL``: what was committed survives a
process crash. The runtime's journal is another file and never holds these records.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from messages import codec
from messages.paper_broker import PaperBrokerRecord

PAPER_BROKER_FILE = "paper_broker.sqlite"
"""The paper broker's file in a run's data directory."""


class PaperBrokerStore:
    """Append a record, read them all back; used by one broker at a time."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS calls ("
            "seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL)"
        )

    def append(self, record: PaperBrokerRecord) -> None:
        """Commit one call (the caller serializes appends)."""
        self._conn.execute(
            "INSERT INTO calls (kind, payload) VALUES (?, ?)",
            (codec.kind_of(record), codec.encode(record)),
        )

    def records(self) -> Iterator[PaperBrokerRecord]:
        """Every call committed so far, oldest first."""
        rows = self._conn.execute("SELECT kind, payload FROM calls ORDER BY seq").fetchall()
        for kind, payload in rows:
            yield codec.decode(kind, payload)  # type: ignore[misc]

    def close(self) -> None:
        self._conn.close()
