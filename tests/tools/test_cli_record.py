"""``tradeactors record polymarket`` as a user runs it, against a market channel on 127.0.0.1;
then ``tradeactors run --feed`` on what it wrote."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import subprocess
import sys
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

pytestmark = pytest.mark.timeout(60)

ASSETS = ("1111", "2222")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def venue() -> Iterator[PolymarketVenue]:
    """The venue on a loop of its own thread, as a real one is another process."""
    loop = asyncio.new_event_loop()
    venue_box: list[PolymarketVenue] = []

    async def start() -> None:
        venue = PolymarketVenue(ASSETS, seed=5, changes=40)
        await venue.start()
        venue_box.append(venue)

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    yield venue_box[0]
    asyncio.run_coroutine_threadsafe(venue_box[0].stop(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def record(venue: PolymarketVenue, out: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tools.cli", "record", "polymarket", "--ws-url", venue.url,
               "--assets", ",".join(ASSETS), "--out", str(out), *extra]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_ctrl_c_ends_a_recording_with_the_market_closed_and_run_replays_it(
    venue: PolymarketVenue, tmp_path: Path
) -> None:
    out = tmp_path / "day.jsonl"
    process = record(venue, out, "--market-id", "btc-up-1")
    expected = 1 + len(ASSETS) + 1  # the opening, the dump, then at least one change
    deadline = time.monotonic() + 30
    while not venue.done.is_set() or _lines(out) < 1 + len(venue.sent):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{_lines(out)} lines of {1 + len(venue.sent)}"
        time.sleep(0.02)
    assert _lines(out) >= expected

    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)

    assert process.returncode == 0, stderr
    assert "recorded" in stdout
    assert "btc-up-1" in stdout
    records = list(read_feed(out))
    assert isinstance(records[0], MarketOpened)
    assert records[0].definition.market_id == "btc-up-1"
    assert isinstance(records[-1], MarketClosed)
    data = records[1:-1]
    assert all(isinstance(r, BookSnapshot | PriceChange) for r in data)
    assert len(data) == len(venue.sent)

    data_dir = tmp_path / "data"
    argv = ["run", "--feed", str(out), "--speed", "0", "--quiet", "--data-dir", str(data_dir)]
    assert main(argv) == 0


def test_a_recording_with_a_duration_stops_by_itself_into_a_gzip_feed(
    venue: PolymarketVenue, tmp_path: Path
) -> None:
    out = tmp_path / "day.jsonl.gz"
    process = record(venue, out, "--duration", "1.5")

    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 0, stderr
    records = list(read_feed(out))
    assert isinstance(records[0], MarketOpened)
    assert records[0].definition.market_id == venue.market  # the channel's own
    assert isinstance(records[-1], MarketClosed)
    assert json.loads(stdout.split("messages ", 1)[1])["book"] >= len(ASSETS)


def test_a_recording_with_a_reference_keeps_each_price_with_the_strike_and_replays_it(
    venue: PolymarketVenue, tmp_path: Path
) -> None:
    start_ms = time.time_ns() // 1_000_000 + 60_000  # data: after the recording's start
    script = tuple((start_ms + 1000 * i, f"{67234 + i}.5") for i in range(12))
    out = tmp_path / "day.jsonl"
    with serving(
        RtdsServer(provider="binance", symbol="btcusdt", script=script, drop_after=4)
    ) as rtds:
        process = record(venue, out, "--reference", "binance:btcusdt", "--rtds-url", rtds.url)
        last = f'"price":"{script[-1][1]}"'
        deadline = time.monotonic() + 30
        while not (venue.done.is_set() and out.exists() and last in out.read_text()):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the last reference price never came"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)

    assert process.returncode == 0, stderr
    records = list(read_feed(out))
    references = [r for r in records if isinstance(r, ReferencePrice)]
    assert f"; {len(references)} reference prices (binance:btcusdt)" in stdout
    sent = [(ts, Decimal(value)) for ts, value in script]
    got = [(r.ts_event // 10**6, r.price) for r in references]
    assert got == sent[len(sent) - len(got) :]  # those before the market opened: only the last
    assert len(rtds.subscriptions) == 2  # through the dropped connection
    assert {(r.market_id, r.source, r.strike) for r in references} == {
        (venue.market, "binance:btcusdt", Decimal("67234.5"))
    }
    opened = next(i for i, r in enumerate(records) if isinstance(r, MarketOpened))
    assert all(records.index(r) > opened for r in references)
    assert isinstance(records[-1], MarketClosed)
    data_dir = tmp_path / "data"
    argv = ["run", "--feed", str(out), "--speed", "0", "--quiet", "--data-dir", str(data_dir),
            "--strategy", "actors.seed003:evaluate"]  # fmt: skip
    assert main(argv) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--assets", "1,2", "--reference", "chainlink:btcusd"], "slash-separated"),
        (["--assets", "1,2", "--reference", "binance:btcusdt", "--rtds-url", "x"], "--rtds-url"),
        (["--assets", "1111"], "--assets takes the market's two token ids"),
        (["--assets", "1111,1111"], "--assets takes the market's two token ids"),
        (["--assets", "1,2", "--ws-url", "http://127.0.0.1:1"], "must start with ws://"),
    ],
)
def test_a_bad_command_line_is_a_clear_error(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never.jsonl"

    status = main(["record", "polymarket", "--out", str(out), *argv])

    assert status == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def _lines(path: Path) -> int:
    if not path.exists():
        return 0
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as stream:
        return sum(1 for line in stream if line.endswith("\n"))
