"""The rows both SQL journal stores keep (SQLite's and PostgreSQL's): one column order, one
checksum over it, one reading of a stored row back into a verified record. A backend owns
its SQL and its transactions; what a row holds, and when it is damaged, is decided here."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs

from actors.journal_store import (
    CorruptRecordError,
    Duplicate,
    JournalRecord,
    NewEntry,
    columns_checksum,
)

COLUMNS = "seq, stream, kind, payload, dedup_key, ts_ns, digest"
"""A record's stored columns, in the order every query of them names; ``checksum`` follows."""


def rows_of(fresh: Iterable[tuple[int, NewEntry]], first_seq: int) -> Iterator[tuple[Any, ...]]:
    """The stored columns (``COLUMNS``, then the checksum) of each new entry at its seq: a
    backend inserts or copies them inside the transaction that assigns the seqs."""
    for seq, (_position, entry) in enumerate(fresh, first_seq):
        columns = _columns(seq, entry)
        yield (*columns, columns_checksum(*columns))


def record_of(seq: int, entry: NewEntry) -> JournalRecord:
    """What reading ``entry`` back at ``seq`` gives."""
    return _record(*_columns(seq, entry))


def duplicate_of(entry: NewEntry, stored: JournalRecord) -> Duplicate:
    identical = None if stored.digest is None else stored.digest == entry.digest
    return Duplicate(stored=stored, identical=identical)


def verified(row: Sequence[Any]) -> JournalRecord:
    """The record of a stored row (``COLUMNS``, then the checksum), or
    :class:`CorruptRecordError` if the row is damaged: a column of the wrong type (SQLite
    stores whatever it is handed), or content that fails its checksum."""
    seq, stream, kind, payload, key, ts_ns, digest, checksum = row
    if not (
        type(stream) is str
        and type(kind) is str
        and type(payload) is str
        and (key is None or type(key) is str)
        and (digest is None or type(digest) is str)
        and type(ts_ns) is int
        and type(checksum) is int
    ):
        _check_types(row)
    computed = columns_checksum(seq, stream, kind, payload, key, ts_ns, digest)
    if computed != checksum:
        raise CorruptRecordError(seq, f"checksum mismatch (stored {checksum}, computed {computed})")
    return _record(seq, stream, kind, payload, key, ts_ns, digest)


def _check_types(row: Sequence[Any]) -> None:
    """Raise :class:`CorruptRecordError` naming the first column of the wrong type: the
    slow path of :func:`verified`, taken only by a damaged row."""
    seq, stream, kind, payload, key, ts_ns, digest, checksum = row
    for name, value in (("stream", stream), ("kind", kind), ("payload", payload)):
        if type(value) is not str:
            raise CorruptRecordError(seq, f"{name} is {type(value).__name__}, not text")
    for name, value in (("dedup_key", key), ("digest", digest)):
        if value is not None and type(value) is not str:
            raise CorruptRecordError(seq, f"{name} is {type(value).__name__}, not text")
    if type(ts_ns) is not int or type(checksum) is not int:
        raise CorruptRecordError(seq, "ts_ns or checksum is not an integer")


def voided_of(rows: Iterable[Sequence[Any]]) -> list[tuple[JournalRecord, str]]:
    """Quarantined rows (``COLUMNS``, then the reason) as records, unverified."""
    return [(_record(*columns), reason) for *columns, reason in rows]


def _columns(seq: int, entry: NewEntry) -> tuple[Any, ...]:
    """``COLUMNS`` of ``entry`` at ``seq``."""
    return (
        seq,
        entry.stream,
        entry.kind,
        entry.payload,
        entry.dedup_key,
        entry.ts_ns,
        entry.digest,
    )


_new = object.__new__
# The slots' setters, as attrs' own __init__ sets them (past the frozen guard): the record
# has no validators, and a million reads on recovery spend a third of the time this way.
(_set_seq, _set_stream, _set_kind, _set_payload, _set_key, _set_ts_ns, _set_digest) = (
    getattr(JournalRecord, name).__set__
    for name in ("seq", "stream", "kind", "payload", "dedup_key", "ts_ns", "digest")
)
assert len(attrs.fields(JournalRecord)) == 7, "_record sets every field of JournalRecord"


def _record(  # noqa: PLR0917 - COLUMNS, in their order
    seq: int, stream: str, kind: str, payload: str, key: str | None, ts_ns: int, digest: str | None
) -> JournalRecord:
    record: JournalRecord = _new(JournalRecord)
    _set_seq(record, seq)
    _set_stream(record, stream)
    _set_kind(record, kind)
    _set_payload(record, payload)
    _set_key(record, key)
    _set_ts_ns(record, ts_ns)
    _set_digest(record, digest)
    return record
