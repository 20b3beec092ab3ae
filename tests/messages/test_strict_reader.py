"""The strict decoders read untrusted records with msgspec, and what they accept, refuse and
say is what cattrs alone accepted, refused and said (issue 16, point 3)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridges import feed_codec
from bridges.feed_codec import FeedError, decode_record, encode_record
from messages import codec
from messages.codec import CodecError, decode, encode, kind_of
from messages.journal import FillApplied
from tests.messages.examples import EXAMPLES, FILL
from tests.stubs import arbitrage_feed


def _exactly(value: Any, *, fresh: frozenset[str] = frozenset()) -> Any:
    """``value`` with Decimals as their digits and exponent (so 1.0 and 1.00 differ) and the
    fields in ``fresh`` (made anew on every read) left out."""
    if isinstance(value, dict):
        return {k: _exactly(v, fresh=fresh) for k, v in value.items() if k not in fresh}
    if isinstance(value, list | tuple):
        return [_exactly(item, fresh=fresh) for item in value]
    if isinstance(value, Decimal):
        return ("Decimal", value.as_tuple())
    return (type(value).__name__, value)


def _journal_outcome(kind: str, payload: str) -> tuple[Any, ...]:
    try:
        message = decode(kind, payload)
    except CodecError as error:
        return ("refused", str(error))
    return ("read", type(message).__name__, _exactly(attrs.asdict(message)))


def _cattrs_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec, "_READERS", {})


def _fill_payload(**changes: Any) -> str:
    fields = json.loads(encode(FILL))
    fields.update(changes)
    return json.dumps({name: value for name, value in fields.items() if value is not ...})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"price": 0.4}, r'expected a decimal string like "0.47", got the number 0.4 @ Fill.price'),
        ({"price": 1}, r"got the number 1 @ Fill\.price"),
        ({"price": "NaN"}, r"not a decimal number: 'NaN' @ Fill\.price"),
        ({"price": "Infinity"}, r"not a decimal number: 'Infinity'"),
        ({"price": " 5"}, r"not a decimal number: ' 5'"),
        ({"price": "+5"}, r"not a decimal number: '\+5'"),
        ({"price": ".5"}, r"not a decimal number: '\.5'"),
        ({"price": "1_000"}, r"not a decimal number: '1_000'"),
        ({"price": "1\n"}, r"not a decimal number: '1\\n'"),
        ({"price": "\u0661"}, r"not a decimal number"),
        ({"ts_event": True}, r"expected an integer, got a boolean @ Fill\.ts_event"),
        ({"ts_event": 7.0}, r"expected an integer, got the number 7\.0 @ Fill\.ts_event"),
        ({"side": "buy"}, r"expected one of 'BUY', 'SELL', got 'buy' @ Fill\.side"),
        ({"venue": "x"}, r"unexpected field\(s\) venue"),
        ({"fee": ...}, r"required field\(s\) missing: fee"),
        ({"size": "0"}, r"size must be > 0"),
    ],
    ids=lambda value: repr(value)[:30],
)
def test_a_fill_the_strict_path_refuses_is_refused_with_the_cattrs_message(
    changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(CodecError, match=expected):
        decode("Fill", _fill_payload(**changes))


@pytest.mark.parametrize("text", ["1e5", "1E+5", "-0", "0.10", "1." + "0" * 40])
def test_a_decimal_string_in_the_wire_syntax_is_read_digit_for_digit(text: str) -> None:
    fee = decode("Fill", _fill_payload(fee=text)).fee  # type: ignore[attr-defined]

    assert fee.as_tuple() == Decimal(text).as_tuple()


def test_an_integer_of_any_size_json_reads_is_read() -> None:
    huge = int("9" * 4300)

    assert decode("Fill", _fill_payload(ts_event=huge)).ts_event == huge  # type: ignore[attr-defined]


def test_of_duplicate_keys_the_last_one_wins() -> None:
    payload = encode(FILL).replace('"fee":"0.01"', '"fee":"0.5","fee":"0.01"')

    assert decode("Fill", payload) == FILL


def test_a_record_without_a_field_added_later_is_read_with_its_default() -> None:
    applied = FillApplied(position_id="P1", fill=FILL, correlation_id="S1")
    fields = json.loads(encode(applied))
    del fields["correlation_id"]

    assert decode("FillApplied", json.dumps(fields)) == attrs.evolve(applied, correlation_id="")


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**300), max_value=10**300),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["0", "-1", "1e5", "0.47", "NaN", " 1", "1_0", "+1", ".5", "BUY", "YES"]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _mutations() -> st.SearchStrategy[tuple[str, Any]]:
    return st.tuples(st.sampled_from(["set", "drop", "add", "repeat"]), _VALUES)


def _mutated(fields: dict[str, Any], mutation: tuple[str, Any], pick: int) -> str:
    action, value = mutation
    names = sorted(fields)
    if not names:
        return json.dumps({"extra": value})
    name = names[pick % len(names)]
    if action == "set":
        return json.dumps({**fields, name: value})
    if action == "drop":
        return json.dumps({k: v for k, v in fields.items() if k != name})
    if action == "add":
        return json.dumps({**fields, f"{name}_x": value})
    text = json.dumps(fields)
    return "{" + json.dumps(name) + ":" + json.dumps(value) + "," + text[1:]


@settings(max_examples=400)
@given(
    message=st.sampled_from(EXAMPLES),
    mutation=_mutations(),
    pick=st.integers(min_value=0, max_value=50),
    nested=st.booleans(),
)
def test_any_journal_record_is_read_or_refused_exactly_as_cattrs_alone_does(
    message: Any, mutation: tuple[str, Any], pick: int, nested: bool
) -> None:
    kind = kind_of(message)
    fields = json.loads(encode(message))
    inner = [name for name, value in sorted(fields.items()) if isinstance(value, dict)]
    if nested and inner:
        name = inner[pick % len(inner)]
        payload = json.dumps({**fields, name: json.loads(_mutated(fields[name], mutation, pick))})
    else:
        payload = _mutated(fields, mutation, pick)
    read = _journal_outcome(kind, payload)
    with pytest.MonkeyPatch.context() as patch:
        _cattrs_alone(patch)
        assert read == _journal_outcome(kind, payload)


# The feed.

FEED_LINES = [encode_record(record) for record in arbitrage_feed()]


def _feed_outcome(line: str) -> tuple[Any, ...]:
    try:
        record = decode_record(line)
    except FeedError as error:
        return ("refused", str(error))
    fresh = frozenset({"id", "ts_init"})
    return ("read", type(record).__name__, _exactly(attrs.asdict(record), fresh=fresh))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            FEED_LINES[1].replace('"0.40"', "0.40"),
            "expected a decimal string",
        ),
        (FEED_LINES[1].replace('"sequence":0', '"sequence":false'), "expected an integer"),
        (FEED_LINES[1][:-1] + ',"id":"x"}', "unexpected field(s) id"),
        (FEED_LINES[1].replace('"type":"book_snapshot"', '"type":"book"'), "unknown record type"),
        (
            FEED_LINES[1].replace('{"type":"book_snapshot",', '{"type":"price_change","type":'),
            None,
        ),
    ],
    ids=["number price", "bool sequence", "id on the wire", "unknown type", "two types"],
)
def test_a_feed_line_is_read_or_refused_as_cattrs_alone_does(line: str, expected: str) -> None:
    read = _feed_outcome(line)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(feed_codec, "_read_fast", feed_codec._decode_strictly)
        assert read == _feed_outcome(line)
    if expected is not None:
        assert read[0] == "refused"
        assert expected in read[1]


@settings(max_examples=300)
@given(
    line=st.sampled_from(FEED_LINES),
    mutation=_mutations(),
    pick=st.integers(min_value=0, max_value=50),
)
def test_any_feed_line_is_read_or_refused_exactly_as_cattrs_alone_does(
    line: str, mutation: tuple[str, Any], pick: int
) -> None:
    mutated = _mutated(json.loads(line), mutation, pick)
    read = _feed_outcome(mutated)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(feed_codec, "_read_fast", feed_codec._decode_strictly)
        assert read == _feed_outcome(mutated)
