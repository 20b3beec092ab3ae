"""What the journal's dedup compares: a redelivery digests the same, a conflict does not."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.event_content import content_digest, differences
from messages.broker_events import DealBooked
from messages.enums import OrderSide
from messages.fills import Fill
from messages.journal import FillApplied
from tests.messages.test_codec import any_fill

D = Decimal

DEAL = DealBooked(
    ts_init=1,
    fill_id="SIM-1:2:7",
    order_no="SIM-1",
    order_id="O1",
    account="paper",
    strategy="arb",
    security_id="m1-YES",
    side=OrderSide.BUY,
    price=D("0.45"),
    size=D(30),
    fee=D("0.0135"),
    match_ts=7,
    recv_ns=8,
)


@given(fill=any_fill, other=any_fill)
def test_two_fills_digest_the_same_exactly_when_they_are_equal(fill: Fill, other: Fill) -> None:
    other = attrs.evolve(other, fill_id=fill.fill_id)
    assert (content_digest(fill) == content_digest(other)) == (fill == other)


FILL = Fill(
    fill_id="O1-1",
    ts_init=1,
    ts_event=5,
    order_id="O1",
    market_id="m1",
    security_id="m1-YES",
    side=OrderSide.BUY,
    price=D("0.45"),
    size=D(30),
)


def test_a_fill_redelivered_with_a_new_ts_init_digests_the_same() -> None:
    fill = FILL
    assert content_digest(attrs.evolve(fill, ts_init=2)) == content_digest(fill)
    assert content_digest(attrs.evolve(fill, size=D("30.0"))) == content_digest(fill)
    assert content_digest(attrs.evolve(fill, size=D(29))) != content_digest(fill)


@pytest.mark.parametrize(
    "delivery",
    [
        {"ts_init": 99},
        {"recv_ns": 99},
        {"inferred": True},
        {"order_id": None, "strategy": "external"},
    ],
    ids=["ts_init", "recv_ns", "inferred", "attribution"],
)
def test_a_deal_digests_the_same_however_and_whenever_it_reached_us(
    delivery: dict[str, object],
) -> None:
    assert content_digest(attrs.evolve(DEAL, **delivery)) == content_digest(DEAL)


@pytest.mark.parametrize(
    "change",
    [
        {"size": D(20)},
        {"price": D("0.44")},
        {"side": OrderSide.SELL},
        {"security_id": "m1-NO"},
        {"fee": D("0.01")},
        {"account": "other"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_deal_with_other_economic_data_digests_differently(change: dict[str, object]) -> None:
    assert content_digest(attrs.evolve(DEAL, **change)) != content_digest(DEAL)


def test_kinds_deduplicated_on_their_key_alone_have_no_digest() -> None:
    assert content_digest(FillApplied(position_id="p", fill=FILL)) is None


def test_the_differences_name_each_changed_field_with_the_journaled_value() -> None:
    refused = attrs.evolve(DEAL, size=D(20), price=D("0.44"), recv_ns=99)
    assert differences(DEAL, refused) == "price 0.44 (journaled 0.45), size 20 (journaled 30)"


@given(size=st.decimals(min_value=1, max_value=100, places=2))
def test_a_deal_digest_does_not_depend_on_how_a_decimal_is_written(size: Decimal) -> None:
    assert content_digest(attrs.evolve(DEAL, size=size)) == content_digest(
        attrs.evolve(DEAL, size=size.normalize())
    )


def test_decimals_are_compared_to_their_last_digit_however_long() -> None:
    long = D("0.1234567890123456789012345678901234567891")
    assert content_digest(attrs.evolve(FILL, price=long)) != content_digest(
        attrs.evolve(FILL, price=long + D("1E-40"))
    )
    assert content_digest(attrs.evolve(FILL, fee=D("0.000"))) == content_digest(
        attrs.evolve(FILL, fee=D(0))
    )
