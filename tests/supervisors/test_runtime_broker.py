"""The whole runtime trading through a paper broker instead of the simulated venue."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from actors.broker import BrokerDisconnectedError
from actors.callback_normalization import NormalizerStats
from bridges.simulated_broker import SimulatedBroker
from messages.broker_events import DealBooked
from messages.enums import OrderSide, PositionStatus
from messages.supervision import InjectFault
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.runtime_config import BrokerConfig
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


def normalizer_counters(runtime: Runtime) -> NormalizerStats:
    normalizer = runtime.extra("normalizer")
    assert normalizer is not None
    return normalizer.proxy().counters().get()  # type: ignore[no-any-return]


def test_a_malformed_callback_is_quarantined_counted_and_logged_and_the_broker_thread_sees_nothing(
    paper: SimulatedBroker, tmp_path: Path
) -> None:
    config = RuntimeConfig(data_dir=tmp_path, broker=BrokerConfig(broker=paper))
    before = REGISTRY.get_sample_value(
        "broker_callbacks_quarantined_total", {"callback": "on_deal"}
    )
    with capture_logs() as logs, Runtime(config).start(FEED) as runtime:
        wait_until(lambda: enabled(runtime))
        paper.send_garbled("on_deal", "SIM-1", "two", 5, "m1-YES", "BUY", 0.5, None)
        paper.send_garbled("on_order", "SIM-1")  # fields missing
        assert paper.wait_idle(5)
        wait_until(lambda: normalizer_counters(runtime).malformed == 2)
        runtime.replay(FEED)  # and the runtime goes on trading, exactly
        assert realized(runtime) == Decimal("3.00")

    assert paper.stats().callback_errors == 0, "the broker's thread saw an exception"
    quarantined = [line for line in logs if line["event"] == "malformed_callback_quarantined"]
    assert [(q["log_level"], q["callback"]) for q in quarantined] == [
        ("error", "on_deal"),
        ("error", "on_order"),
    ]
    assert "seq_no" in quarantined[0]["reason"]
    assert quarantined[0]["arguments"][1] == "'two'"
    assert "missing" in quarantined[1]["reason"]
    after = REGISTRY.get_sample_value("broker_callbacks_quarantined_total", {"callback": "on_deal"})
    assert (after or 0) - (before or 0) == 1


def test_the_periodic_full_sync_books_a_deal_no_callback_and_no_gap_would_bring(
    paper: SimulatedBroker, tmp_path: Path
) -> None:
    outside = paper.seed_open_order("paper", "S9", OrderSide.SELL, Decimal(3), Decimal(6))
    config = RuntimeConfig(
        data_dir=tmp_path, broker=BrokerConfig(broker=paper, full_sync_s=0.3, min_sync_s=60)
    )
    with Runtime(config).start(FEED) as runtime:
        wait_until(lambda: enabled(runtime))
        wait_until(lambda: normalizer_counters(runtime).open_orders == 1)  # adopted
        paper.go_silent()
        paper.execute(outside, Decimal(3), Decimal(2))  # an outside order: no gap watch

        wait_until(lambda: account_book(runtime) == {"S9": Decimal(-2)})
        assert broker_truth(paper) == {"S9": Decimal(-2)}
        reconciler = runtime.extra("reconciler")
        assert reconciler is not None
        stats = reconciler.proxy().counters().get()
        assert stats.full_syncs >= 1
        assert stats.callback_triggers == 0
        assert normalizer_counters(runtime).inferred == 1
        assert paper.stats().silenced == 2  # the deal and the order update


def test_stopping_the_runtime_unregisters_its_broker_callbacks(
    paper: SimulatedBroker, tmp_path: Path
) -> None:
    outside = paper.seed_open_order("paper", "S9", OrderSide.SELL, Decimal(3), Decimal(6))
    config = RuntimeConfig(data_dir=tmp_path, broker=BrokerConfig(broker=paper))
    with Runtime(config).start(FEED) as runtime:
        wait_until(lambda: enabled(runtime))
        paper.execute(outside, Decimal(3), Decimal(1))
        assert paper.wait_idle(5)
        assert paper.stats().delivered == 2
    before = paper.stats()

    paper.execute(outside, Decimal(3), Decimal(1))
    assert paper.wait_idle(5)

    after = paper.stats()
    assert after.delivered == before.delivered
    assert after.undelivered - before.undelivered == 2


class _UnregisterFails(SimulatedBroker):
    """A broker whose session broke as the runtime stopped."""

    def unregister_callbacks(self) -> None:
        raise BrokerDisconnectedError("session lost while unregistering")


def test_an_unregister_that_fails_on_stop_is_logged_as_a_failure_not_as_unregistered(
    tmp_path: Path,
) -> None:
    broker = _UnregisterFails(seed=3)
    config = RuntimeConfig(data_dir=tmp_path, broker=BrokerConfig(broker=broker))
    try:
        with capture_logs() as logs, Runtime(config).start(FEED) as runtime:
            wait_until(lambda: enabled(runtime))
    finally:
        broker.close()
    events = [line["event"] for line in logs]
    assert "broker_callbacks_unregistered" not in events
    (failed,) = [line for line in logs if line["event"] == "broker_unregister_failed"]
    assert failed["log_level"] == "error"
    assert "session lost while unregistering" in failed["error"]
