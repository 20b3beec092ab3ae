"""``tradeactors verify``: read a data dir's whole journal, history included, and say what is
damaged; ``--quarantine`` moves the damage a snapshot covers aside (kept, never deleted).

A start reads only what the latest snapshot does not cover, so this is the one place old
damage is found. Exit status: 0 when nothing is damaged (or all of it was covered and moved
aside), 1 when damage is left, 3 when the data dir cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

import attrs

from actors.journal_store import JournalStoreError
from bridges.data_dir_lock import DataDirError, DataDirLock
from bridges.journal_sqlite import SqliteJournalStore
from bridges.journal_verify import VerifyReport, quarantine_covered, verify_journal
from supervisors.assembly.runtime_config import JOURNAL_FILE
from tools.cli_types import add_log_level
from tools.logging_setup import configure_logging

EXIT_DAMAGED = 1
EXIT_DATA_DIR = 3


def add_verify_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = commands.add_parser(
        "verify", help="check every journal record, history included; report the damage"
    )
    verify.add_argument("--data-dir", default="tradeactors-data", help="the runtime's data dir")
    verify.add_argument(
        "--quarantine",
        action="store_true",
        help="move damaged records a snapshot covers to the journal's side table",
    )
    verify.add_argument("--json", action="store_true", help="one JSON document instead of text")
    add_log_level(verify, "warning")
    verify.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    configure_logging(args.log_level)  # to stderr: stdout is the report
    data_dir = Path(args.data_dir)
    path = data_dir / JOURNAL_FILE
    if not path.is_file():
        out.write(f"tradeactors: no journal at {path}; nothing to verify\n")
        return EXIT_DATA_DIR
    lock = DataDirLock(data_dir)
    try:
        lock.acquire()  # a running runtime writes this journal: verify it once stopped
        store = SqliteJournalStore(path)
    except (DataDirError, JournalStoreError) as error:
        lock.release()
        out.write(f"tradeactors: {error}\n")
        return EXIT_DATA_DIR
    try:
        report = verify_journal(store)
        moved = quarantine_covered(store, report) if args.quarantine else []
    except JournalStoreError as error:
        out.write(f"tradeactors: {error}\n")
        return EXIT_DATA_DIR
    finally:
        store.close()
        lock.release()
    left = [bad for bad in report.bad if bad not in moved]
    if args.json:
        document = {**attrs.asdict(report), "quarantined": [attrs.asdict(b) for b in moved]}
        out.write(json.dumps(document) + "\n")
    else:
        _describe(out, path, report, quarantined=len(moved))
    return EXIT_DAMAGED if left else 0


def _describe(out: TextIO, path: Path, report: VerifyReport, *, quarantined: int) -> None:
    snapshot = f"snapshot at {report.snapshot_seq}" if report.snapshot_seq else "no snapshot"
    out.write(
        f"{path}: {report.records} records verified, last seq {report.last_seq}, {snapshot}\n"
    )
    for bad in report.bad:
        where = (
            "covered by the snapshot: a start never reads it"
            if bad.covered
            else "after the snapshot: the next start cuts the journal there"
        )
        out.write(f"  record {bad.seq}: {bad.reason} ({where})\n")
    if report.clean:
        out.write("no damage\n")
    elif quarantined:
        out.write(f"{quarantined} covered records moved to the journal's voided table\n")
    elif any(bad.covered for bad in report.bad):
        out.write("--quarantine moves the covered ones aside (kept in the voided table)\n")
