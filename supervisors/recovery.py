"""Recovery: the runtime's state from the latest snapshot plus the journal's tail.

Two things are cut from the tail before it is folded, each moved aside (never deleted) by
the store's ``void_after`` with the reason, and reported:

- a corrupt record (checksum mismatch, cut short) and everything after it: the journal is
  only trusted up to its last whole record;
- a torn lockstep step: the events of a feed record whose StepCommitted never made it. The
  record is fed again and regenerates them exactly, with the same ids.
"""

from __future__ import annotations

import time

import attrs
import structlog

from actors.runtime_state import RuntimeState, decode_state
from bridges.journal_store import CorruptRecordError, JournalRecord, JournalStore
from messages.codec import decode
from messages.journal import StepStarted

_log = structlog.get_logger("tradeactors", actor="recovery")


@attrs.frozen(kw_only=True)
class RecoveryReport:
    """What recovery found and did, for the log and for tests."""

    snapshot_seq: int | None
    replayed: int
    voided: int
    corrupt_seq: int | None
    corrupt_reason: str | None
    torn_step: int | None
    resume_step: int
    elapsed_s: float


def recover_state(store: JournalStore) -> tuple[RuntimeState, RecoveryReport]:
    """Latest snapshot + tail, minus a corrupt tail and a torn step."""
    started = time.perf_counter()
    snapshot = store.latest_snapshot()
    state = decode_state(snapshot.payload) if snapshot is not None else RuntimeState()
    tail: list[JournalRecord] = []
    voided = 0
    corrupt_seq: int | None = None
    corrupt_reason: str | None = None
    try:
        tail.extend(store.read(state.seq))
    except CorruptRecordError as error:
        corrupt_seq, corrupt_reason = error.seq, error.reason
        voided += store.void_after(error.seq - 1, f"corrupt record {error.seq}: {error.reason}")
        _log.error(
            "journal_corrupt_record",
            seq=error.seq,
            reason=error.reason,
            recovered_up_to=error.seq - 1,
            quarantined=voided,
        )
    torn_seq, torn_step = _torn_step(tail)
    if torn_seq is not None:
        voided += store.void_after(torn_seq - 1, f"torn lockstep step {torn_step}")
        tail = [record for record in tail if record.seq < torn_seq]
        _log.warning("torn_step_voided", step=torn_step, from_seq=torn_seq)
    for record in tail:
        state.apply(record.seq, record.stream, decode(record.kind, record.payload))
    report = RecoveryReport(
        snapshot_seq=snapshot.seq if snapshot is not None else None,
        replayed=len(tail),
        voided=voided,
        corrupt_seq=corrupt_seq,
        corrupt_reason=corrupt_reason,
        torn_step=torn_step,
        resume_step=state.resume_step,
        elapsed_s=time.perf_counter() - started,
    )
    _log.info("recovered", **attrs.asdict(report))
    return state, report


def _torn_step(tail: list[JournalRecord]) -> tuple[int | None, int | None]:
    """The seq and step of the last atomic StepStarted with no StepCommitted after it."""
    torn: tuple[int | None, int | None] = (None, None)
    for record in tail:
        if record.kind == "StepStarted":
            started = decode(record.kind, record.payload)
            assert isinstance(started, StepStarted)
            torn = (record.seq, started.step) if started.atomic else (None, None)
        elif record.kind == "StepCommitted":
            torn = (None, None)
    return torn
