"""``tradeactors run --venue polymarket``: live books from a market channel on 127.0.0.1,
filled against the simulated venue; the run ends with the positions a replay of the feed it
saved ends with."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bridges.feed_codec import read_feed
from messages.market_data import BookSnapshot, PriceChange, ReferencePrice
from messages.markets import MarketClosed, MarketOpened
from tests.bridges.polymarket_rtds_server import RtdsServer, serving
from tests.bridges.polymarket_venue import PolymarketVenue
from tools.cli import main

pytestmark = pytest.mark.timeout(90)

ASSETS = ("41", "42")
QUIET = ("--quiet", "--no-zmq", "--no-metrics")


@pytest.fixture
def venue(request: pytest.FixtureRequest) -> Iterator[PolymarketVenue]:
    """A market whose asks sum under the payout (the shipped strategy trades on it), or over
    it with ``indirect`` ``ask_low=52`` (seed 003 bootstraps the cheaper side)."""
    loop = asyncio.new_event_loop()
    venue = PolymarketVenue(ASSETS, seed=9, changes=60, ask_low=getattr(request, "param", 44))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(venue.start(), loop).result(timeout=10)
    yield venue
    asyncio.run_coroutine_threadsafe(venue.stop(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def positions(output: str) -> str:
    """The final positions table: what follows the count of records."""
    return output.split(" records ", 1)[1].split("\n", 1)[1].strip()


def test_a_live_paper_run_trades_and_ends_as_a_replay_of_the_feed_it_saved(
    venue: PolymarketVenue, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "live.jsonl"
    live = ["run", "--venue", "polymarket", "--assets", ",".join(ASSETS), "--market-id",
            "btc-up-live", "--ws-url", venue.url, "--duration", "3", "--save-feed", str(saved),
            "--data-dir", str(tmp_path / "live"), *QUIET]  # fmt: skip

    assert main(live) == 0
    live_output = capsys.readouterr().out
    assert main(["run", "--feed", str(saved), "--speed", "0", "--data-dir",
                 str(tmp_path / "replay"), *QUIET]) == 0  # fmt: skip
    replay_output = capsys.readouterr().out

    records = list(read_feed(saved))
    assert isinstance(records[0], MarketOpened)
    assert records[0].definition.market_id == "btc-up-live"
    assert isinstance(records[-1], MarketClosed)
    assert sum(isinstance(r, BookSnapshot | PriceChange) for r in records) > 10
    assert f"{len(records)} live records traded on" in live_output
    table = positions(live_output)
    assert "btc-up-live" in table
    assert table == positions(replay_output)
    held = [line.split()[3] for line in table.splitlines() if line.startswith("btc-up-live")]
    assert len(held) == 2
    assert all(int(quantity) > 0 for quantity in held)  # it traded


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "needs --assets YES,NO or --series TEMPLATE"),
        (["--assets", "1,2", "--series", "x-{start}"], "needs --assets YES,NO or --series"),
        (["--assets", "1"], "--assets takes the market's two token ids"),
        (["--series", "no-start"], "{start}"),
        (["--assets", "1,2", "--ws-url", "tcp://127.0.0.1:1"], "must start with ws://"),
        (["--assets", "1,2", "--feed", "x.jsonl"], "drop --feed"),
        (["--assets", "1,2", "--reference", "btc"], "--reference takes chainlink:SYMBOL"),
        (["--assets", "1,2", "--reference", "binance:btcusdt", "--rtds-url", "x"], "--rtds-url"),
    ],
)
def test_a_bad_live_command_line_is_one_clear_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["run", "--venue", "polymarket", "--data-dir", str(tmp_path), *QUIET, *argv])

    assert status == 2
    out = capsys.readouterr().out
    assert message in out
    assert "Traceback" not in out


@pytest.fixture
def rtds() -> Iterator[RtdsServer]:
    """Chainlink's BTC price rising from the strike, the first price after the run starts;
    it drops the connection once."""
    start_ms = time.time_ns() // 1_000_000 + 60_000  # data: after the run's start
    script = tuple((start_ms + 1000 * i, f"{97000 + 7 * i}.{i:02d}") for i in range(40))
    with serving(RtdsServer(script=script, drop_after=10)) as server:
        yield server


@pytest.mark.parametrize("venue", [52], indirect=True)
def test_a_live_run_with_a_reference_price_saves_it_and_its_replay_ends_the_same(
    venue: PolymarketVenue, rtds: RtdsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "live.jsonl"
    strategy = ("--strategy", "actors.seed003:evaluate")
    live = ["run", "--venue", "polymarket", "--assets", ",".join(ASSETS), "--market-id",
            "btc-up-ref", "--ws-url", venue.url, "--reference", "chainlink:btc/usd",
            "--rtds-url", rtds.url, "--duration", "3", "--save-feed", str(saved),
            "--data-dir", str(tmp_path / "live"), *strategy, *QUIET]  # fmt: skip

    assert main(live) == 0
    live_output = capsys.readouterr().out
    assert main(["run", "--feed", str(saved), "--speed", "0", "--data-dir",
                 str(tmp_path / "replay"), *strategy, *QUIET]) == 0  # fmt: skip
    replay_output = capsys.readouterr().out

    records = list(read_feed(saved))
    references = [r for r in records if isinstance(r, ReferencePrice)]
    got = [(r.price, r.ts_event // 10**6) for r in references]
    sent = [(Decimal(value), ts) for ts, value in rtds.sent]
    assert got == sent[: len(got)]  # each price once, exactly, in order, until the run ended
    assert len(got) > 10  # through the connection dropped after 10
    assert len(rtds.subscriptions) == 2
    assert {r.strike for r in references} == {Decimal(rtds.sent[0][1])}
    assert {(r.market_id, r.source) for r in references} == {("btc-up-ref", "chainlink:btc/usd")}
    assert positions(live_output) == positions(replay_output)
    held = [line.split()[3] for line in positions(live_output).splitlines()
            if line.startswith("btc-up-ref")]  # fmt: skip
    assert sum(int(quantity) for quantity in held) > 0  # it traded
