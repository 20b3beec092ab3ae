"""``tradeactors run --broker shioaji`` and ``--broker ib``: the shipped strategy trades a feed
through each real adapter, its library driven by the local stand-in for its broker (Shioaji's
``sj.Shioaji`` stand-in, a TWS behind ib_async's own client), and the run ends with the
account book equal to the broker's positions, as its closing verdict says.

Each broker fills every order whole at its limit price right after it takes it. The run
is in process (``tools.cli.main``) so the library's entry point can be pointed at the
stand-in: ``sj.Shioaji`` for Shioaji, ``IB.connectAsync`` for IB.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import shioaji as sj
from ib_async import IB

from bridges.feed_codec import write_feed
from bridges.ib_broker import IbContract
from messages.markets import MarketOpened, MarketResolved
from tests.bridges.shioaji_standin import STOCK_ACCOUNT, StandInShioaji, StockPositionDetail
from tests.bridges.tws_peer import CLIENT_ID, FakeTws
from tools.cli import main
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(120)

QUIET = ("--quiet", "--no-zmq", "--no-metrics")
RECORDS = generate_feed(seed=3, markets=2, updates_per_market=80)
SECURITIES = tuple(
    instrument.security_id
    for record in RECORDS
    if isinstance(record, MarketOpened)
    for instrument in record.definition.instruments
)


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "feed.jsonl"
    write_feed(RECORDS, path)
    return path


class FillingShioaji(StandInShioaji):
    """The stand-in as an exchange that takes every order and fills it whole at its price,
    on a thread of its own once the order is placed (its messages may beat the placement's
    return, as Shioaji's can). Positions and order status are answered after the fills owed.
    With ``fee``, ``list_position_detail`` reports that fee for each deal of the held stock,
    a lot a row (Shioaji charges a minimum fee a deal)."""

    def __init__(self, fee: float | None = None) -> None:
        super().__init__(limit_calls=1000)
        self.fee = fee
        self.lots: dict[str, list[StockPositionDetail]] = {}
        for code in SECURITIES:
            self.Contracts.Stocks[code] = sj.Stock(exchange=sj.Exchange.TSE, code=code)
        self.owed: queue.Queue[str | None] = queue.Queue()
        # A daemon: the run's shutdown deadline stays armed while a thread would hold up
        # the interpreter's exit, and it ends the process.
        self.exchange = threading.Thread(target=self._trade, name="exchange", daemon=True)
        self.exchange.start()

    def place_order(self, contract: Any, order: Any, timeout: int | None = 30000, cb: Any = None):  # type: ignore[no-untyped-def]
        trade = super().place_order(contract, order, timeout, cb)
        self.owed.put(trade.order.id)
        return trade

    def update_status(self, account: Any = None, **kwargs: Any) -> None:
        self.owed.join()
        super().update_status(account, **kwargs)

    def list_positions(self, account: Any = None, unit: Any = None, **kwargs: Any) -> Any:
        self.owed.join()
        return super().list_positions(account, unit, **kwargs)

    def list_position_detail(
        self, account: Any = None, detail_id: int = 0, timeout: int | None = 30000, cb: Any = None
    ) -> list[StockPositionDetail]:
        super().list_position_detail(account, detail_id, timeout, cb)
        # The stand-in numbers positions by their place in its list, so two can share an id.
        held = {p.code for p in self.positions if p.id == detail_id}
        return [lot for code in sorted(held) for lot in self.lots.get(code, [])]

    def close(self) -> None:
        self.owed.put(None)
        self.exchange.join(timeout=10)

    def _trade(self) -> None:
        while (trade_id := self.owed.get()) is not None:
            order = self.trades[trade_id].order
            self.accept(trade_id)
            self.fill(trade_id, order.quantity, order.price)
            if self.fee is not None:
                code = self.trades[trade_id].contract.code
                self.lots.setdefault(code, []).append(
                    StockPositionDetail(
                        date="2026-12-04",
                        code=code,
                        quantity=order.quantity,
                        price=order.price,
                        dseq=order.ordno,
                        fee=self.fee,
                    )
                )
            self.owed.task_done()


@pytest.fixture
def shioaji(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[FillingShioaji]:
    api = FillingShioaji(fee=getattr(request, "param", None))
    monkeypatch.setattr(sj, "Shioaji", lambda simulation=False: api)
    monkeypatch.setenv("SHIOAJI_API_KEY", "key")
    monkeypatch.setenv("SHIOAJI_SECRET_KEY", "secret-never-printed")
    yield api
    api.close()


def verdict(out: str, broker: str) -> str:
    return out.split(f"{broker} broker:")[1]


def test_the_shipped_strategy_through_shioaji_ends_with_the_book_equal_to_the_broker(
    feed: Path, tmp_path: Path, shioaji: FillingShioaji, capsys: pytest.CaptureFixture[str]
) -> None:
    api = shioaji
    account = STOCK_ACCOUNT.account_id
    argv = ["run", "--feed", str(feed), "--speed", "0", "--data-dir", str(tmp_path / "data"),
            "--broker", "shioaji", "--shioaji-account", account, *QUIET]  # fmt: skip

    assert main(argv) == 0
    out = capsys.readouterr().out
    assert api.placed  # the strategy traded through the adapter
    assert len(api.logins) == 1
    assert api.positions  # and the stand-in holds what it filled
    report = verdict(out, "shioaji")
    assert f"normalizer: {len(api.placed)} deals booked" in report, out  # one fill an order
    assert "the account book EQUALS the broker's positions" in report, out
    assert "the run EQUALS the broker's truth" in report, out
    assert "secret-never-printed" not in out


@pytest.mark.parametrize("shioaji", [20.0], indirect=True)
def test_a_shioaji_run_s_positions_table_shows_the_fee_the_broker_charged_each_deal(
    tmp_path: Path, shioaji: FillingShioaji, capsys: pytest.CaptureFixture[str]
) -> None:
    # A trading day of stocks: the markets close and never resolve, so the positions are
    # open when the end of the run's reconcile reads Shioaji's fees (a settled one keeps
    # the fees it settled with).
    feed = tmp_path / "feed.jsonl"
    write_feed([r for r in RECORDS if not isinstance(r, MarketResolved)], feed)
    account = STOCK_ACCOUNT.account_id
    argv = ["run", "--feed", str(feed), "--speed", "0", "--data-dir", str(tmp_path / "data"),
            "--broker", "shioaji", "--shioaji-account", account, *QUIET]  # fmt: skip

    assert main(argv) == 0
    out = capsys.readouterr().out
    table = out.split("TOTAL")[0].splitlines()
    legs = [line.split() for line in table if line.startswith("btc-")]
    assert legs, out
    for leg in legs:
        realized, unrealized, fees, net = (Decimal(v) for v in leg[5:])
        # The broker's 20 a deal, not the run's rate (which gives fractions of one).
        assert fees > 0, out
        assert fees % 20 == 0, out
        assert net == realized + unrealized - fees
    total = out.split("TOTAL")[1].split()
    assert Decimal(total[2]) == 20 * len(shioaji.placed), out
    assert "the account book EQUALS the broker's positions" in verdict(out, "shioaji"), out


class FillingTws(FakeTws):
    """TWS filling every order whole at its limit price once it has taken it."""

    def _placed(self, order_id: int) -> None:
        super()._placed(order_id)
        order = self.ib.wrapper.trades[(CLIENT_ID, order_id)].order  # type: ignore[union-attr]
        price = Decimal(repr(order.lmtPrice))
        self.fill(f"{CLIENT_ID}.{order_id}", price, Decimal(repr(order.totalQuantity)))


@pytest.fixture
def tws(monkeypatch: pytest.MonkeyPatch) -> Iterator[FillingTws]:
    contracts = {
        name: IbContract(con_id=1000 + n, symbol=name) for n, name in enumerate(SECURITIES)
    }
    peer = FillingTws("DU1234567", contracts)
    asked: list[tuple[str, int, int]] = []

    async def connect(ib: IB, host: str = "", port: int = 0, **kwargs: Any) -> None:
        asked.append((host, port, kwargs["clientId"]))
        await peer.connect(ib)

    monkeypatch.setattr(IB, "connectAsync", connect)
    yield peer
    assert asked
    assert set(asked) == {("127.0.0.1", 4002, CLIENT_ID)}


def test_the_shipped_strategy_through_ib_ends_with_the_book_equal_to_the_broker(
    feed: Path, tmp_path: Path, tws: FillingTws, capsys: pytest.CaptureFixture[str]
) -> None:
    contracts = ",".join(f"{name}=conid:{1000 + n}" for n, name in enumerate(SECURITIES))
    argv = ["run", "--feed", str(feed), "--speed", "0", "--data-dir", str(tmp_path / "data"),
            "--broker", "ib", "--ib-account", "DU1234567", "--ib-port", "4002",
            "--ib-contracts", contracts, *QUIET]  # fmt: skip

    assert main(argv) == 0
    out = capsys.readouterr().out
    assert tws.executions  # the strategy traded through TWS
    report = verdict(out, "ib")
    assert f"normalizer: {len(tws.executions)} deals booked" in report, out
    assert "the account book EQUALS the broker's positions" in report, out
    assert "the run EQUALS the broker's truth" in report, out
