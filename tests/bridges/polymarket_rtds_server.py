"""Polymarket's Real-Time Data Socket on 127.0.0.1, crypto prices as documented, for tests.

A connection's first message must be the documented subscription (``action``
``subscribe``, one entry with the topic, its type and the filter: Chainlink's a JSON
``{"symbol": ...}``, Binance's a comma-separated list); anything else is closed, as RTDS
closes on an invalid subscription. ``PING`` is answered ``PONG``. The server sends its
``script`` of prices (``(timestamp_ms, value)``, the value written as the JSON number it
is given, so the client must read it exactly), each ``{"topic", "type": "update",
"timestamp", "payload": {"symbol", "timestamp", "value"}}``; ``drop_after`` prices into the
first connection it closes the TCP connection without a closing handshake and goes on with
the script on the next one. ``push`` sends one more price on the current connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

TOPICS = {"chainlink": "crypto_prices_chainlink", "binance": "crypto_prices"}


class RtdsServer:
    def __init__(
        self,
        *,
        provider: str = "chainlink",
        symbol: str = "btc/usd",
        script: tuple[tuple[int, str], ...] = (),
        drop_after: int | None = None,
    ) -> None:
        self.provider = provider
        self.topic = TOPICS[provider]
        self.symbol = symbol
        self.script = list(script)
        self.drop_after = drop_after
        self.subscriptions: list[Any] = []
        self.sent: list[tuple[int, str]] = []
        self.pings = 0
        self.done = asyncio.Event()
        """Set once the whole script was sent."""
        self.server: Server | None = None
        self.connection: ServerConnection | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = next(iter(self.server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}"

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.server = await serve(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    def push(self, timestamp_ms: int, value: str) -> None:
        """Send one price now (from any thread), on the connection that is up."""
        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(self._push(timestamp_ms, value), self.loop).result(10)

    async def _push(self, timestamp_ms: int, value: str) -> None:
        assert self.connection is not None
        await self._send(self.connection, timestamp_ms, value)

    # -- the protocol ------------------------------------------------------------------------

    async def _serve(self, connection: ServerConnection) -> None:
        subscription = json.loads(await connection.recv())
        self.subscriptions.append(subscription)
        if not self._valid(subscription):
            await connection.close(code=1008, reason="invalid subscription")
            return
        self.connection = connection
        reader = asyncio.ensure_future(self._read(connection))
        try:
            while self.script:
                if self.drop_after is not None and len(self.subscriptions) == 1:
                    if self.drop_after == 0:
                        assert connection.transport is not None
                        connection.transport.close()
                        return
                    self.drop_after -= 1
                await self._send(connection, *self.script.pop(0))
            self.done.set()
            await reader
        finally:
            reader.cancel()

    def _valid(self, subscription: Any) -> bool:
        if not isinstance(subscription, dict) or subscription.get("action") != "subscribe":
            return False
        entries = subscription.get("subscriptions")
        if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
            return False
        entry = entries[0]
        if entry.get("topic") != self.topic:
            return False
        filters = entry.get("filters")
        if self.provider == "chainlink":
            return entry.get("type") == "*" and json.loads(filters) == {"symbol": self.symbol}
        return entry.get("type") == "update" and self.symbol in str(filters).split(",")

    async def _read(self, connection: ServerConnection) -> None:
        async for message in connection:
            if message == "PING":
                self.pings += 1
                await connection.send("PONG")

    async def _send(self, connection: ServerConnection, timestamp_ms: int, value: str) -> None:
        payload = f'{{"symbol":"{self.symbol}","timestamp":{timestamp_ms},"value":{value}}}'
        text = (
            f'{{"topic":"{self.topic}","type":"update","timestamp":{timestamp_ms + 24},'
            f'"payload":{payload}}}'
        )
        await connection.send(text)
        self.sent.append((timestamp_ms, value))


@contextlib.contextmanager
def serving(server: RtdsServer) -> Iterator[RtdsServer]:
    """``server`` on a loop of its own thread, as a real RTDS is another process."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
