"""A small assembled core for the facade's parts: a real journal on a memory store, a root
that answers ``CurrentCore``, and one recorder actor standing in for the other children."""

from __future__ import annotations

from typing import Any

import pykka

from actors.journal import JournalActor
from actors.journal_decode import decode_trusted
from bridges.journal_memory import MemoryJournal
from messages.journal import StepCommitted, StepStarted
from messages.queries import ListPositions, ListRoutedOrders, PositionRefs, RoutedOrders
from messages.risk import Trackers, TrackersFor
from supervisors.assembly.recovery import RecoveryReport
from supervisors.assembly.runtime_tree import CoreRefs, CurrentCore
from supervisors.kernel.base import RuntimeActor, handles


class Recorder(RuntimeActor):
    """Keeps what it is told; answers the view's list queries with nothing running."""

    kind = "recorder"

    def __init__(self) -> None:
        super().__init__()
        self.told: list[Any] = []

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, ListPositions):
            return PositionRefs(live=(), archived=())
        if isinstance(message, ListRoutedOrders):
            return RoutedOrders(running=(), starting=())
        if isinstance(message, TrackersFor):
            return Trackers(by_security=())
        if type(message).__module__.startswith("messages.markets"):
            self.handled += 1
            self.told.append(message)
            return None
        return super().on_receive(message)


class Root(RuntimeActor):
    """Answers ``CurrentCore`` with whatever core the test put in ``core``."""

    kind = "root"

    def __init__(self) -> None:
        super().__init__()
        self.core: CoreRefs | None = None

    @handles(CurrentCore, reads_only=True)
    def _current(self, _message: CurrentCore) -> CoreRefs | None:
        return self.core


def assemble(
    root: pykka.ActorRef[Any],
    generation: int = 1,
    resume_step: int = 0,
    journal_class: type[JournalActor] = JournalActor,
) -> tuple[CoreRefs, MemoryJournal]:
    """A core of one journal and one recorder, made ``root``'s current core."""
    memory = MemoryJournal()
    journal = journal_class.start(memory.writer())
    other = Recorder.start()
    report = RecoveryReport(
        snapshot_seq=None,
        replayed=0,
        voided=0,
        corrupt_seq=None,
        corrupt_reason=None,
        torn_step=None,
        resume_step=resume_step,
        elapsed_s=0.0,
    )
    core = CoreRefs(
        root=root,
        generation=generation,
        resume_step=resume_step,
        recovery=report,
        journal=journal,
        bus=other,
        index=other,
        risk=other,
        venue=other,
        execution=other,
        strategy=other,
        markets=other,
        market_lifecycle=other,
    )
    root.proxy().core = core
    return core, memory


def journaled(memory: MemoryJournal) -> list[object]:
    """What the memory journal holds, in seq order: step markers as (kind, step, atomic or
    unit), every other event by its id (markers carry fresh ids and times)."""
    shapes: list[object] = []
    for stored in memory.events:
        event: Any = decode_trusted(stored.record.kind, stored.record.payload)
        if isinstance(event, StepStarted):
            shapes.append(("started", event.step, event.atomic))
        elif isinstance(event, StepCommitted):
            shapes.append(("committed", event.step, event.unit))
        else:
            shapes.append(event.id)
    return shapes
