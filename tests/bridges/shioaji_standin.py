"""A faithful stand-in for ``shioaji.Shioaji``: the same method names and signatures, the
documented callback shapes, and shioaji's own enums, accounts, contracts and orders.

Shioaji 1.7.9's portfolio records (``StockPosition``, ``StockProfitLoss``,
``StockProfitDetail``, ``Settlement``, ``Trade``, ``Deal``) are Rust classes Python cannot
create (``TypeError: cannot create 'builtins.StockPosition' instances``), so the records
here are attrs classes with exactly their fields (``shioaji/_core.pyi``). Callbacks run on
a thread of their own, as Shioaji's do; the broker tells the test what it was asked.
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
    ) -> None:
        self.Contracts = _Contracts()
        self.positions: list[StockPosition] = []
        self.profit_loss: list[StockProfitLoss] = []
        self.profit_details: dict[int, list[StockProfitDetail]] = {}
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
        return [STOCK_ACCOUNT, FUTURES_ACCOUNT]

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

    def fill(self, trade_id: str, quantity: int, price: float, *, send: bool = True) -> Any:
        """A deal: recorded in the trade's status, and (unless ``send`` is False, a dropped
        callback) sent as a StockDeal message; returns the message."""
        trade = self.trades[trade_id]
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
            "broker_id": STOCK_ACCOUNT.broker_id,
            "account_id": STOCK_ACCOUNT.account_id,
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
                    "person_id": STOCK_ACCOUNT.person_id,
                    "broker_id": STOCK_ACCOUNT.broker_id,
                    "account_id": STOCK_ACCOUNT.account_id,
                    "signed": True,
                    "username": STOCK_ACCOUNT.username,
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
        """Call the registered order callback on a thread of the broker's, and wait."""
        callback = self.order_callback
        if callback is None:
            return
        thread = threading.Thread(target=callback, args=(state, message), name="shioaji-cb")
        thread.start()
        thread.join(timeout=5)

    def session_down(self) -> None:
        if self.session_down_callback is not None:
            self.session_down_callback()

    def _admit(self) -> None:
        now = self._monotonic()
        while self._window and self._window[0] <= now - self._limit_period_s:
            self._window.popleft()
        if len(self._window) >= self._limit_calls:
            self.refused += 1
            raise sj.ServerError("429 Too Many Requests: over 25 queries per 5 s")
        self._window.append(now)
        self.queries += 1
