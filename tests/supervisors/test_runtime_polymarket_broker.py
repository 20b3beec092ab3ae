"""The whole runtime trading on a local Polymarket CLOB: orders placed by the strategy are
posted through py-clob-client, filled by user-channel trades, one fill per trade leg
whatever the channel repeats, and a trade that FAILED on chain reversed with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bridges.polymarket_clob_broker import PolymarketBroker, clob_client
from bridges.polymarket_ws import MarketChannelConfig
from messages.broker_events import DealBooked, PositionCorrected
from messages.enums import BookSide, OrderStatus, Outcome
from messages.market_data import BookLevel, BookSnapshot, PriceChange
from messages.markets import Instrument, MarketDefinition, MarketOpened
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.runtime_config import JOURNAL_FILE, BrokerConfig
from tests.actors.test_broker_edge import journaled
from tests.bridges.polymarket_clob_venue import CREDENTIALS, ClobVenue
from tests.broker_edge import wait_until

pytestmark = pytest.mark.timeout(60)
YES, NO = "1001", "1002"
ACCOUNT = "paper"
"""The runtime's default account, the strategies' too: the API key's account here."""


def snapshot(token: str, bid: str, ask: str) -> BookSnapshot:
    return BookSnapshot(
        ts_event=1,
        market_id="m1",
        security_id=token,
        sequence=0,
        bids=(BookLevel(price=Decimal(bid), size=Decimal(100)),),
        asks=(BookLevel(price=Decimal(ask), size=Decimal(100)),),
    )


# The example strategy's arbitrage: YES ask 0.45 + NO ask 0.50 < 0.98 buys 30 of each.
FEED = [
    MarketOpened(
        ts_event=1,
        definition=MarketDefinition(
            market_id="m1",
            instruments=(
                Instrument(security_id=YES, outcome=Outcome.YES),
                Instrument(security_id=NO, outcome=Outcome.NO),
            ),
        ),
    ),
    snapshot(YES, "0.40", "0.45"),
    snapshot(NO, "0.50", "0.53"),
    PriceChange(
        ts_event=2,
        market_id="m1",
        security_id=NO,
        sequence=1,
        side=BookSide.ASK,
        price=Decimal("0.50"),
        size=Decimal(30),
    ),
]


@pytest.fixture
def venue() -> Iterator[ClobVenue]:
    with ClobVenue() as clob:
        yield clob


def account_book(runtime: Runtime) -> dict[str, Decimal]:
    return {p.security_id: p.quantity for p in runtime.account_positions()}


def enabled(runtime: Runtime) -> bool:
    reconciler = runtime.extra("reconciler")
    assert reconciler is not None
    return bool(reconciler.proxy().trading_enabled.get())


def counters(runtime: Runtime) -> Any:
    normalizer = runtime.extra("normalizer")
    assert normalizer is not None
    return normalizer.proxy().counters().get()


def test_an_order_fills_once_through_the_user_channel_and_a_failed_trade_is_reversed(
    venue: ClobVenue, tmp_path: Path
) -> None:
    runtime: Runtime | None = None

    def reconcile_on_reversal(reversal: Any) -> None:
        assert runtime is not None
        runtime.reconcile(reversal.reason)

    broker = PolymarketBroker(
        CREDENTIALS,
        clob_client(CREDENTIALS, host=venue.http_url),
        channel=MarketChannelConfig(url=venue.ws_url, backoff_initial_s=0.01),
        account=ACCOUNT,
        on_reversal=reconcile_on_reversal,
    ).start()
    config = RuntimeConfig(data_dir=tmp_path, broker=BrokerConfig(broker=broker, gap_s=30.0))
    try:
        with Runtime(config).start(FEED) as runtime:
            wait_until(lambda: enabled(runtime), what="the startup reconciliation")
            runtime.replay(FEED)
            wait_until(lambda: len(venue.orders) == 2, what="both orders posted")
            by_token = {order["asset_id"]: no for no, order in venue.orders.items()}
            assert {o["price"] for o in venue.orders.values()} == {"0.45", "0.5"}

            # MATCHED, repeated, then CONFIRMED overtaking MINED: one fill per order.
            yes_matched = venue.trade(by_token[YES], "t-yes", "MATCHED")
            no_matched = venue.trade(by_token[NO], "t-no", "MATCHED")
            venue.push(yes_matched, no_matched, yes_matched)
            venue.push(
                venue.trade(by_token[YES], "t-yes", "CONFIRMED"),
                venue.trade(by_token[NO], "t-no", "MINED"),
                yes_matched,
                as_array=True,
            )
            wait_until(
                lambda: all(o.status is OrderStatus.FILLED for o in runtime.orders()),
                what="both orders filled",
            )
            runtime.wait_idle(timeout_s=10.0)
            assert account_book(runtime) == {YES: Decimal(30), NO: Decimal(30)}
            assert counters(runtime).deals == 2
            deals = journaled(tmp_path / JOURNAL_FILE, DealBooked)
            assert sorted(d.security_id for d in deals) == [YES, NO]

            # The NO trade fails on chain: the account is corrected, with the reason.
            venue.push(venue.trade(by_token[NO], "t-no", "FAILED"))
            wait_until(lambda: account_book(runtime).get(NO) == 0, what="the reversal booked")
            assert account_book(runtime)[YES] == Decimal(30)
            assert counters(runtime).deals == 2
        (corrected,) = journaled(tmp_path / JOURNAL_FILE, PositionCorrected)
        assert (corrected.security_id, corrected.quantity) == (NO, Decimal(-30))
        assert "(trade t-no FAILED on chain after MINED)" in corrected.reason
    finally:
        broker.close()
