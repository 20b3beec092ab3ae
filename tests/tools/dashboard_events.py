"""A hand-written run for the dashboard tests: factories for order, position and leg
snapshots, and the events of one market traded, settled and followed by the next."""

from __future__ import annotations

from typing import Any

from messages.enums import OrderSide, OrderStatus, PositionStatus
from messages.markets import MarketClosed, MarketResolved
from messages.orders import FillRefusal, FillRefused, OrderDenied, OrderSnapshot, OrderUpdated
from messages.positions import (
    LegSnapshot,
    PositionDelta,
    PositionOpened,
    PositionSettled,
    PositionSnapshot,
)
from supervisors.kernel.events import ChildRestarted
from tests.stubs import D, collector, fill, opened, signal
from tools.dashboard import DashboardState

POSITION_ID = "m1/paper/synthetic_arbitrage"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def order(
    order_id: str,
    security_id: str,
    *,
    side: OrderSide = OrderSide.BUY,
    price: str = "0.40",
    size: str = "10",
    filled: str = "0",
    status: OrderStatus = OrderStatus.PENDING,
    version: int = 1,
) -> OrderSnapshot:
    return OrderSnapshot(
        order_id=order_id,
        correlation_id=f"c-{order_id}",
        market_id=security_id.rsplit("-", 1)[0],
        security_id=security_id,
        account="paper",
        strategy="synthetic_arbitrage",
        side=side,
        price=D(price),
        size=D(size),
        filled=D(filled),
        avg_fill_price=D(price) if D(filled) else None,
        fees=D(0),
        status=status,
        fill_count=1 if D(filled) else 0,
        last_fill_id=None,
        version=version,
    )


def updated(cause: str, snapshot: OrderSnapshot) -> OrderUpdated:
    return OrderUpdated(correlation_id=snapshot.correlation_id, cause=cause, order=snapshot)


def leg(
    security_id: str,
    quantity: str = "0",
    *,
    cost: str = "0",
    realized: str = "0",
    fees: str = "0",
    mark: str | None = None,
    unrealized: str = "0",
) -> LegSnapshot:
    quantity_d, cost_d = D(quantity), D(cost)
    return LegSnapshot(
        security_id=security_id,
        quantity=quantity_d,
        cost=cost_d,
        avg_open_price=cost_d / quantity_d if quantity_d else D(0),
        realized_pnl=D(realized),
        fees=D(fees),
        mark=None if mark is None else D(mark),
        unrealized_pnl=D(unrealized),
        pending_buy=False,
        pending_sell=False,
    )


def position(
    *legs: LegSnapshot, version: int, status: PositionStatus = PositionStatus.OPEN
) -> PositionSnapshot:
    return PositionSnapshot(
        position_id=POSITION_ID,
        market_id="m1",
        account="paper",
        strategy="synthetic_arbitrage",
        status=status,
        version=version,
        legs=legs,
    )


def delta(version: int, changed: LegSnapshot, order_id: str) -> PositionDelta:
    return PositionDelta(
        correlation_id=order_id,
        position_id=POSITION_ID,
        market_id="m1",
        version=version,
        fill=fill(f"{order_id}-1", order_id=order_id, security_id=changed.security_id),
        leg=changed,
    )


O1 = order("O1", "m1-YES", price="0.40")
O2 = order("O2", "m1-NO", price="0.55")
O2_PART = order(
    "O2", "m1-NO", price="0.55", filled="4", status=OrderStatus.PARTIALLY_FILLED, version=3
)

# One market traded: two orders, two fills (one partial), two deltas.
TRADING = [
    opened("m1"),
    PositionOpened(position=position(leg("m1-YES"), leg("m1-NO"), version=0)),
    updated("submitted", O1),
    updated("accepted", order("O1", "m1-YES", version=2)),
    updated("submitted", O2),
    updated(
        "fill",
        order("O1", "m1-YES", filled="10", status=OrderStatus.FILLED, version=3),
    ),
    delta(
        1,
        leg("m1-YES", "10", cost="4.00", fees="0.004", mark="0.45", unrealized="0.50"),
        "O1",
    ),
    updated("fill", O2_PART),
    delta(
        2,
        leg("m1-NO", "4", cost="2.20", fees="0.0022", mark="0.50", unrealized="-0.20"),
        "O2",
    ),
]
# Then a denial, a refused fill, an event that arrives late (older than what the state
# holds), the close, the resolution and the next market.
AFTER_TRADING = [
    OrderDenied(correlation_id="s1", signal=signal("m1-YES"), reason="risk: too big"),
    FillRefused(
        correlation_id="c-O9",
        fill=fill("O9-1", order_id="O9"),
        reason=FillRefusal.UNKNOWN_ORDER,
        detail="no such order",
    ),
    updated("accepted", order("O2", "m1-NO", price="0.55", version=2)),
    MarketClosed(ts_event=10, market_id="m1"),
    updated(
        "cancelled: market closed",
        order("O2", "m1-NO", price="0.55", filled="4", status=OrderStatus.CANCELLED, version=4),
    ),
    MarketResolved(ts_event=11, market_id="m1", winning_security_id="m1-YES"),
    PositionSettled(
        position=position(
            leg("m1-YES", realized="6.00", fees="0.004", mark="1"),
            leg("m1-NO", realized="-2.20", fees="0.0022", mark="0"),
            version=5,
            status=PositionStatus.SETTLED,
        )
    ),
    opened("m2"),
]


def whole_run() -> list[Any]:
    """TRADING, two restarts (a market actor and a core one), AFTER_TRADING."""
    ref = collector()[0]
    restarts = [
        ChildRestarted(supervisor="markets", child_id="position:m1", ref=ref, restarts=1),
        ChildRestarted(supervisor="tradeactors", child_id="journal", ref=ref, restarts=1),
    ]
    return [*TRADING, *restarts, *AFTER_TRADING]


def fold(events: list[Any], state: DashboardState | None = None) -> DashboardState:
    state = state if state is not None else DashboardState(clock=FakeClock())
    for event in events:
        state.apply(event)
    return state
