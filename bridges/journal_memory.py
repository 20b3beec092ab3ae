"""A journal in memory: the store interface without a disk, for fast tests.

A :class:`MemoryJournal` is the journal (what a SQLite file is to its connections) and the
:class:`~actors.journal_store.StoreFactory` that opens stores on it; every
:class:`MemoryJournalStore` it opens sees what the others committed, from any thread. It
keeps the promises the shared suite tests (one batch is all or nothing, seqs never reused,
dedup keys and content digests, quarantine by ``void_after``, the two latest snapshots) and
stores the same checksums as SQLite, verified on every read, so a record damaged in place
(only a test can do that here) fails as it would on disk. It survives no process: use it
where a test needs a journal, not where it needs a crash.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator, Sequence

import attrs

from actors.journal_store import (
    CorruptRecordError,
    Duplicate,
    JournalRecord,
    JournalStoreError,
    NewEntry,
    Snapshot,
    record_checksum,
    snapshot_checksum,
)

SNAPSHOTS_KEPT = 2
"""As in SQLite: the previous snapshot is the fallback for a damaged one."""

_READ_PAGE = 512


@attrs.define
class _Stored:
    """A record as kept, with the checksum it was stored with."""

    record: JournalRecord
    checksum: int


class MemoryJournal:
    """One journal in memory, and the factory of stores on it.

    Its lists are changed only under ``lock``, each change whole, so a batch is visible
    all at once or not at all, to every store, like a commit.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[_Stored] = []  # in seq order; void_after cuts a suffix
        self.seqs: list[int] = []  # events' seqs, for bisect
        self.streams: dict[str, list[_Stored]] = {}
        self.keys: dict[str, _Stored] = {}
        self.high_water = 0
        self.voided: list[tuple[JournalRecord, str, int]] = []  # (record, reason, voided_ns)
        self.snapshots: list[tuple[Snapshot, int]] = []  # (snapshot, checksum), oldest first

    def __call__(self) -> MemoryJournalStore:
        return MemoryJournalStore(self)

    def writer(self) -> MemoryJournalStore:
        return MemoryJournalStore(self)


class MemoryJournalStore:
    """A :class:`~actors.journal_store.JournalStore` on a :class:`MemoryJournal`."""

    def __init__(self, journal: MemoryJournal) -> None:
        self._journal: MemoryJournal | None = journal

    def _open(self) -> MemoryJournal:
        if self._journal is None:
            raise JournalStoreError("the in-memory journal store is closed")
        return self._journal

    def append(self, entries: Sequence[NewEntry]) -> list[int | Duplicate | None]:
        """Store the batch at once; see :meth:`JournalStore.append`."""
        for entry in entries:
            if type(entry) is not NewEntry:
                raise TypeError(f"journal entries must be NewEntry, got {type(entry).__name__}")
        journal = self._open()
        with journal.lock:
            result: list[int | Duplicate | None] = []
            batch: dict[str, _Stored] = {}
            fresh: list[_Stored] = []
            seq = journal.high_water
            for entry in entries:
                key = entry.dedup_key
                held = None if key is None else batch.get(key) or journal.keys.get(key)
                if held is not None:
                    result.append(None if entry.digest is None else _duplicate(entry, held))
                    continue
                seq += 1
                stored = _store(seq, entry)
                fresh.append(stored)
                if key is not None:
                    batch[key] = stored
                result.append(seq)
            for stored in fresh:  # nothing above changed the journal: all or nothing
                journal.events.append(stored)
                journal.seqs.append(stored.record.seq)
                journal.streams.setdefault(stored.record.stream, []).append(stored)
            journal.keys.update(batch)
            journal.high_water = seq
        return result

    def read(self, after_seq: int = 0, *, stream: str | None = None) -> Iterator[JournalRecord]:
        """Verified records after ``after_seq``, a page at a time under the journal's lock,
        so appends by other stores go on between pages (and later pages see them)."""
        journal = self._open()
        after = after_seq
        while True:
            with journal.lock:
                if stream is None:
                    records, seqs = journal.events, journal.seqs
                    start = bisect.bisect_right(seqs, after)
                else:
                    records = journal.streams.get(stream, [])
                    start = bisect.bisect_right(records, after, key=lambda s: s.record.seq)
                page = records[start : start + _READ_PAGE]
            for stored in page:
                yield _verified(stored)
            if len(page) < _READ_PAGE:
                return
            after = page[-1].record.seq

    def last_seq(self) -> int:
        """The highest seq ever assigned: voided seqs count, so it never goes down."""
        return self._open().high_water

    def has_key(self, dedup_key: str) -> bool:
        return dedup_key in self._open().keys

    def void_after(self, seq: int, reason: str) -> int:
        """Move the tail after ``seq`` aside; see :meth:`JournalStore.void_after`."""
        journal = self._open()
        with journal.lock:
            cut = bisect.bisect_right(journal.seqs, seq)
            moved = journal.events[cut:]
            if not moved:
                return 0
            del journal.events[cut:], journal.seqs[cut:]
            for records in journal.streams.values():
                del records[bisect.bisect_right(records, seq, key=lambda s: s.record.seq) :]
            now = time.time_ns()
            for stored in moved:
                if stored.record.dedup_key is not None:
                    del journal.keys[stored.record.dedup_key]
                journal.voided.append((stored.record, reason, now))
            journal.voided.sort(key=lambda voided: voided[0].seq)
            journal.snapshots = [kept for kept in journal.snapshots if kept[0].seq <= seq]
        return len(moved)

    def quarantine(self, seq: int, reason: str) -> bool:
        """Move record ``seq`` aside; see :meth:`JournalStore.quarantine`."""
        journal = self._open()
        with journal.lock:
            at = bisect.bisect_left(journal.seqs, seq)
            if at == len(journal.seqs) or journal.seqs[at] != seq:
                return False
            stored = journal.events.pop(at)
            del journal.seqs[at]
            records = journal.streams[stored.record.stream]
            records.remove(stored)
            if stored.record.dedup_key is not None:
                del journal.keys[stored.record.dedup_key]
            journal.voided.append((stored.record, reason, time.time_ns()))
            journal.voided.sort(key=lambda voided: voided[0].seq)
        return True

    def voided(self) -> list[tuple[JournalRecord, str]]:
        with self._open().lock:
            return [(record, reason) for record, reason, _ns in self._open().voided]

    def write_snapshot(self, snapshot: Snapshot) -> None:
        """Store ``snapshot`` and drop all but the latest :data:`SNAPSHOTS_KEPT`."""
        checksum = snapshot_checksum(snapshot)
        journal = self._open()
        with journal.lock:
            top = journal.seqs[-1] if journal.seqs else 0
            if snapshot.seq > top:
                raise ValueError(
                    f"snapshot at seq {snapshot.seq} is beyond the journal's last record {top}"
                )
            journal.snapshots = [*journal.snapshots, (snapshot, checksum)][-SNAPSHOTS_KEPT:]

    def latest_snapshot(self) -> Snapshot | None:
        """The newest snapshot that verifies (one damaged in place falls back)."""
        with self._open().lock:
            kept = list(self._open().snapshots)
        for snapshot, checksum in reversed(kept):
            if snapshot_checksum(snapshot) == checksum:
                return snapshot
        return None

    def close(self) -> None:
        """Forget the journal; it lives on for its other stores and its factory."""
        self._journal = None


def _store(seq: int, entry: NewEntry) -> _Stored:
    """The record ``entry`` is stored as at ``seq``; raises for text that is not Unicode."""
    record = JournalRecord(
        seq=seq,
        stream=entry.stream,
        kind=entry.kind,
        payload=entry.payload,
        dedup_key=entry.dedup_key,
        ts_ns=entry.ts_ns,
        digest=entry.digest,
    )
    return _Stored(record=record, checksum=_checksum(record))


def _checksum(record: JournalRecord) -> int:
    return record_checksum(
        seq=record.seq,
        stream=record.stream,
        kind=record.kind,
        payload=record.payload,
        dedup_key=record.dedup_key,
        ts_ns=record.ts_ns,
        digest=record.digest,
    )


def _verified(stored: _Stored) -> JournalRecord:
    """The stored record, or :class:`CorruptRecordError` if it was changed since."""
    computed = _checksum(stored.record)
    if computed != stored.checksum:
        raise CorruptRecordError(
            stored.record.seq,
            f"checksum mismatch (stored {stored.checksum}, computed {computed})",
        )
    return stored.record


def _duplicate(entry: NewEntry, held: _Stored) -> Duplicate:
    """What a digest-carrying repeat of ``held``'s key gets; the record compared is verified."""
    stored = _verified(held)
    identical = None if stored.digest is None else stored.digest == entry.digest
    return Duplicate(stored=stored, identical=identical)
