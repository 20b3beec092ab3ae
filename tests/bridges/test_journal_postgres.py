"""The PostgreSQL journal: the shared suite, plus what only a server can go through."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs
import psycopg
import pytest

from actors.journal_store import CorruptRecordError, Durability, JournalStoreError, Snapshot
from bridges.data_dir_lock import DataDirError
from bridges.journal_postgres import (
    SCHEMA_VERSION,
    PostgresJournalStore,
    PostgresStoreFactory,
    describe,
)
from bridges.journal_preflight import check_server
from tests.bridges.journal_store_suite import JournalStoreSuite, entry, record, stored

pytestmark = pytest.mark.timeout(60)


def _schema() -> str:
    return f"j_{uuid.uuid4().hex[:12]}"


class TestPostgresJournalStore(JournalStoreSuite):
    @pytest.fixture(autouse=True)
    def _server(self, postgres_url: str) -> None:
        self.url = postgres_url

    def make_factory(self, tmp_path: Path) -> PostgresStoreFactory:
        return PostgresStoreFactory(self.url, schema=_schema())


@pytest.fixture
def factory(postgres_url: str) -> PostgresStoreFactory:
    return PostgresStoreFactory(postgres_url, schema=_schema())


@pytest.fixture
def store(factory: PostgresStoreFactory) -> Iterator[PostgresJournalStore]:
    opened = factory()
    yield opened
    opened.close()


def _raw(factory: PostgresStoreFactory, statement: str, *params: object) -> None:
    """Changes the tables behind the store's back, as a stray tool or a bad restore would."""
    with psycopg.connect(factory.conninfo, autocommit=True) as conn:
        conn.execute(f'SET search_path = "{factory.schema}"')
        conn.execute(statement, params)


@pytest.mark.parametrize(
    ("durability", "setting"), [(Durability.NORMAL, "local"), (Durability.FULL, "on")]
)
def test_each_durability_sets_synchronous_commit(
    postgres_url: str, durability: Durability, setting: str
) -> None:
    store = PostgresStoreFactory(postgres_url, schema=_schema(), durability=durability)()
    try:
        assert store._conn.execute("SHOW synchronous_commit").fetchone() == (setting,)
    finally:
        store.close()


def test_a_journal_of_another_schema_version_is_refused(factory: PostgresStoreFactory) -> None:
    factory().close()
    _raw(factory, "UPDATE journal SET schema_version = 99")
    with pytest.raises(JournalStoreError, match="schema version 99"):
        factory()
    _raw(factory, "UPDATE journal SET schema_version = %s", SCHEMA_VERSION)
    factory().close()


def test_journals_in_two_schemas_of_one_database_share_nothing(postgres_url: str) -> None:
    first, second = (
        PostgresStoreFactory(postgres_url, schema=_schema()),
        PostgresStoreFactory(postgres_url, schema=_schema()),
    )
    a, b = first(), second()
    try:
        a.append([entry(1, key="k")])
        assert list(b.read()) == []
        assert b.append([entry(2, key="k")]) == [1]
    finally:
        a.close()
        b.close()


def test_an_unreachable_server_is_a_journal_store_error_without_the_password() -> None:
    url = "postgresql://trader:s3cret@127.0.0.1:1/journal"
    with pytest.raises(JournalStoreError, match="cannot open journal") as raised:
        PostgresJournalStore(url)
    assert "s3cret" not in str(raised.value)
    assert describe(url) == "postgresql://trader@127.0.0.1:1/journal"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param("payload = '{\"n\":99}'", id="payload-changed"),
        pytest.param("payload = left(payload, -2)", id="cut-short"),
        pytest.param("digest = 'other'", id="digest-changed"),
        pytest.param("stream = 'order:O9'", id="moved-to-another-stream"),
    ],
)
def test_a_record_damaged_in_the_table_is_reported_with_its_seq_after_the_good_ones(
    store: PostgresJournalStore, factory: PostgresStoreFactory, damage: str
) -> None:
    seqs = stored(store.append([entry(n, digest=f"d{n}") for n in range(1, 6)]))
    _raw(factory, f"UPDATE events SET {damage} WHERE seq = %s", seqs[4])
    _raw(factory, f"UPDATE events SET {damage} WHERE seq = %s", seqs[2])

    yielded: list[int] = []
    with pytest.raises(CorruptRecordError) as raised:
        yielded.extend(r.seq for r in store.read())

    assert yielded == seqs[:2]
    assert raised.value.seq == seqs[2]
    assert "checksum mismatch" in raised.value.reason


def test_a_corrupt_tail_is_quarantined_by_voiding_before_it(
    store: PostgresJournalStore, factory: PostgresStoreFactory
) -> None:
    entries = [entry(n, key=f"k{n}", digest=f"d{n}") for n in range(1, 5)]
    seqs = stored(store.append(entries))
    _raw(factory, "UPDATE events SET payload = '{}' WHERE seq = %s", seqs[2])
    with pytest.raises(CorruptRecordError) as raised:
        list(store.read())
    with pytest.raises(CorruptRecordError):  # a digest compared with the damaged record
        store.append([entry(9, key="k3", digest="d3")])

    assert store.void_after(raised.value.seq - 1, raised.value.reason) == 2

    assert list(store.read()) == [record(seqs[0], entries[0]), record(seqs[1], entries[1])]
    assert [(r.seq, r.payload) for r, _why in store.voided()] == [
        (seqs[2], "{}"),
        (seqs[3], '{"n":4}'),
    ]
    assert stored(store.append([entry(9, key="k3")])) == [seqs[3] + 1]


def test_a_damaged_latest_snapshot_falls_back_to_the_one_before(
    store: PostgresJournalStore, factory: PostgresStoreFactory
) -> None:
    a, b = stored(store.append([entry(1), entry(2)]))
    store.write_snapshot(Snapshot(seq=a, payload='"at a"', ts_ns=1))
    store.write_snapshot(Snapshot(seq=b, payload='"at b"', ts_ns=2))
    _raw(factory, "UPDATE snapshots SET payload = '\"tampered\"' WHERE seq = %s", b)
    assert store.latest_snapshot() == Snapshot(seq=a, payload='"at a"', ts_ns=1)


def test_a_server_gone_mid_run_is_a_journal_store_error_and_nothing_half_stored(
    store: PostgresJournalStore, factory: PostgresStoreFactory
) -> None:
    store.append([entry(1, key="a")])
    with psycopg.connect(factory.conninfo, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (store._conn.info.backend_pid,))
    with pytest.raises(JournalStoreError):
        store.append([entry(2, key="b")])
    again = factory()
    try:
        assert [r.dedup_key for r in again.read()] == ["a"]
    finally:
        again.close()


def test_a_second_writer_is_refused_while_the_first_holds_the_journal_and_admitted_after(
    factory: PostgresStoreFactory,
) -> None:
    stores = attrs.evolve(factory, writer_wait_s=0.3)
    first = stores.writer()
    try:
        started = time.monotonic()
        with pytest.raises(JournalStoreError, match="locked by another writer") as raised:
            stores.writer()
        assert time.monotonic() - started >= 0.25  # it waited for a predecessor to go first
        assert f"tradeactors pid {os.getpid()} at 127.0.0.1" in str(raised.value)
        with pytest.raises(DataDirError, match="another process holds the journal's lock"):
            check_server(stores)  # what a second runtime on this journal is told
        reader = stores()  # readers take no lock
        reader.close()
    finally:
        first.close()
    stores.writer().close()


def test_a_url_names_its_schema_with_a_query_parameter_the_server_never_sees(
    postgres_url: str,
) -> None:
    factory = PostgresStoreFactory.from_url(
        f"{postgres_url}?connect_timeout=5&schema=desk2", Durability.FULL
    )
    assert factory == PostgresStoreFactory(
        f"{postgres_url}?connect_timeout=5", schema="desk2", durability=Durability.FULL
    )
    assert PostgresStoreFactory.from_url(postgres_url).schema == "tradeactors"
    store = factory()
    store.close()


def test_drop_deletes_the_journal_and_the_next_store_starts_an_empty_one(
    factory: PostgresStoreFactory,
) -> None:
    store = factory()
    store.append([entry(1, key="a")])
    store.close()
    factory.drop()
    again = factory()
    try:
        assert list(again.read()) == []
        assert again.last_seq() == 0
    finally:
        again.close()
