"""The market lifecycle actor grows a plain supervisor and re-wires what it restarts; the
supervisor itself handles no market message."""

from __future__ import annotations

import queue
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors.runtime_state import order_stream
from bridges.journal_memory import MemoryJournal
from messages.enums import OrderSide
from messages.journal import OrderCreated
from messages.journal_protocol import Append, Sync
from messages.market_commands import SwitchMarket
from messages.market_data import BookSnapshot, PriceChange
from messages.markets import MarketClosed, MarketDrained, MarketOpened, MarketResolved
from messages.positions import PositionSettled
from messages.queries import ListPositions
from messages.supervision import InjectFault, OrderStarted, PositionRestarted, SuperviseOrder
from supervisors.assembly.market_lifecycle import MarketLifecycleActor
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.kernel.base import ask
from supervisors.kernel.protocol import WhichChildren
from supervisors.kernel.supervisor import Supervisor
from tests.stubs import arbitrage_feed, collector, opened, wait_for
from tests.supervisors.market_stubs import start_markets

pytestmark = pytest.mark.timeout(30)

LIFECYCLE_MESSAGES = (
    MarketOpened,
    BookSnapshot,
    PriceChange,
    MarketClosed,
    MarketResolved,
    MarketDrained,
    PositionSettled,
    ListPositions,
    SuperviseOrder,
)


@pytest.fixture
def pair(journal: pykka.ActorRef[Any], journal_stores: MemoryJournal) -> Any:
    """The supervisor, the lifecycle actor, and the inbox of the execution they tell."""
    execution, inbox = collector()
    venue, _ = collector()
    bus, _ = collector()
    strategy, _ = collector()
    children, lifecycle = start_markets(
        execution=execution,
        venue=venue,
        bus=bus,
        journal=journal,
        stores=journal_stores,
        strategies=((strategy, "s"),),
    )
    return children, lifecycle, inbox


def _children(supervisor: pykka.ActorRef[Any]) -> dict[str, pykka.ActorRef[Any] | None]:
    return {info.child_id: info.ref for info in ask(supervisor, WhichChildren())}


def _switch(inbox: queue.Queue[Any], market_id: str) -> SwitchMarket:
    switch: SwitchMarket = wait_for(
        inbox, lambda m: isinstance(m, SwitchMarket) and m.definition.market_id == market_id
    )
    return switch


def test_each_market_switch_starts_a_fresh_position_child_and_tells_execution_its_ref(
    pair: Any,
) -> None:
    children, lifecycle, inbox = pair

    lifecycle.tell(opened("m1"))
    first = _switch(inbox, "m1")
    lifecycle.tell(opened("m2"))
    second = _switch(inbox, "m2")

    running = _children(children)
    assert running["position:m1"] == first.position
    assert running["position:m2"] == second.position
    assert first.position != second.position
    assert {"market:m1", "market:m2"} <= set(running)
    assert first.supervisor == lifecycle
    assert ask(lifecycle, ListPositions()).live == (
        ("m1", first.position),
        ("m2", second.position),
    )


def test_a_restarted_position_child_is_rewired_to_execution_and_listed(pair: Any) -> None:
    children, lifecycle, inbox = pair
    lifecycle.tell(opened("m1"))
    old = _switch(inbox, "m1").position

    old.tell(InjectFault(reason="test"))
    restarted: PositionRestarted = wait_for(inbox, lambda m: isinstance(m, PositionRestarted))

    assert restarted.market_id == "m1"
    assert restarted.position != old
    assert restarted.position.is_alive()
    assert _children(children)["position:m1"] == restarted.position
    assert ask(lifecycle, ListPositions()).live == (("m1", restarted.position),)


def test_a_restarted_order_child_is_told_to_execution(
    pair: Any, journal: pykka.ActorRef[Any]
) -> None:
    children, lifecycle, inbox = pair
    lifecycle.tell(opened("m1"))
    _switch(inbox, "m1")
    created = OrderCreated(
        order_id="O1",
        correlation_id="c1",
        market_id="m1",
        security_id="m1-YES",
        account="paper",
        strategy="s",
        side=OrderSide.BUY,
        price=Decimal("0.40"),
        size=Decimal(10),
    )
    journal.tell(Append(event=created, stream=order_stream("O1")))
    journal.ask(Sync(), timeout=5)

    lifecycle.tell(SuperviseOrder(created=created))
    first: OrderStarted = wait_for(inbox, lambda m: isinstance(m, OrderStarted))
    assert first.submit is True
    first.ref.tell(InjectFault(reason="test"))
    again: OrderStarted = wait_for(inbox, lambda m: isinstance(m, OrderStarted))

    assert again.submit is False
    assert again.ref != first.ref
    assert _children(children)["order:O1"] == again.ref


def test_the_market_supervisor_only_supervises_and_the_lifecycle_actor_handles_markets(
    tmp_path: Path,
) -> None:
    with Runtime(RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal())).start(
        arbitrage_feed()
    ) as runtime:
        runtime.replay(arbitrage_feed(), end=4)
        supervisor, lifecycle = runtime.supervisor, runtime.market_lifecycle
        assert supervisor is not None
        assert lifecycle is not None

        assert supervisor.actor_class is Supervisor
        assert lifecycle.actor_class is MarketLifecycleActor
        assert {"position:m1", "market:m1"} <= set(_children(supervisor))
    for message_type in LIFECYCLE_MESSAGES:
        assert message_type not in Supervisor._dispatch, message_type.__name__
        assert message_type in MarketLifecycleActor._dispatch, message_type.__name__
