"""PolymarketBroker: live orders on Polymarket's CLOB as an ``actors.broker.Broker``.

Orders go through the official client, ``py_clob_client.ClobClient``: ``create_order``
signs an ``OrderArgs`` with the wallet key (EIP-712), ``post_order`` sends it
(``POST /order``, answered ``{"success", "errorMsg", "orderID", "status"}``), ``cancel``
is ``DELETE /order``. Fills come from the authenticated user channel
(``bridges.polymarket_user_channel``) on a thread of the adapter's own, which calls the
registered ``on_order`` / ``on_deal`` as a broker thread does; a trade that FAILED on chain
after it was booked is a ``Reversal``: the registered reversal callback
(``actors.broker.DealReversals``) hears it, so the order and its position take the fill
back, and ``on_reversal`` hears it with its reason (the run asks for a reconcile with that
reason, which corrects the account to the venue's truth).
Every trade on the authenticated channel is the account's: a leg of an order placed
elsewhere (another client, the web app) is booked too, as the trade names it.

The truth queries read the CLOB: ``get_orders`` (``GET /data/orders``, the open orders),
``get_trades`` (``GET /data/trades``, the trade history; FAILED trades never happened),
``get_order``. The client pages through ``next_cursor`` itself, so each query is one page
here. The CLOB has no positions endpoint: the position is the net of the trade history.

Prices are ticks as seed 003 keeps them: 0-1000 for 0-1, an order's price must be a
whole number of ticks inside (0, 1000) on the market's tick size (``GET /tick-size``, e.g.
0.01 = 10 ticks), or the order is refused before it is signed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

import attrs
import structlog
from py_clob_client.client import ClobClient
from py_clob_client.clob_types import (
    ApiCreds,
    OrderArgs,
    OrderType,
    PartialCreateOrderOptions,
    TradeParams,
)
from py_clob_client.constants import POLYGON
from py_clob_client.exceptions import PolyException

from actors.broker import (
    BrokerDisconnectedError,
    BrokerError,
    DealCallback,
    OrderCallback,
    Page,
    RateLimitedError,
    ReversalCallback,
)
from bridges.broker_truth import OrderNotice
from bridges.polymarket_credentials import PolymarketCredentials
from bridges.polymarket_user_channel import (
    PUBLIC_USER_CHANNEL,
    Note,
    OurOrder,
    Reversal,
    TradeStatus,
    UserChannelBook,
    seconds_ns,
    subscription,
    trade_seq_no,
)
from bridges.polymarket_ws import MarketChannelClient, MarketChannelConfig
from messages.broker import (
    BrokerFill,
    BrokerOrder,
    BrokerOrderRequest,
    BrokerOrderStatus,
    BrokerPosition,
)
from messages.enums import OrderSide

PUBLIC_CLOB = "https://clob.polymarket.com"
"""Also in ``tools.live_broker``, which must not import this module to name it."""
TICKS = Decimal(1000)
"""Ticks per unit of price: seed 003's 0-1000."""

WIRE_LOG = logging.getLogger("tradeactors.polymarket_user_channel.wire")
"""``websockets`` logs each frame's start at DEBUG, and the subscription frame carries the
API credentials: the user channel's connection logs to this logger, which never takes
DEBUG unless someone sets it so on purpose."""
WIRE_LOG.setLevel(logging.INFO)

_ORDER_STATUS = {
    "MATCHED": BrokerOrderStatus.FILLED,
    "CANCELED": BrokerOrderStatus.CANCELLED,
    "CANCELED_MARKET_RESOLVED": BrokerOrderStatus.CANCELLED,
    "INVALID": BrokerOrderStatus.REJECTED,
}


class ClobApi(Protocol):
    """The calls of ``ClobClient`` the adapter makes."""

    def get_tick_size(self, token_id: str) -> Any: ...
    def create_order(self, order_args: OrderArgs, options: Any = None) -> Any: ...
    def post_order(self, order: Any, orderType: OrderType = ..., post_only: bool = ...) -> Any: ...  # noqa: N803 (the client's name)
    def cancel(self, order_id: str) -> Any: ...
    def get_orders(self, params: Any = None, next_cursor: str = ...) -> Any: ...
    def get_trades(self, params: Any = None, next_cursor: str = ...) -> Any: ...
    def get_order(self, order_id: str) -> Any: ...


def clob_client(
    credentials: PolymarketCredentials, host: str = PUBLIC_CLOB, chain_id: int = POLYGON
) -> ClobClient:
    """A level-2 client: the key signs orders, the API key authenticates the calls."""
    return ClobClient(
        host,
        chain_id=chain_id,
        key=credentials.private_key,
        creds=ApiCreds(
            api_key=credentials.api_key,
            api_secret=credentials.api_secret,
            api_passphrase=credentials.api_passphrase,
        ),
        signature_type=1 if credentials.funder else None,
        funder=credentials.funder,
    )


def price_ticks(price: Decimal, tick_size: Decimal) -> int:
    """``price`` in ticks; BrokerError if it is off the market's tick grid or out of range."""
    ticks = price * TICKS
    step = tick_size * TICKS
    if ticks != ticks.to_integral_value() or not 0 < ticks < TICKS or ticks % step:
        raise BrokerError(
            f"price {price} is not a whole number of the market's {tick_size} ticks in (0, 1)"
        )
    return int(ticks)


class PolymarketBroker:
    """See the module docstring. ``start()`` connects the user channel; ``close()`` ends it."""

    def __init__(
        self,
        credentials: PolymarketCredentials,
        client: ClobApi,
        *,
        user_url: str = PUBLIC_USER_CHANNEL,
        markets: tuple[str, ...] = (),
        account: str = "polymarket",
        channel: MarketChannelConfig | None = None,
        on_reversal: Callable[[Reversal], None] | None = None,
    ) -> None:
        self.client = client
        self.account = account
        self.on_reversal = on_reversal
        self.book = UserChannelBook()
        self.reversals: list[Reversal] = []
        self._api_key = credentials.api_key
        self._lock = threading.RLock()
        self._callbacks: tuple[OrderCallback, DealCallback] | None = None
        self._reversal_callback: ReversalCallback | None = None
        self._connected = False
        self._session = 0
        self._by_client_id: dict[str, str] = {}
        self._client_id_of: dict[str, str] = {}
        self._unclaimed: list[dict[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._channel = MarketChannelClient(
            channel or MarketChannelConfig(url=user_url),
            on_frame=self._frame,
            on_lost=self._lost,
            hello=subscription(
                credentials.api_key, credentials.api_secret, credentials.api_passphrase, markets
            ),
            on_subscribed=self._subscribed,
            name="user_channel",
            wire_logger=WIRE_LOG,
        )
        self._thread = threading.Thread(target=self._run, name="polymarket-user", daemon=True)
        self.log = structlog.get_logger("tradeactors", actor="polymarket_broker")

    def start(self) -> PolymarketBroker:
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10.0)
        elif not self._loop.is_closed():
            self._loop.close()  # never started

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def session(self) -> int:
        return self._session

    def register_callbacks(self, on_order: OrderCallback, on_deal: DealCallback) -> None:
        with self._lock:
            if not self._connected:
                raise BrokerDisconnectedError("the user channel is not connected")
            self._callbacks = (on_order, on_deal)

    def register_reversal_callback(self, on_reversal: ReversalCallback) -> None:
        with self._lock:
            self._reversal_callback = on_reversal

    def unregister_callbacks(self) -> None:
        with self._lock:
            self._callbacks = None
            self._reversal_callback = None

    # -- orders ----------------------------------------------------------------------------

    def place_order(self, request: BrokerOrderRequest) -> str:
        """Sign and post a GTC limit order; the same client order id again places nothing."""
        with self._lock:
            known = self._by_client_id.get(request.client_order_id)
        if known is not None:
            return known
        tick_size = Decimal(str(self._call(self.client.get_tick_size, request.security_id)))
        ticks = price_ticks(request.price, tick_size)
        # The client takes floats; a whole number of ticks / 1000 is exact in its rounding.
        args = OrderArgs(
            token_id=request.security_id,
            price=float(Decimal(ticks) / TICKS),
            size=float(request.size),
            side=request.side.value,
        )
        signed = self._call(
            self.client.create_order, args, PartialCreateOrderOptions(tick_size=str(tick_size))
        )
        answer = self._call(self.client.post_order, signed, OrderType.GTC)
        order_no = answer.get("orderID") if isinstance(answer, dict) else None
        if not (isinstance(answer, dict) and answer.get("success") and order_no):
            error = answer.get("errorMsg") if isinstance(answer, dict) else answer
            raise BrokerError(f"the CLOB refused the order: {error or 'no order id'}")
        self.log.info(
            "order_posted",
            order_no=order_no,
            client_order_id=request.client_order_id,
            ticks=ticks,
            status=answer.get("status"),
        )
        with self._lock:
            self._by_client_id[request.client_order_id] = order_no
            self._client_id_of[order_no] = request.client_order_id
            self.book.track(
                OurOrder(order_no=order_no, security_id=request.security_id, side=request.side)
            )
            claimed = [m for m in self._unclaimed if _mentions(m, order_no)]
            for message in claimed:
                self._unclaimed.remove(message)
                self._deliver(self.book.trade(message))
        return str(order_no)

    def cancel_order(self, order_no: str) -> None:
        answer = self._call(self.client.cancel, order_no)
        refused = answer.get("not_canceled", {}) if isinstance(answer, dict) else {}
        if order_no in refused:
            # The CLOB answers an unknown or finished order's cancel 200, in ``not_canceled``.
            self.log.warning("cancel_refused", order_no=order_no, reason=str(refused[order_no]))
            raise BrokerError(f"the CLOB refused the cancel: {refused[order_no]}")

    # -- queries ---------------------------------------------------------------------------

    def list_open_orders(self, account: str, page: int = 0) -> Page[BrokerOrder]:
        if not self._answers(account, page):
            return Page(items=())
        orders = self._call(self.client.get_orders)
        return Page(items=tuple(self._order(o) for o in orders if str(o.get("status")) == "LIVE"))

    def order_status(self, order_no: str) -> BrokerOrder:
        """The order as the CLOB has it, but for one thing: the CLOB keeps an order MATCHED,
        with its ``size_matched``, after a trade that matched it FAILED on chain
        (py-clob-client-v2 issue #34). Such an order trades no more, so when a FAILED trade
        names it, what its other trades did not fill is reported cancelled."""
        order = self._call(self.client.get_order, order_no)
        found = self._order(order)
        if str(order.get("status")) != "MATCHED":
            return found
        trades = self._call(self.client.get_trades, TradeParams(asset_id=found.security_id))
        mentioned = [trade for trade in trades if _mentions(trade, order_no)]
        if not any(t.get("status") == TradeStatus.FAILED.value for t in mentioned):
            return found
        legs = [fill for trade in mentioned for fill in self._fills(trade)]
        settled = sum((fill.size for fill in legs if fill.order_no == order_no), Decimal(0))
        if settled >= found.size:
            return found
        return attrs.evolve(found, filled=settled, status=BrokerOrderStatus.CANCELLED)

    def list_fills(self, account: str, since_ns: int, page: int = 0) -> Page[BrokerFill]:
        if not self._answers(account, page):
            return Page(items=())
        trades = self._call(self.client.get_trades, TradeParams(after=since_ns // 1_000_000_000))
        fills = [fill for trade in trades for fill in self._fills(trade)]
        return Page(items=tuple(f for f in fills if f.match_ts >= since_ns))

    def list_positions(self, account: str, page: int = 0) -> Page[BrokerPosition]:
        """The net of the trade history per token (the CLOB keeps no positions)."""
        if not self._answers(account, page):
            return Page(items=())
        quantity: dict[str, Decimal] = defaultdict(Decimal)
        bought: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        sold: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for fill in self.list_fills(account, 0).items:
            quantity[fill.security_id] += fill.signed_size
            side = bought if fill.side is OrderSide.BUY else sold
            side[fill.security_id][0] += fill.price * fill.size
            side[fill.security_id][1] += fill.size
        positions = []
        for security_id, net in sorted(quantity.items()):
            if not net:
                continue
            cost, size = (bought if net > 0 else sold)[security_id]
            positions.append(
                BrokerPosition(
                    account=self.account,
                    security_id=security_id,
                    quantity=net,
                    avg_price=cost / size if size else Decimal(0),
                )
            )
        return Page(items=tuple(positions))

    def _answers(self, account: str, page: int) -> bool:
        """One account (the API key's), one page (the client pages through the cursor)."""
        return account == self.account and page == 0

    def _order(self, order: dict[str, Any]) -> BrokerOrder:
        order_no = str(order["id"])
        filled = Decimal(str(order.get("size_matched") or 0))
        status = _ORDER_STATUS.get(str(order.get("status")))
        if status is None:
            status = BrokerOrderStatus.PARTIALLY_FILLED if filled else BrokerOrderStatus.SUBMITTED
        return BrokerOrder(
            order_no=order_no,
            account=self.account,
            security_id=str(order["asset_id"]),
            side=OrderSide(str(order["side"]).upper()),
            price=Decimal(str(order["price"])),
            size=Decimal(str(order["original_size"])),
            filled=filled,
            status=status,
            client_order_id=self._client_id_of.get(order_no),
        )

    def _fills(self, trade: dict[str, Any]) -> list[BrokerFill]:
        """The account's legs of one listed trade: the taker's if it is the account's, and
        each maker order of the account's (``owner`` is the API key); none if it FAILED."""
        if trade.get("status") == TradeStatus.FAILED.value:
            return []
        taker_side = OrderSide(str(trade["side"]).upper())
        legs: list[tuple[str, str, OrderSide, object, object]] = []
        taker = str(trade.get("taker_order_id", ""))
        if trade.get("trader_side") == "TAKER" or taker in self.book.orders:
            legs.append((taker, str(trade["asset_id"]), taker_side, trade["price"], trade["size"]))
        for maker in trade.get("maker_orders") or ():
            order_no = str(maker.get("order_id", ""))
            if maker.get("owner") != self._api_key and order_no not in self.book.orders:
                continue
            side = maker.get("side")
            legs.append(
                (
                    order_no,
                    str(maker.get("asset_id") or trade["asset_id"]),
                    OrderSide(str(side).upper()) if side else _opposite(taker_side),
                    maker["price"],
                    maker["matched_amount"],
                )
            )
        match_ts = seconds_ns(trade.get("match_time") or 0)
        return [
            BrokerFill(
                order_no=order_no,
                seq_no=trade_seq_no(str(trade["id"])),
                match_ts=match_ts,
                account=self.account,
                security_id=security_id,
                side=side,
                price=Decimal(str(price)),
                size=Decimal(str(size)),
                client_order_id=self._client_id_of.get(order_no),
            )
            for order_no, security_id, side, price, size in legs
        ]

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        """A CLOB call; its failure as a BrokerError (a 429 as RateLimitedError)."""
        try:
            return method(*args)
        except PolyException as error:
            if getattr(error, "status_code", None) == 429:
                raise RateLimitedError(f"the CLOB's rate limit: {error}") from None
            raise BrokerError(f"the CLOB call {method.__name__} failed: {error}") from None
        except Exception as error:  # the client raises bare Exceptions for bad arguments
            raise BrokerError(f"the CLOB call {method.__name__} failed: {error}") from None

    # -- the user channel's thread ---------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._channel.run(self._stop))
        finally:
            self._loop.close()

    def _subscribed(self) -> None:
        self._connected = True

    def _lost(self) -> None:
        with self._lock:
            self._connected = False
            self._session += 1
            self._callbacks = None
            self._reversal_callback = None

    def _frame(self, text: str) -> None:
        with self._lock:
            self._adopt(text)
            rejected = len(self.book.rejected)
            notes = self.book.on_frame(text)
            for why in self.book.rejected[rejected:]:
                self.log.warning("user_channel_message_rejected", error=why[:200])
            if not notes:
                self._keep_unclaimed(text)
            self._deliver(notes)

    def _adopt(self, text: str) -> None:
        """Track the account's orders placed elsewhere (another client, the web app) that a
        trade names as the API key's: their legs are the account's deals too."""
        try:
            parsed = json.loads(text)
        except ValueError:
            return
        for message in parsed if isinstance(parsed, list) else [parsed]:
            if not (isinstance(message, dict) and message.get("event_type") == "trade"):
                continue
            try:
                taker = str(message.get("taker_order_id") or "")
                side = OrderSide(str(message["side"]).upper())
                if message.get("trader_side") == "TAKER" and taker not in self.book.orders:
                    self.book.track(
                        OurOrder(order_no=taker, security_id=str(message["asset_id"]), side=side)
                    )
                for maker in message.get("maker_orders") or ():
                    order_no = str(maker.get("order_id") or "")
                    if maker.get("owner") != self._api_key or order_no in self.book.orders:
                        continue
                    own = maker.get("side")
                    self.book.track(
                        OurOrder(
                            order_no=order_no,
                            security_id=str(maker.get("asset_id") or message["asset_id"]),
                            side=OrderSide(str(own).upper()) if own else _opposite(side),
                        )
                    )
            except (KeyError, ValueError):
                continue  # the book rejects and logs the malformed message

    def _keep_unclaimed(self, text: str) -> None:
        """A trade for an order whose ``post_order`` has not returned yet: kept for it."""
        try:
            parsed = json.loads(text)
        except ValueError:
            return
        for message in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(message, dict) and message.get("event_type") == "trade":
                legs = [message.get("taker_order_id")] + [
                    m.get("order_id") for m in message.get("maker_orders") or ()
                ]
                if not any(leg in self.book.orders for leg in legs):
                    self._unclaimed = [*self._unclaimed[-999:], message]

    def _deliver(self, notes: list[Note]) -> None:
        callbacks = self._callbacks
        for note in notes:
            if isinstance(note, Reversal):
                self.reversals.append(note)
                self.log.warning(
                    "trade_reversed",
                    order_no=note.deal.order_no,
                    key=note.deal.key,
                    reason=note.reason,
                )
                deal = note.deal
                if self._reversal_callback is not None:
                    self._reversal_callback(deal.order_no, deal.seq_no, deal.match_ts, note.reason)
                if self.on_reversal is not None:
                    self.on_reversal(note)
                continue
            if callbacks is None:
                continue  # no one registered: reconciliation lists it
            on_order, on_deal = callbacks
            if isinstance(note, OrderNotice):
                on_order(note.order_no, note.seq_no, note.status, note.broker_ts_ns, note.reason)
            else:
                on_deal(
                    note.order_no,
                    note.seq_no,
                    note.match_ts,
                    note.security_id,
                    note.side,
                    note.price,
                    note.size,
                )


def _mentions(trade: dict[str, Any], order_no: str) -> bool:
    return trade.get("taker_order_id") == order_no or any(
        maker.get("order_id") == order_no for maker in trade.get("maker_orders") or ()
    )


def _opposite(side: OrderSide) -> OrderSide:
    return OrderSide.SELL if side is OrderSide.BUY else OrderSide.BUY
