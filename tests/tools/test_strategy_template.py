"""docs/STRATEGIES.md's template, as written there, and seed 003's chain, through
``tradeactors run`` on a feed with reference prices; a run stopped and resumed ends as one
that never stopped (the reference prices come back from the journal)."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bridges.feed_codec import FeedRecord, read_feed, write_feed
from messages.market_data import BookSnapshot, PriceChange, ReferencePrice
from messages.markets import MarketOpened
from tools.cli import main
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(90)

DOC = Path(__file__).resolve().parents[2] / "docs" / "STRATEGIES.md"
STRIKE = Decimal(97000)
MARKER = "feed records replayed"


def template() -> str:
    """The first python block after the doc's "## The template" heading."""
    text = DOC.read_text(encoding="utf-8").split("## The template", 1)[1]
    match = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert match is not None, "docs/STRATEGIES.md has no template block"
    return match.group(1)


def with_references(records: list[FeedRecord], every: int = 7) -> list[FeedRecord]:
    """``records`` with a BTC-like reference price after every ``every``-th book record of a
    market: above the strike for a while, then below, then above again."""
    out: list[FeedRecord] = []
    seen: dict[str, int] = {}
    for record in records:
        out.append(record)
        if isinstance(record, MarketOpened):
            seen[record.definition.market_id] = 0
        if not isinstance(record, BookSnapshot | PriceChange):
            continue
        n = seen[record.market_id] = seen[record.market_id] + 1
        if n % every == 0:
            offset = Decimal(150) if (n // (every * 4)) % 2 == 0 else Decimal(-150)
            out.append(
                ReferencePrice(
                    ts_event=record.ts_event,
                    market_id=record.market_id,
                    source="BTC-USD",
                    price=STRIKE + offset + n,
                    strike=STRIKE,
                )
            )
    return out


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "my_strategy.py").write_text(template(), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    sys.modules.pop("my_strategy", None)


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "with_references.jsonl"
    write_feed(with_references(generate_feed(seed=3, markets=2, updates_per_market=80)), path)
    return path


def _run(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> str:
    """The positions table a run prints (its output after the replay line)."""
    argv = ["run", "--speed", "0", "--quiet", "--no-zmq", "--no-metrics"]
    assert main([*argv, "--data-dir", str(data_dir), *args]) == 0
    out = capsys.readouterr().out
    return out.split(MARKER)[1].split("\n", 2)[2]


def _orders(data_dir: Path) -> list[dict[str, str]]:
    with sqlite3.connect(data_dir / "journal.sqlite") as db:
        rows = db.execute("select payload from events where kind = 'OrderCreated' order by seq")
        return [json.loads(payload) for (payload,) in rows]


def _trades(data_dir: Path) -> list[tuple[str, str, str]]:
    """The orders without their ids: what was bought, at what limit, how much."""
    return [(o["security_id"], o["price"], o["size"]) for o in _orders(data_dir)]


def test_the_feed_carries_reference_prices_through_its_file(feed: Path) -> None:
    references = [r for r in read_feed(feed) if isinstance(r, ReferencePrice)]
    assert references
    assert {r.strike for r in references} == {STRIKE}


def test_the_docs_template_trades_through_run_and_follows_the_reference(
    user_dir: Path, feed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = user_dir / "plain.jsonl"
    write_feed([r for r in read_feed(feed) if not isinstance(r, ReferencePrice)], plain)
    strategy = ("--strategy", "my_strategy:evaluate")
    _run(capsys, user_dir / "data", "--feed", str(feed), *strategy)
    _run(capsys, user_dir / "plain", "--feed", str(plain), *strategy)

    orders = _orders(user_dir / "data")
    assert orders
    assert {order["strategy"] for order in orders} == {"my_strategy"}
    assert _trades(user_dir / "data") != _trades(user_dir / "plain")  # the oracle at work


def test_seed003s_chain_trades_through_run_with_the_staged_fill_schedule(
    tmp_path: Path, feed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--feed", str(feed), "--strategy", "actors.seed003:evaluate")
    table = _run(capsys, tmp_path / "a", *args, "--fill-schedule", "staged")

    assert _orders(tmp_path / "a")
    assert {order["strategy"] for order in _orders(tmp_path / "a")} == {"seed003"}
    assert _run(capsys, tmp_path / "b", *args, "--fill-schedule", "staged") == table


@pytest.mark.parametrize(
    ("strategy", "fills"),
    [
        ("my_strategy:evaluate", "immediate"),
        ("actors.seed003:evaluate", "immediate"),
        ("actors.seed003:evaluate", "staged"),
    ],
    ids=["template", "seed003", "seed003-staged"],
)
def test_a_run_stopped_and_resumed_ends_as_the_whole_run_did(
    user_dir: Path, feed: Path, capsys: pytest.CaptureFixture[str], strategy: str, fills: str
) -> None:
    args = ("--feed", str(feed), "--strategy", strategy, "--fill-schedule", fills)
    whole = _run(capsys, user_dir / "whole", *args)
    cut = user_dir / "cut"
    for records in ("60", "130", "200"):
        _run(capsys, cut, *args, "--records", records)
    resumed = _run(capsys, cut, *args)

    assert resumed == whole
    assert _trades(cut) == _trades(user_dir / "whole")
