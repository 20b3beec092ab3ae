"""Enumerations carried by messages."""

from __future__ import annotations

import enum


class OrderSide(enum.Enum):
    """Direction of an order or fill: BUY adds to the signed quantity, SELL subtracts."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1


class BookSide(enum.Enum):
    """Which side of an order book a level or price change belongs to."""

    BID = "BID"
    ASK = "ASK"


class Outcome(enum.Enum):
    """The outcome an instrument of a binary market pays out on."""

    YES = "YES"
    NO = "NO"


class OrderStatus(enum.Enum):
    """States of the order state machine (see ``actors.order_state``)."""

    PENDING = "PENDING"
    """Created and sent; the venue has not acknowledged it yet."""
    ACCEPTED = "ACCEPTED"
    """The venue acknowledged it: it rests there, nothing filled (NautilusTrader's name)."""
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


class MarketPhase(enum.Enum):
    """Where a market is in its life: trading, closed to new orders, or resolved."""

    OPEN = "open"
    CLOSED = "closed"
    RESOLVED = "resolved"


class PositionStatus(enum.Enum):
    """Lifecycle of a position: open while its market trades, settled at resolution."""

    OPEN = "OPEN"
    SETTLED = "SETTLED"
