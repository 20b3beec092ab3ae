"""Position snapshots to Parquet while a run goes on: seed 001's recorder.

``PositionSnapshotRecorder`` is an observer of the runtime, not part of its tree: it hears
every event of the runtime (``Runtime.subscribe``), keeps the newest state of each position
(by version, so a seed from a query and the events racing it agree), and every
``interval_ns`` writes one Parquet file of every position's legs to its directory, if
anything changed since the last one. The files are named by the snapshot's wall-clock time
(``positions-20261203T120000.000Z.parquet``) and written beside and renamed over, so the
directory is a dataset that ``pyarrow.dataset`` or pandas reads whole at any moment. Its
timer is housekeeping: it never holds up a lockstep step. The last snapshot is written when
it stops.

Every file has the same schema (``SCHEMA``), so the files read as one dataset: amounts
are ``decimal128(38, 18)``, exact (an amount with more places is an error, logged, never
rounded). Legs carry what the position last published: quantities, cost, realized PnL and
fees are exact at every change; unrealized PnL is as of the last fill (marks that only
follow the book are not pushed, ``actors.position``); the average open price is left out,
as it is ``cost / quantity`` and may have more places than any fixed scale.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from bridges.table_files import Row, write_parquet_table
from messages.positions import (
    PositionArchived,
    PositionDelta,
    PositionFillCharged,
    PositionFillReversed,
    PositionOpened,
    PositionSettled,
    PositionSnapshot,
)
from messages.stats import GetStats
from messages.supervision import InjectFault
from supervisors.kernel.base import RuntimeActor, handles
from supervisors.kernel.scheduler import REAL_SCHEDULER, Scheduler, Timer

DEFAULT_INTERVAL_S = 1.0
"""Seed 001's cadence: a snapshot a second."""

AMOUNT_SCALE = 18
POSITION_COLUMNS = ("position_id", "market_id", "account", "strategy", "status")
AMOUNT_COLUMNS = ("quantity", "cost", "realized_pnl", "fees", "mark", "unrealized_pnl")
FLAG_COLUMNS = ("pending_buy", "pending_sell")


@attrs.frozen(kw_only=True, slots=True)
class _Tick:
    """Time for the next snapshot."""


class PositionSnapshotRecorder(RuntimeActor):
    """Writes every position's legs to ``out_dir`` every ``interval_ns`` while they change."""

    kind = "position_snapshot_recorder"

    def __init__(
        self,
        out_dir: Path,
        *,
        interval_ns: int = round(DEFAULT_INTERVAL_S * 1e9),
        scheduler: Scheduler = REAL_SCHEDULER,
        wall_clock: Callable[[], int] = time.time_ns,
    ) -> None:
        super().__init__(out_dir=str(out_dir))
        if interval_ns <= 0:
            raise ValueError(f"the snapshot interval must be positive, got {interval_ns} ns")
        self.out_dir = out_dir
        self.interval_ns = interval_ns
        self.scheduler = scheduler
        self.wall_clock = wall_clock
        self.positions: dict[str, PositionSnapshot] = {}
        self.changed = False
        self.written: list[Path] = []
        self.other_events = 0
        self.failed = 0
        self._timer: Timer | None = None

    def on_start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._timer = self.scheduler.timer("parquet-snapshots")
        self._schedule()

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._write()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.tell_later(self.interval_ns, self.actor_ref, _Tick(), housekeeping=True)

    @handles(_Tick)
    def _tick(self, _message: _Tick) -> None:
        self._write()
        self._schedule()

    @handles(PositionSnapshot)
    def _snapshot(self, message: PositionSnapshot) -> None:
        self._keep(message)

    @handles(PositionOpened, PositionSettled, PositionArchived)
    def _lifecycle(self, message: PositionOpened | PositionSettled | PositionArchived) -> None:
        self._keep(message.position)

    @handles(PositionDelta, PositionFillReversed, PositionFillCharged)
    def _delta(self, message: PositionDelta | PositionFillReversed | PositionFillCharged) -> None:
        known = self.positions.get(message.position_id)
        if known is None:
            self.log.warning(
                "delta_for_unknown_position", position_id=message.position_id, kept=False
            )
            return
        if message.version <= known.version:
            return
        legs = tuple(
            message.leg if leg.security_id == message.leg.security_id else leg for leg in known.legs
        )
        self.positions[message.position_id] = attrs.evolve(
            known, version=message.version, legs=legs
        )
        self.changed = True

    def on_receive(self, message: object) -> object:
        """The runtime's other events (orders, markets, supervision) are not positions: they
        are counted, not recorded and not warned about."""
        if type(message) in self._dispatch or type(message) in (GetStats, InjectFault):
            return super().on_receive(message)
        self.other_events += 1
        return None

    def _keep(self, snapshot: PositionSnapshot) -> None:
        known = self.positions.get(snapshot.position_id)
        if known is not None and snapshot.version < known.version:
            return
        if known is not None and snapshot.version == known.version and known == snapshot:
            return
        self.positions[snapshot.position_id] = snapshot
        self.changed = True

    def _write(self) -> None:
        if not self.changed:
            return
        taken_ns = self.wall_clock()
        rows = rows_of(self.positions.values(), taken_ns)
        path = self.out_dir / f"positions-{_stamp(taken_ns)}.parquet"
        try:
            write_parquet_table(table_of(rows), path)
        except (OSError, ArithmeticError, ValueError) as error:
            # The journal is the record; a snapshot file is a view of it: the next tick tries
            # again with what is newest then.
            self.failed += 1
            self.log.error("position_snapshot_failed", path=str(path), error=str(error))
            return
        self.changed = False
        self.written.append(path)
        self.log.info("position_snapshot_written", path=str(path), rows=len(rows))


def rows_of(positions: Iterable[PositionSnapshot], taken_ns: int) -> list[Row]:
    """One row per leg of each position, stamped with the snapshot's time."""
    rows: list[Row] = []
    for snapshot in positions:
        head = {
            "snapshot_ts_ns": taken_ns,
            "position_id": snapshot.position_id,
            "market_id": snapshot.market_id,
            "account": snapshot.account,
            "strategy": snapshot.strategy,
            "status": snapshot.status.value,
            "version": snapshot.version,
        }
        for leg in snapshot.legs:
            rows.append(
                {
                    **head,
                    "security_id": leg.security_id,
                    **{name: getattr(leg, name) for name in (*AMOUNT_COLUMNS, *FLAG_COLUMNS)},
                }
            )
    return rows


def table_of(rows: list[Row]) -> Any:
    """The rows under the one schema every snapshot file has."""
    import pyarrow as pa  # noqa: PLC0415 (loaded by a run that records, alone)

    fields = [
        pa.field("snapshot_ts_ns", pa.int64()),
        *(pa.field(name, pa.string()) for name in POSITION_COLUMNS),
        pa.field("version", pa.int64()),
        pa.field("security_id", pa.string()),
        *(pa.field(name, pa.decimal128(38, AMOUNT_SCALE)) for name in AMOUNT_COLUMNS),
        *(pa.field(name, pa.bool_()) for name in FLAG_COLUMNS),
    ]
    return pa.Table.from_pylist(rows, schema=pa.schema(fields))


def _stamp(ts_ns: int) -> str:
    moment = datetime.fromtimestamp(ts_ns / 1e9, tz=UTC)
    return moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"
