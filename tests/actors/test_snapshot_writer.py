"""The snapshot writer: the journal's snapshots encoded and stored off the journal's thread."""

from __future__ import annotations

import functools
import threading
import weakref
from pathlib import Path

import pytest

from actors.journal import JournalActor, JournalConfig
from actors.runtime_state import decode_state
from actors.snapshot_writer import SnapshotWriter
from bridges.journal_memory import MemoryJournal
from bridges.journal_sqlite import SqliteJournalStore, SqliteStoreFactory
from messages.journal import StepCommitted, StepStarted
from messages.journal_protocol import Append, Sync
from supervisors.kernel.virtual_time import VirtualTimeKernel
from tests.bridges.journal_store_suite import entry

pytestmark = pytest.mark.timeout(20)


def test_the_newest_snapshot_replaces_one_still_waiting(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    writer_store = SqliteJournalStore(path)
    writer_store.append([entry(n) for n in range(3)])
    gate = threading.Event()
    writer = SnapshotWriter(SqliteStoreFactory(path)).start()
    try:

        def slow() -> str:
            gate.wait(5)
            return "first"

        writer.submit(1, 10, slow)
        assert not writer.flush(timeout_s=0.1)  # the first is being encoded
        writer.submit(2, 20, lambda: "second")
        writer.submit(3, 30, lambda: "third")
        gate.set()
        assert writer.flush(timeout_s=5)
    finally:
        writer.close()
    snapshot = writer_store.latest_snapshot()
    assert snapshot is not None
    assert (snapshot.seq, snapshot.payload, snapshot.ts_ns) == (3, "third", 30)
    assert (writer.written, writer.replaced) == (2, 1)
    writer_store.close()


def test_a_snapshot_that_cannot_be_written_is_logged_and_the_writer_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    store = SqliteJournalStore(path)
    store.append([entry(1)])
    writer = SnapshotWriter(SqliteStoreFactory(path)).start()
    try:
        writer.submit(99, 1, lambda: "beyond the journal's last record")
        assert writer.flush(timeout_s=5)
        assert store.latest_snapshot() is None
        writer.submit(1, 2, lambda: "at the last record")
        assert writer.flush(timeout_s=5)
        latest = store.latest_snapshot()
        assert latest is not None
        assert latest.payload == "at the last record"
    finally:
        writer.close()
    store.close()


def test_the_journal_hands_its_snapshots_to_the_writer_and_they_decode_to_its_state(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    store = SqliteJournalStore(path)
    writer = SnapshotWriter(SqliteStoreFactory(path)).start()
    journal = JournalActor.start(store, config=JournalConfig(snapshot_every=10), snapshots=writer)
    for step in range(12):
        journal.tell(Append(event=StepStarted(step=step, atomic=True), stream="runtime"))
        journal.tell(Append(event=StepCommitted(step=step), stream="runtime"))
    seq = journal.ask(Sync(), timeout=5)
    assert writer.flush(timeout_s=5)
    reader = SqliteJournalStore(path)
    snapshot = reader.latest_snapshot()
    assert snapshot is not None
    assert 10 <= snapshot.seq <= seq
    assert decode_state(snapshot.payload).committed_step >= 4
    journal.stop()
    final = reader.latest_snapshot()
    assert final is not None
    assert final.seq == seq == 24  # the last one, written as the journal stopped
    assert decode_state(final.payload).committed_step == 11
    reader.close()


def test_a_written_snapshots_state_is_not_kept_while_the_writer_waits(tmp_path: Path) -> None:
    """A snapshot holds every order of the live markets: kept until the next one, it was a
    second copy of the run's state."""

    class State:
        pass

    path = tmp_path / "journal.sqlite"
    store = SqliteJournalStore(path)
    store.append([entry(1)])
    writer = SnapshotWriter(SqliteStoreFactory(path)).start()
    try:
        state = State()
        alive = weakref.ref(state)
        writer.submit(1, 10, functools.partial(lambda _state: "payload", state))
        del state
        assert writer.flush(timeout_s=5)
        assert alive() is None
    finally:
        writer.close()
        store.close()


def test_a_snapshot_is_taken_where_a_step_ends_inside_a_batch() -> None:
    # A replay's commit marker waits for the next step's first commit: the batch that
    # makes it durable ends inside the next step, where no snapshot may be taken.
    kernel = VirtualTimeKernel()
    memory = MemoryJournal()
    with kernel.active():
        journal = JournalActor.start(memory.writer(), config=JournalConfig(snapshot_every=1))
        for event in (
            StepStarted(step=0, atomic=True),
            StepCommitted(step=0),
            StepStarted(step=1, atomic=True),
        ):
            journal.tell(Append(event=event, stream="runtime"))
    kernel.run_until_idle()
    assert journal.proxy().batches.get(timeout=5) == 1
    snapshot = memory.writer().latest_snapshot()
    assert snapshot is not None
    assert snapshot.seq == 2
    assert decode_state(snapshot.payload).committed_step == 0
