"""The embedded journal backend: one SQLite file in WAL mode (stdlib ``sqlite3``).

WAL lets readers run beside the one writer without blocking it, and makes a commit one
sequential append to the ``-wal`` file. A process crash loses no commit at either
durability; a commit torn by a crash mid-write is dropped whole when the file is opened
again (SQLite checks every WAL frame), so a batch is never half there.

Threads: a store object is used from one thread at a time (the journal actor's thread;
it may be created in another). A reader in another thread opens its own store object on
the same file: its :meth:`~SqliteJournalStore.read` sees every committed batch and never
blocks the writer, because it reads in pages of short read transactions.

Seqs are assigned here, not by SQLite, because the checksum covers the seq: each batch
takes the next seqs from ``sqlite_sequence`` (the AUTOINCREMENT high-water mark, which
never goes down, so seqs of voided records are never reused) inside its write
transaction.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import structlog

from actors.journal_store import (
    CorruptRecordError,
    Duplicate,
    Durability,
    JournalRecord,
    JournalStoreError,
    NewEntry,
    Snapshot,
    snapshot_checksum,
)
from bridges.journal_rows import COLUMNS, duplicate_of, record_of, rows_of, verified, voided_of
from bridges.wal_checkpointer import WalCheckpointer

SCHEMA_VERSION = 2
"""Stored in the ``meta`` table; a file of another version is refused, not guessed at.

Version 2 added the ``digest`` column; a version 1 file is migrated when it is opened (its
records keep no digest, and still verify: see :func:`record_checksum`).
"""

SNAPSHOTS_KEPT = 2
"""Older snapshots are deleted on write; the previous one is the fallback for a damaged one."""

_BUSY_TIMEOUT_S = 10.0
_READ_PAGE = 512
_KEY_CHUNK = 500  # bound parameters per IN (...) query, well below SQLite's limit

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        stream TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        dedup_key TEXT UNIQUE,
        ts_ns INTEGER NOT NULL,
        checksum INTEGER NOT NULL,
        digest TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS events_stream ON events (stream)",
    # No constraints on the copied columns: a quarantined record may be damaged.
    """CREATE TABLE IF NOT EXISTS voided (
        seq INTEGER PRIMARY KEY,
        stream, kind, payload, dedup_key, ts_ns, checksum,
        reason TEXT NOT NULL,
        voided_ns INTEGER NOT NULL,
        digest
    )""",
    """CREATE TABLE IF NOT EXISTS snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        seq INTEGER NOT NULL,
        payload TEXT NOT NULL,
        ts_ns INTEGER NOT NULL,
        checksum INTEGER NOT NULL
    )""",
)

_MIGRATIONS = {
    # 1 -> 2: a content digest beside the dedup key (NULL for the records already there).
    "1": ("ALTER TABLE events ADD COLUMN digest TEXT", "ALTER TABLE voided ADD COLUMN digest"),
}

_INSERT = f"INSERT INTO events ({COLUMNS}, checksum) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_HIGH_WATER = "SELECT seq FROM sqlite_sequence WHERE name = 'events'"
_READ_ALL = f"SELECT {COLUMNS}, checksum FROM events WHERE seq > ? ORDER BY seq LIMIT ?"
_READ_STREAM = (
    f"SELECT {COLUMNS}, checksum FROM events WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?"
)
_SEQS_ALL = "SELECT seq FROM events WHERE seq > ? ORDER BY seq LIMIT ?"
_SEQS_STREAM = "SELECT seq FROM events WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?"
_READ_ONE = f"SELECT {COLUMNS}, checksum FROM events WHERE seq = ?"

_log = structlog.get_logger("tradeactors", component="journal_sqlite")


class SqliteJournalStore:
    """A :class:`~actors.journal_store.JournalStore` in one SQLite file.

    Opening creates the file, its directory and the schema if they are missing, switches
    the file to WAL and sets ``synchronous`` to ``durability`` for this connection. The
    runtime's writer passes ``background_checkpoints`` to move WAL checkpoints off its
    commits (``bridges.wal_checkpointer``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: Durability = Durability.NORMAL,
        background_checkpoints: bool = False,
    ):
        self.path = Path(path)
        self.durability = durability
        self.checkpointer: WalCheckpointer | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are begun and ended explicitly below.
            self._conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as error:
            raise JournalStoreError(f"cannot open journal {self.path}: {error}") from error
        try:
            self._prepare()
            if background_checkpoints:
                self._conn.execute("PRAGMA wal_autocheckpoint = 0")
                self.checkpointer = WalCheckpointer(self.path).start()
        except BaseException:
            self._conn.close()
            raise

    def _prepare(self) -> None:
        try:
            (mode,) = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode != "wal":
                raise JournalStoreError(f"journal {self.path} cannot use WAL (mode {mode!r})")
            self._conn.execute(f"PRAGMA synchronous = {self.durability.value}")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA:
                    self._conn.execute(statement)
                self._conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                (version,) = self._conn.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'"
                ).fetchone()
                migrated_from = version if version in _MIGRATIONS else None
                while version in _MIGRATIONS:
                    version = self._migrate(version)
                self._conn.execute("COMMIT")
            except BaseException:
                _rollback(self._conn)
                raise
        except sqlite3.Error as error:
            raise JournalStoreError(f"cannot open journal {self.path}: {error}") from error
        if version != str(SCHEMA_VERSION):
            raise JournalStoreError(
                f"journal {self.path} has schema version {version}, this code knows "
                f"{SCHEMA_VERSION}"
            )
        if migrated_from is not None:
            _log.info(
                "journal_migrated", path=str(self.path), from_version=migrated_from, to=version
            )

    def _migrate(self, version: str) -> str:
        """Bring the schema from ``version`` to the next one, inside the open transaction."""
        for statement in _MIGRATIONS[version]:
            self._conn.execute(statement)
        upgraded = str(int(version) + 1)
        self._conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (upgraded,))
        return upgraded

    def append(self, entries: Sequence[NewEntry]) -> list[int | Duplicate | None]:
        """Store the batch in one transaction; see :meth:`JournalStore.append`.

        Duplicates inside the batch are dropped here; duplicates of stored keys are found by
        the UNIQUE index: the batch is inserted optimistically, and only if that trips the
        index is it rolled back and inserted again without the stored keys (looked up 500 to
        a query), so the common case costs no lookup and a batch's seqs stay contiguous.
        Only the stored records a digest-carrying duplicate is compared with are read whole.
        """
        result: list[int | Duplicate | None] = [None] * len(entries)
        fresh: list[tuple[int, NewEntry]] = []  # (position in the batch, entry) to store
        repeats: list[tuple[int, NewEntry]] = []  # digest-carrying repeats within the batch
        batch_keys: set[str] = set()
        compared: set[str] = set()  # keys some entry of the batch carries a digest for
        for position, entry in enumerate(entries):
            if type(entry) is not NewEntry:
                raise TypeError(f"journal entries must be NewEntry, got {type(entry).__name__}")
            key = entry.dedup_key
            if key is not None:
                if entry.digest is not None:
                    compared.add(key)
                if key in batch_keys:
                    if entry.digest is not None:
                        repeats.append((position, entry))
                    continue
                batch_keys.add(key)
            fresh.append((position, entry))
        if not fresh:
            return result
        try:
            try:
                first, stored, held = self._insert(fresh, check_keys=False, compared=compared)
            except sqlite3.IntegrityError:
                first, stored, held = self._insert(fresh, check_keys=True, compared=compared)
        except sqlite3.Error as error:
            raise JournalStoreError(f"cannot append to journal {self.path}: {error}") from error
        repeated = {key for _position, entry in repeats if (key := entry.dedup_key) is not None}
        for seq, (position, entry) in enumerate(stored, first):
            result[position] = seq
            if repeated and entry.dedup_key in repeated:
                held[entry.dedup_key] = record_of(seq, entry)
        for position, entry in (*_dropped(fresh, stored), *repeats):
            if entry.digest is not None and entry.dedup_key is not None:
                result[position] = duplicate_of(entry, held[entry.dedup_key])
        return result

    def _insert(
        self, fresh: list[tuple[int, NewEntry]], *, check_keys: bool, compared: set[str]
    ) -> tuple[int, list[tuple[int, NewEntry]], dict[str, JournalRecord]]:
        """One transaction storing ``fresh`` at the next seqs: (first seq, what was stored,
        the stored records of the ``compared`` keys that were already in the journal).

        Without ``check_keys`` a stored dedup key trips the UNIQUE index (IntegrityError);
        with it, entries whose key is stored are left out first, in the same transaction.
        """
        held: dict[str, JournalRecord] = {}
        with self._transaction():
            if check_keys:
                fresh, held = self._without_stored_keys(fresh, compared)
            row = self._conn.execute(_HIGH_WATER).fetchone()
            first: int = (row[0] if row else 0) + 1
            self._conn.executemany(_INSERT, rows_of(fresh, first))
        return first, fresh, held

    def _without_stored_keys(
        self, fresh: list[tuple[int, NewEntry]], compared: set[str]
    ) -> tuple[list[tuple[int, NewEntry]], dict[str, JournalRecord]]:
        keys = [entry.dedup_key for _position, entry in fresh if entry.dedup_key is not None]
        stored = {key for (key,) in self._rows_with_keys("dedup_key", keys)}
        held: dict[str, JournalRecord] = {}
        for row in self._rows_with_keys(f"{COLUMNS}, checksum", sorted(stored & compared)):
            held[row[4]] = verified(row)  # row[4]: the dedup key
        kept = [(position, entry) for position, entry in fresh if entry.dedup_key not in stored]
        return kept, held

    def _rows_with_keys(self, columns: str, keys: Sequence[str]) -> Iterator[Any]:
        """``columns`` of the stored records carrying ``keys``, a chunk of keys a query."""
        for start in range(0, len(keys), _KEY_CHUNK):
            chunk = keys[start : start + _KEY_CHUNK]
            marks = ", ".join("?" * len(chunk))
            yield from self._conn.execute(
                f"SELECT {columns} FROM events WHERE dedup_key IN ({marks})", chunk
            )

    def read(self, after_seq: int = 0, *, stream: str | None = None) -> Iterator[JournalRecord]:
        """Verified records after ``after_seq``; see :meth:`JournalStore.read`.

        Reads a page at a time, each page its own short read transaction, so a long replay
        holds no lock and never pins the WAL. A page SQLite cannot hand back whole (text
        that is not UTF-8, a damaged page) is read again record by record to find the seq.
        """
        where: tuple[Any, ...] = () if stream is None else (stream,)
        page_query, seq_query = (
            (_READ_ALL, _SEQS_ALL) if stream is None else (_READ_STREAM, _SEQS_STREAM)
        )
        after = after_seq
        while True:
            params = (*where, after, _READ_PAGE)
            failure: CorruptRecordError | None = None
            try:
                rows = self._conn.execute(page_query, params).fetchall()
            except sqlite3.Error as error:
                if not _is_damage(error):
                    raise JournalStoreError(f"cannot read journal {self.path}: {error}") from error
                rows, failure = self._rows_one_by_one(seq_query, params)
            for row in rows:
                yield verified(row)
            if failure is not None:
                raise failure
            if len(rows) < _READ_PAGE:
                return
            after = rows[-1][0]

    def _rows_one_by_one(
        self, seq_query: str, params: tuple[Any, ...]
    ) -> tuple[list[Any], CorruptRecordError | None]:
        """The page's rows up to the first one SQLite cannot hand back, and its error."""
        with self._storage_errors("cannot read journal"):
            seqs = [seq for (seq,) in self._conn.execute(seq_query, params)]
        rows: list[Any] = []
        for seq in seqs:
            try:
                row = self._conn.execute(_READ_ONE, (seq,)).fetchone()
            except sqlite3.Error as error:
                if not _is_damage(error):
                    raise JournalStoreError(f"cannot read journal {self.path}: {error}") from error
                failure = CorruptRecordError(seq, f"unreadable: {error}")
                failure.__cause__ = error
                return rows, failure
            if row is not None:  # None: voided since the seqs were listed
                rows.append(row)
        return rows, None

    def last_seq(self) -> int:
        """The AUTOINCREMENT high-water mark: voided seqs count, so it never goes down."""
        with self._storage_errors("cannot read journal"):
            row = self._conn.execute(_HIGH_WATER).fetchone()
        return int(row[0]) if row else 0

    def has_key(self, dedup_key: str) -> bool:
        """Whether a stored (not voided) record carries ``dedup_key``."""
        with self._storage_errors("cannot read journal"):
            row = self._conn.execute(
                "SELECT 1 FROM events WHERE dedup_key = ?", (dedup_key,)
            ).fetchone()
        return row is not None

    def void_after(self, seq: int, reason: str) -> int:
        """Move the tail after ``seq`` to ``voided``; see :meth:`JournalStore.void_after`."""
        with self._storage_errors("cannot void records in journal"), self._transaction():
            moved = self._conn.execute(
                f"INSERT INTO voided ({COLUMNS}, checksum, reason, voided_ns) "
                f"SELECT {COLUMNS}, checksum, ?, ? FROM events WHERE seq > ? ORDER BY seq",
                (reason, time.time_ns(), seq),
            ).rowcount
            self._conn.execute("DELETE FROM events WHERE seq > ?", (seq,))
            self._conn.execute("DELETE FROM snapshots WHERE seq > ?", (seq,))
        if moved:
            _log.warning(
                "journal_voided", path=str(self.path), after_seq=seq, count=moved, reason=reason
            )
        return moved

    def quarantine(self, seq: int, reason: str) -> bool:
        """Move record ``seq`` to ``voided``, copied by SQLite as stored (it may not even be
        text); see :meth:`JournalStore.quarantine`."""
        with self._storage_errors("cannot quarantine a journal record"), self._transaction():
            moved = self._conn.execute(
                f"INSERT INTO voided ({COLUMNS}, checksum, reason, voided_ns) "
                f"SELECT {COLUMNS}, checksum, ?, ? FROM events WHERE seq = ?",
                (reason, time.time_ns(), seq),
            ).rowcount
            self._conn.execute("DELETE FROM events WHERE seq = ?", (seq,))
        if moved:
            _log.warning("journal_quarantined", path=str(self.path), seq=seq, reason=reason)
        return bool(moved)

    def voided(self) -> list[tuple[JournalRecord, str]]:
        """The quarantined records as they were stored (unverified), with their reasons.

        Text that is not UTF-8 (often why a record was quarantined) comes back with U+FFFD
        in place of the bad bytes rather than failing the whole list.
        """
        self._conn.text_factory = _lenient_text
        try:
            with self._storage_errors("cannot read journal"):
                rows = self._conn.execute(
                    f"SELECT {COLUMNS}, reason FROM voided ORDER BY seq"
                ).fetchall()
        finally:
            self._conn.text_factory = str
        return voided_of(rows)

    def write_snapshot(self, snapshot: Snapshot) -> None:
        """Store ``snapshot`` and drop all but the latest :data:`SNAPSHOTS_KEPT`."""
        checksum = snapshot_checksum(snapshot)
        with self._storage_errors("cannot write snapshot"), self._transaction():
            (top,) = self._conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
            if snapshot.seq > top:
                raise ValueError(
                    f"snapshot at seq {snapshot.seq} is beyond the journal's last record {top}"
                )
            self._conn.execute(
                "INSERT INTO snapshots (seq, payload, ts_ns, checksum) VALUES (?, ?, ?, ?)",
                (snapshot.seq, snapshot.payload, snapshot.ts_ns, checksum),
            )
            self._conn.execute(
                "DELETE FROM snapshots WHERE id NOT IN "
                "(SELECT id FROM snapshots ORDER BY id DESC LIMIT ?)",
                (SNAPSHOTS_KEPT,),
            )

    def latest_snapshot(self) -> Snapshot | None:
        """The newest snapshot that verifies; a damaged one is logged and the one before used."""
        with self._storage_errors("cannot read snapshots"):
            ids = [i for (i,) in self._conn.execute("SELECT id FROM snapshots ORDER BY id DESC")]
        for snapshot_id in ids:
            try:
                seq, payload, ts_ns, checksum = self._conn.execute(
                    "SELECT seq, payload, ts_ns, checksum FROM snapshots WHERE id = ?",
                    (snapshot_id,),
                ).fetchone()
                snapshot = Snapshot(seq=seq, payload=payload, ts_ns=ts_ns)
                intact = snapshot_checksum(snapshot) == checksum
            except sqlite3.Error as error:
                if not _is_damage(error):
                    raise JournalStoreError(
                        f"cannot read snapshots {self.path}: {error}"
                    ) from error
                intact = False
            except TypeError:  # a field of the wrong type
                intact = False
            if intact:
                return snapshot
            _log.warning("journal_snapshot_corrupt", path=str(self.path), snapshot_id=snapshot_id)
        return None

    def close(self) -> None:
        """Close the connection; the last one to close checkpoints and removes the WAL."""
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self._conn.close()

    @contextlib.contextmanager
    def _storage_errors(self, doing: str) -> Iterator[None]:
        """Turns SQLite's errors into the interface's, so callers need not know the backend."""
        try:
            yield
        except sqlite3.Error as error:
            raise JournalStoreError(f"{doing} {self.path}: {error}") from error

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """A write transaction, taking the lock up front so it cannot fail half-way on BUSY."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            _rollback(self._conn)
            raise


@attrs.frozen
class SqliteStoreFactory:
    """A :class:`~actors.journal_store.StoreFactory` on the SQLite file at ``path``.

    Every store opened commits at ``durability``; the journal actor's (:meth:`writer`) also
    checkpoints the WAL on a thread of its own, so there is one checkpointer per journal.
    """

    path: Path
    durability: Durability = Durability.NORMAL

    def __call__(self) -> SqliteJournalStore:
        return SqliteJournalStore(self.path, durability=self.durability)

    def writer(self) -> SqliteJournalStore:
        return SqliteJournalStore(
            self.path, durability=self.durability, background_checkpoints=True
        )


def _is_damage(error: sqlite3.Error) -> bool:
    """Whether ``error`` says the data is damaged, as opposed to the store being unusable
    (closed, locked, out of space): only damage may be reported as a corrupt record.
    """
    name = getattr(error, "sqlite_errorname", None) or ""
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or str(error).startswith(
        "Could not decode to UTF-8"  # the sqlite3 module's own error, which has no code
    )


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open (SQLite ends some on its own on error)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _dropped(
    fresh: list[tuple[int, NewEntry]], stored: list[tuple[int, NewEntry]]
) -> list[tuple[int, NewEntry]]:
    """The entries of ``fresh`` left out because their key was stored already."""
    if len(stored) == len(fresh):
        return []
    kept = {position for position, _entry in stored}
    return [(position, entry) for position, entry in fresh if position not in kept]
