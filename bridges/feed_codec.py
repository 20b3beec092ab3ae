"""The wire codec for market-data feed files: one JSON record a line, optionally gzipped.

A line is ``{"type": "<tag>", ...fields}``. Decimals travel as JSON strings (``"0.47"``) so
no float ever touches a price or a size, enums by value, and the per-process fields ``id``
and ``ts_init`` are left off: they are generated again when a record is decoded.

The core is :func:`encode_record` / :func:`decode_record` (no I/O, built on one strict
``cattrs`` converter); :func:`read_feed` and :func:`write_feed` are the thin file adapters.
A replay decodes every line, so a line is first read by msgspec, as strictly, into a
struct tagged by its ``type`` and built through the record's constructor
(``messages.strict_reader``); a line it refuses goes to cattrs, which says what is wrong.
"""

from __future__ import annotations

import contextlib
import enum
import gzip
import io
import json
import os
import typing
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import IO, Any, TypeAlias

import attrs
import cattrs
import msgspec
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.errors import ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from messages.market_data import BookSnapshot, PriceChange, ReferencePrice
from messages.markets import MarketClosed, MarketOpened, MarketResolved
from messages.strict_reader import shape_of
from messages.wire import describe_value, strict, structure_decimal, structure_enum

FeedRecord: TypeAlias = (
    MarketOpened | BookSnapshot | PriceChange | ReferencePrice | MarketClosed | MarketResolved
)

TAG_FIELD = "type"
"""The key holding a record's type tag on the wire."""

RECORD_TAGS: Mapping[type[FeedRecord], str] = {
    MarketOpened: "market_opened",
    BookSnapshot: "book_snapshot",
    PriceChange: "price_change",
    ReferencePrice: "reference_price",
    MarketClosed: "market_closed",
    MarketResolved: "market_resolved",
}
"""Every record class and the tag that names it on the wire."""

_TAG_TO_CLASS: Mapping[str, type[FeedRecord]] = {tag: cls for cls, tag in RECORD_TAGS.items()}


_OMIT = override(omit=True)
"""For ``id`` and ``ts_init``: a process generates them on construction; never on the wire."""


class FeedError(Exception):
    """Raised by :func:`decode_record` and :func:`read_feed` when a feed line is not a record.

    ``reason`` says what is wrong; ``path`` and ``line`` say where, when the line came from a
    file (``read_feed`` fills them in), and the message reads ``path:line: reason``.
    """

    def __init__(self, reason: str, *, path: str | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if path is not None else ""
        super().__init__(f"{where}{reason}")


def encode_record(record: FeedRecord) -> str:
    """One feed line (no newline) for ``record``, so feeds can be written and diffed as text."""
    tag = RECORD_TAGS.get(type(record))
    if tag is None:
        raise TypeError(f"not a feed record: {type(record).__name__}")
    payload = {TAG_FIELD: tag, **_converter.unstructure(record)}
    return json.dumps(payload, separators=(",", ":"))


def decode_record(line: str) -> FeedRecord:
    """The record on one feed line; anything malformed raises FeedError saying what is wrong."""
    try:
        return _read_fast(line)
    except Exception:  # the cattrs path says what is wrong, or reads it
        return _decode_strictly(line)


def _decode_strictly(line: str) -> FeedRecord:
    try:
        payload = json.loads(line)
    except json.JSONDecodeError as exc:
        raise FeedError(f"not JSON: {exc}") from None
    if type(payload) is not dict:
        raise FeedError(f"expected a JSON object, got {describe_value(payload)}")
    fields = dict(payload)
    tag = fields.pop(TAG_FIELD, None)
    if tag is None:
        raise FeedError(f'missing record type (the "{TAG_FIELD}" field)')
    cls = _TAG_TO_CLASS.get(tag) if type(tag) is str else None
    if cls is None:
        raise FeedError(f"unknown record type {tag!r}, expected one of {', '.join(_TAG_TO_CLASS)}")
    try:
        return _converter.structure(fields, cls)
    except (cattrs.BaseValidationError, KeyError, TypeError, ValueError) as exc:
        errors = cattrs.transform_error(exc, path=tag, format_exception=_format_exception)
        raise FeedError("; ".join(errors)) from exc


def read_feed(path: str | os.PathLike[str]) -> Iterator[FeedRecord]:
    """Stream the records of a feed file (gzip if it ends in ``.gz``), one line at a time.

    Blank lines are skipped. A bad line stops the stream with a FeedError reading
    ``path:line: reason``, so a replay never silently runs on half a feed.
    """
    name = os.fspath(path)
    line_number = 0
    with _open_text(name, "r") as stream:
        try:
            for line_number, line in enumerate(stream, start=1):
                if line.strip():
                    yield _decode_at(line, name, line_number)
        except (EOFError, gzip.BadGzipFile, zlib.error, UnicodeDecodeError) as exc:
            raise FeedError(f"unreadable: {exc}", path=name, line=line_number + 1) from exc


def write_feed(records: Iterable[FeedRecord], path: str | os.PathLike[str]) -> int:
    """Write ``records`` one a line (gzip if ``path`` ends in ``.gz``); returns how many.

    The gzip header carries no name and no timestamp, so the same records always give the
    same bytes and a regenerated bundled feed does not show up as a change.
    """
    count = 0
    with _open_text(os.fspath(path), "w") as stream:
        for record in records:
            stream.write(encode_record(record) + "\n")
            count += 1
    return count


@contextlib.contextmanager
def open_feed_writer(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """A stream to write a feed a line at a time as records arrive (a recording); gzip if
    ``path`` ends in ``.gz``. A gzip file is complete once the stream is closed."""
    with _open_text(os.fspath(path), "w") as stream:
        yield stream


def _decode_at(line: str, path: str, line_number: int) -> FeedRecord:
    try:
        return decode_record(line)
    except FeedError as exc:
        raise FeedError(exc.reason, path=path, line=line_number) from exc


@contextlib.contextmanager
def _open_text(path: str, mode: str) -> Iterator[IO[str]]:
    with open(path, mode + "b") as raw:
        binary = (
            gzip.GzipFile(filename="", mode=mode + "b", fileobj=raw, mtime=0)
            if path.endswith(".gz")
            else raw
        )
        with io.TextIOWrapper(binary, encoding="utf-8", newline="\n") as text:
            yield text


# The converter: strict hooks, so the wire never coerces ("3" is not an int, 0.47 not a price).


def _is_homogeneous_tuple(type_: Any) -> bool:
    args = typing.get_args(type_)
    return typing.get_origin(type_) is tuple and len(args) == 2 and args[1] is Ellipsis


def _make_tuple_hook(
    tuple_type: Any, converter: cattrs.Converter
) -> Callable[[Any, Any], tuple[Any, ...]]:
    structure_members = homogenous_tuple_structure_factory(tuple_type, converter)

    def structure(value: Any, _type: Any) -> tuple[Any, ...]:
        if type(value) is not list:
            raise TypeError(f"expected a list, got {describe_value(value)}")
        return structure_members(value, tuple_type)

    return structure


def _make_structure_hook(cls: type, converter: cattrs.Converter) -> Callable[[Any, type], Any]:
    structure_fields: Callable[[Mapping[str, Any], Any], Any] = make_dict_structure_fn(
        cls, converter, id=_OMIT, ts_init=_OMIT
    )

    def structure(value: Any, _type: type) -> Any:
        if type(value) is not dict:
            raise TypeError(f"expected an object, got {describe_value(value)}")
        return structure_fields(value, cls)

    return structure


def _make_unstructure_hook(
    cls: type, converter: cattrs.Converter
) -> Callable[[Any], dict[str, Any]]:
    return make_dict_unstructure_fn(cls, converter, id=_OMIT, ts_init=_OMIT)


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    converter.register_structure_hook(Decimal, structure_decimal)
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(int, strict(int, "an integer"))
    converter.register_structure_hook(str, strict(str, "a string"))
    converter.register_structure_hook(enum.Enum, structure_enum)
    converter.register_unstructure_hook(enum.Enum, lambda member: member.value)
    converter.register_structure_hook_factory(_is_homogeneous_tuple, _make_tuple_hook)
    converter.register_structure_hook_factory(attrs.has, _make_structure_hook)
    converter.register_unstructure_hook_factory(attrs.has, _make_unstructure_hook)
    return converter


_converter = _make_converter()


def _make_fast_reader() -> Callable[[str], FeedRecord]:
    shapes = {
        shape: build
        for cls, tag in RECORD_TAGS.items()
        for shape, build in [shape_of(cls, omit=("id", "ts_init"), tag_field=TAG_FIELD, tag=tag)]
    }
    decode = msgspec.json.Decoder(type=typing.Union[tuple(shapes)]).decode  # noqa: UP007

    def read(line: str) -> FeedRecord:
        struct = decode(line)
        record: FeedRecord = shapes[type(struct)](struct)
        return record

    return read


_read_fast = _make_fast_reader()


def _format_exception(exc: BaseException, _type: type | None) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, ForbiddenExtraKeysError):
        return f"unexpected field(s) {', '.join(sorted(exc.extra_fields))}"
    return str(exc)
