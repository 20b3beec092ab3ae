"""Recovery: the runtime's state from the latest snapshot plus the journal's tail.

Two things are cut from the tail before it is folded, each moved aside (never deleted) by
the store's ``void_after`` with the reason, and reported:

- a corrupt record (checksum mismatch, cut short) and everything after it: the journal is
  only trusted up to its last whole record;
- a torn lockstep step: the events of a feed record whose StepCommitted never made it. The
  record is fed again and regenerates them exactly, with the same ids.

Voiding is a write. The core's recovery leaves a torn step's void to the journal actor
(``void_torn=False``), which does it before anything else: a disk that filled mid-step
(group commit makes the failed batch the one carrying the step's marker) then fails
that write the way it failed the commit, and recovery itself only reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs
import pykka
import structlog

from actors.journal_decode import decode_trusted
from actors.journal_store import CorruptRecordError, JournalRecord, JournalStore, StoreFactory
from actors.market import BooksLoader, empty_books
from actors.order_book import OrderBook
from actors.order_state import Order
from actors.position_accounting import PositionBook
from actors.runtime_state import (
    RuntimeState,
    decode_state,
    market_data_stream,
    order_stream,
    position_stream,
)
from messages.journal import StepCommitted, StepStarted
from messages.journal_protocol import Folded, GetFolded
from messages.market_data import BookSnapshot, PriceChange, ReferencePrice
from messages.markets import MarketDefinition
from messages.mementos import OrderMemento, PositionMemento, RuntimeStateMemento

_log = structlog.get_logger("tradeactors", actor="recovery")

FOLD_TIMEOUT_S = 5.0
"""How long a restarting actor waits for the journal's fold before it reads the file."""


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
    torn_void: tuple[int, str] | None = None
    """The torn step's ``void_after`` arguments when ``void_torn=False`` left its records in
    the store for the writer to move aside before it writes (``JournalActor``)."""


@attrs.define
class CommittedFold:
    """Folds journal records into ``state`` in order, an atomic lockstep step only once its
    ``StepCommitted`` is read: the records of a step still open wait in ``open_step`` (one
    step's worth of memory), for recovery to void or a reader to leave out. ``on_fold``
    sees each record and its event just after the state took it (the report's timeline)."""

    state: RuntimeState
    on_fold: Callable[[JournalRecord, Any], object] | None = None
    open_step: list[tuple[JournalRecord, Any]] = attrs.field(factory=list)
    replayed: int = 0

    def add(self, record: JournalRecord) -> None:
        event = decode_trusted(record.kind, record.payload)
        if isinstance(event, StepStarted):
            self._fold(self.open_step)
            self.open_step = [(record, event)] if event.atomic else []
            if not event.atomic:
                self._fold([(record, event)])
        elif self.open_step:
            self.open_step.append((record, event))
            if isinstance(event, StepCommitted):
                self._fold(self.open_step)
                self.open_step = []
        else:
            self._fold([(record, event)])

    def _fold(self, records: list[tuple[JournalRecord, Any]]) -> None:
        for record, event in records:
            self.state.apply(record.seq, record.stream, event)
            if self.on_fold is not None:
                self.on_fold(record, event)
        self.replayed += len(records)


def recover_state(
    store: JournalStore, *, void_torn: bool = True
) -> tuple[RuntimeState, RecoveryReport]:
    """Latest snapshot + tail, minus a corrupt tail and a torn step (voided in the store
    unless ``void_torn`` is False: then the report's ``torn_void`` says what to void).

    The tail is streamed: each record is decoded once and folded at once, except inside an
    atomic step, whose records wait (one step's worth of memory) until its StepCommitted.
    """
    started = time.perf_counter()
    snapshot = store.latest_snapshot()
    state = decode_state(snapshot.payload) if snapshot is not None else RuntimeState()
    fold = CommittedFold(state)
    voided = 0
    corrupt_seq: int | None = None
    corrupt_reason: str | None = None
    try:
        for record in store.read(state.seq):
            fold.add(record)
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
    torn_step: int | None = None
    torn_void: tuple[int, str] | None = None
    if fold.open_step:
        first, started_event = fold.open_step[0]
        torn_step = started_event.step
        void = (first.seq - 1, f"torn lockstep step {torn_step}")
        if void_torn:
            voided += store.void_after(*void)
            _log.warning("torn_step_voided", step=torn_step, from_seq=first.seq)
        else:
            torn_void = void
            _log.warning("torn_step_left_out", step=torn_step, from_seq=first.seq)
    report = RecoveryReport(
        snapshot_seq=snapshot.seq if snapshot is not None else None,
        replayed=fold.replayed,
        voided=voided,
        corrupt_seq=corrupt_seq,
        corrupt_reason=corrupt_reason,
        torn_step=torn_step,
        resume_step=state.resume_step,
        elapsed_s=time.perf_counter() - started,
        torn_void=torn_void,
    )
    _log.info("recovered", **attrs.asdict(report))
    return state, report


def recover_order_at(store: JournalStore, order_id: str) -> tuple[Order | None, int]:
    """The order and the journal seq it is rebuilt up to (for a ``Route`` after it)."""
    memento, after = _from_snapshot(store, lambda m: _find(m.orders, "order_id", order_id))
    state = RuntimeState()
    if memento is not None:
        state.orders[order_id] = Order.from_memento(memento)
    covered = after
    for record in store.read(after, stream=order_stream(order_id)):
        state.apply(record.seq, record.stream, decode_trusted(record.kind, record.payload))
        covered = record.seq
    return state.orders.get(order_id), covered


def recover_position_at(store: JournalStore, position_id: str) -> tuple[PositionBook | None, int]:
    """The position and the journal seq it is rebuilt up to (for a ``Route`` after it)."""
    memento, after = _from_snapshot(store, lambda m: _find(m.positions, "position_id", position_id))
    state = RuntimeState()
    if memento is not None:
        state.positions[position_id] = PositionBook.from_memento(memento)
    covered = after
    for record in store.read(after, stream=position_stream(position_id)):
        state.apply(record.seq, record.stream, decode_trusted(record.kind, record.payload))
        covered = record.seq
    return state.positions.get(position_id), covered


def _from_snapshot(
    store: JournalStore, pick: Callable[[RuntimeStateMemento], Any]
) -> tuple[Any, int]:
    """The entity's memento in the latest snapshot and the seq to read its stream after.

    An entity the snapshot does not hold (created later, or dropped when its market was
    archived) is read from the start of its stream.
    """
    snapshot = store.latest_snapshot()
    if snapshot is None:
        return None, 0
    memento = decode_trusted("RuntimeStateMemento", snapshot.payload)
    assert isinstance(memento, RuntimeStateMemento)
    found = pick(memento)
    return (found, snapshot.seq) if found is not None else (None, 0)


def _find(items: tuple[Any, ...], field: str, value: str) -> Any:
    return next((item for item in items if getattr(item, field) == value), None)


def order_loader(
    stores: StoreFactory, order_id: str, journal: pykka.ActorRef[Any] | None = None
) -> Callable[[], tuple[Order, int]]:
    """For ``OrderActor``: rebuild the order from the journal, in the actor's thread.

    From the journal actor's fold when it is up (``from_fold``), else from a store of its own.
    Returns the order and the seq it covers, after which the actor re-points its stream.
    """

    def load() -> tuple[Order, int]:
        folded = from_fold(journal, order_stream(order_id))
        if isinstance(folded.memento, OrderMemento):
            return Order.from_memento(folded.memento), folded.seq
        order, covered = _with_store(stores, lambda store: recover_order_at(store, order_id))
        if order is None:
            raise LookupError(f"the journal has no order {order_id}")
        return order, covered

    return load


def position_loader(
    stores: StoreFactory, position_id: str, journal: pykka.ActorRef[Any] | None = None
) -> Callable[[], tuple[PositionBook, int]]:
    """For ``PositionActor``: rebuild the position from the journal, in its thread.

    From the journal actor's fold when it is up (``from_fold``), else from a store of its own.
    Returns the book and the seq it covers, after which the actor re-points its stream.
    """

    def load() -> tuple[PositionBook, int]:
        folded = from_fold(journal, position_stream(position_id))
        if isinstance(folded.memento, PositionMemento):
            return PositionBook.from_memento(folded.memento), folded.seq
        book, covered = _with_store(stores, lambda store: recover_position_at(store, position_id))
        if book is None:
            raise LookupError(f"the journal has no position {position_id}")
        return book, covered

    return load


def from_fold(journal: pykka.ActorRef[Any] | None, stream: str) -> Folded:
    """The journal actor's fold of ``stream``: a restart then costs the state, not the history.

    The journal folds every event it commits (the same fold recovery runs on the file), so
    its memento equals what reading the stream would rebuild. Asked from the restarting
    actor's ``on_start``; the journal never asks back, so this cannot deadlock. A dead or
    stuck journal (its own restart rebuilds everything from the file) or a fold without
    the entity (an archived market's) answers no memento, and the caller reads the file.
    """
    if journal is not None:
        try:
            answer = journal.ask(GetFolded(stream=stream), block=True, timeout=FOLD_TIMEOUT_S)
        except (pykka.ActorDeadError, pykka.Timeout):
            _log.warning("journal_fold_unavailable", stream=stream)
        else:
            assert isinstance(answer, Folded)
            return answer
    return Folded(memento=None, seq=0)


def _with_store(stores: StoreFactory, read: Callable[[JournalStore], Any]) -> Any:
    """A reader of its own on the journal (SQLite's WAL lets it read while the journal writes)."""
    store = stores()
    try:
        return read(store)
    finally:
        store.close()


def market_loader(stores: StoreFactory, definition: MarketDefinition) -> BooksLoader:
    """For ``MarketActor``: rebuild a market's books from its journaled data, in its thread."""

    def load() -> tuple[dict[str, OrderBook], int, int, ReferencePrice | None]:
        return _with_store(stores, lambda store: recover_books(store, definition))

    return load


def recover_books(
    store: JournalStore, definition: MarketDefinition
) -> tuple[dict[str, OrderBook], int, int, ReferencePrice | None]:
    """The market's books from its data stream: (books, ts_event of the last change, seq,
    the latest reference price).

    The same books and ts_event the live MarketActor had after the same records, so its
    re-published snapshot is recognisably the one the strategies may already have seen.
    A damaged record a snapshot covers is reported and read past (the next full book
    resets what it changed): it must not keep a market from starting; ``tradeactors
    verify`` finds and quarantines it.
    """
    books = empty_books(definition)
    ts_event = covered = 0
    reference: ReferencePrice | None = None
    snapshot = store.latest_snapshot()
    history_end = snapshot.seq if snapshot is not None else 0
    while True:
        try:
            for record in store.read(covered, stream=market_data_stream(definition.market_id)):
                data = decode_trusted(record.kind, record.payload)
                assert isinstance(data, BookSnapshot | PriceChange | ReferencePrice)
                if isinstance(data, ReferencePrice):
                    reference = data
                    ts_event = max(ts_event, data.ts_event)
                    covered = record.seq
                    continue
                book = books.get(data.security_id)
                if book is not None:
                    changed = (
                        book.apply_snapshot(data)
                        if isinstance(data, BookSnapshot)
                        else book.apply_change(data)
                    )
                    if changed:
                        ts_event = data.ts_event
                covered = record.seq
            return books, ts_event, covered, reference
        except CorruptRecordError as error:
            if error.seq > history_end:
                raise
            _log.error(
                "journal_corrupt_record_skipped",
                seq=error.seq,
                reason=error.reason,
                market_id=definition.market_id,
                advice="a snapshot covers it; run tradeactors verify --quarantine",
            )
            covered = error.seq
