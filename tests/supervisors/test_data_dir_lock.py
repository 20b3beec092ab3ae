"""One runtime per data dir, through the assembled Runtime, embedded or standalone; and a
journal file the runtime would misread is refused before anything starts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bridges.data_dir_lock import LOCK_FILE, DataDirError, DataDirLockedError
from bridges.journal_preflight import EmptyJournalError
from supervisors.assembly.runtime import JOURNAL_FILE, Runtime, RuntimeConfig
from supervisors.kernel.base import ask
from supervisors.kernel.protocol import AddChild, ChildRefused
from supervisors.kernel.supervisor import Supervisor
from tests.stubs import arbitrage_feed

pytestmark = pytest.mark.timeout(30)


def test_a_second_runtime_on_a_held_data_dir_is_refused_naming_the_holders_pid(
    tmp_path: Path,
) -> None:
    feed = arbitrage_feed()
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as first:
        first.replay(feed, end=3)
        with pytest.raises(DataDirLockedError, match=f"pid {os.getpid()}") as refused:
            Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed)
        assert refused.value.holder == os.getpid()
        assert str(tmp_path / LOCK_FILE) in str(refused.value)
        # The holder goes on untouched.
        first.replay(feed, end=6)
        assert first.next_step == 6
    # Stopped, it frees the data dir at once: the next runtime continues its journal.
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as second:
        assert second.next_step == 6


def test_an_embedded_runtime_is_refused_a_data_dir_a_standalone_one_holds(
    tmp_path: Path,
) -> None:
    config = RuntimeConfig(data_dir=tmp_path, max_restarts=0)
    desk = Supervisor.start(name="desk", max_restarts=0)
    with Runtime(config).start(arbitrage_feed()):
        answer = ask(desk, AddChild(spec=Runtime.child_spec(config, arbitrage_feed())))
    assert isinstance(answer, ChildRefused)
    assert "DataDirLockedError" in answer.reason
    assert f"pid {os.getpid()}" in answer.reason
    desk.stop()


def test_an_empty_journal_file_is_refused_rather_than_replayed_from_scratch(
    tmp_path: Path,
) -> None:
    (tmp_path / JOURNAL_FILE).write_bytes(b"")
    with pytest.raises(EmptyJournalError, match="--fresh"):
        Runtime(RuntimeConfig(data_dir=tmp_path)).start(arbitrage_feed())
    assert (tmp_path / JOURNAL_FILE).stat().st_size == 0


def test_a_file_that_is_not_a_database_is_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / JOURNAL_FILE).write_bytes(b"this is not an SQLite file at all" * 200)
    with pytest.raises(DataDirError, match=r"not a database.*restore it"):
        Runtime(RuntimeConfig(data_dir=tmp_path)).start(arbitrage_feed())
