"""Journal appends: events/s of SqliteJournalStore.append against a bare sqlite3 floor.

For each durability (synchronous=FULL, NORMAL) and batch size (1, 10, 100, 1000), the store
appends fill-sized events, each with a dedup key, one batch per commit, for ``--seconds``.
The floor is bare ``sqlite3``: ``executemany`` of the same payload into a one-column table
in the same WAL mode and synchronous setting, one batch per commit, measured in the same
run just before, so the ratio says what the journal's own work (seqs, checksums, dedup
index, stream index) costs on this (noisy) machine. Only the time inside the append (or
the floor's transaction) is counted, not building the entries.

    python -m bench.journal_store [--seconds 2] [--dir DIR]

Put ``--dir`` on the disk the journal will live on: fsync costs what that disk costs
(on tmpfs it costs nothing).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from actors.journal_store import Durability, NewEntry
from bench import floors
from bench.figures import Figure, rate
from bench.floors import PAYLOAD
from bridges.journal_sqlite import SqliteJournalStore

BATCH_SIZES = (1, 10, 100, 1000)
QUICK = ("--seconds", "0.25")
FULL = ("--seconds", "1")


def _journal(path: Path, durability: Durability, batch: int, seconds: float) -> float:
    """Events/s appended by the store, counting only the time spent in ``append``."""
    store = SqliteJournalStore(path, durability=durability)
    appended, spent, n = 0, 0.0, 0
    try:
        while spent < seconds:
            entries = [
                NewEntry(
                    stream=f"order:O{(n + i) % 100}",
                    kind="Fill",
                    payload=PAYLOAD,
                    dedup_key=f"fill:{n + i}",
                    ts_ns=n + i,
                )
                for i in range(batch)
            ]
            n += batch
            started = time.perf_counter()
            store.append(entries)
            spent += time.perf_counter() - started
            appended += batch
    finally:
        store.close()
    return appended / spent


def _floor(path: Path, durability: Durability, batch: int, seconds: float) -> float:
    """Rows/s of bare executemany into a one-column table, one commit per batch."""
    conn = sqlite3.connect(path, isolation_level=None)
    rows = [(PAYLOAD,)] * batch
    inserted, spent = 0, 0.0
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {durability.value}")
        conn.execute("CREATE TABLE floor (payload TEXT)")
        while spent < seconds:
            started = time.perf_counter()
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO floor (payload) VALUES (?)", rows)
            conn.execute("COMMIT")
            spent += time.perf_counter() - started
            inserted += batch
    finally:
        conn.close()
    return inserted / spent


def _fresh(
    run: Callable[[Path, Durability, int, float], float],
    directory: Path,
    durability: Durability,
    batch: int,
    seconds: float,
) -> float:
    """Runs on a new database file and removes it (and its WAL) afterwards."""
    name = run.__name__.strip("_")
    try:
        return run(directory / f"{name}.db", durability, batch, seconds)
    finally:
        for leftover in directory.glob(f"{name}.db*"):
            leftover.unlink()


@attrs.frozen
class _Row:
    durability: Durability
    batch: int
    journal: float
    floor: float

    @property
    def name(self) -> str:
        return f"{self.durability.value}, batch {self.batch}"


def measure(args: argparse.Namespace) -> list[_Row]:
    """Each durability and batch size: the floor, then the store, on fresh files."""
    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-journal-") as tmp:
        directory = Path(tmp)
        for durability in Durability:
            for batch in BATCH_SIZES:
                floor = _fresh(_floor, directory, durability, batch, args.seconds)
                journal = _fresh(_journal, directory, durability, batch, args.seconds)
                rows.append(_Row(durability, batch, journal, floor))
    return rows


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--dir", type=Path, default=None, help="where the files go")
    return parser


def figures(quick: bool) -> list[Figure]:
    """Each row against the bare executemany of the same batch; those against the suite's."""
    result = []
    for row in measure(_parser().parse_args(QUICK if quick else FULL)):
        floor = f"bare executemany, {row.name} (bench floor)"
        result.append(rate(floor, row.floor, unit="rows/s", floor=floors.SQLITE_RATE))
        result.append(rate(f"store.append, {row.name}", row.journal, unit="events/s", floor=floor))
    return result


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    print(f"{args.seconds:g} s per measurement, sqlite {sqlite3.sqlite_version}")
    print(
        f"{'synchronous':11} {'batch':>6} {'journal ev/s':>13} {'floor rows/s':>13} "
        f"{'journal/floor':>13}"
    )
    for row in measure(args):
        print(
            f"{row.durability.value:11} {row.batch:6d} {row.journal:13,.0f} {row.floor:13,.0f} "
            f"{row.journal / row.floor:13.2f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
