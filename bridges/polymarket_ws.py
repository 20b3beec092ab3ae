"""A connection to Polymarket's market channel that stays up: subscribe, ``PING``, reconnect.

The channel wants the text ``PING`` every 10 s (it answers ``PONG``) and has no
unsubscribe, so one connection serves one set of tokens. When the connection drops (or
cannot be made) the client tells ``on_lost`` (the books are unsynced until their next
``book``), waits an exponential backoff and connects again, subscribing to the same tokens;
the venue then sends every book again. Frames go to ``on_frame`` as they arrive, in order.

All waiting goes through ``sleep`` (``asyncio.sleep`` by default), so a test decides when
the next ``PING`` is due and how long a backoff lasts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidURI, WebSocketException

from bridges.polymarket_market_channel import PING, PUBLIC_MARKET_CHANNEL, subscription

Sleep = Callable[[float], Awaitable[None]]

MAX_FRAME_BYTES = 16 * 1024 * 1024
"""The book dump of many tokens is one frame; the library's default (1 MiB) is too small."""


@attrs.frozen(kw_only=True)
class MarketChannelConfig:
    """Where and how to connect, and the tokens to stream (a live feed gives each market's).
    ``url`` must be ws:// or wss://."""

    assets: tuple[str, ...] = ()
    url: str = PUBLIC_MARKET_CHANNEL
    ping_interval_s: float = 10.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    open_timeout_s: float = 10.0


@attrs.define
class ChannelStats:
    connections: int = 0
    """Connections that were opened and subscribed."""
    failures: int = 0
    """Connections that could not be made or were lost."""
    frames: int = 0
    pings: int = 0


class MarketChannelClient:
    """Streams one set of tokens until ``stop`` is set; see the module docstring."""

    def __init__(
        self,
        config: MarketChannelConfig,
        *,
        on_frame: Callable[[str], None],
        on_lost: Callable[[], None],
        sleep: Sleep = asyncio.sleep,
        hello: str | None = None,
        on_subscribed: Callable[[], None] = lambda: None,
        name: str = "market_channel",
        wire_logger: logging.Logger | None = None,
    ) -> None:
        """``hello`` replaces the market subscription (the user channel's, which carries
        credentials: it is sent, never logged); ``on_subscribed`` runs once it is sent;
        ``wire_logger`` is the one ``websockets`` writes frames to at DEBUG."""
        self.config = config
        self.on_frame = on_frame
        self.on_lost = on_lost
        self.sleep = sleep
        self.hello = hello if hello is not None else subscription(config.assets)
        self.on_subscribed = on_subscribed
        self.name = name
        self.wire_logger = wire_logger
        self.stats = ChannelStats()
        self.log = structlog.get_logger("tradeactors", actor=f"polymarket_{name}")

    async def run(self, stop: asyncio.Event) -> None:
        failures_in_a_row = 0
        while not stop.is_set():
            try:
                async with connect(
                    self.config.url,
                    open_timeout=self.config.open_timeout_s,
                    ping_interval=None,
                    max_size=MAX_FRAME_BYTES,
                    logger=self.wire_logger,
                ) as connection:
                    await connection.send(self.hello)
                    self.stats.connections += 1
                    failures_in_a_row = 0
                    self.on_subscribed()
                    self.log.info(
                        f"{self.name}_subscribed",
                        url=self.config.url,
                        assets=len(self.config.assets),
                        connection=self.stats.connections,
                    )
                    await self._session(connection, stop)
            except InvalidURI:
                raise
            except (OSError, TimeoutError, InvalidHandshake, WebSocketException) as error:
                self.log.warning(f"{self.name}_lost", url=self.config.url, error=repr(error)[:200])
            if stop.is_set():
                return
            self.stats.failures += 1
            self.on_lost()
            delay = min(
                self.config.backoff_max_s,
                self.config.backoff_initial_s * 2**failures_in_a_row,
            )
            failures_in_a_row += 1
            self.log.info(f"{self.name}_reconnecting", delay_s=delay)
            await run_until(stop, self.sleep(delay))

    async def _session(self, connection: ClientConnection, stop: asyncio.Event) -> None:
        """Receive until the connection ends or ``stop``; ``PING`` on the interval."""
        pinger = asyncio.ensure_future(self._ping(connection))
        try:
            await run_until(stop, self._receive(connection))
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    async def _receive(self, connection: ClientConnection) -> None:
        async for frame in connection:
            self.stats.frames += 1
            text = frame if isinstance(frame, str) else _binary(frame)
            self.on_frame(text)

    async def _ping(self, connection: ClientConnection) -> None:
        with contextlib.suppress(WebSocketException):
            while True:
                await self.sleep(self.config.ping_interval_s)
                await connection.send(PING)
                self.stats.pings += 1


def _binary(frame: bytes) -> str:
    """The channel sends text; a binary frame is handed on as text the translator refuses."""
    return f"<binary frame of {len(frame)} bytes>"


async def run_until(stop: asyncio.Event, work: Awaitable[Any]) -> None:
    """Run ``work`` until it ends (raising what it raised) or ``stop`` is set."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _pending = await asyncio.wait((task, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        task.cancel()
        stopper.cancel()
        await asyncio.gather(task, stopper, return_exceptions=True)
    if task in done:
        task.result()
