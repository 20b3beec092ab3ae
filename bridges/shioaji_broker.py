"""ShioajiBroker: SinoPac's Shioaji API (``shioaji.Shioaji``) behind ``actors.broker.Broker``.

The adapter maps Shioaji's documented protocol onto the broker protocol and nothing more:

- **Login** with an API key and secret from the environment (``SHIOAJI_API_KEY``,
  ``SHIOAJI_SECRET_KEY``) or an owner-only TOML file (``api_key``, ``secret_key``); a file
  that group or others may read is refused. Secrets are never logged (``repr`` hides them).
- **Callbacks**: one ``set_order_callback(state, msg)`` per session. ``OrderState``
  ``StockOrder`` / ``FuturesOrder`` messages (``operation``, ``order``, ``status``,
  ``contract``) become ``on_order``; ``StockDeal`` / ``FuturesDeal`` messages (``trade_id``,
  ``exchange_seq``, ``code``, ``action``, ``price``, ``quantity``, ``order_lot``, ``ts``)
  become ``on_deal``, then the order's derived ``PARTIALLY_FILLED`` / ``FILLED`` (Shioaji
  sends no order message for a fill); a futures deal's security is its ``full_code``
  (``TXFL6``; ``code`` is the product). A deal's identity is ``(trade_id, exchange_seq, ts)``;
  an order message's ``seq_no`` is its ``exchange_ts`` in microseconds, so a repeated
  message has the same key and the normalizer drops it. A message that is not the
  documented shape is handed to the callback bridge as is, which quarantines it.
- **Orders**: ``place_order`` (limit, ROD) and ``cancel_order``; the broker's order number
  is the trade's ``order.id`` (what both kinds of message carry). Stock sizes are shares:
  whole lots (1000 shares) go as ``StockOrderLot.Common``; fewer shares as
  ``IntradayOdd`` when ``odd_lot`` is ``"intraday"`` (seed 001's ``execution.yaml`` odd-lot
  option), else they are refused, as is a size of lots and shares mixed.
- **Queries** (every API call paced by a ``QueryPacer``, default 25 calls / 5 s with
  backoff): seed 001's four, ``list_positions`` (stocks in shares), ``list_profit_loss``
  (the day's, with each record's fee and tax from ``list_profit_loss_detail``),
  ``list_settlements``; and ``list_open_orders``, ``list_fills``, ``order_status`` from
  ``update_status`` and ``list_trades``.
- **Fees and taxes**: a deal message carries neither; ``list_deal_charges`` reads them from
  the portfolio details (``list_profit_loss_detail``, ``list_position_detail``), each row a
  lot of the order ``dseq`` (the trade's ``ordno``), matched to that order's deal of the
  same quantity and price.
- **Session**: ``set_session_down_callback`` ends the session (calls fail, registration is
  lost); ``reconnect`` logs in again, and the next ``register_callbacks`` sets the order
  callback once more.

Shioaji prices are floats; they become ``Decimal`` through their shortest repr.
"""

from __future__ import annotations

import enum
import os
import stat
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import shioaji as sj
import structlog

from actors.broker import (
    BrokerDisconnectedError,
    BrokerError,
    DealCallback,
    OrderCallback,
    Page,
    RateLimitedError,
)
from actors.query_pacer import PacerStats, QueryPacer
from messages.broker import (
    BrokerDealCharge,
    BrokerFill,
    BrokerOrder,
    BrokerOrderRequest,
    BrokerOrderStatus,
    BrokerPosition,
    BrokerProfitLoss,
    BrokerSettlement,
    deal_key,
)
from messages.enums import OrderSide

_log = structlog.get_logger("tradeactors", actor="shioaji_broker")

SHARES_PER_LOT = 1000
API_KEY_ENV = "SHIOAJI_API_KEY"
SECRET_KEY_ENV = "SHIOAJI_SECRET_KEY"

_OPEN = {
    "PendingSubmit": BrokerOrderStatus.SUBMITTED,
    "PreSubmitted": BrokerOrderStatus.SUBMITTED,
    "Submitted": BrokerOrderStatus.SUBMITTED,
    "PartFilled": BrokerOrderStatus.PARTIALLY_FILLED,
}
_FINAL = {
    "Filled": BrokerOrderStatus.FILLED,
    "Cancelled": BrokerOrderStatus.CANCELLED,
    "Failed": BrokerOrderStatus.REJECTED,
    "Inactive": BrokerOrderStatus.REJECTED,
}


class OddLot(enum.Enum):
    """What a stock order of fewer shares than a lot does (seed 001's odd-lot handling)."""

    INTRADAY = "intraday"
    """Sent as an intraday odd-lot order (``StockOrderLot.IntradayOdd``)."""
    REFUSE = "refuse"
    """Refused: only whole lots trade."""


class CredentialsError(BrokerError):
    """Raised by ``load_credentials``: none found, or a file others may read."""


@attrs.frozen(kw_only=True)
class ShioajiCredentials:
    """The API key pair; ``repr`` shows neither."""

    api_key: str = attrs.field(repr=False)
    secret_key: str = attrs.field(repr=False)


def load_credentials(
    path: Path | None = None, environ: Mapping[str, str] = os.environ
) -> ShioajiCredentials:
    """From ``SHIOAJI_API_KEY`` / ``SHIOAJI_SECRET_KEY``, else the owner-only TOML ``path``."""
    if environ.get(API_KEY_ENV) and environ.get(SECRET_KEY_ENV):
        return ShioajiCredentials(api_key=environ[API_KEY_ENV], secret_key=environ[SECRET_KEY_ENV])
    if path is None:
        raise CredentialsError(
            f"no Shioaji credentials: set {API_KEY_ENV} and {SECRET_KEY_ENV}, or give a file"
        )
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"{path} is open to group or others (mode {stat.S_IMODE(mode):o}); run chmod 600 {path}"
        )
    with path.open("rb") as file:
        table = tomllib.load(file)
    try:
        return ShioajiCredentials(api_key=table["api_key"], secret_key=table["secret_key"])
    except KeyError as missing:
        raise CredentialsError(f"{path} has no {missing.args[0]}") from None


@attrs.define(slots=True)
class _Tracked:
    """An order as the adapter follows it: what it was for, in shares, and what filled."""

    account: str
    security_id: str
    side: OrderSide
    price: Decimal
    size: Decimal
    lot: int
    filled: Decimal = Decimal(0)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def _ns(seconds: Any) -> int:
    return int(_decimal(seconds) * 1_000_000_000)


def _side(action: Any) -> OrderSide:
    value = getattr(action, "value", action)
    if value == "Buy":
        return OrderSide.BUY
    if value == "Sell":
        return OrderSide.SELL
    raise ValueError(f"no side {action!r}")


def _whole(page: int) -> None:
    """Shioaji answers each query whole: page 0 is the only page."""
    if page != 0:
        raise ValueError(f"Shioaji answers in one page; page {page} asked")


def _value(enum_or_text: Any) -> str:
    return str(getattr(enum_or_text, "value", enum_or_text))


class ShioajiBroker:
    """A ``Broker`` (and ``ProfitLossQueries``) over a Shioaji API object.

    ``api`` is an ``sj.Shioaji`` (or anything with its methods); ``contracts`` maps a
    security id to its contract, else ``api.Contracts.Stocks`` then ``.Futures`` is asked.
    """

    def __init__(
        self,
        api: Any,
        credentials: ShioajiCredentials,
        *,
        odd_lot: OddLot = OddLot.INTRADAY,
        contracts: Mapping[str, Any] | None = None,
        pacer: QueryPacer | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._api = api
        self._credentials = credentials
        self._odd_lot = odd_lot
        self._contracts = dict(contracts or {})
        self._pacer = pacer if pacer is not None else QueryPacer()
        self._clock_ns = clock_ns
        self._lock = threading.RLock()
        self._accounts: dict[str, Any] = {}
        self._connected = False
        self._session = 0
        self._registered_session: int | None = None
        self._callbacks: tuple[OrderCallback, DealCallback] | None = None
        self._trades: dict[str, Any] = {}
        self._orders: dict[str, _Tracked] = {}
        self._deals: set[tuple[str, int, int]] = set()
        self.malformed = 0
        self.login()

    # -- session ---------------------------------------------------------------------------

    def login(self) -> None:
        """Log in (a new session) and learn the accounts; the secret goes to the API only."""
        accounts = self._call(
            lambda: self._api.login(
                api_key=self._credentials.api_key, secret_key=self._credentials.secret_key
            )
        )
        with self._lock:
            self._accounts = {account.account_id: account for account in accounts}
            self._connected = True
            self._session += 1
        self._api.set_session_down_callback(self._session_down)
        _log.info("shioaji_logged_in", accounts=sorted(self._accounts))

    def reconnect(self) -> None:
        """Log in again after the session went down."""
        self.login()

    def close(self) -> None:
        """End the session at the run's end (Shioaji's ``logout``); calls fail from here."""
        with self._lock:
            if not self._connected:
                return
            self._connected = False
            self._callbacks = None
            self._session += 1
        self._api.logout()
        _log.info("shioaji_logged_out")

    def _session_down(self) -> None:
        """Shioaji's session-down callback: calls fail and registration is gone."""
        with self._lock:
            self._connected = False
            self._callbacks = None
            self._session += 1
        _log.warning("shioaji_session_down")

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._connected

    @property
    def session(self) -> int:
        with self._lock:
            return self._session

    def pacer_stats(self) -> PacerStats:
        """The adapter's own pacing: calls, waits and the refusals it retried."""
        return self._pacer.stats()

    def register_callbacks(self, on_order: OrderCallback, on_deal: DealCallback) -> None:
        """Set Shioaji's order callback once per session, pointed at these."""
        with self._lock:
            self._check_connected()
            self._callbacks = (on_order, on_deal)
            if self._registered_session == self._session:
                return
            self._registered_session = self._session
        self._api.set_order_callback(self._on_order_event)

    def unregister_callbacks(self) -> None:
        with self._lock:
            self._callbacks = None

    # -- orders ----------------------------------------------------------------------------

    def place_order(self, request: BrokerOrderRequest) -> str:
        """A limit ROD order; stock sizes in shares, whole lots or (``odd_lot``) odd shares."""
        self._check_connected()
        contract = self._contract(request.security_id)
        account = self._account(request.account)
        action = sj.Action.Buy if request.side is OrderSide.BUY else sj.Action.Sell
        if request.size != request.size.to_integral_value():
            raise BrokerError(f"size {request.size} is not a whole number")
        if self._is_stock(contract):
            quantity, lot_name, lot = self._stock_quantity(request.size)
            order: Any = sj.StockOrder(
                action=action,
                price=float(request.price),
                quantity=quantity,
                price_type=sj.StockPriceType.LMT,
                time_in_force=sj.TimeInForce.ROD,
                order_lot=lot_name,
                account=account,
            )
        else:
            lot = 1
            order = sj.FuturesOrder(
                action=action,
                price=float(request.price),
                quantity=int(request.size),
                price_type=sj.FuturesPriceType.LMT,
                time_in_force=sj.TimeInForce.ROD,
                octype=sj.FuturesOCType.Auto,
                account=account,
            )
        trade = self._call(lambda: self._api.place_order(contract, order))
        order_no = str(trade.order.id)
        with self._lock:
            self._trades[order_no] = trade
            self._orders.setdefault(
                order_no,
                _Tracked(
                    account=request.account,
                    security_id=request.security_id,
                    side=request.side,
                    price=request.price,
                    size=request.size,
                    lot=lot,
                ),
            )
        _log.info(
            "shioaji_order_placed", order_no=order_no, client_order_id=request.client_order_id
        )
        return order_no

    def cancel_order(self, order_no: str) -> None:
        self._check_connected()
        with self._lock:
            trade = self._trades.get(order_no)
        if trade is None:
            raise BrokerError(f"unknown order {order_no}")
        self._call(lambda: self._api.cancel_order(trade))

    def _stock_quantity(self, shares: Decimal) -> tuple[int, Any, int]:
        lots, odd = divmod(int(shares), SHARES_PER_LOT)
        if not odd:
            return lots, sj.StockOrderLot.Common, SHARES_PER_LOT
        if lots or self._odd_lot is OddLot.REFUSE:
            raise BrokerError(
                f"{shares} shares is not whole lots of {SHARES_PER_LOT} (odd_lot="
                f"{self._odd_lot.value}; an odd-lot order must be under one lot)"
            )
        return odd, sj.StockOrderLot.IntradayOdd, 1

    # -- callbacks (Shioaji's thread) ------------------------------------------------------

    def _on_order_event(self, state: Any, msg: Any) -> None:
        with self._lock:
            callbacks = self._callbacks
        if callbacks is None:
            return
        on_order, on_deal = callbacks
        kind = _value(getattr(state, "name", state))
        try:
            if kind in {"StockDeal", "FuturesDeal"}:
                self._deal(kind, msg, on_order, on_deal)
            elif kind in {"StockOrder", "FuturesOrder"}:
                self._order(msg, on_order)
            else:
                raise ValueError(f"unknown OrderState {state!r}")
        except (KeyError, ValueError, TypeError, ArithmeticError) as error:
            with self._lock:
                self.malformed += 1
            _log.warning("shioaji_message_malformed", state=kind, error=repr(error))
            garbled: Callable[..., None] = on_deal if "Deal" in kind else on_order
            garbled(kind, repr(msg))

    def _order(self, msg: Any, on_order: OrderCallback) -> None:
        operation, order, status = msg["operation"], msg["order"], msg["status"]
        order_no = str(order["id"])
        op_type, op_code, op_msg = operation["op_type"], operation["op_code"], operation["op_msg"]
        ts_ns = _ns(status["exchange_ts"])
        self._adopt(order_no, msg)
        if op_type == "New":
            ok = op_code == "00"
            mapped = BrokerOrderStatus.SUBMITTED if ok else BrokerOrderStatus.REJECTED
        elif op_type == "Reject":
            mapped = BrokerOrderStatus.REJECTED
        elif op_type == "Cancel" and op_code == "00":
            mapped = BrokerOrderStatus.CANCELLED
        else:  # a failed cancel, or an update this runtime never sends: the order stands
            _log.info("shioaji_order_operation_ignored", order_no=order_no, op_type=op_type)
            return
        reason = "" if mapped is BrokerOrderStatus.SUBMITTED else f"{op_code} {op_msg}".strip()
        on_order(order_no, ts_ns // 1000, mapped, ts_ns, reason)

    def _adopt(self, order_no: str, msg: Any) -> None:
        """Follow an order this adapter did not place (another client), from its message."""
        with self._lock:
            if order_no in self._orders:
                return
        order, contract = msg["order"], msg["contract"]
        lot = SHARES_PER_LOT if order.get("order_lot", "") == "Common" else 1
        tracked = _Tracked(
            account=str(order["account"]["account_id"]),
            security_id=str(contract.get("full_code") or contract["code"]),
            side=_side(order["action"]),
            price=_decimal(order["price"]),
            size=Decimal(int(order["quantity"]) * lot),
            lot=lot,
        )
        with self._lock:
            self._orders.setdefault(order_no, tracked)

    def _deal(self, kind: str, msg: Any, on_order: OrderCallback, on_deal: DealCallback) -> None:
        order_no = str(msg["trade_id"])
        seq_no = int(msg["exchange_seq"])
        match_ts = _ns(msg["ts"])
        lot = 1
        if kind == "StockDeal" and _value(msg["order_lot"]) == "Common":
            lot = SHARES_PER_LOT
        size = Decimal(int(msg["quantity"]) * lot)
        price = _decimal(msg["price"])
        side = _side(msg["action"])
        code = str(msg["code"])
        if kind == "FuturesDeal":  # ``code`` is the product (TXF), ``full_code`` the contract
            code = str(msg.get("full_code") or code)
        on_deal(order_no, seq_no, match_ts, code, side, price, size)
        with self._lock:
            key = (order_no, seq_no, match_ts)
            tracked = self._orders.get(order_no)
            if key in self._deals or tracked is None:
                return
            self._deals.add(key)
            tracked.filled += size
            filled = tracked.filled >= tracked.size
        status = BrokerOrderStatus.FILLED if filled else BrokerOrderStatus.PARTIALLY_FILLED
        on_order(order_no, match_ts // 1000, status, match_ts, "")

    # -- queries ---------------------------------------------------------------------------

    def list_positions(self, account: str, page: int = 0) -> Page[BrokerPosition]:
        """Net per security; stock positions asked in shares (``Unit.Share``)."""
        _whole(page)
        acc = self._account(account)
        if self._is_stock_account(acc):
            rows = self._query(lambda: self._api.list_positions(acc, unit=sj.Unit.Share))
        else:
            rows = self._query(lambda: self._api.list_positions(acc))
        held: dict[str, tuple[Decimal, Decimal]] = {}
        for row in rows:
            signed = Decimal(int(row.quantity))
            if _side(row.direction) is OrderSide.SELL:
                signed = -signed
            quantity, cost = held.get(row.code, (Decimal(0), Decimal(0)))
            held[row.code] = (quantity + signed, cost + signed * _decimal(row.price))
        return Page(
            items=tuple(
                BrokerPosition(
                    account=account,
                    security_id=code,
                    quantity=quantity,
                    avg_price=abs(cost / quantity) if quantity else Decimal(0),
                )
                for code, (quantity, cost) in sorted(held.items())
                if quantity
            )
        )

    def list_profit_loss(self, account: str, page: int = 0) -> Page[BrokerProfitLoss]:
        """The day's realized PnL per security, gross: Shioaji's ``pnl`` is after fee and
        tax, which each record's ``list_profit_loss_detail`` reports (futures: the record)."""
        _whole(page)
        acc = self._account(account)
        rows = self._query(lambda: self._api.list_profit_loss(acc))
        totals: dict[str, list[Decimal]] = {}
        for row in rows:
            if hasattr(row, "fee"):
                fee, tax = _decimal(row.fee), _decimal(row.tax)
            else:
                fee = tax = Decimal(0)
                for detail in self.list_profit_loss_detail(account, int(row.id)):
                    fee += _decimal(detail.fee)
                    tax += _decimal(detail.tax)
            total = totals.setdefault(row.code, [Decimal(0), Decimal(0), Decimal(0)])
            total[0] += _decimal(row.pnl) + fee + tax
            total[1] += fee
            total[2] += tax
        return Page(
            items=tuple(
                BrokerProfitLoss(
                    account=account, security_id=code, realized_pnl=pnl, fee=fee, tax=tax
                )
                for code, (pnl, fee, tax) in sorted(totals.items())
            )
        )

    def list_profit_loss_detail(self, account: str, detail_id: int) -> list[Any]:
        """One PnL record's deals, each with the fee and tax the broker charged."""
        acc = self._account(account)
        return list(
            self._query(lambda: self._api.list_profit_loss_detail(acc, detail_id=detail_id))
        )

    def list_deal_charges(self, account: str, page: int = 0) -> Page[BrokerDealCharge]:
        """Each deal's fee and tax as the broker charged them: the rows of
        ``list_profit_loss_detail`` for every PnL record (lots closed: fee and tax), then of
        ``list_position_detail`` for every position (lots held: the fee). A row is a lot of
        the order ``dseq`` (its ``ordno``), matched to one deal of that order with the same
        quantity and price, each deal once (the first row wins); a row that is no single
        deal (a lot of several) is left out. None for a futures account, whose PnL records
        name no order."""
        _whole(page)
        acc = self._account(account)
        if not self._is_stock_account(acc):
            return Page(items=())
        rows: list[Any] = []
        for record in self._query(lambda: self._api.list_profit_loss(acc)):
            rows.extend(self.list_profit_loss_detail(account, int(record.id)))
        for held in self._query(lambda: self._api.list_positions(acc, unit=sj.Unit.Share)):
            rows.extend(self._position_detail(acc, int(held.id)))
        trades = {str(trade.order.ordno): trade for trade in self._trades_of(account)}
        charges: dict[str, BrokerDealCharge] = {}
        for row in rows:
            trade = trades.get(str(row.dseq))
            if trade is None:
                continue
            terms = (int(row.quantity), _decimal(row.price))
            lot = self._lot(trade)
            for deal in list(trade.status.deals):
                key = deal_key(str(trade.order.id), int(deal.seq), _ns(deal.ts))
                if key in charges or (int(deal.quantity), _decimal(deal.price)) != terms:
                    continue
                charges[key] = BrokerDealCharge(
                    order_no=str(trade.order.id),
                    seq_no=int(deal.seq),
                    match_ts=_ns(deal.ts),
                    account=account,
                    security_id=str(trade.contract.code),
                    price=_decimal(deal.price),
                    size=Decimal(int(deal.quantity) * lot),
                    fee=_decimal(row.fee),
                    tax=_decimal(getattr(row, "tax", 0)),
                )
                break
        return Page(items=tuple(charges.values()))

    def _position_detail(self, acc: Any, detail_id: int) -> list[Any]:
        return list(self._query(lambda: self._api.list_position_detail(acc, detail_id=detail_id)))

    def list_settlements(self, account: str, page: int = 0) -> Page[BrokerSettlement]:
        """T, T+1 and T+2 settlement amounts; none for a futures account (Shioaji settles
        only stock accounts so; futures margin is ``api.margin``)."""
        _whole(page)
        acc = self._account(account)
        if not self._is_stock_account(acc):
            return Page(items=())
        settlement = self._query(lambda: self._api.list_settlements(acc))
        return Page(
            items=tuple(
                BrokerSettlement(
                    account=account,
                    date=str(getattr(settlement, f"{prefix}_day")),
                    days=days,
                    amount=_decimal(getattr(settlement, f"{prefix}_money")),
                )
                for days, prefix in enumerate(("t", "t1", "t2"))
            )
        )

    def list_open_orders(self, account: str, page: int = 0) -> Page[BrokerOrder]:
        _whole(page)
        return Page(items=tuple(o for o in self._orders_of(account) if o.status.is_open))

    def list_fills(self, account: str, since_ns: int, page: int = 0) -> Page[BrokerFill]:
        _whole(page)
        fills = []
        for trade in self._trades_of(account):
            order = self._view(trade)
            lot = self._lot(trade)
            for deal in list(trade.status.deals):
                match_ts = _ns(deal.ts)
                if match_ts < since_ns:
                    continue
                fills.append(
                    BrokerFill(
                        order_no=order.order_no,
                        seq_no=int(deal.seq),
                        match_ts=match_ts,
                        account=account,
                        security_id=order.security_id,
                        side=order.side,
                        price=_decimal(deal.price),
                        size=Decimal(int(deal.quantity) * lot),
                    )
                )
        return Page(items=tuple(fills))

    def order_status(self, order_no: str) -> BrokerOrder:
        with self._lock:
            trade = self._trades.get(order_no)
        if trade is None:
            raise BrokerError(f"unknown order {order_no}")
        self._query(lambda: self._api.update_status(trade=trade))
        return self._view(trade)

    # -- inside ----------------------------------------------------------------------------

    def _orders_of(self, account: str) -> list[BrokerOrder]:
        return [self._view(trade) for trade in self._trades_of(account)]

    def _trades_of(self, account: str) -> list[Any]:
        """Every trade of the account, refreshed by one ``update_status``."""
        acc = self._account(account)
        self._query(lambda: self._api.update_status(acc))
        trades = [t for t in self._api.list_trades() if t.order.account.account_id == account]
        with self._lock:
            for trade in trades:
                self._trades.setdefault(str(trade.order.id), trade)
        return trades

    def _lot(self, trade: Any) -> int:
        lot = getattr(trade.order, "order_lot", None)
        return SHARES_PER_LOT if lot is not None and _value(lot) == "Common" else 1

    def _view(self, trade: Any) -> BrokerOrder:
        lot = self._lot(trade)
        name = _value(trade.status.status)
        status = _OPEN.get(name) or _FINAL[name]
        return BrokerOrder(
            order_no=str(trade.order.id),
            account=str(trade.order.account.account_id),
            security_id=str(trade.contract.code),
            side=_side(trade.order.action),
            price=_decimal(trade.order.price),
            size=Decimal(int(trade.order.quantity) * lot),
            filled=Decimal(int(trade.status.deal_quantity or 0) * lot),
            status=status,
        )

    def _query(self, call: Callable[[], Any]) -> Any:
        """A portfolio or status query: paced under the limit, retried on refusal."""
        self._check_connected()
        return self._pacer.call(lambda: self._call(call))

    def _call(self, call: Callable[[], Any]) -> Any:
        """Shioaji's errors as the protocol's: over the limit, session gone, or failed."""
        try:
            return call()
        except sj.AuthError as error:
            self._session_down()
            raise BrokerDisconnectedError(f"shioaji: {type(error).__name__}") from None
        except sj.ShioajiError as error:
            text = str(error)
            if "429" in text or "too many" in text.lower() or "rate limit" in text.lower():
                raise RateLimitedError(f"shioaji: {text}") from None
            raise BrokerError(f"shioaji: {type(error).__name__}: {text}") from None

    def _check_connected(self) -> None:
        if not self.connected:
            raise BrokerDisconnectedError("shioaji session is down")

    def _account(self, account: str) -> Any:
        with self._lock:
            found = self._accounts.get(account)
        if found is None:
            raise BrokerError(f"no Shioaji account {account} in this login")
        return found

    def _contract(self, security_id: str) -> Any:
        contract = self._contracts.get(security_id)
        if contract is not None:
            return contract
        for group in (self._api.Contracts.Stocks, self._api.Contracts.Futures):
            try:
                contract = group[security_id]
            except KeyError:
                continue
            if contract is not None:
                self._contracts[security_id] = contract
                return contract
        raise BrokerError(f"no Shioaji contract for {security_id}")

    @staticmethod
    def _is_stock(contract: Any) -> bool:
        return bool(contract.security_type == sj.SecurityType.Stock)

    @staticmethod
    def _is_stock_account(account: Any) -> bool:
        return bool(account.account_type == sj.AccountType.Stock)
