"""The journal's storage interface: what a backend stores, hands back and raises. No I/O.

The journal is the runtime's source of truth (an event is journaled first and applied
second), so a backend promises four things every implementation is tested for by one
suite (``tests/bridges/journal_store_suite.py``):

- a batch is one transaction: all of it is stored or none of it;
- seqs are assigned by the store, strictly increasing, never reused (not even after
  :meth:`JournalStore.void_after`), so "everything up to seq N" is a stable position;
- a ``dedup_key`` is stored at most once, which makes redelivered broker events no-ops
  across restarts; an entry that carries a content ``digest`` and repeats a stored key is
  reported as a :class:`Duplicate`, identical or conflicting, so the caller can refuse a
  conflict (same key, other content) instead of dropping it;
- every record read back is verified, and a damaged one is reported, never returned.

Events travel as JSON text encoded by the caller: the store does not know event types.
:func:`record_checksum` and :func:`snapshot_checksum` are here, not in a backend, so every
backend stores the same checksum and a journal can be copied from one to another.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Iterator, Sequence
from typing import Protocol

import attrs

_text = attrs.validators.instance_of(str)
_integer = attrs.validators.instance_of(int)


@attrs.frozen(kw_only=True, slots=True)
class NewEntry:
    """One event handed to :meth:`JournalStore.append`; the store gives it its seq.

    ``stream`` names the entity the event belongs to (``"order:O7"``, ``"market:m1"``,
    ``"runtime"``) so one entity can be rebuilt without reading the others. ``dedup_key``
    is unique across the whole journal; ``None`` means the entry is never deduplicated.
    ``digest`` stands for the event's content (the caller decides what that is); with it,
    a repeated key is compared, not just dropped.
    """

    stream: str = attrs.field(validator=_text)
    kind: str = attrs.field(validator=_text)
    payload: str = attrs.field(validator=_text)
    dedup_key: str | None = attrs.field(default=None, validator=attrs.validators.optional(_text))
    ts_ns: int = attrs.field(validator=_integer)
    digest: str | None = attrs.field(default=None, validator=attrs.validators.optional(_text))


@attrs.frozen(kw_only=True, slots=True)
class JournalRecord:
    """One stored event as :meth:`JournalStore.read` hands it back, checksum verified.

    ``digest`` is None for an entry appended without one, and for every record of a
    journal written before digests were stored.
    """

    seq: int
    stream: str
    kind: str
    payload: str
    dedup_key: str | None
    ts_ns: int
    digest: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class Duplicate:
    """What :meth:`JournalStore.append` gives an entry with a ``digest`` it did not store
    because its ``dedup_key`` is stored already (or earlier in the same batch).

    ``stored`` is the record that holds the key. ``identical`` compares the digests: True
    for a redelivery, False for a conflict, None when the stored record has no digest
    (written before digests, or without one), which the caller compares by its payload.
    """

    stored: JournalRecord
    identical: bool | None


@attrs.frozen(kw_only=True, slots=True)
class Snapshot:
    """State folded from the journal up to and including ``seq``; replay resumes after it."""

    seq: int = attrs.field(validator=_integer)
    payload: str = attrs.field(validator=_text)
    ts_ns: int = attrs.field(validator=_integer)


class Durability(enum.Enum):
    """How hard a commit is pushed to the disk before :meth:`JournalStore.append` returns.

    ``FULL`` survives a power cut with the last commit; ``NORMAL`` survives a process crash
    (kill -9) with every commit, and a power cut with all but the last few.
    """

    FULL = "FULL"
    NORMAL = "NORMAL"


class JournalStoreError(Exception):
    """Raised by a backend when its storage fails: it cannot be opened, is not a journal
    of a schema version this code knows, is locked for too long, is full or unreadable, or
    the store was used after :meth:`JournalStore.close`. The backend's own error is the
    ``__cause__``. A failed :meth:`JournalStore.append` has stored nothing.
    """


def storage_advice(message: str) -> str:
    """What an operator can do about a :class:`JournalStoreError` with this message.

    Backends word their errors differently; these are the words of the common ones
    (SQLite's, PostgreSQL's and the OS's), and anything else gets the general advice.
    """
    text = message.lower()
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return "make the data dir writable or choose another --data-dir"
    if "full" in text or "no space" in text:
        return "free space on the data dir's disk and restart: nothing acknowledged is lost"
    if "not a database" in text or "malformed" in text or "schema version" in text:
        return (
            "the file is damaged or not a tradeactors journal: restore it from a copy, or "
            "move it aside and start over with --fresh"
        )
    if "locked" in text or "busy" in text:
        return "another process holds the journal's lock: stop it and restart"
    if "connection" in text or "could not connect" in text:
        return (
            "check that the journal's PostgreSQL server is up and reachable, and restart: "
            "nothing acknowledged is lost"
        )
    return "check the data dir and restart"


class CorruptRecordError(JournalStoreError):
    """Raised by :meth:`JournalStore.read` at the first record that fails its checksum
    (changed in place, cut short, or of the wrong type), after every good record before it
    has been yielded. ``seq`` is the bad record's seq and ``reason`` what failed; recovery
    quarantines from there with ``void_after(seq - 1, reason)``.
    """

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(seq, reason)
        self.seq = seq
        self.reason = reason

    def __str__(self) -> str:
        return f"journal record {self.seq} is corrupt: {self.reason}"


def record_checksum(
    *,
    seq: int,
    stream: str,
    kind: str,
    payload: str,
    dedup_key: str | None,
    ts_ns: int,
    digest: str | None = None,
) -> int:
    """CRC32 of a record as stored, so a backend detects a record changed in place or cut short.

    Every field counts (a record moved to another seq or stream fails too), and the text
    fields are length-prefixed, so no two different records checksum the same text. A
    record without a digest checksums exactly as before digests existed, so older journals
    still verify; one with a digest starts with ``d``, which no digest-less text does.
    Raises ``UnicodeEncodeError`` for text that is not valid Unicode (a lone surrogate).
    """
    return columns_checksum(seq, stream, kind, payload, dedup_key, ts_ns, digest)


def columns_checksum(  # noqa: PLR0917 - a stored row's columns, in their order
    seq: int,
    stream: str,
    kind: str,
    payload: str,
    dedup_key: str | None,
    ts_ns: int,
    digest: str | None,
) -> int:
    """:func:`record_checksum` of positional columns: a backend verifying a million rows
    on recovery calls this, without the keyword hop."""
    if dedup_key is None:
        text = f"{seq}:{ts_ns}:{len(stream)}:{len(kind)}:-1:{stream}{kind}{payload}"
    else:
        text = (
            f"{seq}:{ts_ns}:{len(stream)}:{len(kind)}:{len(dedup_key)}:"
            f"{stream}{kind}{dedup_key}{payload}"
        )
    if digest is not None:
        text = f"d{len(digest)}:{digest}:{text}"
    return zlib.crc32(text.encode())


def snapshot_checksum(snapshot: Snapshot) -> int:
    """CRC32 of a snapshot as stored, so a damaged snapshot is skipped rather than loaded."""
    return zlib.crc32(f"{snapshot.seq}:{snapshot.ts_ns}:{snapshot.payload}".encode())


class JournalStore(Protocol):
    """A durable, append-only event journal with snapshots: what the JournalActor uses.

    An implementation is used from one thread at a time; readers in other threads open
    their own store object on the same storage.
    """

    def append(self, entries: Sequence[NewEntry]) -> list[int | Duplicate | None]:
        """Store ``entries`` in one transaction (one commit) and return each one's seq.

        An entry whose ``dedup_key`` is already in the journal, or repeated earlier in the
        same batch, is not stored: it gets a :class:`Duplicate` if it carries a digest, else
        ``None``. Seqs are strictly increasing and never reused, even after
        :meth:`void_after`. Anything raised means nothing was stored; that includes
        :class:`CorruptRecordError` for a damaged stored record a digest was compared with.
        """
        ...

    def read(self, after_seq: int = 0, *, stream: str | None = None) -> Iterator[JournalRecord]:
        """Records with seq > ``after_seq`` in seq order, only ``stream``'s if given.

        Each record is verified against its stored checksum; at the first one that fails,
        :class:`CorruptRecordError` is raised after every good record before it was yielded.
        """
        ...

    def last_seq(self) -> int:
        """The highest seq ever assigned, voided ones included; 0 for an empty journal."""
        ...

    def has_key(self, dedup_key: str) -> bool:
        """Whether a stored record carries ``dedup_key`` (voided records do not count)."""
        ...

    def void_after(self, seq: int, reason: str) -> int:
        """Move every record with seq > ``seq`` to a side table, kept with ``reason`` and the
        time, never deleted, freeing their dedup keys; return how many moved.

        Used to quarantine a corrupt tail and to abort a torn unit of work that will be
        redone. Snapshots with seq > ``seq`` include voided events, so they are dropped.
        """
        ...

    def quarantine(self, seq: int, reason: str) -> bool:
        """Move the one record ``seq`` to the side table, as :meth:`void_after` does; False
        if there is none. For a damaged record a snapshot covers, found by a verify: the
        records after it stay, and nothing that starts from the snapshot needed it."""
        ...

    def voided(self) -> list[tuple[JournalRecord, str]]:
        """Every record :meth:`void_after` or :meth:`quarantine` moved, in seq order, with its
        reason (forensics)."""
        ...

    def write_snapshot(self, snapshot: Snapshot) -> None:
        """Store ``snapshot``, keeping at least the latest two (a damaged one falls back).

        Raises ``ValueError`` if ``snapshot.seq`` is beyond the last stored record: such a
        snapshot would include events the journal does not have.
        """
        ...

    def latest_snapshot(self) -> Snapshot | None:
        """The most recently written snapshot that verifies, or ``None`` if there is none."""
        ...

    def close(self) -> None:
        """Release the storage; closing twice is harmless, any other call afterwards raises."""
        ...


class StoreFactory(Protocol):
    """Opens stores on one journal, each call a fresh one (its own connection).

    The runtime opens a store per thread that touches the journal: the journal actor's, the
    snapshot writer's, each restarting actor's loader. Every store a factory opens sees what
    any of them committed, as connections to one file do; closing one leaves the journal and
    the others as they are. Tests hand the runtime another factory than the data dir's.
    """

    def __call__(self) -> JournalStore:
        """A store for a reader, or for a writer of the odd snapshot or quarantine."""
        ...

    def writer(self) -> JournalStore:
        """The journal actor's store, which commits all the time: a backend may tune it so."""
        ...
