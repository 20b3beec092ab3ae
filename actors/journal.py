"""JournalActor: every accepted event is made durable here before anyone applies it.

Actors do not apply an input and journal it later; they hand it to the journal with the
actor that should apply it (``Append(event, deliver_to=...)``). The journal appends, and
only after the commit tells the event on. One journal actor means one total order: every
actor receives its events in journal order, which is the order recovery replays them in.

Appends are group-committed: the journal keeps taking Appends while its mailbox has more,
and commits once it is empty (or the batch is full), so a burst costs one commit, not one
per event. Snapshots of the folded state are taken every ``snapshot_every`` events or
``snapshot_interval_s`` seconds, never inside a lockstep unit of work, and encoded and
written by a ``SnapshotWriter`` thread when the journal has one (their cost grows with the
history; the memento's does much less). A restarted actor
re-points its stream with ``Route`` and is handed again what its predecessor missed.

A repeated dedup key is not journaled again. For a fill or a deal the content is compared
too (``actors.event_content``): the same content is a redelivery, dropped and counted; other
content is a conflict, refused loudly (an error line with both versions, a counter, and
``DuplicateRefused`` to the actor that would have applied it, which publishes the refusal).

A committed event its fold cannot apply (``FoldError``) fails the journal: the fold is what
snapshots hold and restarts rebuild from, so going on would let it part from the actors.
The core restarts from the file, whose recovery folds the same records again; a failure
that repeats there escalates past the root's restart intensity.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import attrs
import pykka

from actors.errors import FoldError
from actors.event_content import content_digest, differences
from actors.journal_decode import decode_trusted
from actors.journal_store import (
    Duplicate,
    JournalStore,
    JournalStoreError,
    NewEntry,
    Snapshot,
    storage_advice,
)
from actors.metrics import JOURNAL_BATCH_SIZE, JOURNAL_COMMIT_MS, JOURNAL_DUPLICATES
from actors.runtime_state import RuntimeState, encode_state
from actors.snapshot_writer import SnapshotWriter
from messages.codec import encode, kind_of
from messages.journal import StepCommitted
from messages.journal_protocol import (
    Append,
    AppendAll,
    Delivered,
    DuplicateRefused,
    Folded,
    Forward,
    GetFolded,
    Route,
    Sync,
)
from messages.refs import Recipient
from messages.stats import ActorStats
from supervisors.kernel.base import RuntimeActor, handles, tell_quietly
from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.supervised import Supervised


class JournalFailedError(pykka.ActorDeadError):
    """Raised by a JournalActor whose fold failed (the ``FoldError`` chained), to the message
    that met the failure and to every one after it.

    From then on the journal is dead to its callers: an ``ask`` answers this, which they
    handle like any dead actor (the core is restarting), and the actor fails with it.
    """


@attrs.frozen(kw_only=True, slots=True)
class _FoldFailed:
    """Told to itself when the fold failed, so the journal fails even if an ask committed."""


@attrs.frozen(kw_only=True)
class JournalConfig:
    """Batching and snapshot cadence; the store's durability is chosen when it is opened."""

    max_batch: int = 1000
    snapshot_every: int = 10_000
    snapshot_interval_s: float = 60.0


@attrs.frozen(kw_only=True, slots=True)
class _CommitFailed:
    """Told by the journal to itself after a failed commit, so that it surely ends."""


class _Outbox:
    """What one commit delivers: an actor that takes batches gets its events in one
    ``Delivered``, in journal order, told where its last event would have been told; every
    other recipient gets each event alone, where it was. So whatever the journal delivered
    before an event is still told before it (what an actor caused cannot overtake it)."""

    def __init__(self) -> None:
        self.told: list[tuple[Recipient, str | None]] = []
        self.batches: dict[str | None, list[object]] = {}
        self.singles: list[object] = []

    def add(self, target: Recipient, event: object) -> None:
        key = None
        if isinstance(target, pykka.ActorRef) and getattr(
            target.actor_class, "takes_batches", False
        ):
            key = target.actor_urn
            self.batches.setdefault(key, []).append(event)
        else:
            self.singles.append(event)
        self.told.append((target, key))

    def flush(self, deliver: Callable[[Recipient, object], None]) -> None:
        left = {key: len(events) for key, events in self.batches.items()}
        singles = iter(self.singles)
        for target, key in self.told:
            if key is None:
                deliver(target, next(singles))
                continue
            left[key] -= 1
            if left[key] == 0:
                events = self.batches[key]
                deliver(target, events[0] if len(events) == 1 else Delivered(events=tuple(events)))


class JournalActor(Supervised, RuntimeActor):
    kind = "journal"

    def __init__(
        self,
        store: JournalStore,
        *,
        state: RuntimeState | None = None,
        config: JournalConfig | None = None,
        clock: Callable[[], int] = time.time_ns,
        snapshots: SnapshotWriter | None = None,
        void_after: tuple[int, str] | None = None,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self.store = store
        self.void_after = void_after
        """A torn step recovery left out of ``state``: ``JournalStore.void_after``'s arguments,
        done first in ``on_start``, where a storage failure is a failed commit's."""
        self.snapshots = snapshots
        self.state = state if state is not None else RuntimeState()
        self.config = config if config is not None else JournalConfig()
        self.clock = clock
        self.pending: list[tuple[NewEntry, Append]] = []
        self.routes: dict[str, Recipient] = {}
        self.appended = 0
        self.duplicates = 0
        self.conflicts = 0
        self.batches = 0
        self.since_snapshot = 0
        self.last_snapshot_ns = clock()
        self.fold_error: FoldError | None = None
        self.failed: JournalStoreError | None = None

    def on_receive(self, message: Any) -> Any:
        """A journal whose fold or commit failed takes nothing more: every message raises.

        pykka hands an exception inside an ``ask`` back to the caller and keeps the actor;
        the message it told itself (or any tell before it) then fails the actor. A failed
        commit's batch was never acknowledged, and nothing after it may be committed without
        it; the successor recovers from what the file holds.
        """
        if self.fold_error is not None:
            raise JournalFailedError(f"the journal failed: {self.fold_error}") from self.fold_error
        if self.failed is not None:
            raise JournalStoreError(str(self.failed))
        return super().on_receive(message)

    def on_start(self) -> None:
        if self.void_after is None:
            return
        try:
            voided = self.store.void_after(*self.void_after)
        except JournalStoreError as error:
            self._failed(error, 0)
            return
        self.log.warning("torn_step_voided", after_seq=self.void_after[0], voided=voided)

    def on_stop(self) -> None:
        try:
            if self.fold_error is None and self.failed is None:
                self._commit()
                self._snapshot()
        finally:
            if self.snapshots is not None:
                self.snapshots.close()
            self.store.close()

    def on_failure(
        self,
        _exception_type: type[BaseException] | None,
        _exception_value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        # What is still pending was never acknowledged (nobody has been handed it), so it is
        # dropped with the failure; what is committed is what the successor recovers.
        if self.snapshots is not None:
            self.snapshots.close()
        self.store.close()

    @handles(Append)
    def _append(self, message: Append) -> None:
        self._pend(message)
        self._commit_if_quiet()

    @handles(AppendAll)
    def _append_all(self, message: AppendAll) -> None:
        for append in message.appends:
            self._pend(append)
        self._commit_if_quiet()

    def _pend(self, message: Append) -> None:
        entry = NewEntry(
            stream=message.stream,
            kind=kind_of(message.event),
            payload=encode(message.event),
            dedup_key=message.dedup_key,
            ts_ns=self.clock(),
            digest=None if message.dedup_key is None else content_digest(message.event),
        )
        self.pending.append((entry, message))

    def _commit_if_quiet(self) -> None:
        """Group commit: keep batching while more messages wait, commit when none does."""
        if len(self.pending) >= self.config.max_batch or self.actor_inbox.empty():
            self._commit()

    def stats(self) -> ActorStats:
        # A stats ask can be what kept the mailbox from looking empty: commit before answering,
        # so a batch never waits for a message that is not coming.
        self._commit()
        return ActorStats(kind=self.kind, handled=self.handled)

    @handles(Route)
    def _route(self, message: Route) -> None:
        """Point a stream at a restarted actor and hand it what its predecessor missed."""
        self._commit()
        self.routes[message.stream] = message.subscriber
        missed = 0
        for record in self.store.read(message.after_seq, stream=message.stream):
            self._deliver(message.subscriber, decode_trusted(record.kind, record.payload))
            missed += 1
        self.log.info("stream_rerouted", stream=message.stream, redelivered=missed)

    @handles(GetFolded)
    def _get_folded(self, message: GetFolded) -> Folded:
        """What a restarted order or position rebuilds from: the fold of committed events."""
        self._commit()
        return Folded(memento=self.state.memento_of(message.stream), seq=self.state.seq)

    @handles(Forward)
    def _forward(self, message: Forward) -> None:
        self._commit()
        self._deliver(message.deliver_to, message.message)

    @handles(Sync)
    def _sync(self, message: Sync) -> int:
        if message.last is not None:
            self._pend(message.last)
        self._commit()
        return self.state.seq

    def _commit(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        started = time.perf_counter()
        try:
            seqs = self.store.append([entry for entry, _ in batch])
        except JournalStoreError as error:
            self._failed(error, len(batch))
            raise
        JOURNAL_COMMIT_MS.observe((time.perf_counter() - started) * 1000)
        JOURNAL_BATCH_SIZE.observe(len(batch))
        self.batches += 1
        outbox = _Outbox()
        try:
            self._apply_committed(seqs, batch, outbox)
        finally:
            # What the fold applied before a failure is delivered; nothing after it.
            outbox.flush(self._deliver)
        if self._snapshot_due():
            self._snapshot()

    def _apply_committed(
        self,
        seqs: list[int | Duplicate | None],
        batch: list[tuple[NewEntry, Append]],
        outbox: _Outbox,
    ) -> None:
        for seq, (entry, message) in zip(seqs, batch, strict=True):
            if seq is None:
                self._duplicate(entry, "not_compared")
                continue
            if isinstance(seq, Duplicate):
                self._compared(seq, entry, message, outbox)
                continue
            self.appended += 1
            self.since_snapshot += 1
            try:
                self.state.apply(seq, entry.stream, message.event)
            except FoldError as error:
                self._fold_failed(error)
                raise JournalFailedError(f"the journal failed: {error}") from error
            if message.deliver_to is not None:
                outbox.add(self.routes.get(entry.stream, message.deliver_to), message.event)
            if type(message.event) is StepCommitted and self._snapshot_due():
                # A batch may end inside the next step (a replay's markers wait for its
                # first commit): the snapshot is due where a step ended.
                self._snapshot()

    def _duplicate(self, entry: NewEntry, content: str) -> None:
        self.duplicates += 1
        JOURNAL_DUPLICATES.labels(kind=entry.kind, content=content).inc()
        self.log.info(
            "duplicate_event_dropped", kind=entry.kind, key=entry.dedup_key, content=content
        )

    def _compared(
        self, duplicate: Duplicate, entry: NewEntry, message: Append, outbox: _Outbox
    ) -> None:
        """A redelivery is dropped; a conflict is refused, loudly, and changes nothing."""
        stored = duplicate.stored
        if duplicate.identical:
            self._duplicate(entry, "identical")
            return
        journaled = decode_trusted(stored.kind, stored.payload)
        # A record from before digests is compared by what it decodes to.
        if duplicate.identical is None and content_digest(journaled) == entry.digest:
            self._duplicate(entry, "identical")
            return
        self.conflicts += 1
        JOURNAL_DUPLICATES.labels(kind=entry.kind, content="conflicting").inc()
        assert entry.dedup_key is not None  # only a keyed entry can be a Duplicate
        detail = differences(journaled, message.event)
        self.log.error(
            "conflicting_duplicate_refused",
            kind=entry.kind,
            key=entry.dedup_key,
            stream=entry.stream,
            detail=detail,
            journaled_seq=stored.seq,
            journaled=stored.payload,
            refused=entry.payload,
        )
        if message.deliver_to is not None:
            refusal = DuplicateRefused(
                event=message.event,
                journaled=journaled,
                dedup_key=entry.dedup_key,
                detail=detail,
            )
            outbox.add(self.routes.get(entry.stream, message.deliver_to), refusal)

    def _fold_failed(self, error: FoldError) -> None:
        """Nothing after the failed event is delivered, and no snapshot of this state is
        ever written: the successor recovers it all from the file."""
        self.fold_error = error
        self.log.error(
            "journal_fold_failed",
            seq=error.seq,
            stream=error.stream,
            kind=error.kind,
            reason=error.reason,
        )
        # Already stopping (a commit in on_stop) leaves nothing to fail.
        tell_quietly(self.actor_ref, _FoldFailed())

    def _failed(self, error: JournalStoreError, events: int) -> None:
        """One error line (no traceback: the storage, not the code, failed), then die: if an
        ask saw the error, the message told here is the next thing handled, and it raises."""
        self.failed = error
        self.log.error(
            "journal_commit_failed",
            error=str(error),
            events_not_acknowledged=events,
            advice=storage_advice(str(error)),
        )
        self.actor_ref.tell(_CommitFailed())

    def _deliver(self, target: Recipient, event: object) -> None:
        try:
            target.tell(event)
        except pykka.ActorDeadError:
            kind = type(event).__name__
            if type(event) is Delivered:
                kind = f"{len(event.events)} x {type(event.events[0]).__name__}"
            self.log.warning(
                "delivery_to_dead_actor", kind=kind, target=target.actor_class.__name__
            )

    def _snapshot_due(self) -> bool:
        if self.state.in_step or self.since_snapshot == 0:
            return False
        elapsed_s = (self.clock() - self.last_snapshot_ns) / 1e9
        return (
            self.since_snapshot >= self.config.snapshot_every
            or elapsed_s >= self.config.snapshot_interval_s
        )

    def _snapshot(self) -> None:
        if self.since_snapshot == 0 or self.state.in_step:
            return
        now = self.clock()
        if self.snapshots is not None:
            # The memento is immutable: the writer encodes and stores it off this thread.
            self.snapshots.submit(
                self.state.seq, now, functools.partial(encode, self.state.memento())
            )
        else:
            self.store.write_snapshot(
                Snapshot(seq=self.state.seq, payload=encode_state(self.state), ts_ns=now)
            )
            self.log.info("snapshot_written", seq=self.state.seq)
        self.since_snapshot = 0
        self.last_snapshot_ns = now
