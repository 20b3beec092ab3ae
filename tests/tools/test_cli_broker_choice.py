"""``tradeactors run --broker ib|paper``: IB's options on the command line and in the config
file, the contracts they name, and a run whose TWS is not there."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bridges.feed_codec import write_feed
from bridges.ib_broker import IbContract
from tests.tools.test_run_config import parsed
from tools.broker_choice import DEFAULT_HOST, DEFAULT_PORT, parse_contracts
from tools.cli import build_parser
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(90)


def test_ib_defaults_are_a_local_tws_and_the_config_files_broker_table_names_the_rest(
    tmp_path: Path,
) -> None:
    defaults = build_parser().parse_args(["run"])
    assert (defaults.broker, defaults.ib_host, defaults.ib_port) == ("none", "127.0.0.1", 7497)
    assert (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 7497)
    text = """
[broker]
name = "ib"
port = 4002
client_id = 11
account = "DU1234567"
contracts = ["AAPL=AAPL:STK:SMART:USD", "ES=conid:495512563"]
"""
    args = parsed(tmp_path, text, "--ib-client-id", "12")
    assert args.broker == "ib"  # type: ignore[attr-defined]
    assert (args.ib_host, args.ib_port) == ("127.0.0.1", 4002)  # type: ignore[attr-defined]
    assert (args.ib_client_id, args.ib_account) == (12, "DU1234567")  # type: ignore[attr-defined]
    contracts = parse_contracts(args.ib_contracts)  # type: ignore[attr-defined]
    assert contracts.contract("ES").conId == 495512563
    aapl = contracts.contract("AAPL")
    assert (aapl.symbol, aapl.secType, aapl.exchange, aapl.currency) == (
        "AAPL",
        "STK",
        "SMART",
        "USD",
    )


def test_a_contract_may_name_only_its_symbol_or_add_a_multiplier() -> None:
    contracts = parse_contracts("X=X, MES=MES:FUT:CME:USD:5")
    assert contracts.contract("X").exchange == "SMART"
    assert contracts.multiplier("MES") == Decimal(5)
    assert IbContract(symbol="MES", sec_type="FUT", exchange="CME", multiplier=Decimal(5)).matches(
        contracts.contract("MES")
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [("AAPL", "is not SECURITY=CONTRACT"), ("ES=conid:x", "a conid is a number"),
     ("MES=MES:FUT:CME:USD:five", "a bad multiplier")],
)  # fmt: skip
def test_a_bad_contract_is_named(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_contracts(text)


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.cli", "run", "--data-dir", str(data_dir), "--no-zmq",
         "--no-metrics", "--quiet", *args],
        capture_output=True, text=True, timeout=80, check=False,
    )  # fmt: skip


def test_broker_ib_without_an_account_is_one_clear_line(tmp_path: Path) -> None:
    done = _run(tmp_path, "--broker", "ib")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--broker ib needs --ib-account" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_a_run_whose_tws_is_not_listening_keeps_trying_and_ends_cleanly(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    write_feed(generate_feed(seed=3, markets=1, updates_per_market=20), feed)
    done = _run(
        tmp_path / "data", "--feed", str(feed), "--speed", "0", "--broker", "ib",
        "--ib-account", "DU1", "--ib-port", "9", "--ib-contracts", "A=conid:1",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "Connect call failed ('127.0.0.1', 9)" in output
    assert "Traceback" not in output
