"""The Shioaji adapter against a stand-in for ``sj.Shioaji`` that speaks its documented
callback shapes with shioaji's own OrderState, Action, Account, contracts and orders:
credentials, odd lots, callbacks into the assembled broker edge (duplicates, drops,
reordering, a malformed message), paced portfolio queries, fees and taxes, reconnects."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import shioaji as sj
import structlog

from actors.broker import BrokerDisconnectedError, BrokerError
from actors.query_pacer import QueryPacer
from actors.runtime_state import RuntimeState
from bridges.journal_sqlite import SqliteJournalStore
from bridges.shioaji_broker import (
    CredentialsError,
    OddLot,
    ShioajiBroker,
    ShioajiCredentials,
    load_credentials,
)
from messages.broker import BrokerOrderRequest
from messages.broker_events import DealBooked, FeeBooked, SettlementMismatch
from messages.codec import decode
from messages.enums import OrderSide, OrderStatus, Outcome
from messages.fills import FillCharged
from messages.journal import ChargeApplied
from messages.market_data import BookLevel, BookSnapshot
from messages.markets import Instrument, MarketDefinition, MarketOpened
from messages.reconciliation import ReconcileRequest
from messages.supervision import InjectFault
from supervisors.assembly.recovery import recover_state
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.runtime_config import JOURNAL_FILE, BrokerConfig
from supervisors.kernel.base import ask
from supervisors.kernel.protocol import WhichChildren
from tests.bridges.shioaji_standin import (
    STOCK_ACCOUNT,
    StandInShioaji,
    StockPosition,
    StockPositionDetail,
    StockProfitDetail,
    StockProfitLoss,
)
from tests.broker_edge import Edge, wait_until

pytestmark = pytest.mark.timeout(60)
D = Decimal
ACCOUNT = STOCK_ACCOUNT.account_id
SECRET = "s3cret-never-logged"
CREDENTIALS = ShioajiCredentials(api_key="key-1", secret_key=SECRET)


class FakeTime:
    """The pacer's clock: a sleep advances it, nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def paced_on_fake_time(api: StandInShioaji) -> ShioajiBroker:
    """The adapter with Shioaji's pacing (25 calls / 5 s) on a clock its waits advance: an edge
    test polls the broker while it reconciles, and on real time that waited 5 s a window."""
    clock = FakeTime()
    pacer = QueryPacer(monotonic=clock.monotonic, sleep=clock.sleep)
    return ShioajiBroker(api, CREDENTIALS, pacer=pacer)


def request(size: str, security_id: str = "2890", side: OrderSide = OrderSide.BUY) -> Any:
    return BrokerOrderRequest(
        client_order_id="C1",
        account=ACCOUNT if security_id == "2890" else "7654321",
        security_id=security_id,
        side=side,
        price=D("25.5"),
        size=D(size),
    )


# -- credentials -------------------------------------------------------------------------


def test_credentials_come_from_the_environment_first() -> None:
    found = load_credentials(None, {"SHIOAJI_API_KEY": "k", "SHIOAJI_SECRET_KEY": SECRET})
    assert (found.api_key, found.secret_key) == ("k", SECRET)
    assert SECRET not in repr(found)


def test_an_owner_only_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "shioaji.toml"
    path.write_text(f'api_key = "k"\nsecret_key = "{SECRET}"\n')
    path.chmod(0o600)
    assert load_credentials(path, {}).secret_key == SECRET


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_file_group_or_world_may_read_is_refused_with_what_to_do(
    tmp_path: Path, mode: int
) -> None:
    path = tmp_path / "shioaji.toml"
    path.write_text(f'api_key = "k"\nsecret_key = "{SECRET}"\n')
    path.chmod(mode)
    with pytest.raises(CredentialsError, match=f"mode {mode:o}.*chmod 600") as refused:
        load_credentials(path, {})
    assert SECRET not in str(refused.value)


def test_no_credentials_at_all_is_an_error_naming_the_variables() -> None:
    with pytest.raises(CredentialsError, match="SHIOAJI_API_KEY"):
        load_credentials(None, {})


def test_login_hands_the_secret_to_the_api_and_never_to_a_log() -> None:
    api = StandInShioaji()
    with structlog.testing.capture_logs() as logs:
        broker = ShioajiBroker(api, CREDENTIALS)
        broker.place_order(request("1000"))
    assert api.logins == [("key-1", SECRET)]
    assert SECRET not in repr(logs)
    assert SECRET not in repr(broker.__dict__.get("_credentials"))


def test_closing_logs_out_once_and_calls_fail_after() -> None:
    api = StandInShioaji()
    broker = ShioajiBroker(api, CREDENTIALS)
    broker.place_order(request("1000"))
    broker.close()
    broker.close()
    assert api.logouts == 1
    assert not broker.connected
    with pytest.raises(BrokerError):
        broker.place_order(request("1000"))


# -- orders and odd lots -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("odd_lot", "shares", "quantity", "lot"),
    [
        (OddLot.INTRADAY, "3000", 3, "Common"),
        (OddLot.INTRADAY, "250", 250, "IntradayOdd"),
        (OddLot.REFUSE, "2000", 2, "Common"),
    ],
)
def test_stock_sizes_in_shares_go_as_lots_or_odd_lots(
    odd_lot: OddLot, shares: str, quantity: int, lot: str
) -> None:
    api = StandInShioaji()
    ShioajiBroker(api, CREDENTIALS, odd_lot=odd_lot).place_order(request(shares))
    [(contract, order)] = api.placed
    assert (contract.code, order.quantity, order.order_lot) == (
        "2890",
        quantity,
        sj.StockOrderLot(lot),
    )
    assert (order.action, order.price_type, order.account.account_id) == (
        sj.Action.Buy,
        sj.StockPriceType.LMT,
        ACCOUNT,
    )


@pytest.mark.parametrize(("odd_lot", "shares"), [(OddLot.REFUSE, "250"), (OddLot.INTRADAY, "1500")])
def test_odd_shares_are_refused_when_configured_or_mixed_with_lots(
    odd_lot: OddLot, shares: str
) -> None:
    api = StandInShioaji()
    with pytest.raises(BrokerError, match="not whole lots"):
        ShioajiBroker(api, CREDENTIALS, odd_lot=odd_lot).place_order(request(shares))
    assert api.placed == []


def test_a_futures_order_goes_in_contracts() -> None:
    api = StandInShioaji()
    ShioajiBroker(api, CREDENTIALS).place_order(request("3", security_id="TXFL6"))
    [(_contract, order)] = api.placed
    assert isinstance(order, sj.FuturesOrder)
    assert (order.quantity, order.octype) == (3, sj.FuturesOCType.Auto)


# -- callbacks through the assembled broker edge ------------------------------------------


def test_callbacks_duplicates_drops_and_reordering_book_each_deal_once(tmp_path: Path) -> None:
    api = StandInShioaji(limit_calls=1000)
    broker = paced_on_fake_time(api)
    edge = Edge(broker, tmp_path / "journal.sqlite", account=ACCOUNT).start()
    wait_until(edge.trading_enabled)
    wait_until(lambda: api.order_callback is not None, what="the order callback set")
    order_no = edge.submit("O1", "2890", OrderSide.BUY, "3000", price="25.5")
    api.accept(order_no)
    first = api.fill(order_no, 1, 25.5)
    api.send(sj.OrderState.StockDeal, first)  # a duplicate
    late = api.fill(order_no, 1, 25.0, send=False)  # held back: sent after the next
    api.fill(order_no, 1, 24.5, send=False)  # dropped: only reconciliation finds it
    api.send(sj.OrderState.StockDeal, late)
    api.positions = [
        StockPosition(id=0, code="2890", direction=sj.Action.Buy, quantity=3000, price=25.0)
    ]
    wait_until(lambda: edge.book() == {"2890": D(2000)}, what="the two deals sent")
    api.send(sj.OrderState.StockDeal, {"trade_id": order_no})  # not the documented shape
    edge.reconciler.tell(ReconcileRequest(reason="the dropped deal"))
    wait_until(lambda: edge.book() == edge.truth() == {"2890": D(3000)}, what="the dropped deal")
    edge.settle()
    booked = journaled(tmp_path / "journal.sqlite", DealBooked)
    assert sorted((d.fill_id.split(":")[1], d.size, d.inferred) for d in booked) == [
        ("1", D(1000), False),
        ("2", D(1000), False),
        ("3", D(1000), True),
    ]
    assert broker.malformed == 1
    assert edge.normalizer.proxy().counters().get().malformed == 1
    edge.stop()


def test_the_broker_s_fee_and_tax_replace_the_run_s_rate_once_across_reconciles_and_restarts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    api = StandInShioaji(limit_calls=1000)
    edge = Edge(paced_on_fake_time(api), path, account=ACCOUNT).start()
    wait_until(edge.trading_enabled)
    wait_until(lambda: api.order_callback is not None, what="the order callback set")
    buy = edge.submit("O1", "2890", OrderSide.BUY, "2000", price="25.5")
    api.accept(buy)
    api.fill(buy, 1, 25.5)
    api.fill(buy, 1, 25.0)
    sell = edge.submit("O2", "2890", OrderSide.SELL, "1000", price="26")
    api.accept(sell)
    api.fill(sell, 1, 26.0)
    # The run's rate: 0.001 of 25,500 + 25,000 + 26,000 (the book is 1,000 after one deal too).
    wait_until(lambda: fees(edge) == D("76.5"), what="the three deals")
    assert edge.book() == {"2890": D(1000)}
    # Shioaji's details, a lot a row under the deal's ordno: the sold lot (fee and tax), the
    # two lots bought (a fee each; one still held), and a row of no deal of ours.
    ordno = {order_no: api.trades[order_no].order.ordno for order_no in (buy, sell)}
    api.profit_loss = [StockProfitLoss(id=4, code="2890", quantity=1, pnl=635.0)]
    api.profit_details = {
        4: [profit_row(ordno[sell], 26.0, fee=37, tax=78), profit_row("Z9999", 26.0, 1, 1)]
    }
    [held] = api.positions
    api.position_details = {
        held.id: [position_row(ordno[buy], 25.5, fee=36.0), position_row(ordno[buy], 25.0, 35.0)]
    }
    for attempt in ("fees", "the same fees again"):
        edge.reconciler.tell(ReconcileRequest(reason=attempt))
        wait_until(lambda: fees(edge) == D(186), what="the broker's fees and tax")
        edge.settle()
    edge.stop()
    assert sorted((f.fee, f.tax, f.booked_fee) for f in journaled(path, FeeBooked)) == [
        (D(35), D(0), D("25.000")),
        (D(36), D(0), D("25.500")),
        (D(37), D(78), D("26.000")),
    ]

    restarted = Edge(paced_on_fake_time(api), path, account=ACCOUNT).start()
    wait_until(restarted.trading_enabled)
    restarted.settle()
    assert fees(restarted) == D(186)  # from the journal's fold; the startup's charges dropped
    assert len(journaled(path, FeeBooked)) == 3
    restarted.stop()


def test_the_cash_our_deals_settle_t_plus_2_is_compared_with_shioajis_settlements(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    api = StandInShioaji(limit_calls=1000)
    api.ts = 1_796_259_600.0  # Thursday 3 December 2026, 09:00 in Taipei: T+2 is Monday the 7th
    edge = Edge(paced_on_fake_time(api), path, account=ACCOUNT).start()
    wait_until(edge.trading_enabled)
    wait_until(lambda: api.order_callback is not None, what="the order callback set")
    # Ours: -(25,500 + the run's fee 25.5) on Monday. T and T+1 settle trades of the 1st and
    # 2nd, before this journal's first deal: not compared, whatever they are.
    api.settlement.t_money, api.settlement.t1_money = -99_999.0, 12_345.0
    api.settlement.t2_money = -25_525.0  # within the threshold (100)
    buy = edge.submit("O1", "2890", OrderSide.BUY, "1000", price="25.5")
    api.accept(buy)
    api.fill(buy, 1, 25.5)
    wait_until(lambda: edge.book() == {"2890": D(1000)}, what="the deal")
    edge.reconciler.tell(ReconcileRequest(reason="within"))
    edge.settle()
    assert journaled(path, SettlementMismatch) == []
    api.settlement.t2_money = -25_700.0
    edge.reconciler.tell(ReconcileRequest(reason="over"))
    wait_until(lambda: journaled(path, SettlementMismatch), what="the settlement alert")
    edge.stop()
    [mismatch] = journaled(path, SettlementMismatch)
    assert (mismatch.date, mismatch.ours, mismatch.broker, mismatch.difference) == (
        "2026-12-07",
        D("-25525.5"),
        D("-25700.0"),
        D("174.5"),
    )
    folded = RuntimeState()
    store = SqliteJournalStore(path)
    try:
        for record in store.read():
            folded.apply(record.seq, record.stream, decode(record.kind, record.payload))
    finally:
        store.close()
    restored = RuntimeState.from_memento(folded.memento()).accounts.cash
    assert list(restored.values()) == list(folded.accounts.cash.values()) == [D("-25525.5")]


# The shipped strategy's arbitrage (as on the Polymarket CLOB's test): YES ask 0.45 + NO ask
# 0.50 < 0.98 buys 50 of each, here two stocks' odd lots.
YES, NO = "1001", "1002"
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
    *(
        BookSnapshot(
            ts_event=1,
            market_id="m1",
            security_id=code,
            sequence=0,
            bids=(BookLevel(price=D(bid), size=D(100)),),
            asks=(BookLevel(price=D(ask), size=D(100)),),
        )
        for code, bid, ask in ((YES, "0.40", "0.45"), (NO, "0.46", "0.50"))
    ),
]


def market_fees(runtime: Runtime) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Per security: the market leg's fees, its order's, and the account book's."""
    orders = {o.security_id: o.fees for o in runtime.orders()}
    book = {p.security_id: p.fees for p in runtime.account_positions()}
    return {
        leg.security_id: (leg.fees, orders[leg.security_id], book[leg.security_id])
        for position in runtime.positions()
        for leg in position.legs
    }


def gross(runtime: Runtime) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    return {
        leg.security_id: (leg.quantity, leg.cost, leg.realized_pnl)
        for position in runtime.positions()
        for leg in position.legs
    }


def test_the_broker_s_charge_is_the_market_position_s_fee_live_in_the_fold_and_after_a_restart(
    tmp_path: Path,
) -> None:
    api = StandInShioaji(limit_calls=1000)
    for code in (YES, NO):
        api.Contracts.Stocks[code] = sj.Stock(exchange=sj.Exchange.TSE, code=code)
    config = RuntimeConfig(
        data_dir=tmp_path,
        account=ACCOUNT,
        broker=BrokerConfig(broker=paced_on_fake_time(api), gap_s=30.0),
    )
    broker_fees = {YES: D(20), NO: D(21)}  # Shioaji's minimum fee a deal, no tax on a buy
    with Runtime(config).start(FEED) as runtime:
        wait_until(lambda: runtime_enabled(runtime), what="the startup reconciliation")
        runtime.replay(FEED)
        wait_until(lambda: len(api.trades) == 2, what="both orders placed")
        for trade_id, trade in list(api.trades.items()):
            api.accept(trade_id)
            api.fill(trade_id, trade.order.quantity, trade.order.price)
        wait_until(
            lambda: all(o.status is OrderStatus.FILLED for o in runtime.orders()),
            what="both orders filled",
        )
        runtime.wait_idle(timeout_s=10.0)
        at_rate = market_fees(runtime)
        assert at_rate[YES] == (D("0.0225"),) * 3  # the run's rate: 0.001 of 50 x 0.45
        before = gross(runtime)
        api.position_details = {
            held.id: [
                StockPositionDetail(
                    date="2026-12-03",
                    code=held.code,
                    quantity=trade.order.quantity,
                    price=trade.order.price,
                    dseq=trade.order.ordno,
                    fee=float(broker_fees[held.code]),
                )
                for trade in api.trades.values()
                if trade.contract.code == held.code
            ]
            for held in api.positions
        }
        for attempt in ("fees", "the same fees again"):
            runtime.reconcile(attempt)
            wait_until(
                lambda: market_fees(runtime) == {c: (f,) * 3 for c, f in broker_fees.items()},
                what="the broker's fees on the order, the market position and the account",
            )
            runtime.wait_idle(timeout_s=10.0)
        assert gross(runtime) == before  # quantity, cost and realized PnL are the fills'
        live = market_fees(runtime)

        # The market position restarted: rebuilt from the journal, charges and all.
        assert runtime.supervisor is not None
        (position_child,) = [
            c for c in ask(runtime.supervisor, WhichChildren()) if c.child_id == "position:m1"
        ]
        position_child.ref.tell(InjectFault(reason="test"))
        wait_until(
            lambda: any(
                c.child_id == "position:m1" and c.restarts == 1
                for c in ask(runtime.supervisor, WhichChildren())
            ),
            what="the position restarted",
        )
        runtime.wait_idle(timeout_s=10.0)
        assert market_fees(runtime) == live
    assert len(journaled(tmp_path / JOURNAL_FILE, FillCharged)) == 2
    assert len(journaled(tmp_path / JOURNAL_FILE, ChargeApplied)) == 2

    store = SqliteJournalStore(tmp_path / JOURNAL_FILE)
    try:
        state, _ = recover_state(store)
    finally:
        store.close()
    (position,) = state.positions.values()
    assert {code: position.leg(code).fees for code in broker_fees} == broker_fees
    assert {o.security_id: o.fees for o in state.orders.values()} == broker_fees

    with Runtime(config).start(FEED) as restarted:
        wait_until(lambda: runtime_enabled(restarted), what="the restart's reconciliation")
        restarted.wait_idle(timeout_s=10.0)
        assert market_fees(restarted) == live
    assert len(journaled(tmp_path / JOURNAL_FILE, FillCharged)) == 2


def runtime_enabled(runtime: Runtime) -> bool:
    reconciler = runtime.extra("reconciler")
    assert reconciler is not None
    return bool(reconciler.proxy().trading_enabled.get())


def fees(edge: Edge) -> Decimal:
    return sum((p.fees for p in edge.account_positions.proxy().positions().get()), D(0))


def profit_row(dseq: str, price: float, fee: int, tax: int) -> StockProfitDetail:
    return StockProfitDetail(
        date="2026-12-03", code="2890", quantity=1, dseq=dseq, fee=fee, tax=tax, price=price
    )


def position_row(dseq: str, price: float, fee: float) -> StockPositionDetail:
    return StockPositionDetail(
        date="2026-12-03", code="2890", quantity=1, price=price, dseq=dseq, fee=fee
    )


def journaled(path: Path, kind: type) -> list[Any]:
    store = SqliteJournalStore(path)
    try:
        return [decode(r.kind, r.payload) for r in store.read() if r.kind == kind.__name__]
    finally:
        store.close()


def test_order_messages_map_to_statuses_and_a_fill_to_its_order_status() -> None:
    api = StandInShioaji()
    broker = ShioajiBroker(api, CREDENTIALS)
    orders: list[tuple[Any, ...]] = []
    deals: list[tuple[Any, ...]] = []
    broker.register_callbacks(lambda *a: orders.append(a), lambda *a: deals.append(a))
    order_no = broker.place_order(request("2000"))
    api.accept(order_no)
    api.fill(order_no, 2, 25.5)
    rejected = broker.place_order(request("1000"))
    api.accept(rejected, op_code="88", op_msg="price out of range")
    [(d_no, _seq, _ts, code, side, price, size)] = deals
    assert (d_no, code, side, price, size) == (order_no, "2890", OrderSide.BUY, D("25.5"), D(2000))
    assert [(o[0], o[2].value, o[4]) for o in orders] == [
        (order_no, "submitted", ""),
        (order_no, "filled", ""),
        (rejected, "rejected", "88 price out of range"),
    ]


def test_a_futures_deal_is_in_contracts_and_fills_its_order() -> None:
    api = StandInShioaji()
    broker = ShioajiBroker(api, CREDENTIALS)
    orders: list[tuple[Any, ...]] = []
    deals: list[tuple[Any, ...]] = []
    broker.register_callbacks(lambda *a: orders.append(a), lambda *a: deals.append(a))
    order_no = broker.place_order(request("2", security_id="TXFL6", side=OrderSide.SELL))
    message = {
        "event_id": "f1",
        "trade_id": order_no,
        "seqno": "000001",
        "ordno": "tA0n4",
        "exchange_seq": "55",
        "broker_id": "F002000",
        "account_id": "7654321",
        "action": "Sell",
        "code": "TXF",
        "full_code": "TXFL6",
        "price": 23150.0,
        "quantity": 2,
        "subaccount": "",
        "security_type": "FUT",
        "delivery_month": "202612",
        "strike_price": 0.0,
        "option_right": "Future",
        "market_type": "Day",
        "combo": False,
        "ts": 1796000000.5,
    }
    api.send(sj.OrderState.FuturesDeal, message)
    api.send(sj.OrderState.FuturesDeal, message)  # a repeat: the same key, one fill status
    assert deals[0] == (
        order_no,
        55,
        1_796_000_000_500_000_000,
        "TXFL6",
        OrderSide.SELL,
        D("23150.0"),
        D(2),
    )
    assert deals[0] == deals[1]
    assert [o[2].value for o in orders] == ["filled"]


# -- queries -----------------------------------------------------------------------------


def test_profit_loss_is_gross_with_the_fee_and_tax_the_broker_reports() -> None:
    api = StandInShioaji()
    api.profit_loss = [StockProfitLoss(id=7, code="2890", quantity=1000, pnl=900.0)]
    api.profit_details = {
        7: [
            StockProfitDetail(
                date="2026-12-03", code="2890", quantity=1000, dseq="A1", fee=36, tax=64
            )
        ]
    }
    [pnl] = ShioajiBroker(api, CREDENTIALS).list_profit_loss(ACCOUNT).items
    assert (pnl.realized_pnl, pnl.fee, pnl.tax) == (D(1000), D(36), D(64))


def test_settlements_are_t_t1_and_t2() -> None:
    api = StandInShioaji()
    api.settlement.t2_money = -25500.0
    items = ShioajiBroker(api, CREDENTIALS).list_settlements(ACCOUNT).items
    assert [(s.days, s.amount) for s in items] == [(0, D(0)), (1, D(0)), (2, D("-25500.0"))]


def test_a_futures_account_has_no_settlements_to_fail_a_reconcile() -> None:
    api = StandInShioaji()
    assert ShioajiBroker(api, CREDENTIALS).list_settlements("7654321").items == ()
    assert api.queries == 0


def test_portfolio_queries_keep_under_25_per_5_s_and_back_off_when_refused() -> None:
    fake = FakeTime()
    api = StandInShioaji(monotonic=fake.monotonic)
    api.profit_loss = [
        StockProfitLoss(id=n, code=f"{1000 + n}", quantity=1, pnl=1.0) for n in range(60)
    ]
    pacer = QueryPacer(monotonic=fake.monotonic, sleep=fake.sleep, margin_s=0.0)
    broker = ShioajiBroker(api, CREDENTIALS, pacer=pacer)
    assert len(broker.list_profit_loss(ACCOUNT).items) == 60
    assert (api.queries, api.refused) == (61, 0)
    assert fake.now >= 10.0  # 61 calls need three windows of 5 s
    fake.now += 5.0
    for _ in range(25):  # another client on the account uses up the window
        api._admit()
    assert broker.list_positions(ACCOUNT).items == ()
    assert api.refused == pacer.stats().refused == 4  # refused at +0, +0.5, +1.5, +3.5 s
    assert fake.slept[-4:] == [0.5, 1.0, 2.0, 4.0]


def test_a_session_down_fails_calls_and_a_reconnect_registers_the_callback_once_more() -> None:
    api = StandInShioaji()
    broker = ShioajiBroker(api, CREDENTIALS)
    noop = lambda *a: None  # noqa: E731
    broker.register_callbacks(noop, noop)
    broker.register_callbacks(noop, noop)
    assert api.order_callbacks_set == 1
    session = broker.session
    api.session_down()
    assert not broker.connected
    assert broker.session != session
    with pytest.raises(BrokerDisconnectedError):
        broker.list_positions(ACCOUNT)
    with pytest.raises(BrokerDisconnectedError):
        broker.register_callbacks(noop, noop)
    broker.reconnect()
    broker.register_callbacks(noop, noop)
    broker.register_callbacks(noop, noop)
    assert api.order_callbacks_set == 2
    assert len(api.logins) == 2


def test_after_a_session_down_the_runtime_registers_once_more_and_books_what_follows(
    tmp_path: Path,
) -> None:
    api = StandInShioaji(limit_calls=1000)
    broker = paced_on_fake_time(api)
    edge = Edge(broker, tmp_path / "journal.sqlite", account=ACCOUNT).start()
    wait_until(edge.trading_enabled)
    status = edge.venue.proxy().status
    wait_until(lambda: status().get().registrations == 1, what="registered")
    order_no = edge.submit("O1", "2890", OrderSide.BUY, "2000", price="25.5")
    api.session_down()
    broker.reconnect()
    wait_until(lambda: status().get().registrations == 2, what="registered again")
    api.fill(order_no, 2, 25.5)
    wait_until(lambda: edge.book() == {"2890": D(2000)}, what="the deal after the reconnect")
    edge.settle()
    assert api.order_callbacks_set == 2
    edge.stop()


def test_an_auth_error_from_the_api_is_a_lost_session() -> None:
    api = StandInShioaji()
    broker = ShioajiBroker(api, CREDENTIALS)

    def expired(*_args: Any, **_kwargs: Any) -> Any:
        raise sj.TokenError("401 token expired")

    api.list_positions = expired  # type: ignore[method-assign]
    with pytest.raises(BrokerDisconnectedError):
        broker.list_positions(ACCOUNT)
    assert not broker.connected


def test_a_message_not_of_the_documented_shape_is_quarantined_not_raised(
    tmp_path: Path,
) -> None:
    api = StandInShioaji(limit_calls=1000)
    edge = Edge(paced_on_fake_time(api), tmp_path / "j.sqlite", account=ACCOUNT).start()
    wait_until(lambda: api.order_callback is not None, what="the order callback set")
    api.send(sj.OrderState.FuturesDeal, {"trade_id": "x", "price": "bad"})
    counters = edge.normalizer.proxy().counters
    wait_until(lambda: counters().get().malformed == 1, what="the message quarantined")
    edge.stop()
