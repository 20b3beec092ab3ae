"""The runtime opens its journal through one store factory: the journal actor, the snapshot
writer and every restarting actor's loader all reach the journal it is given."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from actors.journal import JournalConfig
from bridges.journal_memory import MemoryJournal
from bridges.journal_sqlite import SqliteStoreFactory
from messages.positions import PositionSnapshot
from supervisors.assembly.recovery import order_loader, position_loader
from supervisors.assembly.runtime import JOURNAL_FILE, Runtime, RuntimeConfig
from tests.stubs import arbitrage_feed

pytestmark = pytest.mark.timeout(30)


def _economics(position: PositionSnapshot) -> list[tuple[Decimal, ...]]:
    """What the journal keeps of a position (marks are not journaled)."""
    return [(g.quantity, g.cost, g.realized_pnl, g.fees) for g in position.legs]


def test_without_a_store_factory_the_runtime_opens_the_sqlite_file_in_its_data_dir(
    tmp_path: Path,
) -> None:
    config = RuntimeConfig(data_dir=tmp_path)
    assert config.stores() == SqliteStoreFactory(tmp_path / JOURNAL_FILE, config.durability)


def test_a_runtime_on_a_memory_journal_keeps_it_all_there_and_a_new_runtime_recovers_it(
    tmp_path: Path,
) -> None:
    journal = MemoryJournal()
    config = RuntimeConfig(
        data_dir=tmp_path, journal_store=journal, journal=JournalConfig(snapshot_every=7)
    )
    feed = arbitrage_feed()
    with Runtime(config).start(feed) as runtime:
        for record in feed[:6]:
            runtime.feed_and_wait(record)
        runtime.sync()
        (position,) = runtime.positions()
        orders = runtime.orders()
    assert not (tmp_path / JOURNAL_FILE).exists()

    store = journal()
    try:
        snapshot = store.latest_snapshot()  # written by the snapshot writer's own store
        assert snapshot is not None
        assert snapshot.seq == store.last_seq()  # the last one, as the journal stopped
    finally:
        store.close()
    book, _ = position_loader(journal, position.position_id)()
    assert _economics(book.snapshot()) == _economics(position)
    for order in orders:
        rebuilt, _ = order_loader(journal, order.order_id)()
        assert rebuilt.snapshot() == order

    with Runtime(config).start(feed) as again:
        assert again.next_step == 6
        (recovered,) = again.positions()
        assert _economics(recovered) == _economics(position)
