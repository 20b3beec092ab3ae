"""``tradeactors export``: a run's journal as CSV and Parquet tables, exact to the digit."""

from __future__ import annotations

import contextlib
import csv
import io
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bridges.data_dir_lock import DataDirLock
from bridges.feed_codec import write_feed
from tools.cli import main
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(90)

QUIET = ("--quiet", "--no-zmq", "--no-metrics")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Decimal]:
    """A finished lockstep run that traded, and the realized PnL it printed."""
    root = tmp_path_factory.mktemp("export")
    feed = root / "feed.jsonl"
    write_feed(generate_feed(seed=4, markets=2, updates_per_market=60), feed)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        argv = ["run", "--feed", str(feed), "--speed", "0", "--data-dir", str(root / "d")]
        assert main([*argv, *QUIET, "--parquet-snapshots", str(root / "snapshots")]) == 0
    (total,) = [line for line in printed.getvalue().splitlines() if line.startswith("TOTAL")]
    return root / "d", Decimal(total.split()[1])


@pytest.fixture
def data_dir(finished_run: tuple[Path, Decimal]) -> Path:
    return finished_run[0]


def export(
    data_dir: Path, table: str, out: Path, fmt: str = "csv"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.cli", "export", table, "--data-dir", str(data_dir),
         "--format", fmt, "--out", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def test_fills_orders_and_positions_agree_and_stay_exact(
    finished_run: tuple[Path, Decimal], tmp_path: Path
) -> None:
    data_dir, realized = finished_run
    for table in ("fills", "orders", "positions", "events"):
        done = export(data_dir, table, tmp_path / f"{table}.csv")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{table} from" in done.stdout
    fills, orders = rows(tmp_path / "fills.csv"), rows(tmp_path / "orders.csv")
    positions, events = rows(tmp_path / "positions.csv"), rows(tmp_path / "events.csv")

    assert fills
    assert len({f["fill_id"] for f in fills}) == len(fills)  # each fill once
    filled: dict[str, Decimal] = {}
    for fill in fills:
        filled[fill["order_id"]] = filled.get(fill["order_id"], Decimal(0)) + Decimal(fill["size"])
    assert {o["order_id"]: Decimal(o["filled"]) for o in orders if Decimal(o["filled"])} == filled
    assert len(orders) == len({f["order_id"] for f in fills} | {o["order_id"] for o in orders})
    assert {p["market_id"] for p in positions} == {"btc-up-0001", "btc-up-0002"}
    assert sum(Decimal(p["realized_pnl"]) for p in positions) == realized
    assert all("." in f["price"] for f in fills)  # the decimal's text, e.g. 0.47
    assert [int(e["seq"]) for e in events] == sorted(int(e["seq"]) for e in events)
    assert sum(e["kind"] == "Fill" for e in events) == len(fills)


def test_parquet_holds_amounts_as_decimals_equal_to_the_csv(data_dir: Path, tmp_path: Path) -> None:
    assert export(data_dir, "fills", tmp_path / "fills.csv").returncode == 0
    done = export(data_dir, "fills", tmp_path / "fills.parquet", "parquet")
    assert done.returncode == 0, done.stderr

    table = pq.read_table(tmp_path / "fills.parquet")

    assert pa.types.is_decimal(table.schema.field("price").type)
    assert pa.types.is_decimal(table.schema.field("size").type)
    from_csv = [
        (r["fill_id"], Decimal(r["price"]), Decimal(r["size"]))
        for r in rows(tmp_path / "fills.csv")
    ]
    from_parquet = list(zip(table.column("fill_id").to_pylist(), table.column("price").to_pylist(),
                            table.column("size").to_pylist(), strict=True))  # fmt: skip
    assert from_parquet == from_csv


def test_a_running_runtime_or_no_journal_is_a_clear_refusal(data_dir: Path, tmp_path: Path) -> None:
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        busy = export(data_dir, "orders", tmp_path / "o.csv")
    finally:
        lock.release()
    missing = export(tmp_path / "nothing", "orders", tmp_path / "o.csv")

    assert busy.returncode == 3
    assert "tradeactors:" in busy.stdout
    assert "Traceback" not in busy.stdout + busy.stderr
    assert missing.returncode == 3
    assert "no journal at" in missing.stdout
    assert not (tmp_path / "o.csv").exists()


def test_the_run_s_last_parquet_snapshot_is_the_journal_s_positions(
    data_dir: Path, tmp_path: Path
) -> None:
    """``run --parquet-snapshots``: the file written as the run stopped holds every leg as the
    journal folds it."""
    assert export(data_dir, "positions", tmp_path / "positions.csv").returncode == 0
    snapshots = sorted((data_dir.parent / "snapshots").glob("positions-*.parquet"))
    assert snapshots

    last = pq.read_table(snapshots[-1]).to_pylist()
    amounts = ("quantity", "cost", "realized_pnl", "fees")

    def key(row: dict[str, object]) -> tuple[object, ...]:
        return (row["position_id"], row["security_id"])

    recorded = {key(r): tuple(r[a] for a in amounts) for r in last}
    journaled = {
        key(r): tuple(Decimal(r[a]) for a in amounts) for r in rows(tmp_path / "positions.csv")
    }
    assert recorded == journaled
    assert any(realized for _q, _c, realized, _f in recorded.values())  # it traded
