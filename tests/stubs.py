"""Factories for messages and small helper actors used across the tests."""

from __future__ import annotations

import queue
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka

from actors.position_accounting import PositionBook
from actors.runtime_state import RuntimeState
from messages.enums import BookSide, OrderSide, Outcome
from messages.fills import Fill
from messages.journal import PositionCreated
from messages.market_data import BookLevel, BookSnapshot, PriceChange
from messages.markets import (
    Instrument,
    MarketClosed,
    MarketDefinition,
    MarketOpened,
    MarketResolved,
)
from messages.signals import TradeSignal

D = Decimal


def definition(market_id: str = "m1") -> MarketDefinition:
    return MarketDefinition(
        market_id=market_id,
        instruments=(
            Instrument(security_id=f"{market_id}-YES", outcome=Outcome.YES),
            Instrument(security_id=f"{market_id}-NO", outcome=Outcome.NO),
        ),
    )


def opened(market_id: str = "m1", ts: int = 1) -> MarketOpened:
    return MarketOpened(ts_event=ts, definition=definition(market_id))


def levels(*pairs: tuple[str, str]) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(price=D(p), size=D(s)) for p, s in pairs)


def book(
    security_id: str,
    *,
    bids: tuple[tuple[str, str], ...] = (),
    asks: tuple[tuple[str, str], ...] = (),
    sequence: int = 0,
    ts: int = 1,
) -> BookSnapshot:
    return BookSnapshot(
        ts_event=ts,
        market_id=security_id.rsplit("-", 1)[0],
        security_id=security_id,
        sequence=sequence,
        bids=levels(*bids),
        asks=levels(*asks),
    )


def change(security_id: str, side: Any, price: str, size: str, sequence: int) -> PriceChange:
    return PriceChange(
        ts_event=sequence + 1,
        market_id=security_id.rsplit("-", 1)[0],
        security_id=security_id,
        sequence=sequence,
        side=side,
        price=D(price),
        size=D(size),
    )


def fill(
    fill_id: str = "F1",
    *,
    order_id: str = "O1",
    security_id: str = "m1-YES",
    side: OrderSide = OrderSide.BUY,
    price: str = "0.40",
    size: str = "10",
    fee: str = "0",
    ts: int = 1,
) -> Fill:
    return Fill(
        fill_id=fill_id,
        ts_event=ts,
        order_id=order_id,
        market_id=security_id.rsplit("-", 1)[0],
        security_id=security_id,
        side=side,
        price=D(price),
        size=D(size),
        fee=D(fee),
    )


def signal(
    security_id: str = "m1-YES",
    *,
    side: OrderSide = OrderSide.BUY,
    price: str = "0.40",
    size: str = "10",
) -> TradeSignal:
    return TradeSignal(
        market_id=security_id.rsplit("-", 1)[0],
        security_id=security_id,
        side=side,
        price=D(price),
        size=D(size),
        reason="test",
    )


def arbitrage_feed() -> list[Any]:
    """One binary market the example strategy trades twice in, then closed and resolved."""
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


class Collector(pykka.ThreadingActor):
    """Records every message it is told; tests wait on it with a timeout, never sleep."""

    def __init__(self, inbox: queue.Queue[Any] | None = None) -> None:
        super().__init__()
        self.inbox: queue.Queue[Any] = inbox if inbox is not None else queue.Queue()

    def on_receive(self, message: Any) -> None:
        self.inbox.put(message)


def collector() -> tuple[pykka.ActorRef[Any], queue.Queue[Any]]:
    ref = Collector.start()
    return ref, ref.proxy().inbox.get(timeout=5)


def wait_for(inbox: queue.Queue[Any], match: Callable[[Any], bool], timeout: float = 5.0) -> Any:
    """The first message in ``inbox`` that ``match``es; fails the test after ``timeout``."""
    while True:
        try:
            message = inbox.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no matching message arrived") from None
        if match(message):
            return message


def state_with_positions(*market_ids: str) -> RuntimeState:
    """A fold that holds position ``<market>/p`` of each market, as if it was created.

    For tests that start a JournalActor without a market lifecycle actor: the fold refuses
    position events for a position it never saw created.
    """
    state = RuntimeState()
    for market_id in market_ids:
        market = definition(market_id)
        state.apply(
            state.seq + 1,
            f"position:{market_id}/p",
            PositionCreated(
                position_id=f"{market_id}/p",
                market_id=market_id,
                account="paper",
                strategy="test",
                security_ids=market.security_ids,
            ),
        )
    return state


def state_holding(*books: PositionBook) -> RuntimeState:
    """A fold that holds a copy of each book: a journal for a PositionActor started alone."""
    state = RuntimeState()
    for book in books:
        state.positions[book.position_id] = PositionBook.from_memento(book.memento())
    return state


def lockstep_run(data_dir: Path, feed: Path, *extra: str) -> list[str]:
    """``tradeactors run --speed 0`` on ``feed`` and ``data_dir`` as the kill -9 tests run it:
    quiet, no ZeroMQ or metrics, a snapshot every 40 events."""
    return [
        sys.executable,
        "-m",
        "tools.cli",
        "run",
        "--feed",
        str(feed),
        "--data-dir",
        str(data_dir),
        "--speed",
        "0",
        "--quiet",
        "--snapshot-every",
        "40",
        "--no-zmq",
        "--no-metrics",
        *extra,
    ]
