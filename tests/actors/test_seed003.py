"""Seed 003's chain: each stage, and the priorities between them (properties over random
books, positions and reference prices)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.position_accounting import PositionBook
from actors.seed003 import Seed003Chain, evaluate, resolve
from messages.enums import Outcome
from messages.market_data import InstrumentBook, MarketSnapshot, ReferencePrice
from messages.positions import PositionSnapshot
from tests.stubs import fill, levels

pytestmark = pytest.mark.timeout(30)
D = Decimal
YES, NO = "m1-YES", "m1-NO"


def _market(
    yes_ask: str,
    no_ask: str,
    *,
    size: str = "100",
    reference: tuple[str, str] | None = None,
) -> MarketSnapshot:
    def book(outcome: Outcome, ask: str) -> InstrumentBook:
        bid = max(D(ask) - D("0.02"), D("0.01"))
        return InstrumentBook(
            security_id=f"m1-{outcome.value}",
            outcome=outcome,
            bids=levels((str(bid), size)),
            asks=levels((ask, size)),
            synced=True,
            sequence=0,
        )

    return MarketSnapshot(
        ts_event=1,
        market_id="m1",
        version=1,
        books=(book(Outcome.YES, yes_ask), book(Outcome.NO, no_ask)),
        reference=None
        if reference is None
        else ReferencePrice(
            ts_event=1,
            market_id="m1",
            source="BTC-USD",
            price=D(reference[0]),
            strike=D(reference[1]),
        ),
    )


def _position(*fills: tuple[str, str, str]) -> PositionSnapshot:
    """A position after buys of (security, price, size)."""
    book = PositionBook(
        position_id="p", market_id="m1", account="paper", strategy="s", security_ids=(YES, NO)
    )
    for n, (security_id, price, size) in enumerate(fills):
        book.apply_fill(
            fill(f"F{n}", order_id=f"O{n}", security_id=security_id, price=price, size=size)
        )
    return book.snapshot()


def _keys(signals: list) -> list[tuple[object, ...]]:
    """Signals without their ids, which each evaluation makes afresh."""
    return [(s.security_id, s.side, s.price, s.size, s.priority, s.reason) for s in signals]


def _sides(signals: list) -> list[tuple[str, Decimal, int]]:
    return [(s.security_id, s.size, s.priority) for s in signals]


def test_flat_it_bootstraps_the_cheaper_side_unfiltered_without_a_reference() -> None:
    signals = evaluate(_market("0.45", "0.60"), _position())

    assert _sides(signals) == [(YES, D(10), 2)]
    assert signals[0].reason.startswith("bootstrap")
    assert signals[0].strategy is None  # the running strategy's name goes on it


def test_the_oracle_drops_a_bootstrap_on_the_losing_side_and_confirms_the_winning_one() -> None:
    # The reference is below the strike: NO is winning, so buying YES is dropped.
    assert evaluate(_market("0.45", "0.60", reference=("96000", "97000")), _position()) == []
    confirmed = evaluate(_market("0.60", "0.45", reference=("96000", "97000")), _position())
    assert _sides(confirmed) == [(NO, D(10), 1)]
    assert confirmed[0].reason.endswith("oracle agrees")


def test_a_long_side_is_hedged_when_the_pair_stays_under_the_payout() -> None:
    signals = evaluate(_market("0.50", "0.55"), _position((YES, "0.40", "30")))

    assert _sides(signals) == [(NO, D(30), 2)]
    assert signals[0].reason.startswith("hedge")


def test_the_hedge_skips_the_oracle_even_when_it_says_the_side_is_losing() -> None:
    signals = evaluate(
        _market("0.50", "0.55", reference=("98000", "97000")), _position((YES, "0.40", "30"))
    )

    assert _sides(signals) == [(NO, D(30), 2)]


def test_a_fallen_long_side_is_averaged_down() -> None:
    signals = evaluate(_market("0.30", "0.69"), _position((YES, "0.40", "30")))

    assert _sides(signals) == [(YES, D(10), 2)]
    assert signals[0].reason.startswith("average down")


def test_arbitrage_goes_alone_and_past_an_oracle_against_it() -> None:
    signals = evaluate(
        _market("0.45", "0.50", reference=("90000", "97000")), _position((YES, "0.40", "30"))
    )

    assert {(s.security_id, s.priority) for s in signals} == {(YES, 0), (NO, 0)}
    assert all(s.strategy is None and s.account is None for s in signals)


def test_a_profit_lock_blocks_even_arbitrage() -> None:
    locked = _position((YES, "0.40", "30"), (NO, "0.40", "30"))  # 30 - 24 = 6 made either way

    assert evaluate(_market("0.45", "0.50"), locked) == []
    assert Seed003Chain(profit_lock=D(7))(_market("0.45", "0.50"), locked) != []


def test_a_stop_loss_blocks_everything() -> None:
    losing = _position((YES, "0.80", "100"))  # marked at the mid 0.14: 14 - 80

    assert evaluate(_market("0.15", "0.50"), losing) == []


PRICES = st.integers(min_value=1, max_value=99).map(lambda cents: D(cents) / 100)


@st.composite
def ticks(draw: st.DrawFn) -> tuple[MarketSnapshot, PositionSnapshot]:
    reference = draw(
        st.none() | st.tuples(st.sampled_from(["96000", "97000", "98000"]), st.just("97000"))
    )
    market = _market(str(draw(PRICES)), str(draw(PRICES)), reference=reference)
    buys = draw(
        st.lists(
            st.tuples(st.sampled_from([YES, NO]), PRICES.map(str), st.sampled_from(["5", "30"])),
            max_size=4,
        )
    )
    return market, _position(*buys)


@given(tick=ticks())
@settings(max_examples=150, deadline=None)
def test_the_priorities_decide_between_the_stages(
    tick: tuple[MarketSnapshot, PositionSnapshot],
) -> None:
    market, position = tick
    stages = evaluate.stages(market, position)
    signals = resolve(stages, market, evaluate.oracle_band)

    if stages.blocked is not None:  # priority 3 wins over everything
        assert signals == []
    elif stages.arbitrage:  # priority 0 goes alone, whatever the oracle says
        assert signals == stages.arbitrage
        assert {s.priority for s in signals} == {0}
    else:  # priority 2, through the oracle (priority 1) unless it is a hedge
        assert [s for s in signals if s.priority == 2 and s not in stages.adds] == stages.hedges
        assert len(signals) <= len(stages.hedges) + len(stages.adds)
        assert {s.priority for s in signals} <= {1, 2}
    assert _keys(evaluate(market, position)) == _keys(signals)


@given(tick=ticks())
@settings(max_examples=150, deadline=None)
def test_no_risk_adding_buy_of_the_side_the_oracle_says_is_losing(
    tick: tuple[MarketSnapshot, PositionSnapshot],
) -> None:
    market, position = tick
    reference = market.reference
    if reference is None or reference.strike == reference.price:
        return
    losing = NO if reference.price > reference.strike else YES  # type: ignore[operator]
    stages = evaluate.stages(market, position)
    signals = resolve(stages, market, evaluate.oracle_band)

    if not stages.arbitrage:
        assert not [s for s in signals if s.security_id == losing and s not in stages.hedges]
