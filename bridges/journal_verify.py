"""Verify a whole journal, history included: what a start-up deliberately does not read.

Recovery starts from the latest snapshot and reads only the tail, so damage in history a
snapshot covers never stops a start (and a damaged tail is cut at start-up). Such damage is
still damage: ``verify_journal`` reads every record, carries on past each bad one, and says
which are covered (safe to move aside: nothing that starts from the snapshot needs them)
and which are not (recovery will cut the tail there). ``quarantine_covered`` moves the
covered ones to the side table, where they are kept, never deleted.
"""

from __future__ import annotations

import attrs

from actors.journal_decode import decode_trusted
from actors.journal_store import CorruptRecordError, JournalStore


@attrs.frozen(kw_only=True)
class BadRecord:
    """A record that fails its checksum, or whose payload is not its kind's."""

    seq: int
    reason: str
    covered: bool
    """A snapshot covers it: a start never reads it."""


@attrs.frozen(kw_only=True)
class VerifyReport:
    records: int
    """Records read whole (the bad ones not counted)."""
    last_seq: int
    snapshot_seq: int | None
    bad: tuple[BadRecord, ...]

    @property
    def clean(self) -> bool:
        return not self.bad


def verify_journal(store: JournalStore) -> VerifyReport:
    """Read every record and decode every payload, past each bad one."""
    snapshot = store.latest_snapshot()
    covered_up_to = snapshot.seq if snapshot is not None else 0
    bad: list[BadRecord] = []
    records = 0
    after = 0
    while True:
        try:
            for record in store.read(after):
                after = record.seq
                try:
                    decode_trusted(record.kind, record.payload)
                except (TypeError, ValueError) as error:
                    reason = f"{record.kind} does not decode: {error}"
                    bad.append(_bad(record.seq, reason, covered_up_to))
                    continue
                records += 1
            break
        except CorruptRecordError as error:
            bad.append(_bad(error.seq, error.reason, covered_up_to))
            after = error.seq
    return VerifyReport(
        records=records,
        last_seq=store.last_seq(),
        snapshot_seq=snapshot.seq if snapshot is not None else None,
        bad=tuple(bad),
    )


def quarantine_covered(store: JournalStore, report: VerifyReport) -> list[BadRecord]:
    """Move the bad records a snapshot covers aside; returns those moved."""
    moved = []
    for bad in report.bad:
        if bad.covered and store.quarantine(bad.seq, f"verify: {bad.reason}"):
            moved.append(bad)
    return moved


def _bad(seq: int, reason: str, covered_up_to: int) -> BadRecord:
    return BadRecord(seq=seq, reason=reason, covered=seq <= covered_up_to)
