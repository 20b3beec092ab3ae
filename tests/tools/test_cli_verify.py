"""Old damage a snapshot covers (issue 14, point 7): a start never reads it, so
`tradeactors verify` is where it is found and reported, and `--quarantine` moves it aside;
a market actor that restarts alone reads past it instead of failing on it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pykka
import pytest
from structlog.testing import capture_logs

from actors.market import MarketActor
from bridges.journal_sqlite import SqliteJournalStore
from messages.queries import GetSnapshot
from messages.supervision import InjectFault
from supervisors.assembly.runtime import JOURNAL_FILE, Runtime, RuntimeConfig
from supervisors.kernel.base import ask
from tests.stubs import arbitrage_feed

pytestmark = pytest.mark.timeout(60)


def _verify(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.cli", "verify", "--data-dir", str(data_dir), *extra],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )


def _damage(data_dir: Path, kind: str) -> tuple[int, int]:
    """Change the first ``kind`` record in place; returns (its seq, the snapshot's seq)."""
    with sqlite3.connect(data_dir / JOURNAL_FILE) as conn:
        (snapshot_seq,) = conn.execute("SELECT MAX(seq) FROM snapshots").fetchone()
        (seq,) = conn.execute("SELECT MIN(seq) FROM events WHERE kind = ?", (kind,)).fetchone()
        conn.execute("UPDATE events SET payload = payload || ' ' WHERE seq = ?", (seq,))
    return seq, snapshot_seq


def test_verify_reports_covered_damage_and_quarantine_moves_it_aside(tmp_path: Path) -> None:
    feed = arbitrage_feed()
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as runtime:
        runtime.replay(feed, end=4)
    assert _verify(tmp_path).returncode == 0
    damaged, snapshot_seq = _damage(tmp_path, "OrderCreated")
    assert damaged < snapshot_seq

    found = _verify(tmp_path)
    assert found.returncode == 1
    assert f"record {damaged}: checksum mismatch" in found.stdout
    assert "covered by the snapshot" in found.stdout
    assert "--quarantine" in found.stdout

    moved = _verify(tmp_path, "--quarantine", "--json")
    assert moved.returncode == 0, moved.stdout
    document = json.loads(moved.stdout)
    assert [bad["seq"] for bad in document["quarantined"]] == [damaged]
    assert _verify(tmp_path).stdout.endswith("no damage\n")
    store = SqliteJournalStore(tmp_path / JOURNAL_FILE)
    try:
        ((record, reason),) = store.voided()
    finally:
        store.close()
    assert (record.seq, record.kind) == (damaged, "OrderCreated")
    assert reason.startswith("verify: checksum mismatch")
    # What starts from the snapshot never needed it: the run ends as an undamaged one does.
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as restarted:
        restarted.replay(feed)
        (settled,) = restarted.positions()
    assert settled.realized_pnl == Decimal("3.00")


def test_verify_leaves_damage_after_the_snapshot_to_the_next_start_and_says_so(
    tmp_path: Path,
) -> None:
    feed = arbitrage_feed()
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as runtime:
        runtime.replay(feed, end=4)
    with sqlite3.connect(tmp_path / JOURNAL_FILE) as conn:
        conn.execute("DELETE FROM snapshots")
    damaged, _ = _damage(tmp_path, "OrderCreated")
    result = _verify(tmp_path, "--quarantine")
    assert result.returncode == 1
    assert f"record {damaged}" in result.stdout
    assert "the next start cuts the journal there" in result.stdout


def test_verify_refuses_a_data_dir_a_runtime_holds(tmp_path: Path) -> None:
    feed = arbitrage_feed()
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as runtime:
        runtime.replay(feed, end=2)
        result = _verify(tmp_path)
    assert result.returncode == 3
    assert "in use by another runtime" in result.stdout


def test_a_market_actor_restarting_alone_reads_past_covered_damage_in_its_books(
    tmp_path: Path,
) -> None:
    feed = arbitrage_feed()
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as runtime:
        runtime.replay(feed, end=4)
    damaged, snapshot_seq = _damage(tmp_path, "BookSnapshot")  # m1-YES's only full book
    assert damaged < snapshot_seq
    with capture_logs() as logs, Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as again:
        generation = again.generation
        (market,) = pykka.ActorRegistry.get_by_class(MarketActor)
        market.tell(InjectFault(reason="the market actor restarts alone"))
        again.wait_idle()
        (restarted,) = pykka.ActorRegistry.get_by_class(MarketActor)
        assert restarted != market
        snapshot = ask(restarted, GetSnapshot())
        again.replay(feed)
        assert (again.generation, again.next_step) == (generation, len(feed))
    skipped = [log for log in logs if log["event"] == "journal_corrupt_record_skipped"]
    assert [log["seq"] for log in skipped] == [damaged]
    # Without its full book, YES is unsynced (its changes are ignored), never wrong: the
    # strategy does not trade on it.
    synced = {book.security_id: book.synced for book in snapshot.books}
    assert synced == {"m1-YES": False, "m1-NO": True}
