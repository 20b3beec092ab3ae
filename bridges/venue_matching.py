"""The matching core of the simulated venue: our limit orders against the feed's books.

No threads, no I/O, no clocks: every call takes the time as ``ts`` (integer nanoseconds) and
returns the venue events it produced, in order, so an actor shell only forwards them. The
same calls in the same order give the same events (message ids aside, which stay unique).

Our orders never appear in the book; they only take the liquidity the feed displays. Since
the feed cannot know what we took, the engine remembers it per level until the feed shows
that level with another size (fresh liquidity), so displayed size is never filled twice.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import TypeAlias

import attrs

from messages.enums import BookSide, OrderSide, OrderStatus
from messages.fills import Fill
from messages.market_data import InstrumentBook
from messages.order_commands import SubmitOrder
from messages.orders import CancelRejected, OrderAccepted, OrderCancelled, OrderRejected

VenueEvent: TypeAlias = OrderAccepted | OrderRejected | OrderCancelled | CancelRejected | Fill

_CANCEL_REFUSALS = {
    OrderStatus.FILLED: "order is filled",
    OrderStatus.CANCELLED: "order is cancelled",
    OrderStatus.REJECTED: "order was rejected",
}


@attrs.frozen(kw_only=True)
class StagedFills:
    """Seed 003's fill schedule: an order takes at most ``first`` of its size when it
    arrives; the rest trades only on its instrument's books ``delay_ns`` or more later (the
    venue's latency), against whatever liquidity they then show.

    Both moments are feed time, the venue's only clock, so a replay or a rebuilt venue
    fills the same sizes at the same books.
    """

    first: Decimal = Decimal("0.3")
    delay_ns: int = 0

    def __attrs_post_init__(self) -> None:
        if not 0 < self.first <= 1 or self.delay_ns < 0:
            raise ValueError(f"need 0 < first <= 1 and delay_ns >= 0; got {self}")

    def first_part(self, size: Decimal) -> Decimal:
        """``first`` of ``size``, rounded down to the size's own decimals."""
        quantum = Decimal(1).scaleb(min(size.as_tuple().exponent, 0))  # type: ignore[arg-type]
        return (size * self.first).quantize(quantum, rounding=ROUND_DOWN)


class _Market:
    __slots__ = ("closed", "security_ids")

    def __init__(self, security_ids: frozenset[str]) -> None:
        self.security_ids = security_ids
        self.closed = False


class _WorkingOrder:
    """An accepted order and how much of it has traded; lives until filled or cancelled."""

    __slots__ = ("cap", "fill_count", "filled", "order", "whole_from")

    def __init__(self, order: SubmitOrder, ts: int = 0, staged: StagedFills | None = None) -> None:
        self.order = order
        self.filled = Decimal(0)
        self.fill_count = 0
        self.cap = order.size if staged is None else staged.first_part(order.size)
        """What the order may trade before ``whole_from``."""
        self.whole_from = ts if staged is None else ts + staged.delay_ns

    def tradable(self, ts: int) -> Decimal:
        """What the order may trade at ``ts``: its leaves, or less while it is staged."""
        if ts >= self.whole_from:
            return self.leaves
        return max(min(self.leaves, self.cap - self.filled), Decimal(0))

    @property
    def leaves(self) -> Decimal:
        return self.order.size - self.filled


class MatchingEngine:
    """Matches limit orders against the latest book of each instrument, with time priority.

    A BUY takes asks priced at or below its limit, best first; a SELL takes bids at or above
    it. Whatever cannot trade now rests and trades in ``update_book`` as liquidity appears.
    A book the feed marks unsynced is kept but offers no liquidity until a synced one comes.
    ``staged``: fill in two parts as seed 003's simulator did (``StagedFills``); None fills
    each order as far as the book allows at once.
    """

    def __init__(
        self,
        *,
        fee_rate: Decimal = Decimal("0.001"),
        fee_quantum: Decimal = Decimal("0.000001"),
        max_price: Decimal = Decimal(1),
        staged: StagedFills | None = None,
    ) -> None:
        if fee_rate < 0 or fee_quantum <= 0 or max_price <= 0:
            raise ValueError(
                f"need fee_rate >= 0, fee_quantum > 0, max_price > 0; got "
                f"{fee_rate}, {fee_quantum}, {max_price}"
            )
        self._fee_rate = fee_rate
        self._fee_quantum = fee_quantum
        self._max_price = max_price
        self._staged = staged
        self._markets: dict[str, _Market] = {}
        self._books: dict[str, InstrumentBook] = {}
        # security_id -> (book side, price) -> (size the feed showed, size we took from it)
        self._consumed: dict[str, dict[tuple[BookSide, Decimal], tuple[Decimal, Decimal]]] = {}
        # Insertion order is submission order, which is the time priority of resting orders.
        self._resting: dict[str, _WorkingOrder] = {}
        self._done: dict[str, OrderStatus] = {}

    def open_market(self, market_id: str, security_ids: tuple[str, ...]) -> None:
        """Start accepting orders for ``market_id``'s instruments.

        Opening the same open market again with the same instruments does nothing, so a
        redelivered MarketOpened is harmless. Markets never reopen once closed, and an
        instrument trades in one open market at a time since books are kept per instrument:
        breaking either is a bug in the caller (ValueError).
        """
        known = self._markets.get(market_id)
        if known is not None:
            if known.closed or known.security_ids != frozenset(security_ids):
                raise ValueError(f"market {market_id} was already opened")
            return
        taken = {
            security_id
            for market in self._markets.values()
            if not market.closed
            for security_id in market.security_ids
        }.intersection(security_ids)
        if taken:
            raise ValueError(f"securities {sorted(taken)} already trade in an open market")
        self._markets[market_id] = _Market(frozenset(security_ids))

    def close_market(self, market_id: str, ts: int) -> list[VenueEvent]:
        """Cancel every resting order of the market and refuse its new orders from now on.

        Closing a closed or unknown market does nothing: there is nothing of it to cancel.
        """
        market = self._markets.get(market_id)
        if market is None or market.closed:
            return []
        market.closed = True
        for security_id in market.security_ids:
            self._books.pop(security_id, None)
            self._consumed.pop(security_id, None)
        closing = [
            order_id
            for order_id, working in self._resting.items()
            if working.order.market_id == market_id
        ]
        return [self._cancel_resting(order_id, "market closed", ts) for order_id in closing]

    def update_book(self, market_id: str, book: InstrumentBook, ts: int) -> list[VenueEvent]:
        """Take the feed's latest view of an instrument and trade resting orders against it.

        Returns the fills, oldest resting order first. Books for an unknown or closed market
        are ignored, as the feed may run ahead of or behind the market's lifecycle; a book for
        an instrument outside a known market is a wiring bug (ValueError).
        """
        market = self._markets.get(market_id)
        if market is None:
            return []
        if book.security_id not in market.security_ids:
            raise ValueError(f"security {book.security_id} is not in market {market_id}")
        if market.closed:
            return []
        self._books[book.security_id] = book
        if not book.synced:
            return []
        self._forget_replaced_levels(book)
        events: list[VenueEvent] = []
        waiting = [w for w in self._resting.values() if w.order.security_id == book.security_id]
        for working in waiting:
            events.extend(self._match(working, ts))
            if not working.leaves:
                del self._resting[working.order.order_id]
                self._done[working.order.order_id] = OrderStatus.FILLED
        return events

    def submit(self, order: SubmitOrder, ts: int) -> list[VenueEvent]:
        """Accept or reject the order; an accepted one trades at once and rests if it can't.

        Returns OrderRejected alone, or OrderAccepted followed by one Fill per level taken.
        """
        duplicate = order.order_id in self._resting or order.order_id in self._done
        reason = "duplicate order id" if duplicate else self._rejection(order)
        if reason is not None:
            if not duplicate:
                self._done[order.order_id] = OrderStatus.REJECTED
            return [OrderRejected(ts_init=ts, ts_event=ts, order_id=order.order_id, reason=reason)]
        working = _WorkingOrder(order, ts, self._staged)
        events: list[VenueEvent] = [OrderAccepted(ts_init=ts, ts_event=ts, order_id=order.order_id)]
        events.extend(self._match(working, ts))
        if working.leaves:
            self._resting[order.order_id] = working
        else:
            self._done[order.order_id] = OrderStatus.FILLED
        return events

    def cancel(self, order_id: str, ts: int) -> list[VenueEvent]:
        """Take a resting order off the book, or refuse with why it cannot be cancelled."""
        if order_id in self._resting:
            return [self._cancel_resting(order_id, "cancelled by request", ts)]
        status = self._done.get(order_id)
        reason = "unknown order" if status is None else _CANCEL_REFUSALS[status]
        return [CancelRejected(ts_init=ts, ts_event=ts, order_id=order_id, reason=reason)]

    def resting_orders(self) -> tuple[str, ...]:
        """Ids of the orders still resting, oldest first, so tests and tools can inspect them."""
        return tuple(self._resting)

    def _rejection(self, order: SubmitOrder) -> str | None:
        market = self._markets.get(order.market_id)
        if market is None:
            return f"unknown market {order.market_id}"
        if market.closed:
            return f"market {order.market_id} is closed"
        if order.security_id not in market.security_ids:
            return f"security {order.security_id} is not in market {order.market_id}"
        if order.security_id not in self._books:
            return f"no book for {order.security_id}"
        if not 0 < order.price <= self._max_price:
            return f"price {order.price} is outside (0, {self._max_price}]"
        return None

    def _cancel_resting(self, order_id: str, reason: str, ts: int) -> OrderCancelled:
        del self._resting[order_id]
        self._done[order_id] = OrderStatus.CANCELLED
        return OrderCancelled(ts_init=ts, ts_event=ts, order_id=order_id, reason=reason)

    def _forget_replaced_levels(self, book: InstrumentBook) -> None:
        consumed = self._consumed.get(book.security_id)
        if not consumed:
            return
        shown = {(BookSide.BID, level.price): level.size for level in book.bids}
        shown.update({(BookSide.ASK, level.price): level.size for level in book.asks})
        for key, (size, _taken) in list(consumed.items()):
            if shown.get(key) != size:
                del consumed[key]

    def _match(self, working: _WorkingOrder, ts: int) -> list[Fill]:
        order = working.order
        book = self._books.get(order.security_id)
        if book is None or not book.synced:
            return []
        if order.side is OrderSide.BUY:
            side = BookSide.ASK
            levels = sorted(
                (level for level in book.asks if level.price <= order.price),
                key=lambda level: level.price,
            )
        else:
            side = BookSide.BID
            levels = sorted(
                (level for level in book.bids if level.price >= order.price),
                key=lambda level: level.price,
                reverse=True,
            )
        consumed = self._consumed.setdefault(order.security_id, {})
        fills: list[Fill] = []
        for level in levels:
            _shown, taken = consumed.get((side, level.price), (level.size, Decimal(0)))
            size = min(working.tradable(ts), level.size - taken)
            if size <= 0:
                continue
            consumed[side, level.price] = (level.size, taken + size)
            fills.append(self._fill(working, level.price, size, ts))
            if not working.tradable(ts):
                break
        return fills

    def _fill(self, working: _WorkingOrder, price: Decimal, size: Decimal, ts: int) -> Fill:
        order = working.order
        working.filled += size
        working.fill_count += 1
        fee = (price * size * self._fee_rate).quantize(self._fee_quantum, rounding=ROUND_HALF_UP)
        return Fill(
            fill_id=f"{order.order_id}-{working.fill_count}",
            ts_init=ts,
            ts_event=ts,
            order_id=order.order_id,
            market_id=order.market_id,
            security_id=order.security_id,
            side=order.side,
            price=price,
            size=size,
            fee=fee,
        )
