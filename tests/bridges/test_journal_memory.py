"""The in-memory journal: the shared suite, plus the damage a test can still do to it."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from actors.journal_store import CorruptRecordError, Snapshot
from bridges.journal_memory import MemoryJournal
from tests.bridges.journal_store_suite import JournalStoreSuite, entry, stored

pytestmark = pytest.mark.timeout(60)


class TestMemoryJournalStore(JournalStoreSuite):
    def make_factory(self, tmp_path: Path) -> MemoryJournal:
        return MemoryJournal()


def test_two_journals_share_nothing() -> None:
    first, second = MemoryJournal()(), MemoryJournal()()
    first.append([entry(1, key="a")])
    assert list(second.read()) == []
    assert not second.has_key("a")


def test_a_record_changed_in_place_is_reported_after_the_good_ones_before_it() -> None:
    journal = MemoryJournal()
    store = journal()
    seqs = stored(store.append([entry(n) for n in range(1, 4)]))
    damaged = journal.events[1]
    damaged.record = attrs.evolve(damaged.record, payload='{"n":"changed"}')
    read: list[int] = []
    with pytest.raises(CorruptRecordError) as raised:
        read.extend(r.seq for r in store.read())
    assert read == seqs[:1]
    assert raised.value.seq == seqs[1]
    assert "checksum mismatch" in raised.value.reason


def test_a_damaged_snapshot_falls_back_to_the_one_before() -> None:
    journal = MemoryJournal()
    store = journal()
    a, b = stored(store.append([entry(1), entry(2)]))
    store.write_snapshot(Snapshot(seq=a, payload='"at a"', ts_ns=1))
    store.write_snapshot(Snapshot(seq=b, payload='"at b"', ts_ns=2))
    _, checksum = journal.snapshots[-1]
    journal.snapshots[-1] = (Snapshot(seq=b, payload='"changed"', ts_ns=2), checksum)
    assert store.latest_snapshot() == Snapshot(seq=a, payload='"at a"', ts_ns=1)
