"""The WAL checkpointer keeps the WAL file bounded under a writer that never pauses: real
SQLite files, a real writer thread."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bridges import wal_checkpointer
from bridges.wal_checkpointer import WalCheckpointer

pytestmark = pytest.mark.timeout(60)

PAGE = 4096


def _write_without_pause(path: Path, transactions: int) -> None:
    """Commit ``transactions`` of about four pages each, with only a replay step's worth of
    work between two (no pause in which a PASSIVE checkpoint could catch up)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        blob = b"x" * (3 * PAGE)
        for _ in range(transactions):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (payload) VALUES (?)", (blob,))
            conn.execute("COMMIT")
            sum(range(5_000))  # the step's work
    finally:
        conn.close()


def test_a_writer_that_never_pauses_reuses_the_wal_once_it_passes_the_restart_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.sqlite"
    with sqlite3.connect(path, isolation_level=None) as setup:
        setup.execute("PRAGMA journal_mode = WAL")
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)")
    monkeypatch.setattr(wal_checkpointer, "RESTART_FRAMES", 64)
    checkpointer = WalCheckpointer(path, interval_s=0.002).start()
    writer = threading.Thread(target=_write_without_pause, args=(path, 3000))
    try:
        writer.start()
        writer.join()
    finally:
        checkpointer.stop()
    written = 3000 * 4 * PAGE  # about 48 MiB of frames went through the WAL
    wal = Path(f"{path}-wal")
    assert checkpointer.restarts > 0
    assert not wal.exists() or wal.stat().st_size < written / 2  # without: 63 MiB
