"""Periodic position snapshots to Parquet: exact legs, newest version wins, nothing unchanged."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pykka
import pytest

from bridges.parquet_snapshots import PositionSnapshotRecorder
from messages.enums import PositionStatus
from messages.orders import OrderAccepted
from messages.positions import LegSnapshot, PositionDelta, PositionOpened, PositionSnapshot
from supervisors.kernel.scheduler import ManualScheduler
from tests.stubs import fill

pytestmark = pytest.mark.timeout(30)

SECOND_NS = 1_000_000_000


def leg(security_id: str, quantity: str = "0", cost: str = "0", realized: str = "0") -> LegSnapshot:
    amount = Decimal(quantity)
    return LegSnapshot(
        security_id=security_id,
        quantity=amount,
        cost=Decimal(cost),
        avg_open_price=abs(Decimal(cost) / amount) if amount else Decimal(0),
        realized_pnl=Decimal(realized),
        fees=Decimal("0.0123"),
        mark=None,
        unrealized_pnl=Decimal(0),
        pending_buy=False,
        pending_sell=False,
    )


def position(version: int, *legs: LegSnapshot) -> PositionSnapshot:
    return PositionSnapshot(
        position_id="P1",
        market_id="m1",
        account="acct",
        strategy="arb",
        status=PositionStatus.OPEN,
        version=version,
        legs=legs,
    )


def delta(version: int, new_leg: LegSnapshot) -> PositionDelta:
    return PositionDelta(
        correlation_id="O1",
        position_id="P1",
        market_id="m1",
        version=version,
        fill=fill(),
        leg=new_leg,
    )


def files(out: Path) -> list[Path]:
    return sorted(out.glob("positions-*.parquet"))


def settle(recorder: pykka.ActorRef[Any]) -> None:
    """A round trip: ``on_start`` and everything told before have been handled."""
    recorder.proxy().written.get(timeout=5)


def test_a_snapshot_a_period_while_positions_change_with_exact_legs(tmp_path: Path) -> None:
    clock = ManualScheduler()
    wall = iter(range(1_700_000_000 * SECOND_NS, 1_800_000_000 * SECOND_NS, SECOND_NS))
    out = tmp_path / "snapshots"
    recorder = PositionSnapshotRecorder.start(
        out, interval_ns=SECOND_NS, scheduler=clock, wall_clock=lambda: next(wall)
    )
    try:
        recorder.tell(PositionOpened(position=position(1, leg("YES"), leg("NO"))))
        recorder.tell(delta(2, leg("YES", "10", "4.70")))
        recorder.tell(OrderAccepted(ts_event=1, order_id="O1"))  # not a position: ignored
        settle(recorder)
        assert files(out) == []  # nothing before the first period ends
        clock.advance(1.0)
        settle(recorder)
        (first,) = files(out)

        clock.advance(1.0)  # nothing changed: no second file
        settle(recorder)
        assert files(out) == [first]

        recorder.tell(delta(3, leg("YES", "4", "1.88", realized="0.3500")))
        recorder.tell(delta(2, leg("YES", "10", "4.70")))  # late and older: ignored
        clock.advance(1.0)
        settle(recorder)
        second = files(out)[-1]
    finally:
        recorder.stop()

    table = pq.read_table(second)
    assert pa.types.is_decimal(table.schema.field("cost").type)
    rows = {row["security_id"]: row for row in table.to_pylist()}
    assert rows["YES"]["version"] == 3
    assert rows["YES"]["quantity"] == Decimal("4")
    assert rows["YES"]["cost"] == Decimal("1.88")
    assert rows["YES"]["realized_pnl"] == Decimal("0.35")
    assert rows["NO"]["fees"] == Decimal("0.0123")
    assert pq.read_table(first).to_pylist()[0]["version"] == 2
    assert len(files(out)) == 2  # stopping wrote nothing more: nothing changed since
    dataset = ds.dataset(out, format="parquet").to_table()
    assert dataset.num_rows == 4  # the directory reads whole as one dataset


def test_stop_writes_the_last_change_and_a_seed_never_rolls_a_position_back(
    tmp_path: Path,
) -> None:
    clock = ManualScheduler()
    recorder = PositionSnapshotRecorder.start(tmp_path, interval_ns=SECOND_NS, scheduler=clock)
    recorder.tell(PositionOpened(position=position(1, leg("YES"))))
    recorder.tell(delta(5, leg("YES", "7", "3.50")))
    recorder.tell(position(4, leg("YES", "6", "3.00")))  # a query's answer older than events
    settle(recorder)
    recorder.stop()

    (last,) = files(tmp_path)
    (row,) = pq.read_table(last).to_pylist()
    assert (row["version"], row["quantity"], row["cost"]) == (5, Decimal(7), Decimal("3.50"))


def test_an_amount_with_more_places_than_the_schema_is_an_error_not_a_rounding(
    tmp_path: Path,
) -> None:
    clock = ManualScheduler()
    recorder = PositionSnapshotRecorder.start(tmp_path, interval_ns=SECOND_NS, scheduler=clock)
    recorder.tell(PositionOpened(position=position(1, leg("YES", "3", "0.0000000000000000001"))))
    settle(recorder)  # started, its first tick scheduled
    clock.advance(1.0)
    settle(recorder)
    failed = recorder.proxy().failed.get(timeout=5)
    recorder.tell(delta(2, leg("YES", "3", "1.41")))
    clock.advance(1.0)
    settle(recorder)
    recorder.stop()

    assert failed == 1
    (written,) = files(tmp_path)  # the next tick wrote the newer, exact state
    assert pq.read_table(written).to_pylist()[0]["cost"] == Decimal("1.41")
