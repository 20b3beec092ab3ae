"""Damage in history a snapshot already covers: the runtime starts from the snapshot without
reading it (the venue is rebuilt from the recovered state, not from the whole journal)."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from structlog.testing import capture_logs

from bridges.journal_sqlite import SqliteJournalStore
from supervisors.assembly.runtime import JOURNAL_FILE, Runtime, RuntimeConfig
from tests.stubs import arbitrage_feed

pytestmark = pytest.mark.timeout(30)


def _final_realized(data_dir: Path) -> Decimal:
    feed = arbitrage_feed()
    with Runtime(RuntimeConfig(data_dir=data_dir)).start(feed) as runtime:
        runtime.replay(feed)
        (settled,) = runtime.positions()
        return settled.realized_pnl


def test_a_damaged_order_record_a_snapshot_covers_does_not_stop_the_restart(
    tmp_path: Path,
) -> None:
    feed = arbitrage_feed()
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as runtime:
        runtime.replay(feed, end=4)  # the market is live, with orders at the venue
    path = tmp_path / JOURNAL_FILE
    with sqlite3.connect(path) as conn:
        (snapshot_seq,) = conn.execute("SELECT MAX(seq) FROM snapshots").fetchone()
        (damaged,) = conn.execute(
            "SELECT MIN(seq) FROM events WHERE kind = 'OrderCreated'"
        ).fetchone()
        assert damaged is not None
        assert damaged < snapshot_seq
        conn.execute("UPDATE events SET payload = payload || ' ' WHERE seq = ?", (damaged,))

    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as restarted:
        report = restarted.recovery
        assert report is not None
        assert (report.snapshot_seq, report.corrupt_seq, report.replayed) == (snapshot_seq, None, 0)
        assert restarted.next_step == 4
        restarted.replay(feed)
        (settled,) = restarted.positions()
    # The rebuilt venue is the one an uninterrupted run had: the same end, to the cent.
    assert settled.realized_pnl == _final_realized(tmp_path / "clean") == Decimal("3.00")
    store = SqliteJournalStore(path)
    try:
        assert store.voided() == []  # nothing read it, so nothing was cut
    finally:
        store.close()


def test_a_snapshot_older_than_the_venues_fold_still_rebuilds_the_venue_from_the_journal(
    tmp_path: Path,
) -> None:
    feed = arbitrage_feed()
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as runtime:
        runtime.replay(feed, end=4)
    store = SqliteJournalStore(tmp_path / JOURNAL_FILE)
    try:
        latest = store.latest_snapshot()
        assert latest is not None
        payload = json.loads(latest.payload)
        assert payload.pop("venue_commands")  # as a snapshot written before the field was
        store.write_snapshot(attrs.evolve(latest, payload=json.dumps(payload)))
    finally:
        store.close()

    with capture_logs() as logs, Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as old:
        old.replay(feed)
        (settled,) = old.positions()
    assert "venue_replay_reads_journal" in [log["event"] for log in logs]
    assert settled.realized_pnl == Decimal("3.00")
