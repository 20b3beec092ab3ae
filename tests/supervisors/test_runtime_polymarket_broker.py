"""The whole runtime trading on a local Polymarket CLOB: orders placed by the strategy are
posted through py-clob-client, filled by user-channel trades, one fill per trade leg
whatever the channel repeats, and a trade that FAILED on chain reversed with its reason:
the account corrected, the order and the market position as if it never filled."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.account_positions import account_position
from bridges.journal_sqlite import SqliteJournalStore
from bridges.polymarket_clob_broker import PolymarketBroker, clob_client
from bridges.polymarket_ws import MarketChannelConfig
from messages.broker_events import DealBooked, DealReversed, PositionCorrected
from messages.enums import BookSide, OrderStatus, Outcome
from messages.fills import FillReversed
from messages.journal import ReversalApplied
from messages.market_data import BookLevel, BookSnapshot, PriceChange
from messages.markets import Instrument, MarketDefinition, MarketOpened
from messages.orders import OrderCancelled
from messages.supervision import InjectFault
from supervisors.assembly.recovery import recover_state
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.runtime_config import JOURNAL_FILE, BrokerConfig
from supervisors.kernel.base import ask
from supervisors.kernel.protocol import WhichChildren
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

            # The NO trade fails on chain: the account takes the deal back, with the reason,
            # and the reconcile the reversal asks for finds nothing left to correct.
            venue.push(venue.trade(by_token[NO], "t-no", "FAILED"))
            wait_until(lambda: account_book(runtime).get(NO) == 0, what="the reversal booked")
            assert account_book(runtime)[YES] == Decimal(30)
            assert counters(runtime).deals == 2
            runtime.wait_idle(timeout_s=10.0)
        (reversed_deal,) = journaled(tmp_path / JOURNAL_FILE, DealReversed)
        assert (reversed_deal.security_id, reversed_deal.account) == (NO, ACCOUNT)
        assert reversed_deal.reason == "trade t-no FAILED on chain after MINED"
        assert journaled(tmp_path / JOURNAL_FILE, PositionCorrected) == []
    finally:
        broker.close()


def children(supervisor: Any) -> dict[str, Any]:
    return {info.child_id: info for info in ask(supervisor, WhichChildren())}


def legs(runtime: Runtime) -> dict[str, tuple[Decimal, ...]]:
    """Each market leg's numbers a fill moves."""
    return {
        leg.security_id: (leg.quantity, leg.cost, leg.realized_pnl, leg.fees)
        for position in runtime.positions()
        for leg in position.legs
    }


def orders_by_token(runtime: Runtime) -> dict[str, tuple[Any, ...]]:
    return {
        o.security_id: (o.status, o.filled, o.fees, o.avg_fill_price, o.fill_count)
        for o in runtime.orders()
    }


def polymarket(venue: ClobVenue, runtime_of: Any) -> PolymarketBroker:
    """The live broker, its reversals also asking the run for a reconcile (as ``tools``
    wires it), so the account view is corrected too."""
    return PolymarketBroker(
        CREDENTIALS,
        clob_client(CREDENTIALS, host=venue.http_url),
        channel=MarketChannelConfig(url=venue.ws_url, backoff_initial_s=0.01),
        account=ACCOUNT,
        on_reversal=lambda reversal: runtime_of().reconcile(reversal.reason),
    ).start()


def test_a_failed_trade_leaves_order_and_market_position_as_if_unfilled_also_after_a_restart(
    venue: ClobVenue, tmp_path: Path
) -> None:
    runtimes: list[Runtime] = []
    broker = polymarket(venue, lambda: runtimes[-1])
    config = RuntimeConfig(data_dir=tmp_path, broker=BrokerConfig(broker=broker, gap_s=30.0))
    try:
        runtimes.append(Runtime(config))
        with runtimes[-1].start(FEED) as runtime:
            wait_until(lambda: enabled(runtime), what="the startup reconciliation")
            runtime.replay(FEED)
            wait_until(lambda: len(venue.orders) == 2, what="both orders posted")
            by_token = {order["asset_id"]: no for no, order in venue.orders.items()}
            venue.push(
                venue.trade(by_token[YES], "t-yes", "MATCHED"),
                venue.trade(by_token[NO], "t-no", "MATCHED"),
            )
            wait_until(
                lambda: all(o.status is OrderStatus.FILLED for o in runtime.orders()),
                what="both orders filled",
            )
            runtime.wait_idle(timeout_s=10.0)
            filled_yes = legs(runtime)[YES]
            yes_order = orders_by_token(runtime)[YES]

            venue.push(venue.trade(by_token[NO], "t-no", "FAILED"))
            wait_until(lambda: legs(runtime)[NO][0] == 0, what="the NO fill taken back")
            wait_until(lambda: account_book(runtime).get(NO) == 0, what="the account corrected")
            runtime.wait_idle(timeout_s=10.0)
            # As if the NO order never filled: open again at the venue's price, nothing booked.
            assert legs(runtime) == {NO: (Decimal(0),) * 4, YES: filled_yes}
            assert orders_by_token(runtime) == {
                NO: (OrderStatus.ACCEPTED, Decimal(0), Decimal(0), None, 0),
                YES: yes_order,
            }
            assert counters(runtime).reversals == 1
            live = (legs(runtime), orders_by_token(runtime), account_book(runtime))

            # The position and the order restarted: each rebuilt from the journal, the same.
            (no_order,) = [o.order_id for o in runtime.orders() if o.security_id == NO]
            assert runtime.supervisor is not None
            markets = children(runtime.supervisor)
            for child_id in ("position:m1", f"order:{no_order}"):
                markets[child_id].ref.tell(InjectFault(reason="test"))
            wait_until(
                lambda: all(
                    children(runtime.supervisor)[c].restarts == 1
                    for c in ("position:m1", f"order:{no_order}")
                ),
                what="both restarted",
            )
            runtime.wait_idle(timeout_s=10.0)
            assert (legs(runtime), orders_by_token(runtime), account_book(runtime)) == live
        (reversed_fill,) = journaled(tmp_path / JOURNAL_FILE, FillReversed)
        assert "trade t-no FAILED on chain after MATCHED" in reversed_fill.reason
        assert len(journaled(tmp_path / JOURNAL_FILE, ReversalApplied)) == 1

        # The journal's fold, and a runtime started again from it, say the same.
        store = SqliteJournalStore(tmp_path / JOURNAL_FILE)
        try:
            state, _ = recover_state(store)
        finally:
            store.close()
        (position,) = state.positions.values()
        assert position.leg(NO).quantity == 0
        assert {o.security_id: o.filled for o in state.orders.values()} == {
            NO: Decimal(0),
            YES: Decimal(30),
        }
        runtimes.append(Runtime(config))
        with runtimes[-1].start(FEED) as again:
            wait_until(lambda: enabled(again), what="the startup reconciliation")
            again.wait_idle(timeout_s=10.0)
            assert (legs(again), orders_by_token(again), account_book(again)) == live
    finally:
        broker.close()


def test_an_order_the_clob_keeps_matched_after_its_trade_failed_ends_cancelled_with_the_reason(
    tmp_path: Path,
) -> None:
    runtimes: list[Runtime] = []
    with ClobVenue(keeps_matched=True) as venue:
        broker = polymarket(venue, lambda: runtimes[-1])
        config = RuntimeConfig(data_dir=tmp_path, broker=BrokerConfig(broker=broker, gap_s=30.0))
        try:
            runtimes.append(Runtime(config))
            with runtimes[-1].start(FEED) as runtime:
                wait_until(lambda: enabled(runtime), what="the startup reconciliation")
                runtime.replay(FEED)
                wait_until(lambda: len(venue.orders) == 2, what="both orders posted")
                by_token = {order["asset_id"]: no for no, order in venue.orders.items()}
                venue.push(
                    venue.trade(by_token[YES], "t-yes", "MATCHED"),
                    venue.trade(by_token[NO], "t-no", "MATCHED"),
                )
                wait_until(
                    lambda: all(o.status is OrderStatus.FILLED for o in runtime.orders()),
                    what="both orders filled",
                )
                runtime.wait_idle(timeout_s=10.0)
                yes_order = orders_by_token(runtime)[YES]

                venue.push(venue.trade(by_token[NO], "t-no", "FAILED"))
                wait_until(
                    lambda: orders_by_token(runtime)[NO][0] is OrderStatus.CANCELLED,
                    what="the NO order closed after the reconcile of it",
                )
                wait_until(lambda: account_book(runtime).get(NO) == 0, what="the account too")
                runtime.wait_idle(timeout_s=10.0)
                assert venue.orders[by_token[NO]]["status"] == "MATCHED"  # the CLOB's ghost
                assert orders_by_token(runtime) == {
                    NO: (OrderStatus.CANCELLED, Decimal(0), Decimal(0), None, 0),
                    YES: yes_order,
                }
                assert legs(runtime)[NO] == (Decimal(0),) * 4
                live = orders_by_token(runtime)
            (cancelled,) = journaled(tmp_path / JOURNAL_FILE, OrderCancelled)
            assert cancelled.reason == "reconciled: trade t-no FAILED on chain after MATCHED"
            runtimes.append(Runtime(config))
            with runtimes[-1].start(FEED) as again:
                wait_until(lambda: enabled(again), what="the startup reconciliation")
                again.wait_idle(timeout_s=10.0)
                assert orders_by_token(again) == live  # closed for good: no open order left
        finally:
            broker.close()


def account_legs(positions: Any) -> dict[str, tuple[Decimal, ...]]:
    """Each account leg's numbers a deal moves; a flat, empty leg is as good as none."""
    legs = {p.security_id: (p.quantity, p.cost, p.realized_pnl, p.fees) for p in positions}
    return {security: numbers for security, numbers in legs.items() if any(numbers)}


def trade_and_wait(
    venue: ClobVenue, data_dir: Path, trades: list[tuple[str, str, str, str]]
) -> tuple[dict[str, tuple[Decimal, ...]], RuntimeConfig, PolymarketBroker]:
    """A run on ``venue`` whose orders get ``trades`` (token, trade id, status, size) in
    order; the account's legs once all is settled, and the run's config and broker."""
    runtimes: list[Runtime] = []
    broker = polymarket(venue, lambda: runtimes[-1])
    config = RuntimeConfig(data_dir=data_dir, broker=BrokerConfig(broker=broker, gap_s=30.0))
    runtimes.append(Runtime(config))
    with runtimes[-1].start(FEED) as runtime:
        wait_until(lambda: enabled(runtime), what="the startup reconciliation")
        runtime.replay(FEED)
        wait_until(lambda: len(venue.orders) == 2, what="both orders posted")
        by_token = {order["asset_id"]: no for no, order in venue.orders.items()}
        for token, trade_id, status, size in trades:
            venue.push(venue.trade(by_token[token], trade_id, status, size=size))
            runtime.wait_idle(timeout_s=10.0)
        booked = len({trade_id for _token, trade_id, status, _size in trades if status != "FAILED"})
        failed = sum(status == "FAILED" for _token, _trade_id, status, _size in trades)
        wait_until(lambda: counters(runtime).deals == booked, what="the deals booked")
        wait_until(lambda: counters(runtime).reversals == failed, what="the reversals")
        runtime.wait_idle(timeout_s=10.0)
        return account_legs(runtime.account_positions()), config, broker


def test_after_a_reversal_the_account_equals_a_run_that_never_had_the_deal(
    tmp_path: Path,
) -> None:
    with ClobVenue() as venue:
        reversed_run, config, broker = trade_and_wait(
            venue,
            tmp_path / "reversed",
            [(YES, "t-yes", "MATCHED", "30"), (NO, "t-no1", "MATCHED", "10"),
             (NO, "t-no2", "MATCHED", "20"), (NO, "t-no1", "FAILED", "10")],
        )  # fmt: skip
        try:
            store = SqliteJournalStore(tmp_path / "reversed" / JOURNAL_FILE)
            try:
                state, _ = recover_state(store)
            finally:
                store.close()
            folded = account_legs(
                account_position(account, leg) for (account, _), leg in state.accounts.legs.items()
            )
            with Runtime(config).start(FEED) as again:
                wait_until(lambda: enabled(again), what="the startup reconciliation")
                again.wait_idle(timeout_s=10.0)
                restarted = account_legs(again.account_positions())
        finally:
            broker.close()
    with ClobVenue() as venue:
        never_run, _config, never_broker = trade_and_wait(
            venue,
            tmp_path / "never",
            [(YES, "t-yes", "MATCHED", "30"), (NO, "t-no2", "MATCHED", "20")],
        )
        never_broker.close()

    assert never_run[NO][0] == Decimal(20)
    assert reversed_run == never_run  # in the actor
    assert folded == never_run  # in the journal's fold
    assert restarted == never_run  # after a restart
    assert journaled(tmp_path / "reversed" / JOURNAL_FILE, PositionCorrected) == []
