"""The rows both SQL journal stores keep (SQLite's and PostgreSQL's): one column order, one
checksum over it, one reading of a stored row back into a verified record. A backend owns
its SQL and its transactions; what a row holds, and when it is damaged, is decided here."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from actors.journal_store import (
    CorruptRecordError,
    Duplicate,
    JournalRecord,
    NewEntry,
    record_checksum,
)

COLUMNS = "seq, stream, kind, payload, dedup_key, ts_ns, digest"
"""A record's stored columns, in the order every query of them names; ``checksum`` follows."""


def rows_of(fresh: Iterable[tuple[int, NewEntry]], first_seq: int) -> Iterator[tuple[Any, ...]]:
    """The stored columns (``COLUMNS``, then the checksum) of each new entry at its seq: a
    backend inserts or copies them inside the transaction that assigns the seqs."""
    for seq, (_position, entry) in enumerate(fresh, first_seq):
        stream, kind, payload, key, ts_ns, digest = (
            entry.stream,
            entry.kind,
            entry.payload,
            entry.dedup_key,
            entry.ts_ns,
            entry.digest,
        )
        checksum = record_checksum(
            seq=seq,
            stream=stream,
            kind=kind,
            payload=payload,
            dedup_key=key,
            ts_ns=ts_ns,
            digest=digest,
        )
        yield seq, stream, kind, payload, key, ts_ns, digest, checksum


def record_of(seq: int, entry: NewEntry) -> JournalRecord:
    """What reading ``entry`` back at ``seq`` gives."""
    return JournalRecord(
        seq=seq,
        stream=entry.stream,
        kind=entry.kind,
        payload=entry.payload,
        dedup_key=entry.dedup_key,
        ts_ns=entry.ts_ns,
        digest=entry.digest,
    )


def duplicate_of(entry: NewEntry, stored: JournalRecord) -> Duplicate:
    identical = None if stored.digest is None else stored.digest == entry.digest
    return Duplicate(stored=stored, identical=identical)


def verified(row: Any) -> JournalRecord:
    """The record of a stored row (``COLUMNS``, then the checksum), or
    :class:`CorruptRecordError` if the row is damaged: a column of the wrong type (SQLite
    stores whatever it is handed), or content that fails its checksum."""
    seq, stream, kind, payload, key, ts_ns, digest, checksum = row
    for name, value in (("stream", stream), ("kind", kind), ("payload", payload)):
        if type(value) is not str:
            raise CorruptRecordError(seq, f"{name} is {type(value).__name__}, not text")
    for name, value in (("dedup_key", key), ("digest", digest)):
        if value is not None and type(value) is not str:
            raise CorruptRecordError(seq, f"{name} is {type(value).__name__}, not text")
    if type(ts_ns) is not int or type(checksum) is not int:
        raise CorruptRecordError(seq, "ts_ns or checksum is not an integer")
    computed = record_checksum(
        seq=seq,
        stream=stream,
        kind=kind,
        payload=payload,
        dedup_key=key,
        ts_ns=ts_ns,
        digest=digest,
    )
    if computed != checksum:
        raise CorruptRecordError(seq, f"checksum mismatch (stored {checksum}, computed {computed})")
    return JournalRecord(
        seq=seq,
        stream=stream,
        kind=kind,
        payload=payload,
        dedup_key=key,
        ts_ns=ts_ns,
        digest=digest,
    )


def voided_of(rows: Iterable[Any]) -> list[tuple[JournalRecord, str]]:
    """Quarantined rows (``COLUMNS``, then the reason) as records, unverified."""
    return [
        (
            JournalRecord(
                seq=seq,
                stream=stream,
                kind=kind,
                payload=payload,
                dedup_key=key,
                ts_ns=ts_ns,
                digest=digest,
            ),
            reason,
        )
        for seq, stream, kind, payload, key, ts_ns, digest, reason in rows
    ]
