"""IbBroker: Interactive Brokers (TWS, IB Gateway) via ib_async, as an ``actors.broker.Broker``.

ib_async is asyncio on one thread; the runtime calls from many. So the adapter runs the
``IB`` on a thread of its own (``ib-loop``), with its own event loop: every call from the
runtime is handed to that thread and waited for, and every callback the runtime registered
runs there — a broker thread, as the callback bridge expects.

- **Orders**: ``placeOrder`` with a ``LimitOrder`` whose ``orderRef`` is our order id, so an
  order (and its executions, which carry ``orderRef`` too) still names our id after our
  restart; a placement under an ``orderRef`` IB already holds returns that order's number
  instead of trading twice. The order number is ``<clientId>.<orderId>`` (API orders keep
  both across sessions of the same clientId) or ``perm.<permId>`` for an order placed in TWS
  itself (orderId 0); every ``permId`` seen is recorded (``perm_ids``).
- **Deals**: ``execDetailsEvent`` is held until the execution's ``commissionReportEvent``
  and then delivered with IB's commission as the fee (after ``commission_wait_s`` without a
  report, without one: the runtime's rate). Executions are deduplicated by ``execId``. IB
  documents a correction as "an ExecId which differs from a previous ExecId in only the
  digits after the final period" (``.02`` corrects ``.01``): it is the same deal, so its
  identity is the ``execId`` up to that period and the first version's time. In the same
  terms it is a repeat; in other terms the runtime refuses it as a conflicting duplicate
  (it never rewrites a booked deal, and alerts), and the fill query lists the corrected
  version, which the position reconcile books against.
- **Order events** from ``orderStatusEvent``; an order ib_async ends on an ``errorEvent``
  (anything but 202, "order cancelled") is a rejection named ``IB <code>: <message>``.
- **Positions**: each ``positionEvent`` triggers the position sync (``PositionPushes``;
  the reconciler debounces it, seed 002, and runs its periodic full sync).
- **Queries** are IB's requests, answered by TWS: ``reqPositions``, ``reqAllOpenOrders``,
  ``reqExecutions`` (paged here, page 0 asks IB), paced under ``rate_limit_calls`` per
  ``rate_limit_period_s`` (IB allows 50 messages a second), ``RateLimitedError`` above.
- **The session**: ``disconnectedEvent`` (or TWS's 1101/1102, "connectivity restored")
  starts a new ``session``, so the runtime registers its callbacks again, once, and
  reconciles; with ``connect`` given, the adapter reconnects every ``reconnect_delay_s``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import hashlib
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import structlog
from ib_async import IB, CommissionReport, Contract, ExecutionFilter, Fill, LimitOrder, Trade
from ib_async.order import OrderStatus
from ib_async.util import UNSET_DOUBLE

from actors.broker import (
    BrokerDisconnectedError,
    BrokerError,
    DealCallback,
    OrderCallback,
    Page,
    PositionUpdateCallback,
    RateLimitedError,
)
from messages.broker import (
    BrokerFill,
    BrokerOrder,
    BrokerOrderRequest,
    BrokerOrderStatus,
    BrokerPosition,
)
from messages.enums import OrderSide

_log = structlog.get_logger("tradeactors", actor="ib_broker")

T = TypeVar("T")
Connect = Callable[[IB], Awaitable[object]]
"""Opens the IB session (``ib.connectAsync(host, port, clientId, ...)``), on the IB thread."""

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_CANCEL_CONFIRMED = 202  # "Order Canceled - Reason:": a cancel, not a rejection
_RESTORED = frozenset({1101, 1102})  # connectivity between IB and TWS restored
_OPEN = frozenset({OrderStatus.PreSubmitted, OrderStatus.Submitted})
_ENDED = frozenset({OrderStatus.Cancelled, OrderStatus.ApiCancelled, OrderStatus.Inactive})


@attrs.frozen(kw_only=True, slots=True)
class IbContract:
    """The IB contract a ``security_id`` trades as: ``con_id`` alone, or symbol, type,
    exchange and currency (IB resolves them)."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    primary_exchange: str = ""
    multiplier: Decimal = Decimal(1)

    def __attrs_post_init__(self) -> None:
        if not self.con_id and not self.symbol:
            raise ValueError("an IB contract needs a con_id or a symbol")

    def contract(self) -> Contract:
        return Contract(
            conId=self.con_id,
            symbol=self.symbol,
            secType=self.sec_type,
            exchange=self.exchange,
            currency=self.currency,
            primaryExchange=self.primary_exchange,
        )

    def matches(self, contract: Contract) -> bool:
        if self.con_id:
            return bool(contract.conId == self.con_id)
        return (contract.symbol, contract.secType, contract.currency) == (
            self.symbol,
            self.sec_type,
            self.currency,
        )


class IbContracts:
    """``security_id`` ↔ IB contract, from the run's config; a contract IB reports that the
    config does not name is ``conid:<conId>``."""

    def __init__(self, contracts: Mapping[str, IbContract]) -> None:
        self._by_security = dict(contracts)

    def contract(self, security_id: str) -> Contract:
        known = self._by_security.get(security_id)
        if known is None:
            raise BrokerError(f"no IB contract configured for {security_id}")
        return known.contract()

    def security_id(self, contract: Contract) -> str:
        for security_id, known in self._by_security.items():
            if known.matches(contract):
                return security_id
        return f"conid:{contract.conId}"

    def multiplier(self, security_id: str) -> Decimal:
        known = self._by_security.get(security_id)
        return Decimal(1) if known is None else known.multiplier


def order_number(client_id: int, order_id: int, perm_id: int) -> str:
    """An order's number here, as ib_async keys its orders: ``clientId.orderId`` for API
    orders, ``perm.<permId>`` for one placed in TWS (orderId 0)."""
    return f"{client_id}.{order_id}" if order_id > 0 else f"perm.{perm_id}"


def execution_base(exec_id: str) -> str:
    """The ``execId`` without its correction digits (after the final period)."""
    return exec_id.rsplit(".", 1)[0]


def _seq_no(base: str) -> int:
    """A deal's sequence number: a digest of its execution's base id, the same whether a
    callback or a query brings it, before or after a restart."""
    return int.from_bytes(hashlib.blake2b(base.encode(), digest_size=7).digest(), "big")


def _ns(moment: datetime.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return (moment - _EPOCH) // datetime.timedelta(microseconds=1) * 1000


def _decimal(value: float | Decimal) -> Decimal:
    return Decimal(repr(float(value)))


class IbBroker:
    """The Broker protocol (and ``PositionPushes``) over one ``ib_async.IB``; ``close()`` it."""

    def __init__(
        self,
        ib: IB,
        *,
        account: str,
        contracts: IbContracts,
        connect: Connect | None = None,
        reconnect_delay_s: float = 2.0,
        commission_wait_s: float = 2.0,
        query_timeout_s: float = 10.0,
        rate_limit_calls: int = 45,
        rate_limit_period_s: float = 1.0,
        page_size: int = 100,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ib = ib
        self._account = account
        self._contracts = contracts
        self._connect = connect
        self._reconnect_delay_s = reconnect_delay_s
        self._commission_wait_s = commission_wait_s
        self._query_timeout_s = query_timeout_s
        self._rate_limit_calls = rate_limit_calls
        self._rate_limit_period_s = rate_limit_period_s
        self._page_size = page_size
        self._clock_ns = clock_ns
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._query_lock = threading.Lock()  # one IB request of a kind at a time
        self._up = False
        self._session = 0
        self._callbacks: tuple[OrderCallback, DealCallback, int] | None = None
        self._on_position: tuple[PositionUpdateCallback, int] | None = None
        self._placed: dict[str, Trade] = {}
        self._perm_ids: dict[str, int] = {}
        self._held: dict[str, Fill] = {}  # execId -> execution awaiting its commission
        self._seen_execs: set[str] = set()
        self._first_time: dict[str, datetime.datetime] = {}  # execution base -> first time
        self._order_seqs: dict[str, dict[tuple[BrokerOrderStatus, Decimal], int]] = {}
        self._query_times: deque[float] = deque()
        self._answers: dict[tuple[str, ...], tuple[Any, ...]] = {}
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ib-loop", daemon=True)
        ib.connectedEvent += self._connected
        ib.disconnectedEvent += self._disconnected
        ib.execDetailsEvent += self._execution
        ib.commissionReportEvent += self._commission
        ib.orderStatusEvent += self._status
        ib.positionEvent += self._position
        ib.errorEvent += self._error
        self._thread.start()
        if connect is not None:
            self.call_soon(self._keep_connecting)

    # -- the IB thread -----------------------------------------------------------------------

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` on the IB thread, after what is already queued there: where TWS's
        messages reach ib_async."""
        self._loop.call_soon_threadsafe(fn, *args)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the IB thread and return its result (BrokerError on timeout)."""
        if threading.current_thread() is self._thread:
            return fn(*args)
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as error:
                done.set_exception(error)

        self._loop.call_soon_threadsafe(run)
        try:
            return done.result(self._query_timeout_s)
        except concurrent.futures.TimeoutError as error:
            raise BrokerError("the IB thread did not answer in time") from error

    def _request(self, what: str, start: Callable[[], Awaitable[T]]) -> T:
        """Send one IB request on the IB thread and wait for TWS's answer to end."""

        async def run() -> T:
            return await asyncio.wait_for(start(), self._query_timeout_s)

        try:
            return asyncio.run_coroutine_threadsafe(run(), self._loop).result(
                self._query_timeout_s + 1
            )
        except ConnectionError as error:
            raise BrokerDisconnectedError(f"IB {what}: {error}") from error
        except (TimeoutError, concurrent.futures.TimeoutError) as error:
            raise BrokerError(f"IB {what}: no answer in {self._query_timeout_s}s") from error
        except Exception as error:
            raise BrokerError(f"IB {what} failed: {type(error).__name__}: {error}") from error

    def close(self) -> None:
        """Disconnect and stop the IB thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._ib.isConnected():
            self.call(self._ib.disconnect)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5.0)
        if not self._thread.is_alive():
            self._loop.close()

    # -- the Broker protocol -------------------------------------------------------------

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._up

    @property
    def session(self) -> int:
        with self._lock:
            return self._session

    def perm_ids(self) -> dict[str, int]:
        """IB's permanent id of every order seen, by order number."""
        with self._lock:
            return dict(self._perm_ids)

    def register_callbacks(self, on_order: OrderCallback, on_deal: DealCallback) -> None:
        with self._lock:
            if not self._up:
                raise BrokerDisconnectedError("IB is not connected")
            self._callbacks = (on_order, on_deal, self._session)

    def register_position_callback(self, on_position: PositionUpdateCallback) -> None:
        with self._lock:
            if not self._up:
                raise BrokerDisconnectedError("IB is not connected")
            self._on_position = (on_position, self._session)

    def unregister_callbacks(self) -> None:
        with self._lock:
            self._callbacks = None
            self._on_position = None

    def place_order(self, request: BrokerOrderRequest) -> str:
        """A limit order with ``orderRef`` = our order id; the same id again places nothing."""
        contract = self._contracts.contract(request.security_id)
        return self.call(self._place, request, contract)

    def cancel_order(self, order_no: str) -> None:
        self.call(self._cancel, order_no)

    def list_positions(self, account: str, page: int = 0) -> Page[BrokerPosition]:
        return self._page(("positions", account), page, lambda: self._positions(account))

    def list_open_orders(self, account: str, page: int = 0) -> Page[BrokerOrder]:
        return self._page(("open_orders", account), page, lambda: self._open_orders(account))

    def list_fills(self, account: str, since_ns: int, page: int = 0) -> Page[BrokerFill]:
        return self._page(
            ("fills", account, str(since_ns)), page, lambda: self._fills(account, since_ns)
        )

    def order_status(self, order_no: str) -> BrokerOrder:
        """From the orders TWS keeps ib_async told of (a query: paced)."""
        with self._lock:
            self._admit(0)
        return self.call(self._order_status, order_no)

    # -- on the IB thread: orders ---------------------------------------------------------

    def _place(self, request: BrokerOrderRequest, contract: Contract) -> str:
        if not self._ib.isConnected():
            raise BrokerDisconnectedError("IB is not connected")
        known = self._trade_for_ref(request.account, request.client_order_id)
        if known is not None:
            order_no = self._number(known)
            held = self._as_order(known)
            terms = (held.security_id, held.side, held.price, held.size)
            if terms != (request.security_id, request.side, request.price, request.size):
                raise BrokerError(
                    f"orderRef {request.client_order_id} already names order {order_no}, "
                    "placed with other terms"
                )
            _log.info("order_already_placed", client_order_id=request.client_order_id)
            return order_no
        order = LimitOrder(
            "BUY" if request.side is OrderSide.BUY else "SELL",
            float(request.size),
            float(request.price),
            orderRef=request.client_order_id,
            account=request.account,
        )
        try:
            trade = self._ib.placeOrder(contract, order)
        except ConnectionError as error:
            raise BrokerDisconnectedError(f"IB placeOrder: {error}") from error
        order_no = self._number(trade)
        self._placed[order_no] = trade
        return order_no

    def _cancel(self, order_no: str) -> None:
        trade = self._trade(order_no)
        if trade is None:
            raise BrokerError(f"unknown order {order_no}")
        try:
            self._ib.cancelOrder(trade.order)
        except ConnectionError as error:
            raise BrokerDisconnectedError(f"IB cancelOrder: {error}") from error

    def _order_status(self, order_no: str) -> BrokerOrder:
        trade = self._trade(order_no)
        if trade is None:
            raise BrokerError(f"unknown order {order_no}")
        return self._as_order(trade)

    def _trade(self, order_no: str) -> Trade | None:
        for trade in self._ib.trades():
            if self._number(trade) == order_no:
                return trade
        return self._placed.get(order_no)

    def _trade_for_ref(self, account: str, ref: str) -> Trade | None:
        for trade in (*self._ib.trades(), *self._placed.values()):
            if trade.order.orderRef == ref and trade.order.account in ("", account):
                return trade
        return None

    def _number(self, trade: Trade) -> str:
        order = trade.order
        perm_id = order.permId or trade.orderStatus.permId
        order_no = order_number(order.clientId, order.orderId, perm_id)
        if perm_id:
            with self._lock:
                self._perm_ids[order_no] = perm_id
        return order_no

    def _as_order(self, trade: Trade) -> BrokerOrder:
        order, status = trade.order, trade.orderStatus
        filled = _decimal(status.filled)
        security_id = self._contracts.security_id(trade.contract)
        price = order.lmtPrice
        return BrokerOrder(
            order_no=self._number(trade),
            account=order.account or self._account,
            security_id=security_id,
            side=OrderSide.BUY if order.action == "BUY" else OrderSide.SELL,
            price=Decimal(0) if price in (None, UNSET_DOUBLE) else _decimal(price),
            size=_decimal(order.totalQuantity),
            filled=filled,
            status=_status_of(status.status, filled) or BrokerOrderStatus.SUBMITTED,
            client_order_id=order.orderRef or None,
        )

    # -- on the IB thread: TWS's pushes ---------------------------------------------------

    def _connected(self) -> None:
        with self._lock:
            self._up = True
        _log.info("ib_connected", session=self._session)

    def _disconnected(self) -> None:
        with self._lock:
            self._up = False
            self._session += 1
            self._callbacks = None
            self._on_position = None
        self._held.clear()  # their commissions will not come in this session: reconciled
        _log.warning("ib_disconnected", session=self._session)
        if self._connect is not None and not self._closed:
            self._loop.call_later(self._reconnect_delay_s, self._keep_connecting)

    def _keep_connecting(self) -> None:
        assert self._connect is not None
        connect = self._connect

        async def attempt() -> None:
            if self._closed or self._ib.isConnected():
                return
            try:
                await connect(self._ib)
            except Exception as error:
                _log.warning("ib_connect_failed", error=f"{type(error).__name__}: {error}")
                self._loop.call_later(self._reconnect_delay_s, self._keep_connecting)

        self._loop.create_task(attempt())

    def _execution(self, _trade: Trade, fill: Fill) -> None:
        exec_id = fill.execution.execId
        if exec_id in self._seen_execs:
            return
        self._seen_execs.add(exec_id)
        self._first_time.setdefault(execution_base(exec_id), fill.execution.time)
        self._held[exec_id] = fill
        self._loop.call_later(self._commission_wait_s, self._release, exec_id)

    def _commission(self, _trade: Trade, _fill: Fill, report: CommissionReport) -> None:
        fill = self._held.pop(report.execId, None)
        if fill is not None:
            self._deliver_deal(fill, _decimal(report.commission))

    def _release(self, exec_id: str) -> None:
        fill = self._held.pop(exec_id, None)
        if fill is not None:
            _log.warning("ib_execution_without_commission", exec_id=exec_id)
            self._deliver_deal(fill, None)

    def _deliver_deal(self, fill: Fill, fee: Decimal | None) -> None:
        deal = self._deal(fill, fee)
        with self._lock:
            registered = self._callbacks
            if registered is None or registered[2] != self._session:
                return
        registered[1](
            deal.order_no,
            deal.seq_no,
            deal.match_ts,
            deal.security_id,
            deal.side,
            deal.price,
            deal.size,
            fee,
        )

    def _status(self, trade: Trade) -> None:
        filled = _decimal(trade.orderStatus.filled)
        status = _status_of(trade.orderStatus.status, filled)
        if status is None:
            return
        reason = ""
        entry = trade.log[-1] if trade.log else None
        if status is BrokerOrderStatus.CANCELLED and entry is not None and entry.errorCode:
            message = entry.message.split(": ", 1)[-1]
            reason = f"IB {entry.errorCode}: {message}"
            if entry.errorCode != _CANCEL_CONFIRMED and filled == 0:
                status = BrokerOrderStatus.REJECTED
        order_no = self._number(trade)
        seqs = self._order_seqs.setdefault(order_no, {})
        seq_no = seqs.setdefault((status, filled), len(seqs) + 1)
        with self._lock:
            registered = self._callbacks
            if registered is None or registered[2] != self._session:
                return
        registered[0](order_no, seq_no, status, self._clock_ns(), reason)

    def _position(self, position: Any) -> None:
        if "positions" in self._ib.wrapper._results:
            return  # an answer to our own reqPositions (ib_async emits those too), not a push
        with self._lock:
            registered = self._on_position
            if registered is None or registered[1] != self._session:
                return
        registered[0](position.account, self._contracts.security_id(position.contract))

    def _error(self, req_id: int, code: int, message: str, _contract: Any) -> None:
        _log.info("ib_error", req_id=req_id, code=code, message=message)
        if code in _RESTORED:
            with self._lock:
                self._session += 1  # what TWS could not push meanwhile is for a reconcile
                self._callbacks = None
                self._on_position = None

    # -- queries --------------------------------------------------------------------------

    def _page(self, key: tuple[str, ...], page: int, fetch: Callable[[], list[T]]) -> Page[T]:
        """Page 0 asks IB (whose answers are never paged) and keeps the answer for the rest."""
        with self._lock:
            self._admit(page)
        if page == 0:
            with self._query_lock:
                items: tuple[Any, ...] = tuple(fetch())
            with self._lock:
                self._answers[key] = items
        else:
            with self._lock:
                kept = self._answers.get(key)
            if kept is None:
                raise BrokerError(f"page {page} of {key[0]} before its page 0")
            items = kept
        start, end = page * self._page_size, (page + 1) * self._page_size
        return Page(items=items[start:end], next_page=page + 1 if len(items) > end else None)

    def _admit(self, page: int) -> None:
        """Take a slot of the sliding window, or refuse (under the lock)."""
        if not self._up:
            raise BrokerDisconnectedError("IB is not connected")
        if page < 0:
            raise ValueError(f"page must be >= 0, got {page}")
        now = self._monotonic()
        while self._query_times and self._query_times[0] <= now - self._rate_limit_period_s:
            self._query_times.popleft()
        if len(self._query_times) >= self._rate_limit_calls:
            raise RateLimitedError(
                f"over {self._rate_limit_calls} IB requests per {self._rate_limit_period_s}s"
            )
        self._query_times.append(now)

    def _positions(self, account: str) -> list[BrokerPosition]:
        answer = self._request("reqPositions", self._ib.reqPositionsAsync)
        positions = []
        for position in answer:
            if position.account != account or position.position == 0:
                continue
            security_id = self._contracts.security_id(position.contract)
            positions.append(
                BrokerPosition(
                    account=account,
                    security_id=security_id,
                    quantity=_decimal(position.position),
                    avg_price=_decimal(position.avgCost) / self._contracts.multiplier(security_id),
                )
            )
        return positions

    def _open_orders(self, account: str) -> list[BrokerOrder]:
        trades = self._request("reqAllOpenOrders", self._ib.reqAllOpenOrdersAsync)
        return self.call(
            lambda: [
                order
                for order in map(self._as_order, trades)
                if order.account == account and order.status.is_open
            ]
        )

    def _fills(self, account: str, since_ns: int) -> list[BrokerFill]:
        since = ""
        if since_ns > 0:
            moment = _EPOCH + datetime.timedelta(microseconds=since_ns // 1000)
            since = f"{moment:%Y%m%d-%H:%M:%S}"
        wanted = ExecutionFilter(acctCode=account, time=since)
        answer = self._request("reqExecutions", lambda: self._ib.reqExecutionsAsync(wanted))
        return self.call(self._listed, answer, since_ns)

    def _listed(self, answer: list[Fill], since_ns: int) -> list[BrokerFill]:
        """One deal per execution base, in its latest version (IB's corrections replace)."""
        latest: dict[str, Fill] = {}
        for fill in sorted(answer, key=lambda f: f.execution.execId):
            base = execution_base(fill.execution.execId)
            self._first_time.setdefault(base, fill.execution.time)
            latest[base] = fill
        deals = []
        for fill in latest.values():
            # ib_async keeps a commission report on the fill it saw first (live or listed),
            # not on the copy a later reqExecutions answer lists.
            exec_id = fill.execution.execId
            report = self._ib.wrapper.fills.get(exec_id, fill).commissionReport
            fee = _decimal(report.commission) if report.execId == exec_id else None
            deal = self._deal(fill, fee)
            if deal.match_ts >= since_ns:
                deals.append(deal)
        return deals

    def _deal(self, fill: Fill, fee: Decimal | None) -> BrokerFill:
        execution = fill.execution
        base = execution_base(execution.execId)
        return BrokerFill(
            order_no=order_number(execution.clientId, execution.orderId, execution.permId),
            seq_no=_seq_no(base),
            match_ts=_ns(self._first_time.get(base, execution.time)),
            account=execution.acctNumber or self._account,
            security_id=self._contracts.security_id(fill.contract),
            side=OrderSide.BUY if execution.side == "BOT" else OrderSide.SELL,
            price=_decimal(execution.price),
            size=_decimal(execution.shares),
            client_order_id=execution.orderRef or None,
            fee=fee,
        )


def _status_of(status: str, filled: Decimal) -> BrokerOrderStatus | None:
    """IB's order status in ours; None for the transient ones (PendingSubmit, ApiPending,
    PendingCancel, ib_async's ValidationError) the runtime has no word for."""
    if status in _OPEN:
        return BrokerOrderStatus.PARTIALLY_FILLED if filled > 0 else BrokerOrderStatus.SUBMITTED
    if status == OrderStatus.Filled:
        return BrokerOrderStatus.FILLED
    if status in _ENDED:
        return BrokerOrderStatus.CANCELLED
    return None
