"""The journal codec: every kind comes back equal, same id and clock, digit for digit."""

from __future__ import annotations

import concurrent.futures
import importlib
import inspect
import json
import pkgutil
import typing
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import messages
from messages import journal, market_commands
from messages.codec import KINDS, CodecError, decode, encode, kind_of
from messages.enums import OrderSide
from messages.fills import Fill
from messages.refs import Recipient
from tests.messages.examples import EXAMPLES, FILL, LEG_MEMENTO, POSITION_MEMENTO
from tests.stubs import collector, definition

D = Decimal


def _round_trip(message: object) -> Any:
    return decode(kind_of(message), encode(message))


def test_the_examples_cover_every_registered_kind() -> None:
    assert sorted(kind_of(example) for example in EXAMPLES) == sorted(KINDS)


def _does_not_travel(type_: object) -> bool:
    """An actor ref, a future, or a type open to anything (also inside a message held):
    nothing another process can read."""
    if inspect.isclass(type_) and attrs.has(type_):
        return any(_does_not_travel(f.type) for f in attrs.fields(attrs.resolve_types(type_)))
    if type_ is object or type_ is Recipient or isinstance(type_, TypeVar):
        return True
    if typing.get_origin(type_) is concurrent.futures.Future:
        return True
    return any(_does_not_travel(arg) for arg in typing.get_args(type_))


def test_every_class_left_out_of_the_registry_holds_a_field_that_does_not_travel() -> None:
    for module_info in pkgutil.iter_modules(messages.__path__):
        module = importlib.import_module(f"messages.{module_info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if attrs.has(cls) and cls.__module__ == module.__name__ and name not in KINDS:
                fields = attrs.fields(attrs.resolve_types(cls))
                assert any(_does_not_travel(field.type) for field in fields), name


@pytest.mark.parametrize("message", EXAMPLES, ids=kind_of)
def test_a_message_decodes_to_an_equal_one_with_the_same_id_and_ts_init(message: Any) -> None:
    decoded = _round_trip(message)

    assert type(decoded) is type(message)
    assert decoded == message
    # asdict covers the fields equality skips (ts_init), nested messages' included.
    assert attrs.asdict(decoded) == attrs.asdict(message)
    if hasattr(message, "id"):
        assert decoded.id == message.id
    if hasattr(message, "ts_init"):
        assert decoded.ts_init == message.ts_init


def test_a_fill_is_compact_json_with_every_field_and_decimals_as_strings() -> None:
    assert kind_of(FILL) == "Fill"
    assert encode(FILL) == (
        '{"fee":"0.01","fill_id":"F1","market_id":"m1","order_id":"O1","price":"0.40",'
        '"security_id":"m1-YES","side":"BUY","size":"10","ts_event":7,"ts_init":111}'
    )


@pytest.mark.parametrize("text", ["0.1", "0.10", "1E+2", "-0", "1.000000000000000000000000000001"])
def test_a_decimal_comes_back_digit_for_digit(text: str) -> None:
    leg = attrs.evolve(LEG_MEMENTO, quantity=D(text))

    decoded = _round_trip(leg).quantity

    assert type(decoded) is Decimal
    assert decoded.as_tuple() == D(text).as_tuple()
    assert str(decoded) == text


def _fill_payload(**changes: Any) -> str:
    fields = json.loads(encode(FILL))
    fields.update(changes)
    return json.dumps({name: value for name, value in fields.items() if value is not ...})


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        ("Filled", encode(FILL), "unknown message kind 'Filled'"),
        ("Fill", '{"fill_id": "F1",', r"Fill: not JSON"),
        ("Fill", "[]", r"expected an object, got a list @ Fill"),
        ("Fill", _fill_payload(price=0.4), r"expected a decimal string.*0\.4 @ Fill\.price"),
        ("Fill", _fill_payload(price="NaN"), r"not a decimal number: 'NaN' @ Fill\.price"),
        ("Fill", _fill_payload(size=...), r"required field\(s\) missing: size @ Fill"),
        ("Fill", _fill_payload(ts_init=...), r"required field\(s\) missing: ts_init @ Fill"),
        ("Fill", _fill_payload(size="-1"), r"size must be > 0, got -1"),
        ("Fill", _fill_payload(ts_event="7"), r"expected an integer.* @ Fill\.ts_event"),
        ("Fill", _fill_payload(side="HOLD"), r"expected one of 'BUY', 'SELL'.* @ Fill\.side"),
        ("Fill", _fill_payload(venue="x"), r"unexpected field\(s\) venue"),
        (
            "FillApplied",
            encode(journal.FillApplied(position_id="P1", fill=FILL)).replace('"10"', "10"),
            r"@ FillApplied\.fill\.size",
        ),
        (
            "PositionMemento",
            encode(POSITION_MEMENTO).replace('["O3","m1-YES","BUY"]', '["O3","m1-YES"]'),
            r"expected a list of 3 items.* @ PositionMemento\.pending\[1\]",
        ),
    ],
    ids=[
        "unknown kind",
        "bad JSON",
        "not an object",
        "float for a Decimal",
        "NaN for a Decimal",
        "missing field",
        "missing ts_init",
        "negative size",
        "string for an int",
        "unknown enum value",
        "unexpected field",
        "nested field",
        "short tuple",
    ],
)
def test_a_record_that_does_not_structure_is_a_codec_error_naming_kind_and_field(
    kind: str, payload: str, expected: str
) -> None:
    with pytest.raises(CodecError, match=expected):
        decode(kind, payload)


def test_a_record_written_before_a_field_was_added_reads_with_its_default() -> None:
    applied = journal.FillApplied(position_id="P1", fill=FILL, correlation_id="S1")
    fields = json.loads(encode(applied))
    del fields["correlation_id"]

    old = decode("FillApplied", json.dumps(fields))

    assert old == attrs.evolve(applied, correlation_id="")


def test_a_message_holding_an_actor_ref_cannot_be_encoded() -> None:
    position, _ = collector()
    supervisor, _ = collector()
    switch = market_commands.SwitchMarket(
        definition=definition("m1"),
        position=position,
        position_id="P1",
        account="paper",
        strategy="s",
        supervisor=supervisor,
    )

    with pytest.raises(TypeError, match="SwitchMarket"):
        encode(switch)
    with pytest.raises(TypeError, match="SwitchMarket"):
        kind_of(switch)


exact_decimals = st.decimals(allow_nan=False, allow_infinity=False, min_value=0)

any_fill = st.builds(
    Fill,
    fill_id=st.text(min_size=1, max_size=10),
    ts_init=st.integers(min_value=0, max_value=2**63),
    ts_event=st.integers(min_value=-(2**63), max_value=2**63),
    order_id=st.text(min_size=1, max_size=10),
    market_id=st.text(min_size=1, max_size=10),
    security_id=st.text(min_size=1, max_size=10),
    side=st.sampled_from(OrderSide),
    price=exact_decimals,
    size=exact_decimals.filter(lambda value: value > 0),
    fee=exact_decimals,
)
"""Any valid fill: texts of any characters, exact decimals of any digits."""


@settings(max_examples=100)
@given(fill=any_fill)
def test_any_fill_survives_a_round_trip_digit_for_digit(fill: Fill) -> None:
    decoded = _round_trip(fill)

    assert decoded == fill
    assert decoded.ts_init == fill.ts_init
    for name in ("price", "size", "fee"):
        assert getattr(decoded, name).as_tuple() == getattr(fill, name).as_tuple()
