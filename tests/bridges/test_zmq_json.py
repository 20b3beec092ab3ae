"""The edge's JSON is msgspec's, and a client sees what ``json`` gave it before: the same
documents read from a frame, the same errors, the same bytes written (issue 16, point 3)."""

from __future__ import annotations

import enum
import json
import math
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridges import zmq_protocol
from bridges.zmq_protocol import (
    CommandError,
    decode_json,
    encode_event,
    encode_json,
    encode_request,
    parse_request,
    plain,
    reply_ok,
)
from messages.enums import OrderSide
from supervisors.kernel.events import (
    ChildAbandoned,
    ChildStarted,
    ChildStopped,
    IntensityExceeded,
)
from tests.messages.examples import EXAMPLES
from tests.stubs import collector


def _refuse(_data: Any) -> Any:
    raise msgspec.DecodeError("msgspec is off: the json path reads it")


def _outcome(frame: bytes) -> tuple[Any, ...]:
    try:
        request = parse_request([frame])
    except CommandError as error:
        return ("refused", error.code, error.message, error.request_id)
    return ("read", request.id, request.cmd, _exactly(request.args))


def _exactly(value: Any) -> Any:
    """``value`` with every Decimal as its digits and exponent and every float as its repr,
    so that 1.0, Decimal("1.0") and Decimal("1.00") differ."""
    if isinstance(value, dict):
        return {key: _exactly(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_exactly(item) for item in value]
    if isinstance(value, Decimal | float):
        return (type(value).__name__, repr(value))
    return (type(value).__name__, value)


def _frame(args: str) -> bytes:
    return b'{"v":1,"id":"r1","cmd":"submit","args":{"price":' + args.encode() + b"}}"


@pytest.mark.parametrize(
    "literal", ["0.10", "1e18", "1E400", "-0.0", "0e0", "1.5e3", "2E-3", "0." + "3" * 60]
)
def test_a_number_with_a_fraction_or_exponent_is_the_decimal_of_its_exact_digits(
    literal: str,
) -> None:
    price = parse_request([_frame(literal)]).args["price"]

    assert type(price) is Decimal
    assert price.as_tuple() == Decimal(literal).as_tuple()


@pytest.mark.parametrize("literal", ["5", "-0", "9" * 30, "9" * 4300])
def test_an_integer_literal_is_an_int_of_any_size_json_can_read(literal: str) -> None:
    price = parse_request([_frame(literal)]).args["price"]

    assert type(price) is int
    assert price == int(literal)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_read_as_json_reads_them_for_bad_args_to_refuse(
    literal: str,
) -> None:
    price = parse_request([_frame(literal)]).args["price"]

    assert type(price) is float
    assert not math.isfinite(price)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"not json", "not JSON: Expecting value: line 1 column 1 (char 0)"),
        (_frame("9" * 4301), "not JSON: Exceeds the limit (4300 digits)"),
        (b'{"v":1,"id":"r1",}', "not JSON: Expecting property name enclosed in double quotes"),
        (b'{"v":1,"id":"r1"} x', "not JSON: Extra data: line 1 column 19 (char 18)"),
        (b'{"v":1,"id":"\\ud800","cmd":"ping"}', "not JSON text: a lone surrogate escape"),
        (b'{"v":1,"id":"\\udc00\\ud800","cmd":"ping"}', "not JSON text: a lone surrogate escape"),
    ],
    ids=["not json", "4301 digits", "trailing comma", "extra data", "lone high", "reversed pair"],
)
def test_a_frame_that_is_not_json_is_bad_json_with_the_message_json_gives(
    frame: bytes, message: str
) -> None:
    with pytest.raises(CommandError) as refused:
        parse_request([frame])

    assert refused.value.code == "bad_json"
    assert refused.value.message.startswith(message)


def test_of_duplicate_keys_the_last_one_wins() -> None:
    request = parse_request([b'{"v":1,"id":"a","id":"b","cmd":"x","args":{"n":1,"n":2}}'])

    assert (request.id, request.args) == ("b", {"n": 2})


_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False),
)
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | _NUMBERS | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


def _as_json_text(value: Any, ensure_ascii: bool) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, default=str)


@settings(max_examples=300)
@given(
    args=st.dictionaries(st.text(max_size=6), _JSON_VALUES, max_size=5),
    ensure_ascii=st.booleans(),
    noise=st.sampled_from(["", " ", "\n", "\t", ",", "}", "x", "\ufeff", "\x00"]),
    cut=st.integers(min_value=0, max_value=3),
)
def test_any_frame_is_read_or_refused_exactly_as_json_alone_reads_or_refuses_it(
    args: dict[str, Any], ensure_ascii: bool, noise: str, cut: int
) -> None:
    text = '{"v":1,"id":"r1","cmd":"submit","args":' + _as_json_text(args, ensure_ascii) + "}"
    for frame_text in (text, text + noise, noise + text, text[: len(text) - cut]):
        frame = frame_text.encode("utf-8", "surrogatepass")
        read = _outcome(frame)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(zmq_protocol, "_read_json", _refuse)
            assert read == _outcome(frame)


# Writing.


def _json_dumps(value: Any) -> bytes:
    """How the edge wrote JSON before msgspec."""

    def default(item: Any) -> Any:
        if isinstance(item, Decimal):
            return str(item)
        if getattr(item, "value", None) is not None:
            return item.value
        raise TypeError(type(item).__name__)

    return json.dumps(value, default=default, separators=(",", ":")).encode()


class _Plain(enum.Enum):
    A = "a"


_WRITTEN = st.recursive(
    st.none() | st.booleans() | _NUMBERS | st.text() | st.sampled_from([_Plain.A, OrderSide.SELL]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(result=_WRITTEN)
def test_a_reply_is_the_bytes_json_wrote(result: Any) -> None:
    assert reply_ok("r1", result) == _json_dumps({"v": 1, "id": "r1", "ok": True, "result": result})


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ({"reason": "é"}, b'{"reason":"\\u00e9"}'),
        ({"reason": "\x7f\x1f\u2028"}, b'{"reason":"\\u007f\\u001f\\u2028"}'),
        ({"period_s": 1e-05, "big": 1e16}, b'{"period_s":1e-05,"big":1e+16}'),
        ({"price": Decimal("1E+2"), "side": OrderSide.BUY}, b'{"price":"1E+2","side":"BUY"}'),
        ({"n": 2**70}, b'{"n":1180591620717411303424}'),
    ],
    ids=["non-ascii", "control and separator", "floats", "decimal and enum", "huge int"],
)
def test_what_msgspec_writes_otherwise_is_written_as_json_writes_it(
    value: Any, written: bytes
) -> None:
    assert encode_json(value) == written


def _event(payload: Any) -> bytes:
    return _json_dumps({"seq": 7, "kind": type(payload).__name__, "event": plain(payload)})


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda message: type(message).__name__)
def test_an_event_is_the_bytes_json_wrote_fields_in_their_order(message: Any) -> None:
    assert encode_event(7, message) == _event(message)


def test_events_with_floats_refs_or_text_json_escapes_are_the_bytes_json_wrote() -> None:
    ref, _ = collector()
    events = [
        ChildStopped(supervisor="markets", child_id="order:O1"),
        ChildStopped(supervisor="märkte\x7f", child_id="order:O1"),
        ChildAbandoned(supervisor="markets", child_id="order:O1", shutdown_s=1e-05),
        IntensityExceeded(supervisor="root", max_restarts=5, period_s=30.0),
        ChildStarted(supervisor="markets", child_id="order:O1", ref=ref),
    ]
    for event in events:
        assert encode_event(7, event) == _event(event)


def _old_request(request_id: str, cmd: str, args: dict[str, Any]) -> bytes:
    envelope = {"v": 1, "id": request_id, "cmd": cmd, "args": args}
    return json.dumps(envelope, default=str).encode()


@pytest.mark.parametrize(
    "args",
    [
        {"price": "0.10", "size": Decimal("5"), "priority": 3, "reason": None},
        {"reason": "é"},
        {"side": OrderSide.BUY},
        {"size": 0.5},
    ],
    ids=["plain", "non-ascii", "an enum", "a float"],
)
def test_the_client_sends_the_json_it_sent_before(args: dict[str, Any]) -> None:
    assert json.loads(encode_request("c-1", "submit", args)) == json.loads(
        _old_request("c-1", "submit", args)
    )


@pytest.mark.parametrize(
    "payload", [b'{"price":"0.45","n":0.10}', b'{"x":NaN}', b"[" + b"1," * 3 + b"9" * 4300 + b"]"]
)
def test_the_client_reads_what_json_read(payload: bytes) -> None:
    assert _exactly(decode_json(payload)) == _exactly(json.loads(payload, parse_float=Decimal))
