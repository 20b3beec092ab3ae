"""``--fill-schedule staged`` (or ``[venue] fill_schedule``): the simulated venue fills an
order 30 % at once and the rest after the latency, as seed 003's simulator did."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from bridges.feed_codec import write_feed
from tools.cli import main
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(60)


def _first_fills(data_dir: Path) -> dict[str, tuple[Decimal, Decimal]]:
    """Each order's size and the size of its first fill, from the run's journal."""
    with sqlite3.connect(data_dir / "journal.sqlite") as db:
        rows = db.execute(
            "select kind, payload from events where kind in ('OrderCreated', 'Fill') order by seq"
        ).fetchall()
    sizes: dict[str, Decimal] = {}
    first: dict[str, tuple[Decimal, Decimal]] = {}
    for kind, payload in rows:
        event = json.loads(payload)
        if kind == "OrderCreated":
            sizes[event["order_id"]] = Decimal(event["size"])
        elif event["order_id"] not in first:
            first[event["order_id"]] = (sizes[event["order_id"]], Decimal(event["size"]))
    return first


def test_the_config_files_fill_schedule_stages_every_fill_and_the_default_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "feed.jsonl"
    write_feed(generate_feed(seed=3, markets=1, updates_per_market=80), feed)
    config = tmp_path / "run.toml"
    config.write_text(
        f'speed = 0\nquiet = true\n[venue]\nfeed = "{feed}"\nfill_schedule = "staged"\n'
        "[endpoints]\nzmq = false\nmetrics = false\n",
        encoding="utf-8",
    )

    run = ["run", "--config", str(config), "--data-dir"]
    assert main([*run, str(tmp_path / "staged")]) == 0
    assert main([*run, str(tmp_path / "now"), "--fill-schedule", "immediate"]) == 0
    capsys.readouterr()

    staged, immediate = _first_fills(tmp_path / "staged"), _first_fills(tmp_path / "now")
    assert staged
    assert immediate
    assert all(first <= int(size * Decimal("0.3")) for size, first in staged.values())
    assert any(first > size * Decimal("0.3") for size, first in immediate.values())
