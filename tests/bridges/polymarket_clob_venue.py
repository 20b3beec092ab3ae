"""Polymarket's CLOB REST API and authenticated user channel on 127.0.0.1, for tests.

The HTTP side answers the calls ``py_clob_client`` makes, with the documented shapes:
``GET /tick-size``, ``/neg-risk``, ``/fee-rate``; ``POST /order`` (a signed order, answered
``{"success", "errorMsg", "orderID", "status"}``); ``DELETE /order``; ``GET /data/orders``,
``/data/trades`` (``{"data", "next_cursor"}``, one item a page so the client's cursor loop
runs) and ``/data/order/<id>``. Authenticated calls must carry the level-2 headers with the
expected ``POLY_API_KEY``; anything else is a 401.

The WebSocket side is the user channel: the first message must be the subscription with
the expected ``auth``; ``PING`` is answered ``PONG``; ``push`` sends ``order`` / ``trade``
messages to every subscribed connection, ``drop`` closes them without a closing handshake
(``refusing`` turns new connections away until it is cleared). ``rate_limit`` (calls,
period) answers the ``/data`` queries past it HTTP 429, as the real CLOB throttles; an
unknown order's cancel is answered in ``not_canceled``, as the CLOB does. A FAILED trade
reopens its order (``LIVE``, nothing matched) unless ``keeps_matched``: then the order stays
``MATCHED`` with its ``size_matched``, as the real CLOB keeps it (py-clob-client-v2 issue
#34). Both run on one thread of their own, so a threaded runtime can trade against them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from bridges.polymarket_clob_broker import WIRE_LOG
from bridges.polymarket_credentials import PolymarketCredentials
from tests.bridges.polymarket_gamma_server import SHUTDOWN_POLL_S

CREDENTIALS = PolymarketCredentials(
    # A well-known development key (Hardhat's first account): it signs, it holds nothing.
    private_key="0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    api_key="0f1e2d3c-api-key-for-tests",
    api_secret="c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OTA=",
    api_passphrase="passphrase-for-tests-only",
)
END_CURSOR = "LTE="


class ClobVenue:
    def __init__(
        self,
        *,
        tick_size: str = "0.01",
        answer: dict[str, Any] | None = None,
        match_on_post: bool = False,
        page_size: int = 1,
        rate_limit: tuple[int, float] | None = None,
        keeps_matched: bool = False,
    ) -> None:
        self.page_size = page_size
        self.keeps_matched = keeps_matched
        self.rate_limit = rate_limit
        self.limited = 0
        """Queries answered 429."""
        self.refusing = False
        self.sent = 0
        """Frames sent on the user channel (pushes and PONGs), for a driver's idle check."""
        self._queries: list[float] = []
        self._queries_lock = threading.Lock()
        self.tick_size = tick_size
        self.answer = answer
        """What ``POST /order`` answers instead of accepting (a refusal)."""
        self.match_on_post = match_on_post
        """Push the order's MATCHED trade on the channel before ``POST /order`` answers, as a
        marketable order's trade can overtake the answer."""
        self.posted: list[dict[str, Any]] = []
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.cancelled: list[str] = []
        self.subscriptions: list[Any] = []
        self.unauthorized = 0
        self.pings = 0
        self._numbers = itertools.count(1)
        self._connections: set[ServerConnection] = set()
        self._loop = asyncio.new_event_loop()
        self._ws: Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True
        )

    def __enter__(self) -> ClobVenue:
        self._thread.start()
        self._http_thread.start()
        self._ws = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(5)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        assert self._ws is not None
        self._ws.close()
        asyncio.run_coroutine_threadsafe(self._ws.wait_closed(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    @property
    def http_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def ws_url(self) -> str:
        assert self._ws is not None
        host, port = next(iter(self._ws.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}/ws/user"

    @property
    def connections(self) -> int:
        return len(self._connections)

    # -- the user channel ------------------------------------------------------------------

    def push(self, *messages: dict[str, Any], as_array: bool = False) -> None:
        """Send the messages to every subscribed connection, in order, and wait until sent."""
        frames = [json.dumps(list(messages))] if as_array else [json.dumps(m) for m in messages]

        async def send() -> None:
            for connection in list(self._connections):
                for frame in frames:
                    await connection.send(frame)
                    self.sent += 1

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(5)

    def drop(self) -> None:
        """Close every connection's TCP stream without a closing handshake."""

        def close() -> None:
            for connection in list(self._connections):
                assert connection.transport is not None
                connection.transport.abort()

        self._loop.call_soon_threadsafe(close)

    async def _listen(self) -> Server:
        return await serve(self._serve, "127.0.0.1", 0, logger=WIRE_LOG)

    async def _serve(self, connection: ServerConnection) -> None:
        if self.refusing:
            await connection.close(1013, "try again later")
            return
        subscription = json.loads(await connection.recv())
        self.subscriptions.append(subscription)
        expected = {
            "apiKey": CREDENTIALS.api_key,
            "secret": CREDENTIALS.api_secret,
            "passphrase": CREDENTIALS.api_passphrase,
        }
        if subscription.get("type") != "user" or subscription.get("auth") != expected:
            await connection.close(1008, "bad auth")
            return
        self._connections.add(connection)
        try:
            async for message in connection:
                if message == "PING":
                    self.pings += 1
                    await connection.send("PONG")
                    self.sent += 1
        except ConnectionClosed:
            pass  # a dropped connection ends here
        finally:
            self._connections.discard(connection)

    # -- the venue's records ---------------------------------------------------------------

    def accept(self, body: dict[str, Any]) -> dict[str, Any]:
        self.posted.append(body)
        if self.answer is not None:
            return self.answer
        signed = body["order"]
        maker, taker = Decimal(signed["makerAmount"]), Decimal(signed["takerAmount"])
        buy = signed["side"] == "BUY"
        size = (taker if buy else maker) / 1_000_000
        price = (maker / taker) if buy else (taker / maker)
        order_no = f"0x{next(self._numbers):064x}"
        self.orders[order_no] = {
            "id": order_no,
            "status": "LIVE",
            "owner": CREDENTIALS.api_key,
            "market": "0xmarket",
            "asset_id": signed["tokenId"],
            "side": signed["side"],
            "original_size": str(size.normalize()),
            "size_matched": "0",
            "price": str(price.quantize(Decimal("0.001")).normalize()),
            "outcome": "YES",
            "created_at": 1_700_000_000,
            "expiration": "0",
            "order_type": body["orderType"],
            "associate_trades": [],
        }
        if self.match_on_post:
            self.push(self.trade(order_no, f"t-{order_no[-4:]}", "MATCHED"))
        return {
            "success": True,
            "errorMsg": "",
            "orderID": order_no,
            "transactionsHashes": [],
            "status": "live",
        }

    def throttled(self) -> bool:
        """Whether this query is past ``rate_limit`` (a sliding window)."""
        if self.rate_limit is None:
            return False
        calls, period_s = self.rate_limit
        with self._queries_lock:
            now = time.monotonic()
            self._queries = [t for t in self._queries if now - t < period_s]
            if len(self._queries) >= calls:
                self.limited += 1
                return True
            self._queries.append(now)
            return False

    def outside_order(self, token_id: str, side: str, price: Decimal, size: Decimal) -> str:
        """An open order of the account's that this process did not post (another client's)."""
        order_no = f"0x{next(self._numbers):064x}"
        self.orders[order_no] = {
            "id": order_no,
            "status": "LIVE",
            "owner": CREDENTIALS.api_key,
            "market": "0xmarket",
            "asset_id": token_id,
            "side": side,
            "original_size": str(size.normalize()),
            "size_matched": "0",
            "price": str(price.normalize()),
            "outcome": "YES",
            "created_at": 1_700_000_000,
            "expiration": "0",
            "order_type": "GTC",
            "associate_trades": [],
        }
        return order_no

    def trade(
        self,
        order_no: str,
        trade_id: str,
        status: str,
        *,
        size: str | None = None,
        price: str | None = None,
    ) -> dict:
        """A ``trade`` message in which ``order_no`` is the taker (at its own price unless
        ``price`` says), also kept for the trade query (its last status)."""
        order = self.orders[order_no]
        price = price or order["price"]
        message = {
            "event_type": "trade",
            "type": "TRADE",
            "id": trade_id,
            "taker_order_id": order_no,
            "market": order["market"],
            "asset_id": order["asset_id"],
            "side": order["side"],
            "size": size or order["original_size"],
            "price": price,
            "fee_rate_bps": "0",
            "status": status,
            "match_time": "1700000100",
            "last_update": "1700000100",
            "outcome": order["outcome"],
            "owner": CREDENTIALS.api_key,
            "trade_owner": CREDENTIALS.api_key,
            "trader_side": "TAKER",
            "maker_orders": [
                {
                    "order_id": "0x" + "e" * 64,
                    "owner": "someone-else",
                    "maker_address": "0x" + "1" * 40,
                    "matched_amount": size or order["original_size"],
                    "price": price,
                    "asset_id": order["asset_id"],
                    "outcome": order["outcome"],
                }
            ],
        }
        known = any(t["id"] == trade_id for t in self.trades)
        self.trades = [t for t in self.trades if t["id"] != trade_id] + [message]
        if status == "FAILED":
            if self.keeps_matched:
                return message
            order["size_matched"] = "0"
            order["status"] = "LIVE"
        elif not known:
            matched = Decimal(order["size_matched"]) + Decimal(message["size"])
            order["size_matched"] = str(matched.normalize())
            if order["size_matched"] == order["original_size"]:
                order["status"] = "MATCHED"
        return message

    def order_update(self, order_no: str) -> dict[str, Any]:
        """The ``order`` UPDATE message the channel sends when a trade matched the order."""
        order = self.orders[order_no]
        return {
            "event_type": "order",
            "type": "UPDATE",
            "id": order_no,
            "asset_id": order["asset_id"],
            "side": order["side"],
            "price": order["price"],
            "original_size": order["original_size"],
            "size_matched": order["size_matched"],
            "timestamp": "1700000100",
        }


def _handler(venue: ClobVenue) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            """Quiet: the tests read the venue's records instead."""

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            if url.path == "/tick-size":
                return self._json({"minimum_tick_size": float(venue.tick_size)})
            if url.path == "/neg-risk":
                return self._json({"neg_risk": False})
            if url.path == "/fee-rate":
                return self._json({"base_fee": 0})
            if not self._authorized():
                return None
            if url.path.startswith("/data/") and venue.throttled():
                return self._json({"error": "Too Many Requests"}, 429)
            if url.path == "/data/orders":
                live = [o for o in venue.orders.values() if o["status"] == "LIVE"]
                return self._page(live, query)
            if url.path == "/data/trades":
                return self._page(list(venue.trades), query)
            if url.path.startswith("/data/order/"):
                return self._json(venue.orders[url.path.rsplit("/", 1)[1]])
            return self._json({"error": "not found"}, 404)

        def do_POST(self) -> None:
            if urlparse(self.path).path == "/order" and self._authorized():
                self._json(venue.accept(self._body()))

        def do_DELETE(self) -> None:
            if urlparse(self.path).path == "/order" and self._authorized():
                order_no = self._body()["orderID"]
                if order_no not in venue.orders:
                    not_found = {order_no: "order can't be found - already canceled or matched"}
                    self._json({"canceled": [], "not_canceled": not_found})
                    return
                venue.cancelled.append(order_no)
                venue.orders[order_no]["status"] = "CANCELED"
                self._json({"canceled": [order_no], "not_canceled": {}})

        def _authorized(self) -> bool:
            headers = ("POLY_ADDRESS", "POLY_SIGNATURE", "POLY_TIMESTAMP", "POLY_PASSPHRASE")
            if self.headers.get("POLY_API_KEY") == CREDENTIALS.api_key and all(
                self.headers.get(name) for name in headers
            ):
                return True
            venue.unauthorized += 1
            self._json({"error": "Unauthorized/Invalid api key"}, 401)
            return False

        def _page(self, items: list[dict[str, Any]], query: dict[str, list[str]]) -> None:
            cursor = query.get("next_cursor", ["MA=="])[0]
            at = 0 if cursor == "MA==" else int(cursor)
            end = at + venue.page_size
            self._json(
                {
                    "data": items[at:end],
                    "next_cursor": str(end) if end < len(items) else END_CURSOR,
                    "limit": venue.page_size,
                    "count": len(items[at:end]),
                }
            )

        def _body(self) -> Any:
            return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))

        def _json(self, body: Any, status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
