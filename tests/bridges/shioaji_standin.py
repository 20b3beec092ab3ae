"""A faithful stand-in for ``shioaji.Shioaji``: the same method names and signatures, the
documented callback shapes, and shioaji's own enums, accounts, contracts and orders.

Shioaji 1.7.9's portfolio records (``StockPosition``, ``StockProfitLoss``,
``StockProfitDetail``, ``StockPositionDetail``, ``Settlement``, ``Trade``, ``Deal``) are Rust
classes Python cannot create (``TypeError: cannot create 'builtins.StockPosition'
instances``), so the records here are attrs classes with exactly their fields
(``shioaji/_core.pyi``). Callbacks run on a thread of their own, as Shioaji's do; the
broker tells the test what it was asked. Deals move the positions ``list_positions``
answers; a session that is down delivers nothing; ``drop`` / ``duplicate`` / ``reorder``
say how callbacks travel (held ones go at ``flush``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs
import shioaji as sj

STOCK_ACCOUNT = sj.Account(
    account_type=sj.AccountType.Stock,
    person_id="A123456789",
    broker_id="9A95",
    account_id="0001234",
    signed=True,
    username="tester",
)
FUTURES_ACCOUNT = sj.Account(
    account_type=sj.AccountType.Future,
    person_id="A123456789",
    broker_id="F002000",
    account_id="7654321",
    signed=True,
    username="tester",
)


@attrs.define
class StockPosition:
    id: int
    code: str
    direction: Any
    quantity: int
    price: float
    last_price: float = 0.0
    pnl: float = 0.0
    yd_quantity: int = 0
    cond: Any = sj.StockOrderCond.Cash
    margin_purchase_amount: int = 0
    collateral: int = 0
    short_sale_margin: int = 0
    interest: int = 0


@attrs.define
class StockProfitLoss:
    id: int
    code: str
    quantity: int
    pnl: float
    date: str = "2026-12-03"
    dseq: str = ""
    price: float = 0.0
    pr_ratio: float = 0.0
    cond: Any = sj.StockOrderCond.Cash
    seqno: str = ""


@attrs.define
class StockProfitDetail:
    date: str
    code: str
    quantity: int
    dseq: str
    fee: int
    tax: int
    currency: str = "TWD"
    price: float = 0.0
    cost: int = 0
    rep_margintrading_amt: int = 0
    rep_collateral: int = 0
    rep_margin: int = 0
    shortselling_fee: int = 0
    ex_dividend_amt: int = 0
    interest: int = 0
    trade_type: Any = sj.TradeType.Common
    cond: Any = sj.StockOrderCond.Cash


@attrs.define
class StockPositionDetail:
    date: str
    code: str
    quantity: int
    price: float
    dseq: str
    fee: float
    direction: Any = sj.Action.Buy
    last_price: float = 0.0
    pnl: float = 0.0
    currency: Any = "TWD"
    cond: Any = sj.StockOrderCond.Cash
    ex_dividends: int = 0
    interest: int = 0
    margintrading_amt: int = 0
    collateral: int = 0


@attrs.define
class Settlement:
    t_money: float
    t1_money: float
    t2_money: float
    t_day: str
    t1_day: str
    t2_day: str


@attrs.define
class Deal:
    seq: str
    price: float
    quantity: int
    ts: float


@attrs.define
class OrderResult:
    id: str
    seqno: str
    ordno: str
    action: Any
    price: float
    quantity: int
    account: Any
    order_lot: Any = None


@attrs.define
class OrderStatusInfo:
    id: str
    status: Any
    deal_quantity: int = 0
    cancel_quantity: int = 0
    deals: list[Deal] = attrs.Factory(list)


@attrs.define
class Trade:
    contract: Any
    order: OrderResult
    status: OrderStatusInfo


_CANCELLABLE = {sj.OrderStatus.PendingSubmit, sj.OrderStatus.Submitted, sj.OrderStatus.PartFilled}


class _Contracts:
    def __init__(self) -> None:
        self.Stocks = {"2890": sj.Stock(exchange=sj.Exchange.TSE, code="2890")}
        self.Futures = {"TXFL6": sj.Future(code="TXFL6")}


class StandInShioaji:
    """``sj.Shioaji``'s trading and portfolio API, answered from what a test sets.

    Portfolio queries (and ``update_status``) are limited to ``limit_calls`` per
    ``limit_period_s`` on ``monotonic``, refused with ``sj.ServerError`` over it, as the
    broker's ``limit.md`` says. ``ts`` is the exchange clock the messages carry (seconds).
    """

    def __init__(
        self,
        *,
        limit_calls: int = 25,
        limit_period_s: float = 5.0,
        monotonic: Callable[[], float] | None = None,
        stock_account: Any = STOCK_ACCOUNT,
    ) -> None:
        self.Contracts = _Contracts()
        self.stock_account = stock_account
        self.positions: list[StockPosition] = []
        self.profit_loss: list[StockProfitLoss] = []
        self.profit_details: dict[int, list[StockProfitDetail]] = {}
        self.position_details: dict[int, list[StockPositionDetail]] = {}
        self.settlement = Settlement(0.0, 0.0, 0.0, "2026-12-03", "2026-12-04", "2026-12-07")
        self.trades: dict[str, Trade] = {}
        self.order_callback: Callable[[Any, Any], None] | None = None
        self.session_down_callback: Callable[[], None] | None = None
        self.logins: list[tuple[str, str]] = []
        self.logouts = 0
        self.order_callbacks_set = 0
        self.placed: list[tuple[Any, Any]] = []
        self.queries = 0
        self.refused = 0
        self.ts = 1_796_000_000.0
        self._limit_calls = limit_calls
        self._limit_period_s = limit_period_s
        self._monotonic = monotonic or (lambda: 0.0)
        self._window: deque[float] = deque()
        self._next = 0
        self.down = False
        self.drop = self.duplicate = self.reorder = False
        self._held: list[tuple[Any, Any]] = []

    # -- auth and callbacks ------------------------------------------------------------------

    def login(
        self,
        api_key: str,
        secret_key: str,
        subscribe_trade: bool = True,
        receive_window: int = 30000,
        force_refresh: bool = False,
    ) -> list[Any]:
        self.logins.append((api_key, secret_key))
        self.down = False
        return [self.stock_account, FUTURES_ACCOUNT]

    def logout(self) -> bool:
        self.logouts += 1
        return True

    def set_order_callback(self, callback: Callable[[Any, Any], None]) -> None:
        self.order_callbacks_set += 1
        self.order_callback = callback

    def clear_order_callback(self) -> None:
        self.order_callback = None

    def set_session_down_callback(self, callback: Callable[[], None]) -> None:
        self.session_down_callback = callback

    # -- orders ----------------------------------------------------------------------------

    def place_order(
        self, contract: Any, order: Any, timeout: int | None = 30000, cb: Any = None
    ) -> Trade:
        self._next += 1
        trade_id = f"{self._next:08x}"
        trade = Trade(
            contract=contract,
            order=OrderResult(
                id=trade_id,
                seqno=f"{self._next:06d}",
                ordno=f"A{self._next:04d}",
                action=order.action,
                price=order.price,
                quantity=order.quantity,
                account=order.account,
                order_lot=getattr(order, "order_lot", None),
            ),
            status=OrderStatusInfo(id=trade_id, status=sj.OrderStatus.PendingSubmit),
        )
        self.trades[trade_id] = trade
        self.placed.append((contract, order))
        return trade

    def cancel_order(self, trade: Trade, timeout: int | None = 30000, cb: Any = None) -> Trade:
        """The exchange cancels what is left of an open order and says so."""
        if trade.status.status in _CANCELLABLE:
            self.cancelled(trade.order.id)
        return trade

    def update_status(
        self,
        account: Any = None,
        *,
        trade: Trade | None = None,
        timeout: int | None = 30000,
        cb: Any = None,
    ) -> None:
        self._admit()

    def list_trades(self) -> list[Trade]:
        return list(self.trades.values())

    # -- portfolio -------------------------------------------------------------------------

    def list_positions(
        self, account: Any = None, unit: Any = None, timeout: int | None = 30000, cb: Any = None
    ) -> list[StockPosition]:
        self._admit()
        assert unit == sj.Unit.Share, "the adapter asks for stock positions in shares"
        return list(self.positions)

    def list_profit_loss(  # noqa: PLR0917 - sj.Shioaji's signature
        self,
        account: Any = None,
        begin_date: str = "",
        end_date: str = "",
        unit: Any = None,
        timeout: int | None = 30000,
        cb: Any = None,
    ) -> list[StockProfitLoss]:
        self._admit()
        return list(self.profit_loss)

    def list_profit_loss_detail(
        self,
        account: Any = None,
        detail_id: int = 0,
        unit: Any = None,
        timeout: int | None = 30000,
        cb: Any = None,
    ) -> list[StockProfitDetail]:
        self._admit()
        return list(self.profit_details.get(detail_id, []))

    def list_position_detail(
        self,
        account: Any = None,
        detail_id: int = 0,
        timeout: int | None = 30000,
        cb: Any = None,
    ) -> list[StockPositionDetail]:
        self._admit()
        return list(self.position_details.get(detail_id, []))

    def list_settlements(
        self, account: Any = None, timeout: int | None = 30000, cb: Any = None
    ) -> Settlement:
        self._admit()
        return self.settlement

    # -- the broker's side (tests) ---------------------------------------------------------

    def accept(self, trade_id: str, op_code: str = "00", op_msg: str = "") -> None:
        """The exchange's answer to a new order, as a StockOrder message."""
        trade = self.trades[trade_id]
        if op_code == "00":
            trade.status.status = sj.OrderStatus.Submitted
        else:
            trade.status.status = sj.OrderStatus.Failed
        self.send(sj.OrderState.StockOrder, self.order_message(trade_id, "New", op_code, op_msg))

    def cancelled(self, trade_id: str) -> None:
        trade = self.trades[trade_id]
        trade.status.status = sj.OrderStatus.Cancelled
        self.send(sj.OrderState.StockOrder, self.order_message(trade_id, "Cancel"))

    def outside_order(
        self, contract: Any, action: Any, price: float, quantity: int, order_lot: Any
    ) -> str:
        """An order placed elsewhere (the broker's app): open, listed by ``list_trades``, and
        reported to the order callback as Shioaji reports every order of the account."""
        order = sj.StockOrder(
            action=action,
            price=price,
            quantity=quantity,
            price_type=sj.StockPriceType.LMT,
            time_in_force=sj.TimeInForce.ROD,
            order_lot=order_lot,
            account=self.stock_account,
        )
        trade_id = self.place_order(contract, order).order.id
        self.placed.pop()
        self.accept(trade_id)
        return trade_id

    def seed_position(self, code: str, shares: int, price: float) -> None:
        """A position held before the run (``shares`` signed: below zero is short)."""
        self._book(code, shares, price)

    def fill(self, trade_id: str, quantity: int, price: float, *, send: bool = True) -> Any:
        """A deal: recorded in the trade's status and the positions, and (unless ``send`` is
        False, a dropped callback) sent as a StockDeal message; returns the message."""
        trade = self.trades[trade_id]
        lot = 1000 if trade.order.order_lot == sj.StockOrderLot.Common else 1
        buy = trade.order.action == sj.Action.Buy
        self._book(trade.contract.code, quantity * lot if buy else -quantity * lot, price)
        self.ts += 1.25
        seq = f"{len(trade.status.deals) + 1:06d}"
        trade.status.deals.append(Deal(seq=seq, price=price, quantity=quantity, ts=self.ts))
        trade.status.deal_quantity += quantity
        done = trade.status.deal_quantity >= trade.order.quantity
        trade.status.status = sj.OrderStatus.Filled if done else sj.OrderStatus.PartFilled
        message = {
            "event_id": f"e{trade_id}{seq}",
            "trade_id": trade_id,
            "seqno": trade.order.seqno,
            "ordno": trade.order.ordno,
            "exchange_seq": seq,
            "broker_id": self.stock_account.broker_id,
            "account_id": self.stock_account.account_id,
            "action": trade.order.action.value,
            "code": trade.contract.code,
            "order_cond": "Cash",
            "order_lot": trade.order.order_lot.value,
            "price": price,
            "quantity": quantity,
            "web_id": "137",
            "custom_field": "",
            "ts": self.ts,
        }
        if send:
            self.send(sj.OrderState.StockDeal, message)
        return message

    def order_message(
        self, trade_id: str, op_type: str, op_code: str = "00", op_msg: str = ""
    ) -> dict[str, Any]:
        """A StockOrder message with the documented keys."""
        trade = self.trades[trade_id]
        self.ts += 0.5
        order = trade.order
        return {
            "event_id": f"o{trade_id}{op_type}",
            "operation": {"op_type": op_type, "op_code": op_code, "op_msg": op_msg},
            "order": {
                "id": trade_id,
                "seqno": order.seqno,
                "ordno": order.ordno,
                "account": {
                    "account_type": "S",
                    "person_id": self.stock_account.person_id,
                    "broker_id": self.stock_account.broker_id,
                    "account_id": self.stock_account.account_id,
                    "signed": True,
                    "username": self.stock_account.username,
                },
                "action": order.action.value,
                "price": order.price,
                "quantity": order.quantity,
                "time_in_force": "ROD",
                "order_type": "ROD",
                "price_type": "LMT",
                "order_cond": "Cash",
                "order_lot": order.order_lot.value,
                "custom_field": "",
            },
            "status": {
                "id": trade_id,
                "exchange_ts": self.ts,
                "modified_price": 0.0,
                "cancel_quantity": order.quantity if op_type == "Cancel" else 0,
                "order_quantity": order.quantity,
                "web_id": "137",
            },
            "contract": {
                "exchange": "TSE",
                "code": trade.contract.code,
                "security_type": "STK",
                "symbol": "TSE" + trade.contract.code,
                "name": "",
                "currency": "TWD",
            },
        }

    def send(self, state: Any, message: Any) -> None:
        """Call the registered order callback on a thread of the broker's, and wait; or
        lose it (session down, ``drop``), send it twice, or hold it for ``flush``."""
        if self.down or self.drop:
            return
        if self.reorder:
            self._held.append((state, message))
            return
        for _ in range(2 if self.duplicate else 1):
            self._deliver(state, message)

    def flush(self) -> None:
        """Deliver the held callbacks, last first."""
        held, self._held = self._held, []
        for state, message in reversed(held):
            for _ in range(2 if self.duplicate else 1):
                self._deliver(state, message)

    def session_down(self) -> None:
        """The session drops: held callbacks are lost, none is delivered until a login."""
        self.down = True
        self._held = []
        if self.session_down_callback is not None:
            self.session_down_callback()

    def _deliver(self, state: Any, message: Any) -> None:
        callback = self.order_callback
        if callback is None:
            return
        thread = threading.Thread(target=callback, args=(state, message), name="shioaji-cb")
        thread.start()
        thread.join(timeout=5)

    def _book(self, code: str, shares: int, price: float) -> None:
        """Net a position by ``shares`` (signed), as ``list_positions`` in shares shows it."""
        held = next((p for p in self.positions if p.code == code), None)
        signed = 0
        if held is not None:
            signed = held.quantity if held.direction == sj.Action.Buy else -held.quantity
            self.positions.remove(held)
        net = signed + shares
        if not net:
            return
        average = price  # a new position, or one that turned the other way
        if held is not None and (signed > 0) == (net > 0):
            added = abs(net) > abs(signed)
            average = (
                (abs(signed) * held.price + abs(shares) * price) / abs(net) if added else held.price
            )
        direction = sj.Action.Buy if net > 0 else sj.Action.Sell
        self.positions.append(
            StockPosition(
                id=len(self.positions),
                code=code,
                direction=direction,
                quantity=abs(net),
                price=average,
            )
        )

    def _admit(self) -> None:
        now = self._monotonic()
        while self._window and self._window[0] <= now - self._limit_period_s:
            self._window.popleft()
        if len(self._window) >= self._limit_calls:
            self.refused += 1
            raise sj.ServerError("429 Too Many Requests: over 25 queries per 5 s")
        self._window.append(now)
        self.queries += 1
