"""SimulatedBroker: a paper broker that holds the truth and misbehaves on purpose.

The runtime must survive a real broker: callbacks on a foreign thread, callbacks lost,
repeated, late and out of order, a session that goes quiet or drops (and forgets who to
call), and truth queries refused over a rate limit. This broker does all of that on
command, seeded so a failing run can be replayed, and keeps exact records of what it lost
and repeated, so a test can prove the runtime booked every deal exactly once.

The truth (``bridges.broker_truth.BrokerTruth``) changes whatever happens to delivery;
queries answer from it. Orders in a security of an open market are matched against the
feed's books by the simulated venue's ``MatchingEngine``; any other order rests here until
a test fills it by hand with ``execute``.

Given a ``state_path`` the broker keeps its state in its own file
(``bridges.paper_broker_store``), as a venue outlives the process that trades with it: a
broker started on the same file has the same orders, deals, positions, order numbers and
matching state. The callbacks it still owed when the process died are lost, as a real
broker's pushes to a dead client are; its queries still answer the truth.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import attrs
import structlog

from actors.broker import (
    BrokerDisconnectedError,
    BrokerError,
    DealCallback,
    OrderCallback,
    Page,
    RateLimitedError,
)
from bridges.broker_truth import BrokerTruth, DealNotice, Notice, OrderNotice
from bridges.paper_broker_store import PaperBrokerStore
from bridges.venue_matching import MatchingEngine, VenueEvent
from messages.broker import (
    BrokerFill,
    BrokerOrder,
    BrokerOrderRequest,
    BrokerOrderStatus,
    BrokerPosition,
    BrokerProfitLoss,
    BrokerSettlement,
)
from messages.enums import OrderSide
from messages.fills import Fill
from messages.market_data import InstrumentBook
from messages.order_commands import SubmitOrder
from messages.orders import OrderAccepted, OrderCancelled, OrderRejected
from messages.paper_broker import (
    PaperBookUpdated,
    PaperBrokerRecord,
    PaperCancelRequested,
    PaperMarketClosed,
    PaperMarketOpened,
    PaperOrderExecuted,
    PaperOrderPlaced,
    PaperOrderSeeded,
    PaperPositionSeeded,
)

_log = structlog.get_logger("tradeactors", actor="simulated_broker")

T = TypeVar("T")

_Callbacks = tuple[OrderCallback, DealCallback]


@attrs.frozen(kw_only=True, slots=True)
class _Garbled:
    """A callback with arguments the protocol does not allow, as a broken broker sends."""

    callback: str  # "on_order" or "on_deal"
    args: tuple[object, ...]
    order_no: str = "?"  # what the delivery loop logs if the callback raises
    seq_no: int = 0


_Scheduled = tuple[float, int, int, Notice | _Garbled]
"""A callback on its way: (due on ``time.monotonic``, sequence, session, notice)."""


@attrs.frozen(kw_only=True, slots=True)
class BrokerStats:
    """What the broker did with its callbacks and calls, since it started.

    Every callback the truth owes is ``emitted`` once, then dropped, or sent as one copy
    (two when ``duplicated``); every copy ends ``delivered`` (handed to the callback, even
    if it raised), ``silenced``, ``undelivered`` (no registration, or its session is gone),
    or is still ``pending``. So ``emitted + duplicated == dropped + silenced + undelivered
    + delivered + pending``. ``queries`` counts the answered queries (pages), ``refused``
    those turned away by the rate limit, ``placed`` and ``cancelled`` the calls taken (over
    the broker's whole life on its file; the rest since this broker object started).
    """

    emitted: int
    delivered: int
    dropped: int
    duplicated: int
    silenced: int
    undelivered: int
    callback_errors: int
    pending: int
    queries: int
    refused: int
    placed: int
    cancelled: int


@attrs.define(slots=True)
class _Counts:
    emitted: int = 0
    delivered: int = 0
    dropped: int = 0
    duplicated: int = 0
    silenced: int = 0
    undelivered: int = 0
    callback_errors: int = 0
    queries: int = 0
    refused: int = 0
    placed: int = 0
    cancelled: int = 0


class SimulatedBroker:
    """A ``actors.broker.Broker`` with knobs; a perfect broker unless told otherwise.

    Callbacks run on the broker's own daemon thread, in due order: with ``delay_s`` a
    callback waits ``uniform(*delay_s)`` seconds, so a spread reorders them. One
    ``random.Random(seed)`` decides drops, duplicates and delays, so the same seed and the
    same calls make the same decisions. ``clock_ns`` stamps deals and order updates;
    ``monotonic`` only measures the rate-limit window (delays run on ``time.monotonic``,
    as the broker thread really waits them out). Call ``close()`` when done.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        page_size: int = 100,
        rate_limit_calls: int = 25,
        rate_limit_period_s: float = 5.0,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
        drop_rate: float = 0.0,
        duplicate_rate: float = 0.0,
        delay_s: tuple[float, float] = (0.0, 0.0),
        state_path: Path | None = None,
    ) -> None:
        if page_size < 1 or rate_limit_calls < 1 or rate_limit_period_s <= 0:
            raise ValueError(
                f"need page_size >= 1, rate_limit_calls >= 1, rate_limit_period_s > 0; got "
                f"{page_size}, {rate_limit_calls}, {rate_limit_period_s}"
            )
        self._page_size = page_size
        self._rate_limit_calls = rate_limit_calls
        self._rate_limit_period_s = rate_limit_period_s
        self._clock_ns = clock_ns
        self._monotonic = monotonic
        self._drop_rate = _probability("drop_rate", drop_rate)
        self._duplicate_rate = _probability("duplicate_rate", duplicate_rate)
        self._delay_s = _delay(delay_s)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._truth = BrokerTruth()
        self._engine = MatchingEngine()
        self._market_of: dict[str, str] = {}  # security id -> the last market opened with it
        self._at_venue: set[str] = set()  # order numbers the engine matches
        self._books: dict[str, InstrumentBook] = {}  # the last book taken per security
        self._connected = True
        self._silent = False
        self._closed = False
        self._callbacks: _Callbacks | None = None
        self._session = 0  # a disconnect starts a new one; callbacks of the old are lost
        self._heap: list[_Scheduled] = []
        self._sequence = itertools.count()
        self._delivering = False
        self._query_times: deque[float] = deque()
        self._counts = _Counts()
        self._dropped: list[Notice] = []
        self._duplicated: list[Notice] = []
        self._replaying = False
        self._store: PaperBrokerStore | None = None
        if state_path is not None:
            self._store = PaperBrokerStore(state_path)
            self._reload(self._store)
        self._thread = threading.Thread(target=self._run, name="simulated-broker", daemon=True)
        self._thread.start()

    # -- the Broker protocol -------------------------------------------------------------

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._connected

    @property
    def session(self) -> int:
        with self._lock:
            return self._session

    def register_callbacks(self, on_order: OrderCallback, on_deal: DealCallback) -> None:
        """Deliver callbacks to these from now on; raises BrokerDisconnectedError if down."""
        with self._lock:
            self._check_connected()
            self._callbacks = (on_order, on_deal)

    def unregister_callbacks(self) -> None:
        """Stop delivering (idempotent; also when disconnected, as there is nothing to lose)."""
        with self._lock:
            self._callbacks = None

    def place_order(self, request: BrokerOrderRequest) -> str:
        """Book the order: matched at the venue if its security trades there, else resting.

        The same request again under a client order id the account already placed an order
        under places nothing and returns that order's number: a placement retried (after a
        crash of the caller, say) never trades twice. Other terms under a known client
        order id are refused (BrokerError), as a venue refuses a reused id.
        """
        with self._lock:
            self._check_connected()
            known = self._truth.order_for_client(request.account, request.client_order_id)
            if known is not None:
                order = self._truth.order(known)
                assert order is not None
                terms = (order.security_id, order.side, order.price, order.size)
                if terms != (request.security_id, request.side, request.price, request.size):
                    raise BrokerError(
                        f"client order id {request.client_order_id} already names order "
                        f"{known}, placed with other terms"
                    )
                _log.info(
                    "order_already_placed", client_order_id=request.client_order_id, order_no=known
                )
                return known
            return self._record(PaperOrderPlaced(request=request, ts=self._clock_ns()))

    def cancel_order(self, order_no: str) -> None:
        """Cancel an open order (CANCELLED comes as a callback); a final one stays as it is.

        Raises BrokerError for an order number this broker never gave out.
        """
        with self._lock:
            self._check_connected()
            order = self._truth.order(order_no)
            if order is None:
                raise BrokerError(f"unknown order {order_no}")
            self._record(PaperCancelRequested(order_no=order_no, ts=self._clock_ns()))

    def list_positions(self, account: str, page: int = 0) -> Page[BrokerPosition]:
        with self._lock:
            self._admit_query(page)
            return self._page(self._truth.positions(account), page)

    def list_open_orders(self, account: str, page: int = 0) -> Page[BrokerOrder]:
        with self._lock:
            self._admit_query(page)
            return self._page(self._truth.open_orders(account), page)

    def list_fills(self, account: str, since_ns: int, page: int = 0) -> Page[BrokerFill]:
        with self._lock:
            self._admit_query(page)
            return self._page(self._truth.fills(account, since_ns), page)

    def list_profit_loss(self, account: str, page: int = 0) -> Page[BrokerProfitLoss]:
        """Realized PnL per security from the broker's own deals (ProfitLossQueries)."""
        with self._lock:
            self._admit_query(page)
            return self._page(self._truth.profit_loss(account), page)

    def list_settlements(self, account: str, page: int = 0) -> Page[BrokerSettlement]:
        with self._lock:
            self._admit_query(page)
            return self._page(self._truth.settlements(account), page)

    def set_profit_loss_offset(self, security_id: str, offset: Decimal) -> None:
        """Report realized PnL off by ``offset`` in ``security_id`` from now on (a broker
        whose figures disagree with the deals it sent: reconciliation must say so)."""
        with self._lock:
            self._truth.pnl_offsets[security_id] = offset

    def order_status(self, order_no: str) -> BrokerOrder:
        """The order as the broker knows it; BrokerError for an unknown order number."""
        with self._lock:
            self._admit_query(0)
            order = self._truth.order(order_no)
        if order is None:
            raise BrokerError(f"unknown order {order_no}")
        return order

    # -- knobs ---------------------------------------------------------------------------

    def send_garbled(self, callback: str, *args: object) -> None:
        """Call ``callback`` ("on_order" or "on_deal") once with these arguments, on the
        broker's thread like any callback, whatever the protocol says they must be."""
        if callback not in {"on_order", "on_deal"}:
            raise ValueError(f"no callback {callback!r}")
        with self._lock:
            self._counts.emitted += 1
            heapq.heappush(
                self._heap,
                (
                    time.monotonic(),
                    next(self._sequence),
                    self._session,
                    _Garbled(callback=callback, args=args),
                ),
            )
            self._cond.notify_all()

    def set_drop_rate(self, rate: float) -> None:
        """Lose each callback with probability ``rate`` from now on."""
        with self._lock:
            self._drop_rate = _probability("drop_rate", rate)

    def set_duplicate_rate(self, rate: float) -> None:
        """Deliver each callback twice with probability ``rate`` from now on."""
        with self._lock:
            self._duplicate_rate = _probability("duplicate_rate", rate)

    def set_delay(self, delay_s: tuple[float, float]) -> None:
        """Delay each callback by ``uniform(*delay_s)`` seconds from now on."""
        with self._lock:
            self._delay_s = _delay(delay_s)

    def go_silent(self) -> None:
        """Deliver nothing (each callback is lost, counted silenced) until ``speak``."""
        with self._lock:
            self._silent = True

    def speak(self) -> None:
        """Deliver callbacks again after ``go_silent``."""
        with self._lock:
            self._silent = False

    def disconnect(self) -> None:
        """Drop the session: calls raise, callbacks in flight are lost, registration too."""
        with self._lock:
            self._connected = False
            self._callbacks = None
            self._session += 1

    def reconnect(self) -> None:
        """Bring the session back; nothing is delivered until callbacks are registered again."""
        with self._lock:
            self._connected = True

    # -- driving the truth (tests and tools) -----------------------------------------------

    def open_market(self, market_id: str, security_ids: Sequence[str]) -> None:
        """Match this market's securities at the simulated venue from now on."""
        with self._lock:
            self._record(PaperMarketOpened(market_id=market_id, security_ids=tuple(security_ids)))

    def close_market(self, market_id: str) -> None:
        """Cancel the market's resting orders and reject its new ones."""
        with self._lock:
            self._record(PaperMarketClosed(market_id=market_id, ts=self._clock_ns()))

    def update_book(self, market_id: str, book: InstrumentBook, now_ns: int | None = None) -> None:
        """Give the venue a security's latest book; resting orders trade against it.

        A venue's market data never goes back: a book older (by sequence) than the last one
        taken for the security, or that same book again, is ignored. A restarted runtime
        shows its recovered books again, which this broker, having outlived it, is past.
        """
        with self._lock:
            last = self._books.get(book.security_id)
            if last is not None and (
                book.sequence < last.sequence or (book.sequence == last.sequence and book == last)
            ):
                return
            ts = self._clock_ns() if now_ns is None else now_ns
            self._record(PaperBookUpdated(market_id=market_id, book=book, ts=ts))

    def execute(self, order_no: str, price: Decimal, size: Decimal) -> str:
        """Fill ``size`` of an order resting here at ``price``; returns the deal key.

        Raises ValueError for an unknown, final or venue-matched order, or an overfill.
        """
        with self._lock:
            if self._truth.order(order_no) is None:
                raise ValueError(f"unknown order {order_no}")
            if order_no in self._at_venue:
                raise ValueError(f"order {order_no} trades at the venue; feed it books instead")
            return self._record(
                PaperOrderExecuted(order_no=order_no, price=price, size=size, ts=self._clock_ns())
            )

    def seed_position(
        self, account: str, security_id: str, quantity: Decimal, avg_price: Decimal
    ) -> None:
        """Set a position held before the runtime started (no deals, no callbacks)."""
        with self._lock:
            self._record(
                PaperPositionSeeded(
                    account=account, security_id=security_id, quantity=quantity, avg_price=avg_price
                )
            )

    def seed_open_order(
        self,
        account: str,
        security_id: str,
        side: OrderSide,
        price: Decimal,
        size: Decimal,
        *,
        filled: Decimal = Decimal(0),
    ) -> str:
        """Add an order resting here since before the runtime started (no callbacks)."""
        with self._lock:
            return self._record(
                PaperOrderSeeded(
                    account=account,
                    security_id=security_id,
                    side=side,
                    price=price,
                    size=size,
                    filled=filled,
                )
            )

    # -- records -------------------------------------------------------------------------

    def stats(self) -> BrokerStats:
        with self._lock:
            return BrokerStats(pending=len(self._heap), **attrs.asdict(self._counts))

    def dropped_deals(self) -> tuple[str, ...]:
        """Deal keys of the deal callbacks dropped, in emission order."""
        with self._lock:
            return tuple(n.key for n in self._dropped if isinstance(n, DealNotice))

    def duplicated_deals(self) -> tuple[str, ...]:
        """Deal keys of the deal callbacks sent twice, in emission order."""
        with self._lock:
            return tuple(n.key for n in self._duplicated if isinstance(n, DealNotice))

    def dropped_orders(self) -> tuple[tuple[str, int], ...]:
        """``(order_no, seq_no)`` of the order callbacks dropped, in emission order."""
        with self._lock:
            return tuple(
                (n.order_no, n.seq_no) for n in self._dropped if isinstance(n, OrderNotice)
            )

    def duplicated_orders(self) -> tuple[tuple[str, int], ...]:
        """``(order_no, seq_no)`` of the order callbacks sent twice, in emission order."""
        with self._lock:
            return tuple(
                (n.order_no, n.seq_no) for n in self._duplicated if isinstance(n, OrderNotice)
            )

    def pending_callbacks(self) -> int:
        """Callbacks emitted and not yet delivered (or being delivered right now)."""
        with self._lock:
            return len(self._heap) + int(bool(self._delivering))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no callback is pending or being delivered; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._heap and not self._delivering, timeout=timeout
            )

    def close(self) -> None:
        """Stop the broker thread; callbacks still pending are lost (idempotent)."""
        with self._cond:
            if not self._closed:
                self._closed = True
                self._counts.undelivered += len(self._heap)
                self._heap.clear()
                self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- inside (every method below runs with the lock held, except the thread's own) -----

    def _reload(self, store: PaperBrokerStore) -> None:
        """Replay the calls of the broker's earlier lives: their state, no callbacks."""
        self._replaying = True
        try:
            for record in store.records():
                self._change(record)
        finally:
            self._replaying = False
        _log.info("paper_broker_reloaded", path=str(store.path), orders=self._counts.placed)

    def _record(self, record: PaperBrokerRecord) -> str:
        """Apply a call that changes the broker, then commit it to the broker's file.

        Both under the lock, so no callback it owes is delivered before it is durable.
        """
        result = self._change(record)
        if self._store is not None:
            self._store.append(record)
        return result

    def _change(self, record: PaperBrokerRecord) -> str:
        """What each call does to the truth and the venue; returns an order number or a
        deal key where the call has one, else ""."""
        if isinstance(record, PaperOrderPlaced):
            return self._place(record)
        if isinstance(record, PaperCancelRequested):
            self._cancel(record)
        elif isinstance(record, PaperMarketOpened):
            self._engine.open_market(record.market_id, record.security_ids)
            for security_id in record.security_ids:
                self._market_of[security_id] = record.market_id
        elif isinstance(record, PaperMarketClosed):
            self._apply(self._engine.close_market(record.market_id, record.ts))
        elif isinstance(record, PaperBookUpdated):
            self._books[record.book.security_id] = record.book
            self._apply(self._engine.update_book(record.market_id, record.book, record.ts))
        elif isinstance(record, PaperOrderExecuted):
            deal, update = self._truth.fill(record.order_no, record.price, record.size, record.ts)
            self._emit(deal)
            self._emit(update)
            return deal.key
        elif isinstance(record, PaperPositionSeeded):
            self._truth.set_position(
                record.account, record.security_id, record.quantity, record.avg_price
            )
        else:
            return self._truth.add_order(
                account=record.account,
                security_id=record.security_id,
                side=record.side,
                price=record.price,
                size=record.size,
                filled=record.filled,
            )
        return ""

    def _place(self, placed: PaperOrderPlaced) -> str:
        request, ts = placed.request, placed.ts
        self._counts.placed += 1
        order_no = self._truth.add_order(
            account=request.account,
            security_id=request.security_id,
            side=request.side,
            price=request.price,
            size=request.size,
            client_order_id=request.client_order_id,
        )
        market_id = self._market_of.get(request.security_id)
        if market_id is None:
            self._emit(self._truth.transition(order_no, BrokerOrderStatus.SUBMITTED, ts))
            return order_no
        self._at_venue.add(order_no)
        submit = SubmitOrder(
            correlation_id=request.client_order_id,
            order_id=order_no,
            market_id=market_id,
            security_id=request.security_id,
            side=request.side,
            price=request.price,
            size=request.size,
        )
        self._apply(self._engine.submit(submit, ts))
        return order_no

    def _cancel(self, cancel: PaperCancelRequested) -> None:
        order_no, ts = cancel.order_no, cancel.ts
        self._counts.cancelled += 1
        order = self._truth.order(order_no)
        if order is None or not order.status.is_open:
            return
        if order_no in self._at_venue:
            self._apply(self._engine.cancel(order_no, ts))
        else:
            cancelled = BrokerOrderStatus.CANCELLED
            self._emit(self._truth.transition(order_no, cancelled, ts, "cancelled by request"))

    def _check_connected(self) -> None:
        if not self._connected:
            raise BrokerDisconnectedError("simulated broker is disconnected")

    def _admit_query(self, page: int) -> None:
        """Take a slot of the sliding-window rate limit, or refuse the query."""
        self._check_connected()
        if page < 0:
            raise ValueError(f"page must be >= 0, got {page}")
        now = self._monotonic()
        while self._query_times and self._query_times[0] <= now - self._rate_limit_period_s:
            self._query_times.popleft()
        if len(self._query_times) >= self._rate_limit_calls:
            self._counts.refused += 1
            raise RateLimitedError(
                f"over {self._rate_limit_calls} queries per {self._rate_limit_period_s}s"
            )
        self._query_times.append(now)
        self._counts.queries += 1

    def _page(self, items: list[T], page: int) -> Page[T]:
        start = page * self._page_size
        end = start + self._page_size
        return Page(items=tuple(items[start:end]), next_page=page + 1 if len(items) > end else None)

    def _apply(self, events: list[VenueEvent]) -> None:
        """Turn the matching engine's reports into truth and callbacks."""
        for event in events:
            if isinstance(event, Fill):
                deal, update = self._truth.fill(
                    event.order_id, event.price, event.size, event.ts_event
                )
                self._emit(deal)
                self._emit(update)
                continue
            if isinstance(event, OrderAccepted):
                status, reason = BrokerOrderStatus.SUBMITTED, ""
            elif isinstance(event, OrderRejected):
                status, reason = BrokerOrderStatus.REJECTED, event.reason
            elif isinstance(event, OrderCancelled):
                status, reason = BrokerOrderStatus.CANCELLED, event.reason
            else:  # CancelRejected: the truth already holds the order as final
                continue
            self._emit(self._truth.transition(event.order_id, status, event.ts_event, reason))

    def _emit(self, notice: Notice) -> None:
        """Send one owed callback on its way, or lose it as the knobs say (nothing while
        replaying: those callbacks were owed to a process that is gone)."""
        if self._replaying:
            return
        self._counts.emitted += 1
        if self._closed or self._callbacks is None:
            self._counts.undelivered += 1
            return
        if self._silent:
            self._counts.silenced += 1
            return
        if self._rng.random() < self._drop_rate:
            self._counts.dropped += 1
            self._dropped.append(notice)
            return
        copies = 1
        if self._rng.random() < self._duplicate_rate:
            copies = 2
            self._counts.duplicated += 1
            self._duplicated.append(notice)
        now = time.monotonic()
        for _ in range(copies):
            due = now + self._rng.uniform(*self._delay_s)
            heapq.heappush(self._heap, (due, next(self._sequence), self._session, notice))
        self._cond.notify_all()

    def _run(self) -> None:
        while (taken := self._take_due()) is not None:
            (on_order, on_deal), notice = taken
            try:
                if isinstance(notice, _Garbled):
                    garbled: Callable[..., None] = (
                        on_deal if notice.callback == "on_deal" else on_order
                    )
                    garbled(*notice.args)
                elif isinstance(notice, DealNotice):
                    on_deal(
                        notice.order_no,
                        notice.seq_no,
                        notice.match_ts,
                        notice.security_id,
                        notice.side,
                        notice.price,
                        notice.size,
                    )
                else:
                    on_order(
                        notice.order_no,
                        notice.seq_no,
                        notice.status,
                        notice.broker_ts_ns,
                        notice.reason,
                    )
            except Exception:
                _log.exception("callback_failed", order_no=notice.order_no, seq_no=notice.seq_no)
                with self._cond:
                    self._counts.callback_errors += 1
            with self._cond:
                self._delivering = False
                self._cond.notify_all()

    def _take_due(self) -> tuple[_Callbacks, Notice | _Garbled] | None:
        """Wait for the next callback to deliver, losing those nobody may receive; None once
        closed. Runs on the broker thread and takes the lock itself."""
        with self._cond:
            while not self._closed:
                if not self._heap:
                    self._cond.wait()
                    continue
                wait_s = self._heap[0][0] - time.monotonic()
                if wait_s > 0:
                    self._cond.wait(wait_s)
                    continue
                _due, _sequence, session, notice = heapq.heappop(self._heap)
                if session != self._session or self._callbacks is None:
                    self._counts.undelivered += 1
                elif self._silent:
                    self._counts.silenced += 1
                else:
                    self._counts.delivered += 1
                    self._delivering = True
                    return self._callbacks, notice
                self._cond.notify_all()
            return None


def _probability(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def _delay(delay_s: tuple[float, float]) -> tuple[float, float]:
    low, high = delay_s
    if not 0.0 <= low <= high:
        raise ValueError(f"delay_s must be (min, max) with 0 <= min <= max, got {delay_s}")
    return (low, high)
