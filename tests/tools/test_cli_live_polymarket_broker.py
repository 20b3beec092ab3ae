"""``tradeactors run --venue polymarket --broker polymarket``: the strategy's orders on live
books go to a local CLOB, signed with credentials from an owner-only file or the
environment, and no secret reaches the output."""

from __future__ import annotations

import asyncio
import csv
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bridges.polymarket_clob_venue import CREDENTIALS, ClobVenue
from tests.bridges.polymarket_venue import PolymarketVenue
from tests.tools.test_cli_live_polymarket import ASSETS, QUIET
from tools.cli import main

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def venue() -> Iterator[PolymarketVenue]:
    """The market channel, asks under the payout: the shipped strategy trades on it."""
    loop = asyncio.new_event_loop()
    market = PolymarketVenue(ASSETS, seed=9, changes=60, ask_low=44)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(market.start(), loop).result(timeout=10)
    yield market
    asyncio.run_coroutine_threadsafe(market.stop(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


@pytest.fixture
def clob() -> Iterator[ClobVenue]:
    with ClobVenue() as local:
        yield local


def credentials_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "polymarket.env"
    path.write_text(
        f"POLYMARKET_PRIVATE_KEY={CREDENTIALS.private_key}\n"
        f"POLYMARKET_API_KEY={CREDENTIALS.api_key}\n"
        f"POLYMARKET_API_SECRET={CREDENTIALS.api_secret}\n"
        f"POLYMARKET_API_PASSPHRASE={CREDENTIALS.api_passphrase}\n"
    )
    os.chmod(path, mode)
    return path


def live_run(venue: PolymarketVenue, clob: ClobVenue, tmp_path: Path, *extra: str) -> list[str]:
    return ["run", "--venue", "polymarket", "--assets", ",".join(ASSETS), "--ws-url", venue.url,
            "--broker", "polymarket", "--clob-url", clob.http_url, "--user-ws-url", clob.ws_url,
            "--data-dir", str(tmp_path / "data"), *QUIET, *extra]  # fmt: skip


def test_a_live_run_posts_the_strategys_orders_to_the_clob_and_prints_no_secret(
    venue: PolymarketVenue,
    clob: ClobVenue,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = credentials_file(tmp_path, 0o600)
    argv = live_run(venue, clob, tmp_path, "--credentials", str(path), "--duration", "4")
    argv += ["--log-level", "debug"]

    assert main(argv) == 0
    output = capsys.readouterr()
    assert clob.posted  # the strategy traded, through the CLOB
    assert {p["order"]["tokenId"] for p in clob.posted} <= set(ASSETS)
    assert clob.unauthorized == 0
    assert len(clob.subscriptions) >= 1
    for secret in CREDENTIALS.secrets:
        assert secret not in output.out + output.err
    # Real orders are booked to the live account, never to the default paper one.
    orders = tmp_path / "orders.csv"
    export = ["export", "orders", "--data-dir", str(tmp_path / "data"), "--out", str(orders)]
    assert main(export) == 0
    with orders.open() as table:
        accounts = {row["account"] for row in csv.DictReader(table)}
    assert accounts == {"polymarket"}, accounts


def test_a_credentials_file_others_can_read_stops_the_run_with_one_clear_line(
    venue: PolymarketVenue,
    clob: ClobVenue,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = credentials_file(tmp_path, 0o644)
    status = main(live_run(venue, clob, tmp_path, "--credentials", str(path)))

    out = capsys.readouterr().out
    assert status != 0
    assert "readable by others" in out
    assert "chmod 600" in out
    assert CREDENTIALS.api_secret not in out
    assert clob.posted == []


def test_missing_credentials_in_the_environment_are_named(
    venue: PolymarketVenue,
    clob: ClobVenue,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("POLYMARKET_PRIVATE_KEY", "POLYMARKET_API_KEY", "POLYMARKET_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POLYMARKET_API_PASSPHRASE", CREDENTIALS.api_passphrase)

    assert main(live_run(venue, clob, tmp_path)) != 0
    out = capsys.readouterr().out
    assert "POLYMARKET_PRIVATE_KEY" in out
    assert CREDENTIALS.api_passphrase not in out


def test_the_polymarket_broker_needs_live_books(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["run", "--broker", "polymarket", "--data-dir", str(tmp_path), *QUIET])

    assert status == 2
    assert "--broker polymarket trades on live books: add --venue polymarket" in (
        capsys.readouterr().out
    )
