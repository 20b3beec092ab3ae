"""The feed codec: records survive the wire exactly, and a bad line says what and where."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridges.feed_codec import (
    FeedError,
    FeedRecord,
    decode_record,
    encode_record,
    read_feed,
    write_feed,
)
from messages.enums import BookSide, Outcome
from messages.market_data import BookLevel, BookSnapshot, PriceChange
from messages.markets import (
    Instrument,
    MarketClosed,
    MarketDefinition,
    MarketOpened,
    MarketResolved,
)

D = Decimal

OPENED = MarketOpened(
    ts_event=1_000,
    definition=MarketDefinition(
        market_id="btc-up-0001",
        instruments=(
            Instrument(security_id="btc-up-0001-YES", outcome=Outcome.YES),
            Instrument(security_id="btc-up-0001-NO", outcome=Outcome.NO),
        ),
        payout=D("1"),
    ),
)
SNAPSHOT = BookSnapshot(
    ts_event=1_001,
    market_id="btc-up-0001",
    security_id="btc-up-0001-YES",
    sequence=0,
    bids=(BookLevel(price=D("0.47"), size=D("120")), BookLevel(price=D("0.46"), size=D("35"))),
    asks=(BookLevel(price=D("0.49"), size=D("80")),),
)
CHANGE = PriceChange(
    ts_event=1_002,
    market_id="btc-up-0001",
    security_id="btc-up-0001-YES",
    sequence=1,
    side=BookSide.ASK,
    price=D("0.49"),
    size=D("0"),
)
CLOSED = MarketClosed(ts_event=1_003, market_id="btc-up-0001")
RESOLVED = MarketResolved(
    ts_event=1_004, market_id="btc-up-0001", winning_security_id="btc-up-0001-NO"
)
RECORDS: list[FeedRecord] = [OPENED, SNAPSHOT, CHANGE, CLOSED, RESOLVED]


def assert_same_record(decoded: FeedRecord, original: FeedRecord) -> None:
    """The id is per process (a decoded record gets a fresh one); all else crosses the wire."""
    assert attrs.evolve(decoded, id=original.id) == original


def payload(record: FeedRecord, **changes: Any) -> dict[str, Any]:
    return {**json.loads(encode_record(record)), **changes}


def line(fields: dict[str, Any]) -> str:
    return json.dumps(fields)


def without(fields: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if name != key}


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: type(record).__name__)
def test_every_record_type_survives_a_round_trip(record: FeedRecord) -> None:
    assert_same_record(decode_record(encode_record(record)), record)


def test_a_line_is_one_json_object_tagged_by_type_without_id_or_ts_init() -> None:
    encoded = encode_record(CHANGE)

    assert "\n" not in encoded
    assert json.loads(encoded) == {
        "type": "price_change",
        "ts_event": 1_002,
        "market_id": "btc-up-0001",
        "security_id": "btc-up-0001-YES",
        "sequence": 1,
        "side": "ASK",
        "price": "0.49",
        "size": "0",
    }


def test_a_decoded_record_gets_a_fresh_id_of_its_own() -> None:
    decoded = decode_record(encode_record(CHANGE))

    assert decoded.id != CHANGE.id
    assert decode_record(encode_record(CHANGE)).id != decoded.id


def test_decimals_travel_as_strings_and_stay_exact() -> None:
    record = attrs.evolve(CHANGE, price=D("0.1"), size=D("12.50"))

    encoded = encode_record(record)
    decoded = decode_record(encoded)

    assert '"price":"0.1"' in encoded
    assert '"size":"12.50"' in encoded
    assert isinstance(decoded, PriceChange)
    assert decoded.price == D("0.1")
    assert str(decoded.price) == "0.1"
    assert str(decoded.size) == "12.50"
    assert decoded.price != D(0.1)


def test_enums_travel_by_value() -> None:
    fields = json.loads(encode_record(OPENED))

    assert [item["outcome"] for item in fields["definition"]["instruments"]] == ["YES", "NO"]


def test_encoding_something_that_is_not_a_feed_record_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="BookLevel"):
        encode_record(BookLevel(price=D("0.5"), size=D(1)))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["feed.jsonl", "feed.jsonl.gz"])
def test_a_written_feed_reads_back_record_for_record(tmp_path: Path, name: str) -> None:
    path = tmp_path / name

    count = write_feed(RECORDS, path)
    decoded = list(read_feed(path))

    assert count == len(RECORDS)
    assert len(decoded) == len(RECORDS)
    for got, original in zip(decoded, RECORDS, strict=True):
        assert_same_record(got, original)


def test_a_gz_path_is_gzipped_and_a_plain_path_is_one_line_a_record(tmp_path: Path) -> None:
    write_feed(RECORDS, tmp_path / "feed.jsonl.gz")
    write_feed(RECORDS, tmp_path / "feed.jsonl")

    unzipped = gzip.decompress((tmp_path / "feed.jsonl.gz").read_bytes()).decode()
    plain = (tmp_path / "feed.jsonl").read_text()
    assert unzipped == plain
    assert plain.splitlines() == [encode_record(record) for record in RECORDS]


def test_the_same_records_give_byte_identical_gzip_files(tmp_path: Path) -> None:
    write_feed(RECORDS, tmp_path / "a.jsonl.gz")
    write_feed(RECORDS, tmp_path / "b.jsonl.gz")

    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()


def test_blank_lines_in_a_feed_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text(f"\n{encode_record(CLOSED)}\n   \n{encode_record(RESOLVED)}\n")

    assert [type(record) for record in read_feed(path)] == [MarketClosed, MarketResolved]


MALFORMED = [
    ("not json", "{nope", "not JSON"),
    ("a list", "[1, 2]", "expected a JSON object, got a list"),
    ("a bare string", '"price_change"', "expected a JSON object"),
    ("no type", line(without(payload(CLOSED), "type")), 'missing record type (the "type"'),
    ("unknown type", line(payload(CLOSED, type="trade")), "unknown record type 'trade'"),
    ("type not a string", line(payload(CLOSED, type=3)), "unknown record type 3"),
    (
        "missing field",
        line(without(payload(CHANGE), "sequence")),
        "required field missing @ price_change.sequence",
    ),
    (
        "float price",
        line(payload(CHANGE, price=0.47)),
        'expected a decimal string like "0.47", got the number 0.47 @ price_change.price',
    ),
    ("integer size", line(payload(CHANGE, size=10)), "got the number 10 @ price_change.size"),
    ("not a decimal", line(payload(CHANGE, price="0,47")), "not a decimal number: '0,47'"),
    ("nan price", line(payload(CHANGE, price="NaN")), "not a decimal number: 'NaN'"),
    ("negative size", line(payload(CHANGE, size="-5")), "size must be >= 0, got -5"),
    (
        "wrong enum value",
        line(payload(CHANGE, side="BUY")),
        "expected one of 'BID', 'ASK', got 'BUY' @ price_change.side",
    ),
    (
        "string sequence",
        line(payload(CHANGE, sequence="1")),
        "expected an integer, got '1' @ price_change.sequence",
    ),
    (
        "float timestamp",
        line(payload(CHANGE, ts_event=1.5)),
        "expected an integer, got the number 1.5 @ price_change.ts_event",
    ),
    ("empty market id", line(payload(CLOSED, market_id="")), "'market_id' must be >= 1"),
    ("unknown field", line(payload(CLOSED, colour="red")), "unexpected field(s) colour"),
    ("id on the wire", line(payload(CLOSED, id="abc")), "unexpected field(s) id"),
    (
        "level with zero size",
        line(payload(SNAPSHOT, bids=[{"price": "0.47", "size": "0"}])),
        "size must be > 0, got 0 @ book_snapshot.bids[0]",
    ),
    (
        "level without price",
        line(payload(SNAPSHOT, asks=[{"size": "3"}])),
        "required field missing @ book_snapshot.asks[0].price",
    ),
    (
        "level not an object",
        line(payload(SNAPSHOT, asks=["0.49"])),
        "expected an object, got '0.49' @ book_snapshot.asks[0]",
    ),
    (
        "levels not a list",
        line(payload(SNAPSHOT, bids="none")),
        "expected a list, got 'none' @ book_snapshot.bids",
    ),
    (
        "bad nested outcome",
        line(
            payload(
                OPENED,
                definition={
                    "market_id": "m",
                    "instruments": [{"security_id": "m-YES", "outcome": "MAYBE"}],
                    "payout": "1",
                },
            )
        ),
        "got 'MAYBE' @ market_opened.definition.instruments[0].outcome",
    ),
]


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [(bad_line, reason) for _, bad_line, reason in MALFORMED],
    ids=[name for name, _, _ in MALFORMED],
)
def test_a_malformed_line_is_a_feed_error_saying_what_is_wrong(bad_line: str, reason: str) -> None:
    with pytest.raises(FeedError) as caught:
        decode_record(bad_line)

    assert reason in str(caught.value)
    assert caught.value.reason == str(caught.value)


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [(bad_line, reason) for _, bad_line, reason in MALFORMED],
    ids=[name for name, _, _ in MALFORMED],
)
def test_a_malformed_line_in_a_file_names_the_file_and_the_line(
    tmp_path: Path, bad_line: str, reason: str
) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text(f"{encode_record(OPENED)}\n{encode_record(SNAPSHOT)}\n{bad_line}\n")

    with pytest.raises(FeedError) as caught:
        list(read_feed(path))

    assert str(caught.value).startswith(f"{path}:3: ")
    assert reason in str(caught.value)
    assert (caught.value.path, caught.value.line) == (str(path), 3)


def test_records_before_a_bad_line_are_streamed_before_the_error(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text(f"{encode_record(OPENED)}\n{encode_record(CLOSED)}\n[]\n")
    records = read_feed(path)

    assert isinstance(next(records), MarketOpened)
    assert isinstance(next(records), MarketClosed)
    with pytest.raises(FeedError, match=r":3: expected a JSON object"):
        next(records)


def test_a_truncated_gzip_feed_is_a_feed_error(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl.gz"
    write_feed(RECORDS, path)
    path.write_bytes(path.read_bytes()[:-12])

    with pytest.raises(FeedError, match=r"feed\.jsonl\.gz:\d+: unreadable"):
        list(read_feed(path))


def test_a_line_that_is_not_utf8_is_a_feed_error(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(encode_record(CLOSED).encode() + b"\n\xff\xfe\n")

    with pytest.raises(FeedError, match=r"feed\.jsonl:\d+: unreadable"):
        list(read_feed(path))


exact_decimals = st.decimals(
    min_value=Decimal(0), max_value=Decimal(10**9), allow_nan=False, allow_infinity=False
)
positive_decimals = exact_decimals.filter(lambda value: value > 0)
ids = st.text(min_size=1, max_size=20)
levels = st.lists(st.builds(BookLevel, price=exact_decimals, size=positive_decimals), max_size=6)


@settings(max_examples=60)
@given(
    record=st.builds(
        BookSnapshot,
        ts_event=st.integers(min_value=0, max_value=2**63),
        market_id=ids,
        security_id=ids,
        sequence=st.integers(min_value=0),
        bids=levels.map(tuple),
        asks=levels.map(tuple),
    )
)
def test_any_book_snapshot_survives_a_round_trip_digit_for_digit(record: BookSnapshot) -> None:
    decoded = decode_record(encode_record(record))

    assert_same_record(decoded, record)
    assert isinstance(decoded, BookSnapshot)
    assert [str(level.price) for level in decoded.bids] == [str(lv.price) for lv in record.bids]


@settings(max_examples=100)
@given(
    record=st.builds(
        PriceChange,
        ts_event=st.integers(min_value=0, max_value=2**63),
        market_id=ids,
        security_id=ids,
        sequence=st.integers(min_value=0),
        side=st.sampled_from(BookSide),
        price=exact_decimals,
        size=exact_decimals,
    )
)
def test_any_price_change_survives_a_round_trip_digit_for_digit(record: PriceChange) -> None:
    decoded = decode_record(encode_record(record))

    assert_same_record(decoded, record)
    assert isinstance(decoded, PriceChange)
    assert (str(decoded.price), str(decoded.size)) == (str(record.price), str(record.size))
