"""StrategyActor and the synthetic-arbitrage example."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.position_accounting import PositionBook
from actors.strategy import StrategyActor
from actors.synthetic_arbitrage import SyntheticArbitrage
from messages.enums import OrderSide, Outcome
from messages.market_data import InstrumentBook, MarketSnapshot
from messages.positions import PositionSnapshot
from messages.signals import TradeSignal
from messages.stats import GetStats
from tests.stubs import collector, fill, levels, wait_for

pytestmark = pytest.mark.timeout(10)
D = Decimal


def _market(yes_ask: tuple[str, str], no_ask: tuple[str, str], synced: bool = True, ts: int = 1):
    def book(outcome: Outcome, ask: tuple[str, str]) -> InstrumentBook:
        return InstrumentBook(
            security_id=f"m1-{outcome.value}",
            outcome=outcome,
            bids=levels(("0.01", "10")),
            asks=levels(ask),
            synced=synced,
            sequence=0,
        )

    return MarketSnapshot(
        ts_event=ts,
        market_id="m1",
        version=1,
        books=(book(Outcome.YES, yes_ask), book(Outcome.NO, no_ask)),
    )


def _position() -> PositionBook:
    return PositionBook(
        position_id="p",
        market_id="m1",
        account="paper",
        strategy="s",
        security_ids=("m1-YES", "m1-NO"),
    )


def test_asks_summing_below_payout_minus_margin_buy_both_sides_at_the_asks() -> None:
    signals = SyntheticArbitrage()(_market(("0.45", "80"), ("0.50", "30")), _position().snapshot())
    assert [(s.security_id, s.side, s.price, s.size) for s in signals] == [
        ("m1-YES", OrderSide.BUY, D("0.45"), D(30)),
        ("m1-NO", OrderSide.BUY, D("0.50"), D(30)),
    ]
    assert all(s.priority == 0 for s in signals)
    assert "0.95" in signals[0].reason


def test_asks_summing_exactly_to_payout_minus_margin_do_not_trade() -> None:
    assert (
        SyntheticArbitrage()(_market(("0.45", "80"), ("0.53", "30")), _position().snapshot()) == []
    )


def test_a_pending_order_on_either_side_blocks_new_signals() -> None:
    position = _position()
    position.mark_pending("O1", "m1-NO", OrderSide.BUY)
    assert SyntheticArbitrage()(_market(("0.40", "80"), ("0.50", "30")), position.snapshot()) == []


def test_size_is_capped_by_the_room_left_under_max_position() -> None:
    position = _position()
    position.apply_fill(fill("F1", security_id="m1-YES", size="490"))
    strategy = SyntheticArbitrage(max_position=D(500))
    signals = strategy(_market(("0.40", "80"), ("0.50", "80")), position.snapshot())
    assert {s.size for s in signals} == {D(10)}


def _strategy(evaluate):
    execution, inbox = collector()
    strategy = StrategyActor.start(evaluate, execution=execution, name="s")
    return strategy, inbox


def test_the_strategy_waits_for_its_position_and_for_synced_books() -> None:
    strategy, inbox = _strategy(SyntheticArbitrage())
    crossing = _market(("0.45", "80"), ("0.50", "30"))
    strategy.tell(crossing)
    strategy.tell(_position().snapshot())
    strategy.tell(_market(("0.45", "80"), ("0.50", "30"), synced=False))
    strategy.tell(crossing)
    first = wait_for(inbox, lambda m: isinstance(m, TradeSignal))
    second = wait_for(inbox, lambda m: isinstance(m, TradeSignal))
    assert (first.security_id, second.security_id) == ("m1-YES", "m1-NO")
    assert inbox.empty()


def test_a_failing_user_function_skips_the_tick_and_the_strategy_lives_on() -> None:
    calls: list[PositionSnapshot] = []

    def evaluate(market: MarketSnapshot, position: PositionSnapshot) -> list[TradeSignal]:
        calls.append(position)
        if len(calls) == 1:
            raise ZeroDivisionError("user bug")
        return SyntheticArbitrage()(market, position)

    strategy, inbox = _strategy(evaluate)
    strategy.tell(_position().snapshot())
    strategy.tell(_market(("0.45", "80"), ("0.50", "30"), ts=1))
    strategy.tell(_market(("0.45", "80"), ("0.50", "30"), ts=2))
    wait_for(inbox, lambda m: isinstance(m, TradeSignal))
    assert strategy.is_alive()
    assert len(calls) == 2


def test_a_book_published_again_by_a_restarted_market_is_not_evaluated_twice() -> None:
    calls: list[MarketSnapshot] = []

    def evaluate(market: MarketSnapshot, position: PositionSnapshot) -> list[TradeSignal]:
        calls.append(market)
        return []

    strategy, _ = _strategy(evaluate)
    strategy.tell(_position().snapshot())
    strategy.tell(_market(("0.45", "80"), ("0.50", "30"), ts=1))
    strategy.tell(_market(("0.45", "80"), ("0.50", "30"), ts=1))
    strategy.tell(_market(("0.45", "80"), ("0.50", "30"), ts=2))
    strategy.ask(GetStats(), timeout=5)
    assert [m.ts_event for m in calls] == [1, 2]


@pytest.mark.parametrize(
    "garbage",
    [42, "BUY", [None], {"side": "BUY"}, [_market(("0.45", "80"), ("0.50", "30"))]],
)
def test_a_result_that_is_not_a_signal_list_is_counted_and_the_strategy_lives_on(
    garbage: object,
) -> None:
    results = iter([garbage, None])

    def evaluate(market: MarketSnapshot, position: PositionSnapshot) -> object:
        return next(results, None) or SyntheticArbitrage()(market, position)

    strategy, inbox = _strategy(evaluate)
    strategy.tell(_position().snapshot())
    for ts in (1, 2, 3):
        strategy.tell(_market(("0.45", "80"), ("0.50", "30"), ts=ts))
    wait_for(inbox, lambda m: isinstance(m, TradeSignal))
    assert strategy.is_alive()
    assert strategy.proxy().failures.get(timeout=5) == {"bad_result": 1}
    assert strategy.proxy().signals_sent.get(timeout=5) == 4  # ticks 2 and 3, both legs


def test_a_raising_user_function_is_counted() -> None:
    def evaluate(market: MarketSnapshot, position: PositionSnapshot) -> list[TradeSignal]:
        raise ValueError("user bug")

    strategy, _ = _strategy(evaluate)
    strategy.tell(_position().snapshot())
    strategy.tell(_market(("0.45", "80"), ("0.50", "30"), ts=1))
    strategy.tell(_market(("0.45", "80"), ("0.50", "30"), ts=2))
    assert strategy.proxy().failures.get(timeout=5) == {"raised": 2}
