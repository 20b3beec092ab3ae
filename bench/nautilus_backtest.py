"""The same feed on NautilusTrader's backtest engine, with the same strategy: the yardstick
issue 16 measures the lockstep replay against.

Standalone (the standard library and ``nautilus_trader`` only), so it runs in an
interpreter that has NautilusTrader, which tradeactors does not depend on. It reads a
tradeactors feed (JSON lines, prices and sizes kept as strings until they are exact
``Price``/``Quantity``), makes each instrument a ``BinaryOption`` on an L2 book, each
``book_snapshot`` a clear-and-add ``OrderBookDeltas`` and each ``price_change`` one delta,
and runs the shipped synthetic arbitrage (``actors/synthetic_arbitrage.py``: buy YES and NO
at their asks when the asks sum under payout - margin, 50 a leg, 500 at most, never while
an order is open on either leg). It prints one JSON object: records, fills, seconds.

    python bench/nautilus_backtest.py FEED.jsonl[.gz]
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USDC
from nautilus_trader.model.data import BookOrder, OrderBookDelta, OrderBookDeltas
from nautilus_trader.model.enums import (
    AccountType,
    AssetClass,
    BookAction,
    BookType,
    OmsType,
    OrderSide,
    RecordFlag,
)
from nautilus_trader.model.identifiers import InstrumentId, Symbol, TraderId, Venue
from nautilus_trader.model.instruments import BinaryOption
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.trading.strategy import Strategy

VENUE = Venue("POLYMARKET")
PRECISION = 2
PAYOUT, MARGIN = Decimal(1), Decimal("0.02")
MAX_ORDER, MAX_POSITION = Decimal(50), Decimal(500)
SIDES = {"BID": OrderSide.BUY, "ASK": OrderSide.SELL}


def _price(text: str) -> Price:
    return Price.from_str(f"{Decimal(text):.{PRECISION}f}")


def _size(text: str | Decimal) -> Quantity:
    return Quantity.from_str(f"{Decimal(text):.{PRECISION}f}")


def _instrument(security_id: str, outcome: str, opens: int, closes: int) -> BinaryOption:
    symbol = Symbol(security_id)
    return BinaryOption(
        instrument_id=InstrumentId(symbol, VENUE),
        raw_symbol=symbol,
        outcome=outcome,
        description=security_id,
        asset_class=AssetClass.ALTERNATIVE,
        currency=USDC,
        price_precision=PRECISION,
        price_increment=_price("0.01"),
        size_precision=PRECISION,
        size_increment=_size("0.01"),
        activation_ns=opens,
        expiration_ns=closes,
        max_quantity=None,
        min_quantity=None,
        maker_fee=Decimal(0),
        taker_fee=Decimal(0),
        ts_event=opens,
        ts_init=opens,
    )


def _snapshot(instrument: InstrumentId, record: dict[str, Any]) -> OrderBookDeltas:
    ts, seq = record["ts_event"], record["sequence"]
    deltas = [OrderBookDelta.clear(instrument, seq, ts, ts)]
    levels = [("BID", level) for level in record["bids"]]
    levels += [("ASK", level) for level in record["asks"]]
    for index, (side, level) in enumerate(levels):
        order = BookOrder(SIDES[side], _price(level["price"]), _size(level["size"]), 0)
        flags = RecordFlag.F_LAST if index == len(levels) - 1 else 0
        deltas.append(OrderBookDelta(instrument, BookAction.ADD, order, flags, seq, ts, ts))
    return OrderBookDeltas(instrument, deltas)


def _change(instrument: InstrumentId, record: dict[str, Any]) -> OrderBookDeltas:
    ts, seq = record["ts_event"], record["sequence"]
    size = Decimal(record["size"])
    action = BookAction.DELETE if size == 0 else BookAction.UPDATE
    order = BookOrder(SIDES[record["side"]], _price(record["price"]), _size(size), 0)
    delta = OrderBookDelta(instrument, action, order, RecordFlag.F_LAST, seq, ts, ts)
    return OrderBookDeltas(instrument, [delta])


def load(path: Path) -> tuple[int, dict[str, tuple[BinaryOption, BinaryOption]], list[Any]]:
    """(records in the feed, each market's YES and NO instruments, the book data)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    opened: dict[str, tuple[int, list[dict[str, str]]]] = {}
    closed: dict[str, int] = {}
    for record in records:
        if record["type"] == "market_opened":
            definition = record["definition"]
            opened[definition["market_id"]] = (record["ts_event"], definition["instruments"])
        elif record["type"] == "market_closed":
            closed[record["market_id"]] = record["ts_event"]
    markets = {}
    for market, (opens, legs) in opened.items():
        by_outcome = {
            leg["outcome"]: _instrument(
                leg["security_id"], leg["outcome"], opens, closed.get(market, opens + 1)
            )
            for leg in legs
        }
        markets[market] = (by_outcome["YES"], by_outcome["NO"])
    data = []
    for record in records:
        if record["type"] in ("book_snapshot", "price_change"):
            instrument = InstrumentId(Symbol(record["security_id"]), VENUE)
            build = _snapshot if record["type"] == "book_snapshot" else _change
            data.append(build(instrument, record))
    return len(records), markets, data


class ArbitrageConfig(StrategyConfig, frozen=True):  # type: ignore[call-arg]  # msgspec Struct
    markets: tuple[tuple[str, str], ...] = ()
    """Each market's YES and NO instrument ids."""


class SyntheticArbitrage(Strategy):
    """actors/synthetic_arbitrage.py on Nautilus's books, orders and positions."""

    def __init__(self, config: ArbitrageConfig) -> None:
        super().__init__(config)
        self.legs: dict[InstrumentId, tuple[InstrumentId, InstrumentId]] = {}
        for yes, no in config.markets:
            pair = (InstrumentId.from_str(yes), InstrumentId.from_str(no))
            self.legs[pair[0]] = self.legs[pair[1]] = pair

    def on_start(self) -> None:
        for instrument in self.legs:
            self.subscribe_order_book_deltas(instrument, BookType.L2_MBP)

    def on_order_book_deltas(self, deltas: OrderBookDeltas) -> None:
        yes, no = self.legs[deltas.instrument_id]
        book_yes, book_no = self.cache.order_book(yes), self.cache.order_book(no)
        if book_yes is None or book_no is None:
            return
        ask_yes, ask_no = book_yes.best_ask_price(), book_no.best_ask_price()
        if ask_yes is None or ask_no is None:
            return
        if ask_yes.as_decimal() + ask_no.as_decimal() >= PAYOUT - MARGIN:
            return
        if any(self.cache.orders_open(instrument_id=leg) for leg in (yes, no)):
            return
        held = max(self._held(yes), self._held(no))
        size = min(
            book_yes.best_ask_size().as_decimal(),
            book_no.best_ask_size().as_decimal(),
            MAX_ORDER,
            MAX_POSITION - held,
        )
        if size <= 0:
            return
        for leg, price in ((yes, ask_yes), (no, ask_no)):
            order = self.order_factory.limit(leg, OrderSide.BUY, _size(size), price)
            self.submit_order(order)

    def _held(self, instrument: InstrumentId) -> Decimal:
        return sum(
            (p.quantity.as_decimal() for p in self.cache.positions_open(instrument_id=instrument)),
            Decimal(0),
        )


def run(path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    records, markets, data = load(path)
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("BENCH-001"), logging=LoggingConfig(bypass_logging=True)
        )
    )
    engine.add_venue(
        venue=VENUE,
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=USDC,
        starting_balances=[Money(10_000_000, USDC)],
        book_type=BookType.L2_MBP,
    )
    for pair in markets.values():
        for instrument in pair:
            engine.add_instrument(instrument)
    engine.add_data(data)
    pairs = tuple((str(yes.id), str(no.id)) for yes, no in markets.values())
    engine.add_strategy(SyntheticArbitrage(ArbitrageConfig(markets=pairs)))
    ran = time.perf_counter()
    engine.run()
    done = time.perf_counter()
    fills = len(engine.cache.orders_closed()) + len(engine.cache.orders_open())
    result = {
        "nautilus_trader": _version(),
        "records": records,
        "orders": fills,
        "positions": len(engine.cache.positions()),
        "run_s": done - ran,
        "total_s": done - started,
    }
    engine.dispose()
    return result


def _version() -> str:
    from nautilus_trader import __version__  # noqa: PLC0415 (only for the report)

    return str(__version__)


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]))))
