"""Factories for messages and small helper actors used across the tests."""

from __future__ import annotations

import queue
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pykka

from messages.enums import OrderSide, Outcome
from messages.fills import Fill
from messages.market_data import BookLevel, BookSnapshot, PriceChange
from messages.markets import Instrument, MarketDefinition, MarketOpened
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


class Collector(pykka.ThreadingActor):
    """Records every message it is told; tests wait on it with a timeout, never sleep."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: queue.Queue[Any] = queue.Queue()

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
