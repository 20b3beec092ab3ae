"""The journal's delivery after a commit: one ``Delivered`` per batch-taking actor, in order.

Real JournalActors on the in-memory journal; the recipients record what their mailbox got.
"""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from actors.batch_delivery import BatchReceiver
from actors.journal import JournalActor
from actors.runtime_state import position_stream
from bridges.journal_memory import MemoryJournal
from messages.journal import FillApplied
from messages.journal_protocol import Append, AppendAll, Delivered, Sync
from messages.markets import MarketClosed
from supervisors.kernel.base import RuntimeActor, handles
from tests.stubs import fill

pytestmark = pytest.mark.timeout(20)


class _Plain(RuntimeActor):
    """Takes events one at a time, as every actor not marked ``takes_batches`` does."""

    def __init__(self) -> None:
        super().__init__()
        self.mailbox: list[object] = []
        self.applied: list[str] = []
        self.seen = threading.Event()

    def on_receive(self, message: Any) -> Any:
        self.mailbox.append(message)
        return super().on_receive(message)

    @handles(MarketClosed)
    def _closed(self, message: MarketClosed) -> None:
        self.applied.append(message.market_id)
        self.seen.set()


class _Batching(BatchReceiver, _Plain):
    pass


def closed(market_id: str, to: pykka.ActorRef[Any]) -> Append:
    return Append(
        event=MarketClosed(ts_event=1, market_id=market_id), stream="runtime", deliver_to=to
    )


def test_one_commit_tells_a_batch_taking_actor_its_events_in_one_message_in_order() -> None:
    journal = JournalActor.start(MemoryJournal().writer())
    batching = _Batching.start()
    plain = _Plain.start()
    journal.tell(
        AppendAll(
            appends=(
                closed("a1", batching),
                closed("b1", plain),
                closed("a2", batching),
                closed("b2", plain),
                closed("a3", batching),
            )
        )
    )
    assert journal.ask(Sync(), timeout=5) == 5
    assert batching.proxy().seen.get(timeout=5).wait(5)
    mailbox = batching.proxy().mailbox.get(timeout=5)
    assert [type(m) for m in mailbox] == [Delivered, MarketClosed, MarketClosed, MarketClosed]
    assert batching.proxy().applied.get(timeout=5) == ["a1", "a2", "a3"]
    assert plain.proxy().applied.get(timeout=5) == ["b1", "b2"]
    assert [type(m) for m in plain.proxy().mailbox.get(timeout=5)] == [MarketClosed] * 2


def test_a_single_event_for_a_batch_taking_actor_is_told_alone() -> None:
    journal = JournalActor.start(MemoryJournal().writer())
    batching = _Batching.start()
    journal.tell(closed("a1", batching))
    journal.ask(Sync(), timeout=5)
    assert batching.proxy().seen.get(timeout=5).wait(5)
    assert [type(m) for m in batching.proxy().mailbox.get(timeout=5)] == [MarketClosed]


def test_a_fold_failure_delivers_the_events_before_it_and_none_after() -> None:
    journal = JournalActor.start(MemoryJournal().writer())
    batching = _Batching.start()
    unfoldable = Append(
        event=FillApplied(position_id="ghost", fill=fill("GHOST-1")),
        stream=position_stream("ghost"),
        deliver_to=batching,
    )
    journal.tell(AppendAll(appends=(closed("a1", batching), closed("a2", batching), unfoldable)))
    with pytest.raises(pykka.ActorDeadError):  # JournalFailedError, or dead by then
        journal.ask(Sync(), timeout=5)
    assert batching.proxy().seen.get(timeout=5).wait(5)
    assert batching.proxy().applied.get(timeout=5) == ["a1", "a2"]
    mailbox = batching.proxy().mailbox.get(timeout=5)
    assert [type(m) for m in mailbox] == [Delivered, MarketClosed, MarketClosed]
