"""The callback bridge does nothing on a broker thread but stamp and enqueue."""

from __future__ import annotations

import queue
from decimal import Decimal
from typing import Any

import pytest

from bridges.callback_bridge import CallbackBridge
from messages.broker import BrokerOrderStatus, RawDealEvent, RawOrderEvent
from messages.enums import OrderSide
from tests.stubs import Collector

pytestmark = pytest.mark.timeout(10)


def test_each_callback_is_stamped_with_its_arrival_and_handed_over_whole() -> None:
    inbox: queue.Queue[Any] = queue.Queue()
    times = iter([111, 222])
    bridge = CallbackBridge(Collector.start(inbox), clock=lambda: next(times))
    bridge.on_order("B1", 1, BrokerOrderStatus.SUBMITTED, 50, "")
    bridge.on_deal("B1", 2, 60, "S1", OrderSide.SELL, Decimal("9.5"), Decimal("3"))

    assert inbox.get(timeout=2) == RawOrderEvent(
        order_no="B1", seq_no=1, status=BrokerOrderStatus.SUBMITTED, broker_ts_ns=50, recv_ns=111
    )
    deal = inbox.get(timeout=2)
    assert isinstance(deal, RawDealEvent)
    assert (deal.key, deal.recv_ns, deal.price, deal.size) == (
        "B1:2:60",
        222,
        Decimal("9.5"),
        Decimal("3"),
    )
    assert (bridge.last_callback_ns, bridge.received, bridge.lost) == (222, 2, 0)


def test_a_callback_that_finds_the_normalizer_dead_is_counted_lost_not_raised() -> None:
    sink = Collector.start(queue.Queue())
    sink.stop()
    bridge = CallbackBridge(sink, clock=lambda: 5)
    bridge.on_order("B1", 1, BrokerOrderStatus.CANCELLED, 50, "gone")
    assert (bridge.received, bridge.lost, bridge.last_callback_ns) == (1, 1, 5)
