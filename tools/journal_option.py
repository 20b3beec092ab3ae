"""``tradeactors run --journal URL``: the journal on a PostgreSQL server instead of the file.

Without the flag the journal is ``journal.sqlite`` in the data dir (the embedded default);
with ``--journal postgresql://user@host/db`` it is the ``tradeactors`` schema of that
database (``?schema=NAME`` names another). The data dir still holds the runtime's lock and
its other files either way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from actors.journal_store import Durability, JournalStoreError
from bridges.data_dir_lock import DataDirError, DataDirLock
from bridges.journal_postgres import PostgresStoreFactory
from supervisors.assembly.runtime_config import RuntimeConfig

SCHEMES = ("postgresql://", "postgres://")


def add_journal_flag(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--journal",
        type=_url,
        help="a PostgreSQL journal, postgresql://user@host/db[?schema=NAME]; "
        "default: journal.sqlite in --data-dir",
    )


def stores(args: argparse.Namespace) -> PostgresStoreFactory | None:
    """The store factory ``--journal`` names, or None for the data dir's file."""
    if args.journal is None:
        return None
    return PostgresStoreFactory.from_url(args.journal, Durability(args.durability.upper()))


def where(config: RuntimeConfig) -> str:
    """Where the journal is, for the start-up line (never with a password)."""
    if isinstance(config.journal_store, PostgresStoreFactory):
        return config.journal_store.name
    return str(config.data_dir)


def clear(args: argparse.Namespace) -> None:
    """``--fresh`` with ``--journal``: drop the journal's schema, under the data dir's lock
    (as the file is deleted), so this data dir's running runtime never loses it."""
    factory = stores(args)
    if factory is None:
        return
    lock = DataDirLock(Path(args.data_dir)).acquire()
    try:
        factory.drop()
    except JournalStoreError as error:
        raise DataDirError(str(error)) from error
    finally:
        lock.release()


def _url(text: str) -> str:
    if not text.startswith(SCHEMES):
        raise argparse.ArgumentTypeError(f"not a postgresql:// URL: {text!r}")
    return text
