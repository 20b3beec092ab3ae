"""SimulatedVenueActor: latency in front of the matching core; reports go to subscribers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bridges.simulated_venue import SimulatedVenueActor
from messages.enums import OrderSide, Outcome
from messages.fills import Fill
from messages.market_data import InstrumentBook, MarketSnapshot
from messages.markets import MarketClosed
from messages.order_commands import CancelOrder, SubmitOrder
from messages.orders import OrderAccepted, OrderCancelled
from messages.stats import GetStats
from messages.subscriptions import Subscribe
from supervisors.kernel.scheduler import REAL_SCHEDULER, ManualScheduler, Scheduler
from tests.stubs import collector, levels, opened, wait_for

pytestmark = pytest.mark.timeout(10)


def _snapshot(asks: tuple[tuple[str, str], ...], version: int = 1) -> MarketSnapshot:
    def book(sid: str, outcome: Outcome, ask_levels) -> InstrumentBook:
        return InstrumentBook(
            security_id=sid, outcome=outcome, bids=(), asks=ask_levels, synced=True, sequence=0
        )

    return MarketSnapshot(
        ts_event=1,
        market_id="m1",
        version=version,
        books=(
            book("m1-YES", Outcome.YES, levels(*asks)),
            book("m1-NO", Outcome.NO, levels(("0.60", "10"))),
        ),
    )


def _submit(order_id: str, price: str, size: str) -> SubmitOrder:
    return SubmitOrder(
        correlation_id="S",
        order_id=order_id,
        market_id="m1",
        security_id="m1-YES",
        side=OrderSide.BUY,
        price=Decimal(price),
        size=Decimal(size),
    )


def _venue(latency_ns: int = 0, scheduler: Scheduler = REAL_SCHEDULER):
    venue = SimulatedVenueActor.start(latency_ns=latency_ns, scheduler=scheduler)
    execution, reports = collector()
    venue.tell(Subscribe(subscriber=execution))
    venue.tell(opened("m1"))
    return venue, reports


def test_an_order_arrives_only_after_the_configured_latency() -> None:
    clock = ManualScheduler()
    venue, reports = _venue(latency_ns=50_000_000, scheduler=clock)
    venue.tell(_snapshot((("0.40", "100"),)))
    venue.tell(_submit("O1", "0.40", "30"))
    assert venue.ask(GetStats(), timeout=5).scheduled == 1
    clock.advance(0.049)
    assert venue.ask(GetStats(), timeout=5).scheduled == 1, "arrived before its latency"
    clock.advance(0.001)
    assert venue.ask(GetStats(), timeout=5).scheduled == 0
    fill = wait_for(reports, lambda m: isinstance(m, Fill))
    assert (fill.price, fill.size) == (Decimal("0.40"), Decimal(30))


def test_a_partial_fill_rests_and_completes_when_liquidity_appears() -> None:
    venue, reports = _venue()
    venue.tell(_snapshot((("0.40", "20"),)))
    venue.tell(_submit("O1", "0.40", "50"))
    wait_for(reports, lambda m: isinstance(m, OrderAccepted))
    first = wait_for(reports, lambda m: isinstance(m, Fill))
    assert first.size == Decimal(20)
    venue.tell(_snapshot((("0.39", "100"),), version=2))
    second = wait_for(reports, lambda m: isinstance(m, Fill))
    assert (second.price, second.size) == (Decimal("0.39"), Decimal(30))


def test_a_resting_order_is_cancelled_on_request_and_at_market_close() -> None:
    venue, reports = _venue()
    venue.tell(_snapshot((("0.45", "20"),)))
    venue.tell(_submit("O1", "0.40", "50"))
    venue.tell(_submit("O2", "0.40", "50"))
    venue.tell(CancelOrder(order_id="O1", reason="test"))
    cancelled = wait_for(reports, lambda m: isinstance(m, OrderCancelled))
    assert (cancelled.order_id, cancelled.reason) == ("O1", "cancelled by request")
    venue.tell(MarketClosed(ts_event=9, market_id="m1"))
    closed = wait_for(reports, lambda m: isinstance(m, OrderCancelled))
    assert (closed.order_id, closed.reason) == ("O2", "market closed")
