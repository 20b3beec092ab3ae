"""The whole runtime through real actors: feed → strategy → execution → venue → positions.

The expected positions are worked out by hand from the feed and the strategy's rules
(comments beside each record), not by running any of the code under test.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from messages.enums import BookSide, OrderStatus, PositionStatus
from messages.markets import MarketClosed, MarketResolved
from messages.orders import FillRefused, OrderDenied
from supervisors.runtime import Runtime
from tests.stubs import book, change, collector, opened

pytestmark = pytest.mark.timeout(30)
D = Decimal


def _feed():
    return [
        opened("m1"),
        # YES ask 0.45 + NO ask 0.53 = 0.98: not below payout - margin (0.98), no trade.
        book("m1-YES", bids=(("0.40", "100"),), asks=(("0.45", "100"),)),
        book("m1-NO", bids=(("0.50", "100"),), asks=(("0.53", "100"),)),
        # NO ask 0.50 x 30 appears: 0.45 + 0.50 = 0.95 → buy 30 YES @ 0.45 and 30 NO @ 0.50,
        # both fill at once (fees 0.1% of notional: 0.0135 and 0.015).
        change("m1-NO", BookSide.ASK, "0.50", "30", sequence=1),
        # YES level 0.45 now shows 80 (fresh liquidity). The feed still shows NO 0.50 x 30,
        # which we already took: buy 30 + 30 again; YES fills 30 @ 0.45, NO rests at 0.50.
        change("m1-YES", BookSide.ASK, "0.45", "80", sequence=1),
        # NO level 0.50 shows 45: fresh liquidity, the resting NO order fills 30 @ 0.50.
        # The strategy sees NO pending and sends nothing.
        change("m1-NO", BookSide.ASK, "0.50", "45", sequence=2),
        MarketClosed(ts_event=10, market_id="m1"),
        # YES wins: 60 YES pay 60 against cost 27; 60 NO cost 30 pay 0 → realized 3.00.
        MarketResolved(ts_event=11, market_id="m1", winning_security_id="m1-YES"),
    ]


def _replay(runtime: Runtime, records) -> None:
    for record in records:
        runtime.feed_and_wait(record)


def test_a_feed_through_every_actor_ends_in_the_positions_worked_out_by_hand() -> None:
    with Runtime() as runtime:
        spy, events = collector()
        runtime.subscribe(spy)
        records = _feed()
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
