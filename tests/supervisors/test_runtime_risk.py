"""Risk and the position index in the running runtime: denials clients can see, limits
changed at run time and kept across a restart, the index equal to the positions, and a
check that never sees a position older than an acknowledged fill."""

from __future__ import annotations

import queue
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors.event_bus import EventBusActor
from actors.journal import JournalActor
from actors.position import PositionActor
from actors.position_accounting import PositionBook
from actors.position_index import PositionIndexActor
from actors.risk import RiskActor
from actors.runtime_state import position_stream
from bridges.journal_memory import MemoryJournal
from messages.enums import OrderSide
from messages.journal import FillApplied
from messages.journal_protocol import Append, Sync
from messages.orders import OrderDenied
from messages.positions import PositionSnapshot
from messages.risk import CheckSignal, RiskDenied, RiskLimits
from messages.signals import TradeSignal
from messages.subscriptions import Subscribe
from messages.supervision import InjectFault
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.kernel.base import ask
from tests.stubs import Collector, arbitrage_feed, collector, fill, state_holding, wait_for

pytestmark = pytest.mark.timeout(60)
FEED = arbitrage_feed()
SETTLE_AT = 6
"""Records up to here trade market m1 and leave it open."""


def test_a_denied_signal_is_an_order_denied_event_with_the_rule_that_said_no(
    tmp_path: Path,
) -> None:
    config = RuntimeConfig(
        data_dir=tmp_path,
        journal_store=MemoryJournal(),
        risk=RiskLimits(max_order_size=Decimal(20)),
    )
    with Runtime(config).start(FEED) as runtime:
        events, inbox = collector()
        runtime.subscribe(events)
        runtime.replay(FEED, end=SETTLE_AT)

        denied = wait_for(inbox, lambda m: isinstance(m, OrderDenied))
        assert denied.reason == "risk: order size 30 is over the maximum 20"
        assert runtime.orders() == []


def test_limits_changed_at_run_time_apply_at_once_and_survive_a_restart(tmp_path: Path) -> None:
    config = RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal())
    limits = RiskLimits(max_order_size=Decimal(20))
    with Runtime(config).start(FEED) as runtime:
        events, inbox = collector()
        runtime.subscribe(events)
        runtime.replay(FEED, end=4)
        assert len(runtime.orders()) == 2
        runtime.set_limits(limits)
        runtime.replay(FEED, end=SETTLE_AT)
        assert len(runtime.orders()) == 2
        denied = wait_for(inbox, lambda m: isinstance(m, OrderDenied))
        assert denied.reason == "risk: order size 30 is over the maximum 20"
        risk = runtime.risk
        assert risk is not None
        risk.tell(InjectFault(reason="test"))
        assert risk.actor_stopped.wait(5)
        runtime.refresh()
        restarted = runtime.risk
        assert restarted is not None
        assert restarted.proxy().limits.get() == limits
    with Runtime(config).start(FEED) as runtime:
        risk = runtime.risk
        assert risk is not None
        assert risk.proxy().limits.get() == limits


def test_the_index_equals_the_positions_after_a_run_and_after_its_restart(tmp_path: Path) -> None:
    with Runtime(RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal())).start(
        FEED
    ) as runtime:
        runtime.replay(FEED, end=SETTLE_AT)
        (position,) = runtime.positions()
        for leg in position.legs:
            (meta,) = runtime.lookup(leg.security_id)
            assert (meta.position_id, meta.quantity, meta.cost) == (
                position.position_id,
                leg.quantity,
                leg.cost,
            )
        index = runtime.index
        assert index is not None
        index.tell(InjectFault(reason="test"))
        assert index.actor_stopped.wait(5)
        runtime.refresh()
        assert [m.quantity for m in runtime.lookup("m1-YES")] == [position.leg("m1-YES").quantity]

        runtime.replay(FEED)
        assert runtime.lookup("m1-YES") == ()  # settled and archived


class CheckingStrategy(pykka.ThreadingActor):
    """Acts on every position snapshot as a strategy would: sends risk a signal at once."""

    def __init__(self, risk: pykka.ActorRef[Any], seen: queue.Queue[Any]) -> None:
        super().__init__()
        self.risk = risk
        self.seen = seen

    def on_receive(self, message: Any) -> None:
        if isinstance(message, PositionSnapshot):
            quantity = message.leg("m1-YES").quantity
            signal = TradeSignal(
                market_id="m1",
                security_id="m1-YES",
                side=OrderSide.BUY,
                price=Decimal("0.5"),
                size=Decimal(1),
                reason=f"after {quantity}",
                strategy="s",
                account="paper",
            )
            self.risk.tell(CheckSignal(signal=signal, open_orders=0, reply_to=self.actor_ref))
        elif isinstance(message, RiskDenied):
            self.seen.put(message)


def test_a_check_never_sees_a_position_older_than_a_fill_acknowledged_before_the_signal() -> None:
    bus = EventBusActor.start()
    index = PositionIndexActor.start()
    # A zero position limit denies every check and says what the index held.
    risk = RiskActor.start(index=index, limits=RiskLimits(max_position=Decimal(0)))
    book = PositionBook(
        position_id="m1/paper/s",
        market_id="m1",
        account="paper",
        strategy="s",
        security_ids=("m1-YES", "m1-NO"),
    )
    journal = JournalActor.start(MemoryJournal().writer(), state=state_holding(book))
    position = PositionActor.start(book, bus=bus, journal=journal, index=index)
    seen: queue.Queue[Any] = queue.Queue()
    position.tell(Subscribe(subscriber=CheckingStrategy.start(risk, seen), welcome=False))
    fills = 300
    for number in range(fills):
        journal.tell(
            Append(
                event=FillApplied(
                    position_id="m1/paper/s",
                    fill=fill(f"F{number}", security_id="m1-YES", size="1"),
                ),
                stream=position_stream("m1/paper/s"),
                deliver_to=position,
            )
        )
    ask(journal, Sync())
    for _ in range(fills):
        answer = seen.get(timeout=10)
        acknowledged = Decimal(answer.signal.reason.removeprefix("after "))
        indexed = Decimal(answer.reason.split(" would be ")[1].split(";")[0]) - 1
        assert indexed >= acknowledged


def test_a_position_tells_the_index_of_a_fill_before_any_subscriber_hears_of_it() -> None:
    """Why a check never sees an older position: mailboxes are FIFO and causal, so what a
    subscriber does after a change reaches the index behind the change itself."""
    arrivals: queue.Queue[Any] = queue.Queue()
    spy = Collector.start(arrivals)  # stands in for both the index and a strategy
    book = PositionBook(
        position_id="m1/paper/s",
        market_id="m1",
        account="paper",
        strategy="s",
        security_ids=("m1-YES", "m1-NO"),
    )
    journal = JournalActor.start(MemoryJournal().writer(), state=state_holding(book))
    position = PositionActor.start(book, bus=EventBusActor.start(), journal=journal, index=spy)
    position.tell(Subscribe(subscriber=spy, welcome=False))
    for number in range(20):
        journal.tell(
            Append(
                event=FillApplied(position_id="m1/paper/s", fill=fill(f"F{number}", size="1")),
                stream=position_stream("m1/paper/s"),
                deliver_to=position,
            )
        )
    ask(journal, Sync())
    kinds = [type(arrivals.get(timeout=5)).__name__ for _ in range(41)]
    assert kinds[0] == "PositionOpened"
    assert kinds[1:] == ["PositionDelta", "PositionSnapshot"] * 20
