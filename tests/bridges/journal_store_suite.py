"""The behaviour every journal backend owes the runtime, written against the interface only.

A backend's test module subclasses :class:`JournalStoreSuite` as ``Test<Backend>JournalStore``
and implements :meth:`JournalStoreSuite.make_factory`. The class name has no ``Test`` prefix,
so pytest collects it only through its subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.journal_store import (
    Duplicate,
    JournalRecord,
    JournalStore,
    JournalStoreError,
    NewEntry,
    Snapshot,
    StoreFactory,
)


def entry(
    n: int = 1,
    *,
    stream: str = "order:O1",
    key: str | None = None,
    kind: str = "Fill",
    digest: str | None = None,
) -> NewEntry:
    """An entry whose payload and timestamp say which one it is."""
    return NewEntry(
        stream=stream,
        kind=kind,
        payload=f'{{"n":{n}}}',
        dedup_key=key,
        ts_ns=1_000 + n,
        digest=digest,
    )


def record(seq: int, new: NewEntry) -> JournalRecord:
    """What reading ``new`` back at ``seq`` must give."""
    return JournalRecord(
        seq=seq,
        stream=new.stream,
        kind=new.kind,
        payload=new.payload,
        dedup_key=new.dedup_key,
        ts_ns=new.ts_ns,
        digest=new.digest,
    )


def stored(seqs: list[int | Duplicate | None]) -> list[int]:
    """The seqs of the entries that were stored (not dropped as duplicates)."""
    return [seq for seq in seqs if isinstance(seq, int)]


_STREAMS = ("order:O1", "order:O2", "position:m1/paper/arb", "runtime")

_batches = st.lists(
    st.tuples(
        st.sampled_from(_STREAMS),
        st.none() | st.sampled_from("abcdefgh"),
        st.none() | st.sampled_from("xy"),
    ),
    max_size=8,
)
_operations = st.lists(
    st.tuples(st.just("append"), _batches) | st.tuples(st.just("void"), st.integers(0, 40)),
    max_size=12,
)


class JournalStoreSuite:
    """Every journal backend passes these; subclasses supply :meth:`make_store`."""

    def make_factory(self, tmp_path: Path) -> StoreFactory:
        """The factory of stores on a new journal, which may live under ``tmp_path``."""
        raise NotImplementedError

    @pytest.fixture
    def open_store(self, tmp_path: Path) -> Iterator[Callable[[], JournalStore]]:
        """Opens the test's journal (again, after a close); closes what it opened at the end."""
        factory = self.make_factory(tmp_path)
        opened: list[JournalStore] = []

        def open_() -> JournalStore:
            opened.append(factory())
            return opened[-1]

        yield open_
        for store in opened:
            store.close()

    @pytest.fixture
    def store(self, open_store: Callable[[], JournalStore]) -> JournalStore:
        return open_store()

    # -- append ---------------------------------------------------------------------------

    def test_append_returns_strictly_increasing_seqs_across_batches(
        self, store: JournalStore
    ) -> None:
        first = store.append([entry(1), entry(2), entry(3)])
        second = store.append([entry(4)])
        seqs = stored(first + second)
        assert len(seqs) == 4
        assert seqs[0] > 0
        assert seqs == sorted(set(seqs))

    def test_an_empty_batch_stores_nothing_and_returns_an_empty_list(
        self, store: JournalStore
    ) -> None:
        assert store.append([]) == []
        assert list(store.read()) == []

    def test_a_batch_with_an_entry_of_the_wrong_type_stores_nothing(
        self, store: JournalStore
    ) -> None:
        with pytest.raises(TypeError):
            store.append([entry(1, key="a"), entry(2, key="b"), {"kind": "Fill"}])  # type: ignore[list-item]
        assert list(store.read()) == []
        assert not store.has_key("a")

    def test_a_batch_failing_part_way_through_stores_none_of_it(self, store: JournalStore) -> None:
        unencodable = NewEntry(stream="order:O1", kind="Fill", payload="\ud800", ts_ns=1)
        with pytest.raises((UnicodeEncodeError, JournalStoreError)):
            store.append([entry(1, key="a"), entry(2, key="b"), unencodable])
        assert list(store.read()) == []
        assert not store.has_key("a")
        (seq,) = store.append([entry(3, key="a")])
        assert seq is not None
        assert list(store.read()) == [record(seq, entry(3, key="a"))]

    def test_an_entry_whose_key_is_already_journaled_is_dropped_with_none(
        self, store: JournalStore
    ) -> None:
        (first,) = store.append([entry(1, key="fill:F1")])
        seqs = store.append([entry(2, key="fill:F2"), entry(3, key="fill:F1"), entry(4)])
        assert seqs[1] is None
        assert seqs[0] is not None
        assert seqs[2] is not None
        assert first is not None
        assert [r.seq for r in store.read()] == [first, seqs[0], seqs[2]]
        assert [r.payload for r in store.read()] == ['{"n":1}', '{"n":2}', '{"n":4}']

    def test_a_key_repeated_within_one_batch_is_stored_once_the_first_time(
        self, store: JournalStore
    ) -> None:
        seqs = store.append([entry(1, key="k"), entry(2, key="k"), entry(3, key="j")])
        assert seqs[1] is None
        assert [r.payload for r in store.read()] == ['{"n":1}', '{"n":3}']
        assert [r.seq for r in store.read()] == stored(seqs)

    def test_a_batch_of_only_duplicates_stores_nothing(self, store: JournalStore) -> None:
        store.append([entry(1, key="k")])
        assert store.append([entry(2, key="k"), entry(3, key="k")]) == [None, None]
        assert len(list(store.read())) == 1

    def test_a_repeated_key_with_the_same_digest_is_reported_identical_with_the_stored_record(
        self, store: JournalStore
    ) -> None:
        first = entry(1, key="fill:F1", digest="d1")
        (seq,) = store.append([first])
        assert isinstance(seq, int)
        assert store.append([entry(2, key="fill:F1", digest="d1")]) == [
            Duplicate(stored=record(seq, first), identical=True)
        ]
        assert list(store.read()) == [record(seq, first)]

    def test_a_repeated_key_with_another_digest_is_reported_conflicting_and_not_stored(
        self, store: JournalStore
    ) -> None:
        first = entry(1, key="fill:F1", digest="d1")
        (seq,) = store.append([first])
        assert isinstance(seq, int)
        seqs = store.append([entry(2, key="fill:F2"), entry(3, key="fill:F1", digest="d2")])
        assert seqs[1] == Duplicate(stored=record(seq, first), identical=False)
        assert [r.payload for r in store.read()] == ['{"n":1}', '{"n":2}']

    def test_a_conflict_within_one_batch_names_the_entry_stored_first(
        self, store: JournalStore
    ) -> None:
        first = entry(1, key="deal:B1:1:5", digest="d1")
        seqs = store.append([first, entry(2, key="deal:B1:1:5", digest="d2"), entry(3)])
        assert isinstance(seqs[0], int)
        assert seqs[1] == Duplicate(stored=record(seqs[0], first), identical=False)
        assert isinstance(seqs[2], int)

    def test_a_key_stored_without_a_digest_is_reported_uncompared_with_its_record(
        self, store: JournalStore
    ) -> None:
        first = entry(1, key="fill:F1")
        (seq,) = store.append([first])
        assert isinstance(seq, int)
        (duplicate,) = store.append([entry(2, key="fill:F1", digest="d1")])
        assert duplicate == Duplicate(stored=record(seq, first), identical=None)

    def test_a_repeated_key_without_a_digest_is_dropped_with_none_whatever_is_stored(
        self, store: JournalStore
    ) -> None:
        store.append([entry(1, key="applied:F1", digest="d1")])
        assert store.append([entry(2, key="applied:F1")]) == [None]

    def test_entries_without_a_key_are_never_deduplicated(self, store: JournalStore) -> None:
        same = entry(1)
        seqs = store.append([same, same]) + store.append([same])
        assert None not in seqs
        assert len(list(store.read())) == 3

    # -- read -----------------------------------------------------------------------------

    def test_read_returns_every_field_as_appended_in_seq_order(self, store: JournalStore) -> None:
        entries = [
            entry(1, key="a"),
            entry(2, stream="runtime", kind="Started"),
            entry(3, key="fill:F3", digest="d3"),
        ]
        seqs = store.append(entries)
        assert list(store.read()) == [
            record(seq, new) for seq, new in zip(stored(seqs), entries, strict=True)
        ]

    def test_read_after_a_seq_returns_only_the_later_records(self, store: JournalStore) -> None:
        seqs = stored(store.append([entry(n) for n in range(1, 6)]))
        assert [r.seq for r in store.read(seqs[1])] == seqs[2:]
        assert list(store.read(seqs[-1])) == []
        assert [r.seq for r in store.read(0)] == seqs

    def test_read_by_stream_returns_only_that_streams_records_after_the_seq(
        self, store: JournalStore
    ) -> None:
        entries = [entry(n, stream="order:O1" if n % 2 else "order:O2") for n in range(1, 9)]
        seqs = stored(store.append(entries))
        o2 = [seq for seq, new in zip(seqs, entries, strict=True) if new.stream == "order:O2"]
        assert [r.seq for r in store.read(stream="order:O2")] == o2
        assert [r.seq for r in store.read(o2[1], stream="order:O2")] == o2[2:]
        assert list(store.read(stream="order:O9")) == []

    def test_read_pages_through_a_journal_larger_than_one_page(self, store: JournalStore) -> None:
        entries = [entry(n, stream=_STREAMS[n % 2], key=f"k{n}") for n in range(3_000)]
        seqs = stored(store.append(entries))
        assert [r.seq for r in store.read()] == seqs
        assert [r.seq for r in store.read(stream=_STREAMS[1])] == seqs[1::2]

    # -- last_seq, has_key ----------------------------------------------------------------

    def test_last_seq_is_zero_for_an_empty_journal_then_the_highest_assigned(
        self, store: JournalStore
    ) -> None:
        assert store.last_seq() == 0
        seqs = stored(store.append([entry(1), entry(2)]))
        assert store.last_seq() == seqs[-1]

    def test_has_key_is_true_only_for_journaled_keys(self, store: JournalStore) -> None:
        store.append([entry(1, key="fill:F1"), entry(2)])
        assert store.has_key("fill:F1")
        assert not store.has_key("fill:F2")

    # -- void_after -----------------------------------------------------------------------

    def test_void_after_moves_the_tail_out_and_voided_shows_it_with_the_reason(
        self, store: JournalStore
    ) -> None:
        entries = [entry(n, key=f"k{n}", digest=f"d{n}" if n % 2 else None) for n in range(1, 6)]
        seqs = stored(store.append(entries))
        assert store.void_after(seqs[2], "torn unit of work") == 2
        assert [r.seq for r in store.read()] == seqs[:3]
        assert store.voided() == [
            (record(seqs[3], entries[3]), "torn unit of work"),
            (record(seqs[4], entries[4]), "torn unit of work"),
        ]

    def test_void_after_frees_the_keys_and_a_reappended_key_gets_a_new_higher_seq(
        self, store: JournalStore
    ) -> None:
        kept, torn = stored(store.append([entry(1, key="a"), entry(2, key="b")]))
        store.void_after(kept, "torn")
        assert not store.has_key("b")
        (again,) = store.append([entry(3, key="b")])
        assert again is not None
        assert again > torn
        assert store.last_seq() == again
        assert [r.seq for r in store.read()] == [kept, again]

    def test_last_seq_still_counts_voided_seqs(self, store: JournalStore) -> None:
        seqs = stored(store.append([entry(1), entry(2)]))
        store.void_after(0, "corrupt tail")
        assert list(store.read()) == []
        assert store.last_seq() == seqs[-1]

    def test_void_after_the_last_seq_moves_nothing(self, store: JournalStore) -> None:
        store.append([entry(1)])
        assert store.void_after(store.last_seq(), "nothing to do") == 0
        assert store.voided() == []

    def test_quarantine_moves_one_record_out_and_keeps_the_ones_after_it(
        self, store: JournalStore
    ) -> None:
        entries = [entry(n, key=f"k{n}") for n in range(1, 4)]
        seqs = stored(store.append(entries))
        assert store.quarantine(seqs[1], "verify: checksum mismatch")
        assert [r.seq for r in store.read()] == [seqs[0], seqs[2]]
        assert store.voided() == [(record(seqs[1], entries[1]), "verify: checksum mismatch")]
        assert not store.has_key("k2")
        assert store.last_seq() == seqs[2]
        assert not store.quarantine(seqs[1], "again")
        assert not store.quarantine(seqs[2] + 1, "no such record")

    def test_voiding_twice_keeps_both_reasons(self, store: JournalStore) -> None:
        a, b = stored(store.append([entry(1), entry(2)]))
        store.void_after(a, "first")
        (c,) = stored(store.append([entry(3)]))
        store.void_after(0, "second")
        assert [(r.seq, why) for r, why in store.voided()] == [
            (a, "second"),
            (b, "first"),
            (c, "second"),
        ]

    # -- snapshots ------------------------------------------------------------------------

    def test_latest_snapshot_is_none_until_one_is_written(self, store: JournalStore) -> None:
        assert store.latest_snapshot() is None

    def test_the_latest_written_snapshot_wins(self, store: JournalStore) -> None:
        seqs = stored(store.append([entry(n) for n in range(1, 4)]))
        for n, seq in enumerate(seqs):
            store.write_snapshot(Snapshot(seq=seq, payload=f'{{"state":{n}}}', ts_ns=n))
        assert store.latest_snapshot() == Snapshot(seq=seqs[-1], payload='{"state":2}', ts_ns=2)

    def test_a_snapshot_of_an_empty_journal_is_allowed(self, store: JournalStore) -> None:
        store.write_snapshot(Snapshot(seq=0, payload="{}", ts_ns=1))
        assert store.latest_snapshot() == Snapshot(seq=0, payload="{}", ts_ns=1)

    def test_a_snapshot_beyond_the_last_record_is_refused(self, store: JournalStore) -> None:
        (seq,) = stored(store.append([entry(1)]))
        with pytest.raises(ValueError, match="beyond"):
            store.write_snapshot(Snapshot(seq=seq + 1, payload="{}", ts_ns=1))
        assert store.latest_snapshot() is None

    def test_void_after_drops_the_snapshots_that_include_voided_records(
        self, store: JournalStore
    ) -> None:
        a, b = stored(store.append([entry(1), entry(2)]))
        store.write_snapshot(Snapshot(seq=a, payload='"at a"', ts_ns=1))
        store.write_snapshot(Snapshot(seq=b, payload='"at b"', ts_ns=2))
        store.void_after(a, "torn")
        assert store.latest_snapshot() == Snapshot(seq=a, payload='"at a"', ts_ns=1)

    # -- lifetime -------------------------------------------------------------------------

    def test_reopening_keeps_records_keys_voided_snapshots_and_the_seq_high_water_mark(
        self, open_store: Callable[[], JournalStore]
    ) -> None:
        store = open_store()
        entries = [
            entry(1, key="a", digest="da"),
            entry(2, key="b"),
            entry(3, key="c", digest="dc"),
        ]
        a, b, c = stored(store.append(entries))
        store.void_after(b, "torn")
        store.write_snapshot(Snapshot(seq=a, payload='"s"', ts_ns=9))
        store.close()

        store = open_store()
        assert list(store.read()) == [record(a, entries[0]), record(b, entries[1])]
        assert store.has_key("a")
        assert not store.has_key("c")
        assert store.voided() == [(record(c, entries[2]), "torn")]
        assert store.latest_snapshot() == Snapshot(seq=a, payload='"s"', ts_ns=9)
        assert store.last_seq() == c
        assert store.append([entry(4, key="a"), entry(5, key="c")])[0] is None
        assert store.last_seq() > c
        assert store.append([entry(6, key="a", digest="da")]) == [
            Duplicate(stored=record(a, entries[0]), identical=True)
        ]

    def test_stores_of_one_factory_share_one_journal_and_outlive_each_other(
        self, open_store: Callable[[], JournalStore]
    ) -> None:
        writer, reader = open_store(), open_store()
        (a,) = stored(writer.append([entry(1, key="a")]))
        assert list(reader.read()) == [record(a, entry(1, key="a"))]
        assert reader.append([entry(2, key="a")]) == [None]
        (b,) = stored(reader.append([entry(3, key="b")]))
        reader.write_snapshot(Snapshot(seq=b, payload='"s"', ts_ns=1))
        reader.close()
        assert [r.seq for r in writer.read()] == [a, b]
        assert writer.latest_snapshot() == Snapshot(seq=b, payload='"s"', ts_ns=1)
        assert writer.void_after(a, "torn") == 1
        assert [(r.seq, why) for r, why in open_store().voided()] == [(b, "torn")]

    def test_the_writer_store_is_a_store_of_the_same_journal(self, tmp_path: Path) -> None:
        factory = self.make_factory(tmp_path)
        writer, reader = factory.writer(), factory()
        try:
            (seq,) = stored(writer.append([entry(1, key="a")]))
            assert list(reader.read()) == [record(seq, entry(1, key="a"))]
        finally:
            writer.close()
            reader.close()

    def test_closing_twice_is_harmless_and_a_closed_store_refuses_work(
        self, store: JournalStore
    ) -> None:
        store.close()
        store.close()
        with pytest.raises(JournalStoreError):
            store.append([entry(1)])
        with pytest.raises(JournalStoreError):
            list(store.read())

    # -- the model ------------------------------------------------------------------------

    def test_read_returns_exactly_the_non_duplicate_entries_in_order(
        self, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        # @given on a function of this call, not on the method: hypothesis refuses one
        # @given method run by instances of two backends' subclasses.
        @settings(max_examples=60, deadline=None)
        @given(operations=_operations)
        def check(operations: list[tuple[str, object]]) -> None:
            store = self.make_factory(tmp_path_factory.mktemp("journal"))()
            try:
                self._check_against_model(store, operations)
            finally:
                store.close()

        check()

    def _check_against_model(
        self, store: JournalStore, operations: list[tuple[str, object]]
    ) -> None:
        """Replays ``operations`` on the store and on a list, comparing at every step."""
        expected: list[JournalRecord] = []
        high_water = 0
        n = 0
        for operation, argument in operations:
            if operation == "void":
                assert isinstance(argument, int)
                moved = store.void_after(argument, "model")
                assert moved == sum(r.seq > argument for r in expected)
                expected = [r for r in expected if r.seq <= argument]
                continue
            assert isinstance(argument, list)
            entries = []
            for stream, key, digest in argument:
                n += 1
                entries.append(entry(n, stream=stream, key=key, digest=digest))
            holding = {r.dedup_key: r for r in expected if r.dedup_key is not None}
            seqs = store.append(entries)
            assert len(seqs) == len(entries)
            for seq, new in zip(seqs, entries, strict=True):
                held = None if new.dedup_key is None else holding.get(new.dedup_key)
                if held is None:
                    assert isinstance(seq, int)
                    assert seq > high_water
                    high_water = seq
                    expected.append(record(seq, new))
                    if new.dedup_key is not None:
                        holding[new.dedup_key] = expected[-1]
                elif new.digest is None:
                    assert seq is None
                else:
                    same = None if held.digest is None else held.digest == new.digest
                    assert seq == Duplicate(stored=held, identical=same)
            assert list(store.read()) == expected
        assert store.last_seq() == high_water
        for stream in _STREAMS:
            assert list(store.read(stream=stream)) == [r for r in expected if r.stream == stream]
