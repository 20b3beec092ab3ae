"""Live Polymarket books as a feed: one market, or a series of consecutive markets.

A thread of its own runs an asyncio loop with the market channel's connection, and hands
the records (``MarketChannelSession``) to whoever takes them, in arrival order. With a
series (seed 000's consecutive BTC up/down windows), the market of the current window is
resolved from the Gamma API; at its end time the feed closes it (``MarketClosed``), resolves
the next window's market and connects again for its tokens (the channel has no
unsubscribe), whose ``MarketOpened`` the runtime's market supervisor answers with a fresh
PositionActor, as for any market switch.

With a reference source (``ReferenceFeed``), one more connection, to RTDS, lasts the whole
feed; each of its prices becomes a ``ReferencePrice`` of the open market, in arrival order
among the books' records, with the strike: the first price at or after the market's start
(a series window's start, or the moment a fixed market's feed began).

All waiting goes through ``sleep`` and the time of day through ``now_ns``, so a test moves
a series from one market to the next by its own clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import structlog

from bridges.feed_codec import FeedRecord
from bridges.polymarket_gamma import GammaClient, GammaError, GammaMarket, MarketSeries
from bridges.polymarket_market_channel import MarketChannelSession, Translation, log_rejections
from bridges.polymarket_rtds import (
    PING_INTERVAL_S,
    PUBLIC_RTDS,
    ReferenceSource,
    ReferenceTick,
    ReferenceTrack,
    RtdsPrices,
)
from bridges.polymarket_ws import MarketChannelClient, MarketChannelConfig, Sleep, run_until

POLL_S = 0.05
"""How long ``records`` waits for the next record before it reports a gap (None)."""
METADATA_RETRY_S = 5.0


@attrs.frozen(kw_only=True)
class FixedMarket:
    """One market by its tokens; it lasts until the feed is stopped."""

    assets: tuple[str, str]
    market_id: str | None = None


@attrs.frozen(kw_only=True)
class SeriesMarkets:
    """The market of each window of ``series``, from ``gamma``, switched at its end time."""

    series: MarketSeries
    gamma: GammaClient


MarketPlan = FixedMarket | SeriesMarkets


@attrs.frozen(kw_only=True)
class ReferenceFeed:
    """A reference price from RTDS: ``source`` at ``url``, ``PING`` on the interval."""

    source: ReferenceSource
    url: str = PUBLIC_RTDS
    ping_interval_s: float = PING_INTERVAL_S


def reference_client(
    feed: ReferenceFeed,
    *,
    on_ticks: Callable[[tuple[ReferenceTick, ...]], None],
    log: Any,
    sleep: Sleep = asyncio.sleep,
) -> MarketChannelClient:
    """The RTDS connection: subscribe to ``feed.source``, ``PING``, reconnect with backoff;
    its prices go to ``on_ticks``, its refused messages to the log."""
    prices = RtdsPrices(feed.source)

    def on_frame(text: str) -> None:
        ticks, rejections = prices.on_frame(text)
        log_rejections(log, Translation(rejections=rejections))
        on_ticks(ticks)

    return MarketChannelClient(
        MarketChannelConfig(url=feed.url, ping_interval_s=feed.ping_interval_s),
        on_frame=on_frame,
        on_lost=lambda: None,  # a price is whole in each message: nothing goes stale
        sleep=sleep,
        hello=feed.source.subscription(),
        name="rtds",
    )


class _Finished:
    """The end of the feed, after the last market's closing."""


class LiveMarketFeed:
    def __init__(
        self,
        plan: MarketPlan,
        channel: MarketChannelConfig,
        *,
        now_ns: Callable[[], int] = time.time_ns,
        sleep: Sleep = asyncio.sleep,
        reference: ReferenceFeed | None = None,
    ) -> None:
        """``channel`` gives the endpoint and timings; its ``assets`` are replaced by each
        market's."""
        self.plan = plan
        self.channel = channel
        self.reference = reference
        self.track = ReferenceTrack(reference.source) if reference is not None else None
        self.reference_client: MarketChannelClient | None = None
        self.now_ns = now_ns
        self.sleep = sleep
        self.markets: list[str] = []
        """The markets opened so far, in order."""
        self.clients: list[MarketChannelClient] = []
        self._records: queue.Queue[FeedRecord | _Finished] = queue.Queue()
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="polymarket-feed", daemon=True)
        self.error: BaseException | None = None
        self.log = structlog.get_logger("tradeactors", actor="polymarket_feed")

    def start(self) -> LiveMarketFeed:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the current market and end the feed (from any thread; a no-op once the
        feed has ended)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: the feed has ended
            self._loop.call_soon_threadsafe(self._stop.set)

    def join(self, timeout_s: float = 10.0) -> None:
        self._thread.join(timeout_s)

    def records(self, *, poll_s: float = POLL_S) -> Iterator[FeedRecord | None]:
        """Records as they arrive; None after ``poll_s`` without one (a gap, for the caller
        to do what waits between records); ends after the last market's closing."""
        while True:
            try:
                item = self._records.get(timeout=poll_s)
            except queue.Empty:
                yield None
                continue
            if isinstance(item, _Finished):
                if self.error is not None:
                    raise self.error
                return
            yield item

    # -- the feed's thread -------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as error:  # handed to the consumer, which raises it
            self.error = error
            self.log.error("polymarket_feed_failed", error=repr(error))
        finally:
            self._records.put(_Finished())
            self._loop.close()

    async def _main(self) -> None:
        references = asyncio.ensure_future(self._references())
        references.add_done_callback(self._references_ended)
        try:
            await self._markets()
        finally:
            references.cancel()
            await asyncio.gather(references, return_exceptions=True)

    async def _references(self) -> None:
        """Stream the reference prices into the open market, for the feed's whole life."""
        if self.reference is None:
            return
        track = self.track
        assert track is not None

        def on_ticks(ticks: tuple[ReferenceTick, ...]) -> None:
            for tick in ticks:
                self._put(track.on_tick(tick))

        self.reference_client = reference_client(
            self.reference, on_ticks=on_ticks, log=self.log, sleep=self.sleep
        )
        await self.reference_client.run(asyncio.Event())

    def _references_ended(self, task: asyncio.Future[None]) -> None:
        """The books go on without their reference, loudly (an endpoint that is no URL)."""
        if not task.cancelled() and task.exception() is not None:
            self.log.error("reference_feed_failed", error=repr(task.exception()))

    async def _markets(self) -> None:
        if isinstance(self.plan, FixedMarket):
            await self._market(
                self.plan.assets, self.plan.market_id, end_ns=None, start_ns=self.now_ns()
            )
            return
        windows_ahead = 0
        while not self._stop.is_set():
            slug = self.plan.series.slug_at(self.now_ns(), windows_ahead=windows_ahead)
            market = await self._resolve(slug)
            if market is None:
                continue
            if market.end_ns <= self.now_ns():
                windows_ahead += 1  # listed, but over: the next window's market
                continue
            start_ns = self.plan.series.start_at(self.now_ns(), windows_ahead=windows_ahead) * 10**9
            windows_ahead = 0
            await self._market(market.tokens, market.slug, end_ns=market.end_ns, start_ns=start_ns)

    async def _resolve(self, slug: str) -> GammaMarket | None:
        assert isinstance(self.plan, SeriesMarkets)
        try:
            return await asyncio.get_running_loop().run_in_executor(
                None, self.plan.gamma.market, slug
            )
        except GammaError as error:
            self.log.warning("market_metadata_unavailable", slug=slug, error=str(error))
            await run_until(self._stop, self.sleep(METADATA_RETRY_S))
            return None

    async def _market(
        self, assets: tuple[str, str], market_id: str | None, *, end_ns: int | None, start_ns: int
    ) -> None:
        """Stream one market until its end time (or the feed's stop), then close it."""
        session = MarketChannelSession(assets, market_id=market_id)
        self._put(session.open_if_known(self.now_ns()))
        if market_id is not None:
            self._opened(market_id, start_ns)

        def on_frame(text: str) -> None:
            was_open = session.opened
            records, translation = session.on_frame(text)
            self._put(records)
            if not was_open and session.opened and session.books.market_id is not None:
                self._opened(session.books.market_id, start_ns)
            log_rejections(self.log, translation)

        client = MarketChannelClient(
            attrs.evolve(self.channel, assets=assets),
            on_frame=on_frame,
            on_lost=session.books.connection_lost,
            sleep=self.sleep,
        )
        self.clients.append(client)
        market_over = asyncio.Event()
        ender = asyncio.ensure_future(self._end_at(end_ns, market_over))
        try:
            await client.run(market_over)
        finally:
            ender.cancel()
            await asyncio.gather(ender, return_exceptions=True)
        if self.track is not None:
            self.track.close()
        self._put(session.close(self.now_ns()))

    def _opened(self, market_id: str, start_ns: int) -> None:
        self.markets.append(market_id)
        if self.track is not None:
            self._put(self.track.open(market_id, start_ns))

    async def _end_at(self, end_ns: int | None, market_over: asyncio.Event) -> None:
        """Set ``market_over`` at the market's end time or at the feed's stop."""
        if end_ns is not None:
            await run_until(self._stop, self.sleep(max(end_ns - self.now_ns(), 0) / 1e9))
        else:
            await self._stop.wait()
        market_over.set()

    def _put(self, records: Sequence[FeedRecord]) -> None:
        for record in records:
            self._records.put(record)
