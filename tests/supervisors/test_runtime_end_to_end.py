"""The whole runtime through real actors: feed → strategy → execution → venue → positions.

The expected positions are worked out by hand from the feed and the strategy's rules
(comments beside each record in ``tests.stubs.arbitrage_feed``), not by running any of the
code under test.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from messages.enums import OrderStatus, PositionStatus
from messages.orders import FillRefused, OrderDenied
from supervisors.assembly.runtime import Runtime
from tests.stubs import arbitrage_feed, collector

pytestmark = pytest.mark.timeout(30)
D = Decimal


def _replay(runtime: Runtime, records) -> None:
    for record in records:
        runtime.feed_and_wait(record)


def test_a_feed_through_every_actor_ends_in_the_positions_worked_out_by_hand() -> None:
    with Runtime() as runtime:
        spy, events = collector()
        runtime.subscribe(spy)
        records = arbitrage_feed()
        _replay(runtime, records[:-2])

        orders = runtime.orders()
        assert len(orders) == 4
        assert all(order.status is OrderStatus.FILLED for order in orders)
        live = runtime.positions()
        assert len(live) == 1
        assert live[0].leg("m1-YES").quantity == D(60)
        assert live[0].leg("m1-NO").cost == D("30.00")
        assert live[0].leg("m1-YES").mark == D("0.425")

        _replay(runtime, records[-2:])
        (settled,) = runtime.positions()

    assert settled.status is PositionStatus.SETTLED
    yes, no = settled.leg("m1-YES"), settled.leg("m1-NO")
    assert (yes.quantity, no.quantity) == (D(0), D(0))
    assert yes.realized_pnl == D("33.00")
    assert no.realized_pnl == D("-30.00")
    assert settled.realized_pnl == D("3.00")
    assert settled.fees == D("0.057")
    assert yes.realized_pnl_net + no.realized_pnl_net == D("2.943")
    seen = []
    while not events.empty():
        seen.append(events.get())
    assert not [e for e in seen if isinstance(e, FillRefused | OrderDenied)]
