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
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import attrs
import pykka

from actors.base import RuntimeActor, handles
from actors.metrics import JOURNAL_BATCH_SIZE, JOURNAL_COMMIT_MS
from actors.runtime_state import RuntimeState, encode_state
from bridges.journal_decode import decode_trusted
from bridges.journal_store import (
    JournalStore,
    JournalStoreError,
    NewEntry,
    Snapshot,
    storage_advice,
)
from bridges.snapshot_writer import SnapshotWriter
from messages.codec import encode, kind_of
from messages.commands import Append, Folded, Forward, GetFolded, Route, Sync
from messages.stats import ActorStats
from supervisors.child_spec import SupervisedContext
from supervisors.supervised import Supervised


@attrs.frozen(kw_only=True)
class JournalConfig:
    """Batching and snapshot cadence; the store's durability is chosen when it is opened."""

    max_batch: int = 1000
    snapshot_every: int = 10_000
    snapshot_interval_s: float = 60.0


@attrs.frozen(kw_only=True, slots=True)
class _CommitFailed:
    """Told by the journal to itself after a failed commit, so that it surely ends."""


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
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self.store = store
        self.snapshots = snapshots
        self.state = state if state is not None else RuntimeState()
        self.config = config if config is not None else JournalConfig()
        self.clock = clock
        self.pending: list[tuple[NewEntry, Append]] = []
        self.routes: dict[str, pykka.ActorRef[Any]] = {}
        self.appended = 0
        self.duplicates = 0
        self.batches = 0
        self.since_snapshot = 0
        self.last_snapshot_ns = clock()
        self.failed: JournalStoreError | None = None

    def on_receive(self, message: Any) -> Any:
        if self.failed is not None:
            # A commit failed: its batch was never acknowledged, and nothing after it may be
            # committed without it. An ask gets the error, a tell ends this incarnation; its
            # successor recovers from what the file holds.
            raise JournalStoreError(str(self.failed))
        return super().on_receive(message)

    def on_stop(self) -> None:
        self._commit()
        self._snapshot()
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
        entry = NewEntry(
            stream=message.stream,
            kind=kind_of(message.event),
            payload=encode(message.event),
            dedup_key=message.dedup_key,
            ts_ns=self.clock(),
        )
        self.pending.append((entry, message))
        self._commit_if_quiet()

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
    def _sync(self, _message: Sync) -> int:
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
        for seq, (entry, message) in zip(seqs, batch, strict=True):
            if seq is None:
                self.duplicates += 1
                self.log.info("duplicate_event_dropped", kind=entry.kind, key=entry.dedup_key)
                continue
            self.appended += 1
            self.since_snapshot += 1
            self.state.apply(seq, entry.stream, message.event)
            if message.deliver_to is not None:
                self._deliver(self.routes.get(entry.stream, message.deliver_to), message.event)
        if self._snapshot_due():
            self._snapshot()

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

    def _deliver(self, target: pykka.ActorRef[Any], event: object) -> None:
        try:
            target.tell(event)
        except pykka.ActorDeadError:
            self.log.warning(
                "delivery_to_dead_actor",
                kind=type(event).__name__,
                target=target.actor_class.__name__,
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
