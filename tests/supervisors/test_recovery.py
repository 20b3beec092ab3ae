"""Recovery from the journal: restart exactness, dedup across restarts, a corrupt tail, a torn
step, snapshot + tail against a full replay, and one actor rebuilding itself."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pykka
import pytest

from actors.journal import JournalActor, JournalConfig
from actors.journal_store import JournalStoreError, NewEntry
from actors.order import OrderActor
from actors.position import PositionActor
from actors.runtime_state import RUNTIME_STREAM, RuntimeState
from bridges.journal_sqlite import SqliteJournalStore, SqliteStoreFactory
from messages.codec import decode, encode, kind_of
from messages.enums import OrderSide
from messages.journal import OrderCreated, StepStarted
from messages.journal_protocol import Sync
from messages.queries import GetSnapshot, ListPositions, ListRoutedOrders
from supervisors.assembly.recovery import order_loader, position_loader, recover_state
from supervisors.assembly.runtime import JOURNAL_FILE, Runtime, RuntimeConfig
from tests.stubs import arbitrage_feed, collector

pytestmark = pytest.mark.timeout(30)
D = Decimal


def _config(data_dir: Path, snapshot_every: int = 10_000) -> RuntimeConfig:
    return RuntimeConfig(data_dir=data_dir, journal=JournalConfig(snapshot_every=snapshot_every))


def _run(data_dir: Path, upto: int, snapshot_every: int = 10_000) -> tuple[list, list]:
    feed = arbitrage_feed()
    runtime = Runtime(_config(data_dir, snapshot_every)).start(feed)
    try:
        for record in feed[runtime.next_step : upto]:
            runtime.feed_and_wait(record)
        return _economics(runtime.positions()), sorted(runtime.orders(), key=_order_key)
    finally:
        runtime.stop()


@contextlib.contextmanager
def _traded(data_dir: Path, snapshot_every: int = 10_000) -> Iterator[Runtime]:
    """A runtime that has fed the arbitrage feed up to its market's close: four orders
    filled, one position; stopped on leaving."""
    feed = arbitrage_feed()
    runtime = Runtime(_config(data_dir, snapshot_every)).start(feed)
    try:
        for record in feed[:6]:
            runtime.feed_and_wait(record)
        runtime.sync()
        yield runtime
    finally:
        runtime.stop()


def _order_key(order):
    return order.order_id


def _economics(positions) -> list:
    return [
        (p.position_id, p.status, [(g.quantity, g.cost, g.realized_pnl, g.fees) for g in p.legs])
        for p in positions
    ]


def test_a_restart_comes_back_with_the_same_orders_and_positions(tmp_path: Path) -> None:
    positions, orders = _run(tmp_path, upto=6)
    feed = arbitrage_feed()
    runtime = Runtime(_config(tmp_path)).start(feed)
    try:
        assert runtime.next_step == 6
        assert _economics(runtime.positions()) == positions
        assert sorted(runtime.orders(), key=_order_key) == orders
        for record in feed[runtime.next_step :]:
            runtime.feed_and_wait(record)
        (settled,) = runtime.positions()
    finally:
        runtime.stop()
    assert settled.realized_pnl == D("3.00")
    assert settled.fees == D("0.057")


def test_a_fill_redelivered_after_a_restart_changes_nothing(tmp_path: Path) -> None:
    _run(tmp_path, upto=6)
    store = SqliteJournalStore(tmp_path / JOURNAL_FILE)
    first_fill = next(r for r in store.read() if r.kind == "Fill")
    store.close()
    runtime = Runtime(_config(tmp_path)).start(arbitrage_feed())
    try:
        journal = runtime._require(runtime.journal).proxy()
        before = _economics(runtime.positions())
        duplicates = journal.duplicates.get(timeout=5)
        runtime.venue_report(decode(first_fill.kind, first_fill.payload))
        runtime.wait_idle()
        assert _economics(runtime.positions()) == before
        # The fill, and what its closed order's actor, revived from the journal for it (the
        # order recovered with no actor), journals again: its fill for the position, its close.
        assert journal.duplicates.get(timeout=5) == duplicates + 3
    finally:
        runtime.stop()


def test_a_corrupt_last_record_is_quarantined_and_recovery_stops_at_the_record_before(
    tmp_path: Path,
) -> None:
    _run(tmp_path, upto=6)
    path = tmp_path / JOURNAL_FILE
    with sqlite3.connect(path) as conn:
        # As if the process died before any snapshot: the damaged record is in the tail.
        conn.execute("DELETE FROM snapshots")
        (last,) = conn.execute("SELECT MAX(seq) FROM events").fetchone()
        conn.execute("UPDATE events SET payload = substr(payload, 1, 10) WHERE seq = ?", (last,))
    feed = arbitrage_feed()
    runtime = Runtime(_config(tmp_path)).start(feed)
    try:
        report = runtime.recovery
        assert report is not None
        # The damaged record was step 5's StepCommitted: without it step 5 is torn, so its
        # events are voided too and record 5 is fed again.
        assert (report.corrupt_seq, report.torn_step, report.resume_step) == (last, 5, 5)
        assert runtime.next_step == 5
        assert runtime.positions()[0].leg("m1-NO").quantity == D(30)
        for record in feed[5:7]:
            runtime.feed_and_wait(record)
        assert runtime.positions()[0].leg("m1-NO").quantity == D(60)
    finally:
        runtime.stop()
    store = SqliteJournalStore(path)
    try:
        reasons = {voided.seq: reason for voided, reason in store.voided()}
        assert "corrupt" in reasons[last]
        assert report.voided == 1
        # Step 5's other records were left in the file by recovery and voided by the
        # journal as its first write.
        torn = sorted(seq for seq, reason in reasons.items() if reason == "torn lockstep step 5")
        assert report.torn_void == (torn[0] - 1, "torn lockstep step 5")
        assert len(reasons) == 1 + len(torn) == 1 + last - torn[0]
        assert store.last_seq() > last
    finally:
        store.close()


def test_a_torn_lockstep_step_is_voided_and_its_record_fed_again(tmp_path: Path) -> None:
    _run(tmp_path, upto=4)
    store = SqliteJournalStore(tmp_path / JOURNAL_FILE)
    torn = OrderCreated(
        order_id="O99",
        correlation_id="c",
        market_id="m1",
        security_id="m1-YES",
        account="paper",
        strategy="synthetic_arbitrage",
        side=OrderSide.BUY,
        price=D("0.45"),
        size=D(1),
    )
    store.append(
        [
            NewEntry(stream=RUNTIME_STREAM, kind=kind, payload=encode(event), ts_ns=1)
            for kind, event in (
                ("StepStarted", StepStarted(step=4, atomic=True)),
                (kind_of(torn), torn),
            )
        ]
    )
    state, report = recover_state(store)
    store.close()
    assert (report.torn_step, report.voided, report.resume_step) == (4, 2, 4)
    assert "O99" not in state.orders


def _torn(data_dir: Path) -> SqliteJournalStore:
    """A journal of four committed steps and a fifth torn after its first record."""
    _run(data_dir, upto=4)
    store = SqliteJournalStore(data_dir / JOURNAL_FILE)
    store.append(
        [
            NewEntry(
                stream=RUNTIME_STREAM,
                kind="StepStarted",
                payload=encode(StepStarted(step=4, atomic=True)),
                ts_ns=1,
            )
        ]
    )
    return store


def test_the_cores_recovery_only_reads_and_its_journal_voids_the_torn_step_first(
    tmp_path: Path,
) -> None:
    # A disk that filled mid-step refuses the void as it refused the commit: it is the
    # journal's first write, and fails the way a commit does.
    store = _torn(tmp_path)
    last = store.last_seq()
    state, report = recover_state(store, void_torn=False)
    assert (report.torn_step, report.voided, report.torn_void) == (
        4,
        0,
        (last - 1, "torn lockstep step 4"),
    )
    assert store.voided() == []
    journal = JournalActor.start(store, state=state, void_after=report.torn_void)
    assert journal.ask(Sync(), timeout=5) == state.seq == last - 1
    journal.stop(timeout=5)
    reader = SqliteJournalStore(tmp_path / JOURNAL_FILE)
    try:
        assert [(record.seq, reason) for record, reason in reader.voided()] == [
            (last, "torn lockstep step 4")
        ]
    finally:
        reader.close()


class _FullStore(SqliteJournalStore):
    """Refuses every void, as SQLite does on a full disk."""

    def void_after(self, seq: int, reason: str) -> int:
        raise JournalStoreError(f"cannot void records in journal {self.path}: disk is full")


def test_a_journal_that_cannot_void_the_torn_step_fails_as_a_failed_commit(
    tmp_path: Path,
) -> None:
    _torn(tmp_path).close()
    store = _FullStore(tmp_path / JOURNAL_FILE)
    state, report = recover_state(store, void_torn=False)
    journal = JournalActor.start(store, state=state, void_after=report.torn_void)
    with pytest.raises((JournalStoreError, pykka.ActorDeadError)):
        journal.ask(Sync(), timeout=5)
    assert journal.actor_stopped.wait(5)


def test_snapshot_plus_tail_equals_a_replay_of_the_whole_journal(tmp_path: Path) -> None:
    _run(tmp_path, upto=8, snapshot_every=5)
    store = SqliteJournalStore(tmp_path / JOURNAL_FILE)
    try:
        recovered, report = recover_state(store)
        from_nothing = RuntimeState()
        for record in store.read():
            from_nothing.apply(record.seq, record.stream, decode(record.kind, record.payload))
    finally:
        store.close()
    assert report.snapshot_seq is not None
    assert report.replayed < recovered.seq
    assert recovered.memento() == from_nothing.memento()


def test_an_order_and_a_position_actor_each_rebuild_themselves_from_the_journal(
    tmp_path: Path,
) -> None:
    with _traded(tmp_path, snapshot_every=7) as runtime:
        bus, _ = collector()
        refs = runtime._require(runtime.market_lifecycle).ask(ListPositions(), timeout=5)
        ((_, position_ref),) = refs.live
        before = position_ref.ask(GetSnapshot(), timeout=5)
        position_ref.stop()
        rebuilt = PositionActor.start(
            position_loader(SqliteStoreFactory(tmp_path / JOURNAL_FILE), before.position_id),
            bus=bus,
        ).ask(GetSnapshot(), timeout=5)
        assert _economics([rebuilt]) == _economics([before])

        # A closed order's actor is stopped already: its last snapshot is what it was.
        order_before = (
            runtime._require(runtime.execution).ask(ListRoutedOrders(), timeout=5).closed[-1]
        )
        order_id = order_before.order_id
        nobody, _ = collector()
        order_after = OrderActor.start(
            order_loader(SqliteStoreFactory(tmp_path / JOURNAL_FILE), order_id),
            position=nobody,
            position_id=before.position_id,
            execution=nobody,
            venue=nobody,
            bus=bus,
            journal=nobody,
        ).ask(GetSnapshot(), timeout=5)
        assert order_after == order_before


def test_a_restart_takes_the_journals_fold_which_equals_a_read_of_the_file(
    tmp_path: Path,
) -> None:
    with _traded(tmp_path, snapshot_every=7) as runtime:
        journal = runtime.journal
        missing = tmp_path / "not-there" / JOURNAL_FILE
        (position,) = runtime.positions()
        orders = runtime.orders()
        assert len(orders) == 4

        book, covered = position_loader(
            SqliteStoreFactory(missing), position.position_id, journal
        )()
        from_file, file_covered = position_loader(
            SqliteStoreFactory(tmp_path / JOURNAL_FILE), position.position_id
        )()
        assert book.memento() == from_file.memento()
        assert covered >= file_covered
        for order in orders:
            folded, _ = order_loader(SqliteStoreFactory(missing), order.order_id, journal)()
            read, _ = order_loader(SqliteStoreFactory(tmp_path / JOURNAL_FILE), order.order_id)()
            assert folded.memento() == read.memento()
            assert folded.snapshot() == order
    assert not missing.parent.exists()


def test_without_a_live_journal_a_restart_reads_the_file(tmp_path: Path) -> None:
    with _traded(tmp_path) as runtime:
        journal = runtime.journal
        (position,) = runtime.positions()
    assert not journal.is_alive()

    book, _ = position_loader(
        SqliteStoreFactory(tmp_path / JOURNAL_FILE), position.position_id, journal
    )()

    assert _economics([book.snapshot()]) == _economics([position])
