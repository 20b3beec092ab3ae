"""Before a runtime trusts its journal file: refuse one it would misread, saying why.

SQLite takes an empty file for a new database, so a ``journal.sqlite`` truncated to 0 bytes
(a botched copy, a full disk at the wrong moment) would silently replay the feed from
scratch as if nothing had ever been traded. A file that cannot be opened as a journal (not
a database, another schema, not writable) fails here with one line that says what to do,
rather than as a traceback from the first actor that touches it. A PostgreSQL journal is
opened once the same way (by the command line, before the runtime), so an unreachable
server is one line too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from actors.journal_store import JournalStoreError, storage_advice
from bridges.data_dir_lock import DataDirError, DataDirLock
from bridges.journal_sqlite import SqliteJournalStore

if TYPE_CHECKING:  # psycopg is loaded only by a run on a PostgreSQL journal
    from bridges.journal_postgres import PostgresStoreFactory


class EmptyJournalError(DataDirError):
    """Raised by :func:`check_journal` for a journal file of 0 bytes."""


def check_journal(path: Path) -> None:
    """Raise :class:`DataDirError` unless ``path`` is missing (a new journal) or opens as one."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = None
    except OSError as error:
        raise DataDirError(
            f"journal {path} cannot be read ({error.strerror}); check the data dir"
        ) from error
    if size == 0:
        raise EmptyJournalError(
            f"journal {path} is empty (0 bytes): its history is gone, and starting on it "
            "would replay the feed from scratch; restore the file, or start over with --fresh"
        )
    try:
        SqliteJournalStore(path).close()
    except JournalStoreError as error:
        raise DataDirError(f"{error}; {storage_advice(str(error))}") from error


def check_server(stores: PostgresStoreFactory) -> None:
    """Raise :class:`DataDirError` unless the PostgreSQL journal opens for writing (the
    server is up, the schema is a journal of this version, no other runtime writes it), so
    a bad ``--journal`` fails before any actor starts, as a bad file does."""
    try:
        stores.writer().close()
    except JournalStoreError as error:
        raise DataDirError(f"{error}; {storage_advice(str(error))}") from error


def remove_files(data_dir: Path, names: tuple[str, ...]) -> None:
    """``--fresh``: delete these files of the data dir (and their WAL files), under its
    lock, so a running runtime's journal is never deleted from under it."""
    lock = DataDirLock(data_dir).acquire()
    try:
        for name in names:
            for each in data_dir.glob(name + "*"):
                each.unlink()
    except OSError as error:
        raise DataDirError(
            f"cannot delete {error.filename} for --fresh ({error.strerror}); check the data dir"
        ) from error
    finally:
        lock.release()
