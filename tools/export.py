"""``tradeactors export fills|orders|positions|events``: a stopped run's journal as a table.

Read only: the journal is opened under the data dir's lock (a running runtime holds it) and
nothing is written to it. ``fills`` and ``events`` are the journaled records themselves
(each fill once: the journal deduplicates); ``orders`` and ``positions`` are the state the
journal folds to: every order ever journaled, folded from its own stream, and each
position as the next start would rebuild it (the latest snapshot and its tail; a lockstep
step that a crash left open is not counted, as recovery voids it).

Money stays exact: in CSV every amount is the decimal's own text; in Parquet an amount
column is ``decimal128`` at the column's largest scale when every value fits 38 digits,
and text otherwise, never a float.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from actors.journal_decode import decode_trusted
from actors.journal_store import JournalRecord, JournalStore, JournalStoreError
from actors.order_state import Order, OrderEvent, apply_order_event
from actors.runtime_state import RuntimeState, decode_state, order_from_created, order_stream
from bridges.data_dir_lock import DataDirError, DataDirLock
from bridges.journal_sqlite import SqliteJournalStore
from bridges.table_files import Row, flat_row, write_csv, write_parquet
from messages.fills import Fill
from messages.journal import OrderCreated
from supervisors.assembly.recovery import CommittedFold
from supervisors.assembly.runtime_config import JOURNAL_FILE
from tools.progress import Progress

TABLES = ("fills", "orders", "positions", "events")
FORMATS = ("csv", "parquet")
EXIT_DATA_DIR = 3
ORDER_STREAM = order_stream("")


def add_export_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export", help="a stopped run's fills, orders, positions or events"
    )
    export.add_argument("table", choices=TABLES, help="what to export")
    export.add_argument("--data-dir", default="tradeactors-data", help="the runtime's data dir")
    export.add_argument("--format", choices=FORMATS, default="csv", help="file format")
    export.add_argument("--out", required=True, help="the file to write")
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    data_dir = Path(args.data_dir)
    progress = Progress(f"export {args.table}", unit="journal records")
    try:
        with stopped_journal(data_dir) as store:
            rows = list(table_rows(store, args.table, progress))
    except NoJournalError as error:
        out.write(f"tradeactors: {error}; nothing to export\n")
        return EXIT_DATA_DIR
    except (DataDirError, JournalStoreError) as error:
        out.write(f"tradeactors: {error}\n")
        return EXIT_DATA_DIR
    if args.format == "csv":
        write_csv(rows, Path(args.out))
    else:
        write_parquet(rows, Path(args.out))
    progress.finish(f"{progress.done:,} journal records read in {progress.elapsed_s:.1f} s")
    out.write(f"{len(rows)} {args.table} from {data_dir / JOURNAL_FILE} to {args.out}\n")
    return 0


class NoJournalError(Exception):
    """Raised by ``stopped_journal`` when the data dir holds no journal."""


@contextlib.contextmanager
def stopped_journal(data_dir: Path) -> Iterator[SqliteJournalStore]:
    """The data dir's journal, opened under its lock (a running runtime holds it), read only.

    Raises ``NoJournalError`` without a journal, ``DataDirError`` while a runtime runs on
    it, ``JournalStoreError`` when it cannot be read.
    """
    path = data_dir / JOURNAL_FILE
    if not path.is_file():
        raise NoJournalError(f"no journal at {path}")
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        store = SqliteJournalStore(path)
        try:
            yield store
        finally:
            store.close()
    finally:
        lock.release()


def counted(
    store: JournalStore, progress: Progress | None, after: int = 0
) -> Iterator[JournalRecord]:
    """The journal's records after ``after``, each counted on ``progress``."""
    if progress is None:
        yield from store.read(after)
        return
    progress.update(0, total=store.last_seq() - after)
    for record in store.read(after):
        progress.update(progress.done + 1)
        yield record


def table_rows(store: JournalStore, table: str, progress: Progress | None = None) -> Iterator[Row]:
    if table == "events":
        for record in counted(store, progress):
            yield {
                "seq": record.seq,
                "stream": record.stream,
                "kind": record.kind,
                "ts_ns": record.ts_ns,
                "dedup_key": record.dedup_key,
                "payload": record.payload,
            }
    elif table == "fills":
        for record in counted(store, progress):
            if record.kind == Fill.__name__:
                fill = decode_trusted(record.kind, record.payload)
                yield {"seq": record.seq, **flat_row(fill, skip=("id", "ts_init"))}
    elif table == "orders":
        for order in every_order(store, progress):
            yield flat_row(order.snapshot(), skip=("id", "ts_init"))
    else:
        for book in folded_state(store, progress).positions.values():
            snapshot = book.snapshot()
            head = flat_row(snapshot, skip=("id", "ts_init", "legs"))
            for leg in snapshot.legs:
                yield {**head, **flat_row(leg)}


def every_order(store: JournalStore, progress: Progress | None = None) -> list[Order]:
    """Every order the journal holds, archived markets' too (the runtime's fold drops
    those), each folded from its own stream with the order's own applier."""
    orders: dict[str, Order] = {}
    for record in counted(store, progress):
        if not record.stream.startswith(ORDER_STREAM):
            continue
        event = decode_trusted(record.kind, record.payload)
        if isinstance(event, OrderCreated):
            orders[event.order_id] = order_from_created(event)
        elif record.stream.removeprefix(ORDER_STREAM) in orders and isinstance(event, OrderEvent):
            apply_order_event(orders[record.stream.removeprefix(ORDER_STREAM)], event)
    return list(orders.values())


def folded_state(store: JournalStore, progress: Progress | None = None) -> RuntimeState:
    """The state the journal folds to, read only: the latest snapshot, its tail, and no
    lockstep step left open (recovery voids such a step; this leaves it out)."""
    snapshot = store.latest_snapshot()
    fold = CommittedFold(decode_state(snapshot.payload) if snapshot is not None else RuntimeState())
    for record in counted(store, progress, fold.state.seq):
        fold.add(record)
    return fold.state
