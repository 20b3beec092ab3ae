"""Market switch (seed 000): a fresh position per market, execution told before any order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from messages.enums import BookSide, OrderStatus, PositionStatus
from messages.fills import Fill
from messages.market_commands import SwitchMarket
from messages.market_data import MarketSnapshot
from messages.markets import MarketClosed, MarketResolved
from messages.orders import OrderDenied
from supervisors.assembly.runtime import Runtime
from tests.stubs import book, change, collector, opened
from tests.supervisors.market_stubs import start_markets

pytestmark = pytest.mark.timeout(30)
D = Decimal


def _crossing_books(market_id: str):
    return [
        opened(market_id),
        book(f"{market_id}-YES", bids=(("0.40", "100"),), asks=(("0.45", "20"),)),
        book(f"{market_id}-NO", bids=(("0.48", "100"),), asks=(("0.50", "50"),)),
    ]


def test_the_lifecycle_tells_execution_the_new_position_before_the_market_has_a_book(
    journal, journal_stores
) -> None:
    # One inbox stands in for execution and for a strategy, so it shows which came first:
    # the SwitchMarket execution needs, or the first book a strategy could signal on.
    spy, inbox = collector()
    venue, _ = collector()
    bus, _ = collector()
    _children, lifecycle = start_markets(
        execution=spy,
        venue=venue,
        bus=bus,
        journal=journal,
        stores=journal_stores,
        strategies=((spy, "s"),),
    )
    # Each book is told at once: it waits while its market's actors start.
    for market_id in ("m1", "m2"):
        lifecycle.tell(opened(market_id))
        lifecycle.tell(book(f"{market_id}-YES", bids=(("0.40", "100"),)))

    arrivals = []
    while len([m for m in arrivals if isinstance(m, MarketSnapshot)]) < 2:
        arrivals.append(inbox.get(timeout=5))
    switches = [m for m in arrivals if isinstance(m, SwitchMarket)]
    assert [s.definition.market_id for s in switches] == ["m1", "m2"]
    for switch in switches:
        market_id = switch.definition.market_id
        first_book = next(
            i
            for i, m in enumerate(arrivals)
            if isinstance(m, MarketSnapshot) and m.market_id == market_id
        )
        assert arrivals.index(switch) < first_book, f"{market_id}'s book came before its switch"
        assert switch.position.is_alive()
        assert switch.position_id == f"{market_id}/paper/s"
    assert switches[0].position != switches[1].position


def test_orders_of_the_new_market_land_on_its_fresh_position_and_late_fills_on_the_old() -> None:
    with Runtime() as runtime:
        spy, events = collector()
        runtime.subscribe(spy)
        # m1: YES 20 @ 0.45 + NO 20 @ 0.50 fill; the feed still shows YES 0.45 x 20 (taken),
        # so the next tick's YES order rests at 0.45 until the market closes and it is cancelled.
        records = [
            *_crossing_books("m1"),
            change("m1-NO", BookSide.BID, "0.47", "10", sequence=1),
            MarketClosed(ts_event=20, market_id="m1"),
            *_crossing_books("m2"),
        ]
        for record in records:
            runtime.feed_and_wait(record)

        orders = {o.order_id: o for o in runtime.orders()}
        old_rest = [o for o in orders.values() if o.status is OrderStatus.CANCELLED]
        assert len(old_rest) == 1
        assert old_rest[0].market_id == "m1"
        assert {o.market_id for o in orders.values() if o.status is OrderStatus.FILLED} == {
            "m1",
            "m2",
        }

        # The venue filled 5 of the cancelled m1 order before the cancel took effect.
        late = Fill(
            fill_id="late-1",
            ts_event=21,
            order_id=old_rest[0].order_id,
            market_id="m1",
            security_id="m1-YES",
            side=old_rest[0].side,
            price=D("0.45"),
            size=D(5),
        )
        runtime.venue_report(late)
        runtime.wait_idle()
        by_market = {p.market_id: p for p in runtime.positions()}
        assert by_market["m1"].leg("m1-YES").quantity == D(25)
        assert by_market["m2"].leg("m2-YES").quantity == D(20)
        assert by_market["m2"].leg("m2-NO").quantity == D(20)

        runtime.feed_and_wait(
            MarketResolved(ts_event=30, market_id="m1", winning_security_id="m1-NO")
        )
        by_market = {p.market_id: p for p in runtime.positions()}
        assert by_market["m1"].status is PositionStatus.SETTLED
        assert by_market["m2"].status is PositionStatus.OPEN

    denials = []
    while not events.empty():
        event = events.get()
        if isinstance(event, OrderDenied):
            denials.append(event)
    assert denials == []
