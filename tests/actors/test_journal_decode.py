"""The journal's trusted decoder gives exactly what the strict codec gives."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.journal_decode import decode_trusted
from messages.codec import CodecError, decode, encode, kind_of
from messages.fills import Fill
from messages.journal import FillApplied
from tests.messages.examples import CREATED, EXAMPLES, FILL, ORDER_MEMENTO
from tests.messages.test_codec import any_fill

pytestmark = pytest.mark.timeout(30)


def _same(decoded: Any, expected: Any) -> None:
    assert type(decoded) is type(expected)
    assert decoded == expected
    assert encode(decoded) == encode(expected)  # every field: id and ts_init too


@pytest.mark.parametrize("message", EXAMPLES, ids=kind_of)
def test_every_kind_decodes_to_what_the_strict_codec_gives(message: Any) -> None:
    payload = encode(message)

    _same(decode_trusted(kind_of(message), payload), decode(kind_of(message), payload))


def test_a_record_missing_a_field_added_later_takes_the_strict_path() -> None:
    fields = json.loads(encode(FillApplied(position_id="P1", fill=FILL, correlation_id="S1")))
    del fields["correlation_id"]

    old = decode_trusted("FillApplied", json.dumps(fields))

    assert isinstance(old, FillApplied)
    assert old.correlation_id == ""


def test_an_order_journaled_before_manual_orders_were_marked_reads_as_a_strategy_s() -> None:
    for kind, message in (("OrderCreated", CREATED), ("OrderMemento", ORDER_MEMENTO)):
        fields = json.loads(encode(message))
        assert fields.pop("manual") is True

        old = decode_trusted(kind, json.dumps(fields))

        assert old == attrs.evolve(message, manual=False)


@pytest.mark.parametrize(
    "payload",
    [
        '{"fill_id": "F1"}',
        encode(FILL).replace('"side":"BUY"', '"side":"HOLD"'),
        encode(FILL).replace('"fill_id":"F1"', '"fill_id":"F1","venue":"x"'),
        encode(FILL).replace('"price":"0.40"', '"price":"x"'),
    ],
    ids=["missing fields", "unknown enum value", "extra field", "not a decimal"],
)
def test_a_record_that_is_not_its_kind_is_still_a_codec_error(payload: str) -> None:
    with pytest.raises(CodecError):
        decode_trusted("Fill", payload)


@settings(max_examples=200)
@given(fill=any_fill, correlation_id=st.text(max_size=10))
def test_any_fill_applied_comes_back_digit_for_digit(fill: Fill, correlation_id: str) -> None:
    applied = FillApplied(position_id="P1", fill=fill, correlation_id=correlation_id)
    payload = encode(applied)

    decoded = decode_trusted("FillApplied", payload)

    _same(decoded, decode("FillApplied", payload))
    assert isinstance(decoded, FillApplied)
    for name in ("price", "size", "fee"):
        value = getattr(decoded.fill, name)
        assert type(value) is Decimal
        assert value.as_tuple() == getattr(fill, name).as_tuple()


def test_a_fill_applied_s_fill_is_not_validated_again() -> None:
    """The nested Fill gets a struct of its own: msgspec would run its validators (most of
    a FillApplied's decode), which a journaled record passed when it was built."""
    fields = json.loads(encode(FillApplied(position_id="P1", fill=FILL, correlation_id="S1")))
    fields["fill"]["size"] = "-1"  # a value the constructor refuses
    payload = json.dumps(fields)
    with pytest.raises(CodecError):
        decode("FillApplied", payload)

    decoded = decode_trusted("FillApplied", payload)

    assert isinstance(decoded, FillApplied)
    assert type(decoded.fill) is Fill
    assert decoded.fill.size == Decimal(-1)
