"""The SQLite journal: the shared suite, plus what only a file on disk can go through."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from actors.journal_store import (
    CorruptRecordError,
    Duplicate,
    Durability,
    JournalRecord,
    JournalStoreError,
    NewEntry,
    Snapshot,
    record_checksum,
)
from bridges.journal_sqlite import SCHEMA_VERSION, SqliteJournalStore, SqliteStoreFactory
from tests.bridges.journal_store_suite import JournalStoreSuite, entry, record, stored

_WAL_HEADER = 32
_FRAME_HEADER = 24


def _path(tmp_path: Path) -> Path:
    return tmp_path / "journal" / "events.db"


class TestSqliteJournalStore(JournalStoreSuite):
    def make_factory(self, tmp_path: Path) -> SqliteStoreFactory:
        return SqliteStoreFactory(_path(tmp_path))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return _path(tmp_path)


@pytest.fixture
def store(path: Path) -> Iterator[SqliteJournalStore]:
    opened = SqliteJournalStore(path)
    yield opened
    opened.close()


def _raw(path: Path, sql: str, *params: object) -> None:
    """Changes the file behind the store's back, as a disk fault or a stray tool would."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(sql, params)
    finally:
        conn.close()


def _read_until_failure(store: SqliteJournalStore) -> tuple[list[int], CorruptRecordError]:
    seqs: list[int] = []
    with pytest.raises(CorruptRecordError) as raised:
        seqs.extend(r.seq for r in store.read())
    return seqs, raised.value


# -- the file -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("durability", "synchronous"), [(Durability.FULL, 2), (Durability.NORMAL, 1)]
)
def test_the_journal_is_in_wal_mode_with_the_synchronous_setting_asked_for(
    path: Path, durability: Durability, synchronous: int
) -> None:
    store = SqliteJournalStore(path, durability=durability)
    try:
        assert store._conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert store._conn.execute("PRAGMA synchronous").fetchone() == (synchronous,)
    finally:
        store.close()
    # WAL is a property of the file: another connection finds it so.
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


def test_the_default_durability_is_normal(store: SqliteJournalStore) -> None:
    assert store.durability is Durability.NORMAL
    assert store._conn.execute("PRAGMA synchronous").fetchone() == (1,)


def test_opening_creates_the_missing_directory_and_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "events.db"
    SqliteJournalStore(path).close()
    conn = sqlite3.connect(path)
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    finally:
        conn.close()
    assert {"meta", "events", "events_stream", "voided", "snapshots"} <= tables
    assert version == ("2",)


def test_a_journal_of_another_schema_version_is_refused(path: Path) -> None:
    SqliteJournalStore(path).close()
    _raw(path, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(JournalStoreError, match="schema version 99"):
        SqliteJournalStore(path)


_SCHEMA_1 = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "INSERT INTO meta VALUES ('schema_version', '1')",
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, kind TEXT NOT NULL,
        payload TEXT NOT NULL, dedup_key TEXT UNIQUE, ts_ns INTEGER NOT NULL,
        checksum INTEGER NOT NULL
    )""",
    "CREATE INDEX events_stream ON events (stream)",
    """CREATE TABLE voided (
        seq INTEGER PRIMARY KEY, stream, kind, payload, dedup_key, ts_ns, checksum,
        reason TEXT NOT NULL, voided_ns INTEGER NOT NULL
    )""",
    """CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, payload TEXT NOT NULL,
        ts_ns INTEGER NOT NULL, checksum INTEGER NOT NULL
    )""",
)


def _schema_1_journal(path: Path, entries: list[NewEntry]) -> None:
    """A journal as the code before digests wrote it: no digest column, version 1."""
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in _SCHEMA_1:
            conn.execute(statement)
        for seq, new in enumerate(entries, 1):
            fields = (seq, new.stream, new.kind, new.payload, new.dedup_key, new.ts_ns)
            checksum = record_checksum(
                seq=seq,
                stream=new.stream,
                kind=new.kind,
                payload=new.payload,
                dedup_key=new.dedup_key,
                ts_ns=new.ts_ns,
            )
            conn.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", (*fields, checksum))
    finally:
        conn.close()


def test_a_journal_of_schema_version_1_opens_migrated_and_its_records_still_verify(
    path: Path,
) -> None:
    old = [entry(1, key="fill:F1"), entry(2), entry(3, key="deal:B1:1:5")]
    _schema_1_journal(path, old)
    store = SqliteJournalStore(path)
    try:
        assert list(store.read()) == [record(seq, e) for seq, e in enumerate(old, 1)]
        (duplicate, fresh) = store.append(
            [entry(4, key="fill:F1", digest="d4"), entry(5, key="fill:F5", digest="d5")]
        )
        # The old record has no digest: the store says so, with the record to compare by.
        assert duplicate == Duplicate(stored=record(1, old[0]), identical=None)
        assert fresh == 4
        assert list(store.read(3)) == [record(4, entry(5, key="fill:F5", digest="d5"))]
        store.void_after(3, "torn")
        assert [r.digest for r, _why in store.voided()] == ["d5"]
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    finally:
        conn.close()
    assert version == (str(SCHEMA_VERSION),)
    reopened = SqliteJournalStore(path)
    try:
        assert [r.seq for r in reopened.read()] == [1, 2, 3]
    finally:
        reopened.close()


def test_a_digest_changed_in_the_file_fails_the_records_checksum(
    store: SqliteJournalStore, path: Path
) -> None:
    seqs = stored(store.append([entry(1, key="fill:F1", digest="d1"), entry(2)]))
    _raw(path, "UPDATE events SET digest = 'other' WHERE seq = ?", seqs[0])
    with pytest.raises(CorruptRecordError) as raised:
        list(store.read())
    assert raised.value.seq == seqs[0]
    with pytest.raises(CorruptRecordError):
        store.append([entry(3, key="fill:F1", digest="d1")])
    assert [r.seq for r in store.read(seqs[0])] == seqs[1:]


def test_a_file_that_is_not_a_database_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database, just some text that is long enough" * 100)
    with pytest.raises(JournalStoreError, match="cannot open journal"):
        SqliteJournalStore(path)


def test_reading_by_stream_uses_the_stream_index(store: SqliteJournalStore) -> None:
    plan = store._conn.execute(
        "EXPLAIN QUERY PLAN SELECT seq FROM events WHERE stream = ? AND seq > ? ORDER BY seq",
        ("order:O1", 0),
    ).fetchall()
    assert any("events_stream" in str(step) for step in plan)


# -- corruption -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        pytest.param("'{\"n\":99}'", "checksum mismatch", id="payload-changed"),
        pytest.param(
            "substr(payload, 1, length(payload) - 2)", "checksum mismatch", id="cut-short"
        ),
        pytest.param("CAST(x'7b22ff7d' AS TEXT)", "unreadable", id="not-utf8"),
        pytest.param("x'7b7d'", "payload is bytes", id="blob"),
    ],
)
def test_a_record_damaged_in_the_file_is_reported_with_its_seq_after_the_good_ones(
    store: SqliteJournalStore, path: Path, damage: str, reason: str
) -> None:
    seqs = stored(store.append([entry(n) for n in range(1, 6)]))
    _raw(path, f"UPDATE events SET payload = {damage} WHERE seq = ?", seqs[2])

    yielded, error = _read_until_failure(store)

    assert yielded == seqs[:2]
    assert error.seq == seqs[2]
    assert reason in error.reason
    assert str(error) == f"journal record {seqs[2]} is corrupt: {error.reason}"
    assert [r.seq for r in store.read(seqs[2])] == seqs[3:]

    assert store.void_after(error.seq - 1, error.reason) == 3
    assert [r.seq for r in store.read()] == seqs[:2]
    assert [r.seq for r, _why in store.voided()] == seqs[2:]


def test_a_damaged_record_is_reported_when_reading_its_stream_too(
    store: SqliteJournalStore, path: Path
) -> None:
    seqs = stored(store.append([entry(1, stream="a"), entry(2, stream="b"), entry(3, stream="a")]))
    _raw(path, "UPDATE events SET payload = '{}' WHERE seq = ?", seqs[2])
    assert [r.seq for r in store.read(stream="b")] == [seqs[1]]
    with pytest.raises(CorruptRecordError) as raised:
        list(store.read(stream="a"))
    assert raised.value.seq == seqs[2]


def test_a_corrupt_tail_is_quarantined_by_voiding_before_it(
    store: SqliteJournalStore, path: Path
) -> None:
    entries = [entry(n, key=f"k{n}") for n in range(1, 5)]
    seqs = stored(store.append(entries))
    _raw(path, "UPDATE events SET payload = '{}' WHERE seq = ?", seqs[2])
    _yielded, error = _read_until_failure(store)

    assert store.void_after(error.seq - 1, error.reason) == 2

    assert list(store.read()) == [record(seqs[0], entries[0]), record(seqs[1], entries[1])]
    quarantined = store.voided()
    assert [(r.seq, r.payload) for r, _why in quarantined] == [
        (seqs[2], "{}"),
        (seqs[3], '{"n":4}'),
    ]
    assert all(why == error.reason for _r, why in quarantined)


def test_a_damaged_latest_snapshot_falls_back_to_the_one_before(
    store: SqliteJournalStore, path: Path
) -> None:
    a, b = stored(store.append([entry(1), entry(2)]))
    store.write_snapshot(Snapshot(seq=a, payload='"at a"', ts_ns=1))
    store.write_snapshot(Snapshot(seq=b, payload='"at b"', ts_ns=2))
    _raw(path, "UPDATE snapshots SET payload = '\"tampered\"' WHERE seq = ?", b)
    assert store.latest_snapshot() == Snapshot(seq=a, payload='"at a"', ts_ns=1)


def test_only_the_latest_two_snapshots_are_kept(store: SqliteJournalStore) -> None:
    seqs = stored(store.append([entry(n) for n in range(1, 6)]))
    for seq in seqs:
        store.write_snapshot(Snapshot(seq=seq, payload="{}", ts_ns=seq))
    kept = store._conn.execute("SELECT seq FROM snapshots ORDER BY id").fetchall()
    assert kept == [(seqs[-2],), (seqs[-1],)]


def test_a_wal_torn_in_its_last_frame_reopens_with_every_earlier_transaction(
    tmp_path: Path,
) -> None:
    live, copy = tmp_path / "live" / "events.db", tmp_path / "copy" / "events.db"
    writer = SqliteJournalStore(live)
    writer._conn.execute("PRAGMA wal_autocheckpoint = 0")  # every commit stays in the WAL
    batches = [[entry(10 * b + n, key=f"k{b}.{n}") for n in range(3)] for b in range(5)]
    seqs = [stored(writer.append(batch)) for batch in batches]
    (page_size,) = writer._conn.execute("PRAGMA page_size").fetchone()
    copy.parent.mkdir()
    # What a crash leaves behind: the main file and the WAL, with no checkpoint taken.
    shutil.copyfile(live, copy)
    shutil.copyfile(f"{live}-wal", f"{copy}-wal")
    writer.close()

    wal = Path(f"{copy}-wal")
    frame = _FRAME_HEADER + page_size
    size = wal.stat().st_size
    assert (size - _WAL_HEADER) % frame == 0
    assert (size - _WAL_HEADER) // frame >= len(batches)
    with wal.open("r+b") as torn:
        torn.truncate(size - frame // 2)

    store = SqliteJournalStore(copy)
    try:
        assert list(store.read()) == [
            record(seq, new)
            for batch, batch_seqs in zip(batches[:-1], seqs[:-1], strict=True)
            for seq, new in zip(batch_seqs, batch, strict=True)
        ]
        assert store.last_seq() == seqs[-2][-1]
        assert not store.has_key("k4.0")
        assert stored(store.append(batches[-1])) == [seqs[-2][-1] + n for n in (1, 2, 3)]
    finally:
        store.close()


# -- a reader beside the writer ---------------------------------------------------------------


def test_a_second_store_in_another_thread_reads_while_the_first_appends(
    store: SqliteJournalStore, path: Path
) -> None:
    batches, size = 200, 10
    saw_part = threading.Event()

    def write() -> None:
        for b in range(batches):
            store.append([entry(b * size + n, key=f"{b}.{n}") for n in range(size)])
            if b == batches // 2:  # let the reader in between two commits at least once
                assert saw_part.wait(timeout=10)

    def read_until_complete() -> None:
        reader = SqliteJournalStore(path)
        try:
            while True:
                records = list(reader.read())
                # Each read is a prefix of the final journal: no gap, no torn batch.
                assert [r.payload for r in records] == [f'{{"n":{n}}}' for n in range(len(records))]
                assert len(records) % size == 0
                if len(records) == batches * size:
                    return
                if records:
                    saw_part.set()
        finally:
            reader.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        reading = pool.submit(read_until_complete)
        writing = pool.submit(write)
        writing.result(timeout=30)
        reading.result(timeout=30)
    assert saw_part.is_set()


def test_a_read_in_progress_does_not_block_the_writer(
    store: SqliteJournalStore, path: Path
) -> None:
    first = stored(store.append([entry(n) for n in range(2_000)]))
    reader = SqliteJournalStore(path)
    reading_started, written = threading.Event(), threading.Event()

    def read() -> list[JournalRecord]:
        records = reader.read()
        got = [next(records)]
        reading_started.set()
        assert written.wait(timeout=10)
        got.extend(records)
        return got

    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            reading = pool.submit(read)
            assert reading_started.wait(timeout=10)
            (late,) = stored(store.append([entry(9_999)]))
            written.set()
            got = reading.result(timeout=30)
    finally:
        reader.close()
    assert [r.seq for r in got] == [*first, late]


@pytest.mark.timeout(20)
def test_background_checkpoints_take_the_wal_off_the_writers_commits(tmp_path: Path) -> None:
    store = SqliteJournalStore(tmp_path / "j.sqlite", background_checkpoints=True)
    try:
        assert store._conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
        assert store.checkpointer is not None
        for _ in range(20):
            store.append(
                [
                    NewEntry(stream="s", kind="Fill", payload="x" * 500, dedup_key=None, ts_ns=1)
                    for _ in range(200)
                ]
            )
        busy, frames, done = store.checkpointer.checkpoint_now()
        assert (busy, done) == (0, frames)
        deadline = time.monotonic() + 10
        while store.checkpointer.checkpoints < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.checkpointer.checkpoints >= 3  # the thread's own, after the one above
    finally:
        store.close()
    assert not (tmp_path / "j.sqlite-wal").exists()
    assert len(list(SqliteJournalStore(tmp_path / "j.sqlite").read())) == 4000
