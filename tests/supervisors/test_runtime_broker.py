"""The whole runtime trading through a paper broker instead of the simulated venue."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bridges.simulated_broker import SimulatedBroker
from messages.broker_events import DealBooked
from messages.commands import InjectFault
from messages.enums import PositionStatus
from supervisors.runtime import Runtime, RuntimeConfig
from supervisors.runtime_config import BrokerConfig
from tests.actors.test_broker_edge import journaled
from tests.broker_edge import wait_until
from tests.stubs import arbitrage_feed

pytestmark = pytest.mark.timeout(60)
FEED = arbitrage_feed()


@pytest.fixture
def paper() -> Any:
    broker = SimulatedBroker(seed=3)
    yield broker
    broker.close()


def realized(runtime: Runtime) -> Decimal:
    (m1,) = runtime.positions()
    assert m1.status is PositionStatus.SETTLED
    return sum((leg.realized_pnl for leg in m1.legs), Decimal(0))


def broker_truth(paper: SimulatedBroker) -> dict[str, Decimal]:
    return {p.security_id: p.quantity for p in paper.list_positions("paper", 0).items}


def account_book(runtime: Runtime) -> dict[str, Decimal]:
    return {p.security_id: p.quantity for p in runtime.account_positions() if p.quantity}


def enabled(runtime: Runtime) -> bool:
    reconciler = runtime.extra("reconciler")
    assert reconciler is not None
    return bool(reconciler.proxy().trading_enabled.get())


def test_the_strategy_trades_through_the_broker_and_both_views_end_exact(
    paper: SimulatedBroker, tmp_path: Path
) -> None:
    config = RuntimeConfig(data_dir=tmp_path, broker=BrokerConfig(broker=paper))
    with Runtime(config).start(FEED) as runtime:
        wait_until(lambda: enabled(runtime))
        runtime.replay(FEED)

        assert realized(runtime) == Decimal("3.00")
        assert (
            account_book(runtime)
            == broker_truth(paper)
            == {
                "m1-YES": Decimal(60),
                "m1-NO": Decimal(60),
            }
        )
        assert paper.stats().placed == 4


def test_no_order_reaches_the_broker_before_the_startup_reconciliation(
    paper: SimulatedBroker, tmp_path: Path
) -> None:
    paper.disconnect()
    config = RuntimeConfig(data_dir=tmp_path, broker=BrokerConfig(broker=paper))
    with Runtime(config).start(FEED) as runtime:
        runtime.replay(FEED, end=4)
        assert not enabled(runtime)
        assert paper.stats().placed == 0
        assert all(leg.quantity == 0 for p in runtime.positions() for leg in p.legs)

        paper.reconnect()
        wait_until(lambda: enabled(runtime), timeout_s=20)
        runtime.replay(FEED)
        assert paper.stats().placed > 0


def test_a_crashed_normalizer_restarts_the_core_and_reconciliation_books_what_it_missed(
    paper: SimulatedBroker, tmp_path: Path
) -> None:
    config = RuntimeConfig(data_dir=tmp_path, broker=BrokerConfig(broker=paper))
    with Runtime(config).start(FEED) as runtime:
        wait_until(lambda: enabled(runtime))
        runtime.replay(FEED, end=4)
        normalizer = runtime.extra("normalizer")
        assert normalizer is not None
        paper.go_silent()
        runtime.replay(FEED, end=5)  # this record's fills happen at the broker, unheard
        normalizer.tell(InjectFault(reason="test"))
        assert normalizer.actor_stopped.wait(5)
        runtime.refresh()
        paper.speak()

        assert runtime.generation == 2
        assert runtime.extra("normalizer") != normalizer
        wait_until(lambda: enabled(runtime))
        runtime.reconcile("after the restart")
        wait_until(lambda: account_book(runtime) == broker_truth(paper))
        assert paper.stats().silenced > 0
        restarted = runtime.extra("normalizer")
        assert restarted is not None
        assert restarted.proxy().counters().get().inferred > 0
        runtime.replay(FEED)

        assert account_book(runtime) == broker_truth(paper)
        # The deals no callback brought reached the orders and the market's position too.
        assert realized(runtime) == Decimal("3.00")
        runtime.sync()
    deals = Counter(deal.fill_id for deal in journaled(tmp_path / "journal.sqlite", DealBooked))
    assert deals
    assert max(deals.values()) == 1
