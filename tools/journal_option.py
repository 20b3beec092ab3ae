"""``tradeactors run --journal URL``: the journal on a PostgreSQL server instead of the file.

Without the flag the journal is ``journal.sqlite`` in the data dir (the embedded default);
with ``--journal postgresql://user@host/db`` it is the ``tradeactors`` schema of that
database (``?schema=NAME`` names another). The data dir still holds the runtime's lock and
its other files either way. psycopg is imported only when the flag is given: every other
run starts without it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from actors.journal_store import Durability, JournalStoreError
from bridges.data_dir_lock import DataDirError, DataDirLock
from bridges.journal_preflight import check_server

if TYPE_CHECKING:
    from bridges.journal_postgres import PostgresStoreFactory

SCHEMES = ("postgresql://", "postgres://")


def add_journal_flag(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--journal",
        type=_url,
        help="a PostgreSQL journal, postgresql://user@host/db[?schema=NAME]; "
        "default: journal.sqlite in --data-dir",
    )


def stores(args: argparse.Namespace) -> PostgresStoreFactory | None:
    """The store factory ``--journal`` names, or None for the data dir's file. The journal
    is opened once first, so a server that cannot be used fails the start in one line
    (:class:`DataDirError`), before any actor starts."""
    factory = _factory(args)
    if factory is not None:
        check_server(factory)
    return factory


def name(args: argparse.Namespace) -> str | None:
    """The ``--journal`` for the start-up line (never with its password), None without one."""
    factory = _factory(args)
    return None if factory is None else factory.name


def clear(args: argparse.Namespace) -> None:
    """``--fresh`` with ``--journal``: drop the journal's schema, under the data dir's lock
    (as the file is deleted), so this data dir's running runtime never loses it."""
    factory = _factory(args)
    if factory is None:
        return
    lock = DataDirLock(Path(args.data_dir)).acquire()
    try:
        factory.drop()
    except JournalStoreError as error:
        raise DataDirError(str(error)) from error
    finally:
        lock.release()


def _factory(args: argparse.Namespace) -> PostgresStoreFactory | None:
    if args.journal is None:
        return None
    from bridges.journal_postgres import PostgresStoreFactory  # noqa: PLC0415 (psycopg)

    return PostgresStoreFactory.from_url(args.journal, Durability(args.durability.upper()))


def _url(text: str) -> str:
    if not text.startswith(SCHEMES):
        raise argparse.ArgumentTypeError(f"not a postgresql:// URL: {text!r}")
    return text
