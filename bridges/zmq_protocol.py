"""The ZeroMQ command protocol: envelopes in, envelopes out, a stable code for every error.

Request::

    {"v": 1, "id": "<client id>", "cmd": "<name>", "args": {...}}

Reply::

    {"v": 1, "id": "<same>", "ok": true, "result": {...}}
    {"v": 1, "id": "<same>", "ok": false, "error": {"code": "<stable_code>", "message": "..."}}

Everything here is pure (bytes in, bytes or an error out), so every malformed frame can be
thrown at it in a property test. docs/PROTOCOL.md is the reference.

msgspec reads and writes the JSON (in C, several times faster than ``json``), but the bytes
and the errors are ``json``'s, which the protocol was written against: a frame msgspec
refuses is parsed again by ``json``, whose message the client gets (or which accepts it:
``NaN``, an integer of 4300 digits); a document msgspec would write differently from
``json.dumps`` (non-ASCII text, which ``json`` escapes; a float, whose exponent it writes
in another form; anything but plain JSON data) is written by ``json``.
"""

from __future__ import annotations

import enum
import inspect
import json
import operator
import re
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import msgspec
import pykka

from messages.codec import is_plain_data

VERSION = 1
DEFAULT_MAX_FRAME = 64 * 1024
MAX_DEPTH = 32
"""Deepest nesting of arrays and objects a request may have (a request needs 3)."""
MAX_CONTAINERS = 1024
"""Most arrays and objects one request may hold."""

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(r"[\[\]{}]")


class ErrorCode:
    """The stable error codes (docs/PROTOCOL.md lists each with its meaning)."""

    BAD_JSON = "bad_json"
    BAD_REQUEST = "bad_request"
    NOT_AN_OBJECT = "not_an_object"
    BAD_ENVELOPE = "bad_envelope"
    BAD_VERSION = "bad_version"
    FRAME_TOO_LARGE = "frame_too_large"
    EXTRA_FRAMES = "extra_frames"
    UNKNOWN_COMMAND = "unknown_command"
    BAD_ARGS = "bad_args"
    NOT_FOUND = "not_found"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    INTERNAL = "internal"


class CommandError(Exception):
    """A request that cannot be answered with a result: ``code`` says which kind."""

    def __init__(self, code: str, message: str, request_id: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


@attrs.frozen(kw_only=True, slots=True)
class Request:
    id: str
    cmd: str
    args: dict[str, Any]


def parse_request(frames: list[bytes], max_frame: int = DEFAULT_MAX_FRAME) -> Request:
    """The request in ``frames`` (after the ROUTER's identity), or CommandError.

    Numbers with a fraction are read as Decimal, never float.
    """
    if len(frames) != 1:
        raise CommandError(ErrorCode.EXTRA_FRAMES, f"a request is one frame, got {len(frames)}")
    frame = frames[0]
    if len(frame) > max_frame:
        raise CommandError(
            ErrorCode.FRAME_TOO_LARGE, f"frame of {len(frame)} bytes; the maximum is {max_frame}"
        )
    document = _decode(frame)
    if not isinstance(document, dict):
        raise CommandError(
            ErrorCode.NOT_AN_OBJECT, f"a request is a JSON object, got {type(document).__name__}"
        )
    request_id = document.get("id")
    if not isinstance(request_id, str) or not request_id or len(request_id) > 200:
        raise CommandError(ErrorCode.BAD_ENVELOPE, '"id" must be a non-empty string')
    version = document.get("v")
    if version != VERSION or isinstance(version, bool):
        raise CommandError(
            ErrorCode.BAD_VERSION,
            f"protocol version {version!r}; this server speaks {VERSION}",
            request_id,
        )
    cmd = document.get("cmd")
    if not isinstance(cmd, str) or not cmd:
        raise CommandError(ErrorCode.BAD_ENVELOPE, '"cmd" must be a non-empty string', request_id)
    args = document.get("args", {})
    if not isinstance(args, dict):
        raise CommandError(ErrorCode.BAD_ENVELOPE, '"args" must be an object', request_id)
    extra = sorted(set(document) - {"v", "id", "cmd", "args"})
    if extra:
        raise CommandError(ErrorCode.BAD_ENVELOPE, f"unknown envelope fields {extra}", request_id)
    return Request(id=request_id, cmd=cmd, args=args)


def _decode(frame: bytes) -> Any:
    """The JSON document in ``frame``: strict UTF-8 (no BOM, no encoded surrogates, no
    UTF-16), nesting bounded before the parser recurses, fractions as Decimal."""
    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CommandError(ErrorCode.BAD_JSON, f"not UTF-8: {error}") from None
    if text.startswith("\ufeff"):
        raise CommandError(ErrorCode.BAD_JSON, "not JSON: a byte order mark is not allowed")
    _check_nesting(text)
    try:
        # msgspec refuses every lone surrogate escape, so what it reads is text.
        return _read_json(frame)
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass  # json says why (or reads what msgspec does not: NaN, 4300 digits)
    try:
        document = json.loads(text, parse_float=Decimal)
        # A lone surrogate escape ("\\ud800") parses, but is no text: it cannot be UTF-8.
        json.dumps(document, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        raise CommandError(ErrorCode.BAD_JSON, "not JSON text: a lone surrogate escape") from None
    except RecursionError:  # a backstop: _check_nesting keeps nesting far below this
        raise CommandError(ErrorCode.BAD_REQUEST, "nested too deeply") from None
    except ValueError as error:
        raise CommandError(ErrorCode.BAD_JSON, f"not JSON: {error}") from None
    return document


def _check_nesting(text: str) -> None:
    """``bad_request`` past ``MAX_DEPTH`` levels or ``MAX_CONTAINERS`` containers, counted
    outside strings, so the recursive parser never sees a frame that could exhaust it."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # the common case: too few brackets to nest too deep
    outside = _STRING.sub("", text)
    containers = outside.count("[") + outside.count("{")
    if containers > MAX_CONTAINERS:
        raise CommandError(
            ErrorCode.BAD_REQUEST,
            f"{containers} arrays and objects; the maximum is {MAX_CONTAINERS}",
        )
    depth = 0
    for match in _BRACKET.finditer(outside):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise CommandError(ErrorCode.BAD_REQUEST, f"nested deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


def reply_ok(request_id: str, result: Any) -> bytes:
    return encode_json({"v": VERSION, "id": request_id, "ok": True, "result": result})


def reply_error(request_id: str, code: str, message: str) -> bytes:
    return encode_json(
        {"v": VERSION, "id": request_id, "ok": False, "error": {"code": code, "message": message}}
    )


def plain(message: Any) -> Any:
    """A message as plain data for JSON: its fields, recursively, actor refs left out
    (Decimals and enums stay; ``encode_json`` writes them as strings)."""
    return attrs.asdict(
        message,
        recurse=True,
        filter=lambda _attribute, value: not isinstance(value, pykka.ActorRef),
    )


def encode_event(seq: int, event: Any) -> bytes:
    """The event stream's message for ``event``: ``{"seq", "kind", "event": its fields}``.

    A message of plain data (no float, no actor ref: every journal kind, most supervision
    events) goes to msgspec as dicts of its fields in their order, built in C
    (``attrgetter``, ``zip``), which ``plain`` (``attrs.asdict``) builds in Python.
    msgspec would write the message itself with its fields sorted by name.
    """
    cls = type(event)
    fields = _fields_of(cls)
    if fields is not None:
        document = {"seq": seq, "kind": cls.__name__, "event": fields(event)}
        written = _write_json(document)
        return written if _as_json_writes(written) else _dump(document)
    return encode_json({"seq": seq, "kind": cls.__name__, "event": plain(event)})


def _fields_of(cls: type) -> Callable[[Any], dict[str, Any]] | None:
    """What ``plain`` gives for a message of ``cls`` (tuples left as tuples), or None if
    ``cls`` holds more than plain data."""
    try:
        return _FIELDS[cls]
    except KeyError:
        fields = _FIELDS[cls] = (
            _fields_builder(cls) if attrs.has(cls) and is_plain_data(cls) else None
        )
        return fields


def _fields_builder(cls: type) -> Callable[[Any], dict[str, Any]]:
    fields = attrs.fields(attrs.resolve_types(cls))
    names = tuple(field.name for field in fields)
    if len(names) < 2:  # attrgetter of one name gives a value, not a tuple
        return lambda message: {name: _nested(getattr(message, name)) for name in names}
    get = operator.attrgetter(*names)
    held = tuple(index for index, field in enumerate(fields) if _holds_message(field.type))
    if not held:
        return lambda message: dict(zip(names, get(message), strict=True))

    def build(message: Any) -> dict[str, Any]:
        values = list(get(message))
        for index in held:
            values[index] = _nested(values[index])
        return dict(zip(names, values, strict=True))

    return build


def _holds_message(type_: Any) -> bool:
    if inspect.isclass(type_):
        return attrs.has(type_)
    return any(_holds_message(arg) for arg in typing.get_args(type_))


def _nested(value: Any) -> Any:
    if type(value) is tuple:
        return [_nested(item) for item in value]
    fields = _fields_of(type(value))
    return value if fields is None else fields(value)


_FIELDS: dict[type, Callable[[Any], dict[str, Any]] | None] = {}


def encode_json(value: Any) -> bytes:
    """JSON with Decimals as strings (exact), enums as their values."""
    if _is_plain_json(value, enums=True):
        return _write_checked(value, _dump)
    return _dump(value)


def encode_request(request_id: str, cmd: str, args: dict[str, Any]) -> bytes:
    """A client's request frame; anything but plain JSON data and Decimals in ``args`` is
    written as ``str(value)`` (an enum as ``OrderSide.BUY``: send its value)."""
    envelope = {"v": VERSION, "id": request_id, "cmd": cmd, "args": args}
    if _is_plain_json(envelope, enums=False):
        return _write_checked(envelope, _dump_request)
    return _dump_request(envelope)


def decode_json(data: bytes) -> Any:
    """A reply or an event as a client reads it: numbers with a fraction as Decimal."""
    try:
        return _read_json(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return json.loads(data, parse_float=Decimal)  # the error (or NaN) is json's


def _write_checked(value: Any, dump: Callable[[Any], bytes]) -> bytes:
    """msgspec's JSON of ``value``, or ``dump``'s where they differ: ``json`` escapes
    non-ASCII text and DEL, msgspec writes them as they are."""
    written = _write_json(value)
    return written if _as_json_writes(written) else dump(value)


def _as_json_writes(written: bytes) -> bool:
    return written.isascii() and b"\x7f" not in written


def _dump(value: Any) -> bytes:
    return json.dumps(value, default=_default, separators=(",", ":")).encode()


def _dump_request(value: Any) -> bytes:
    return json.dumps(value, default=str).encode()


_LEAVES = frozenset({str, int, bool, type(None), Decimal})


def _is_plain_json(value: Any, *, enums: bool) -> bool:
    """Whether msgspec writes ``value`` as ``json`` does (but for non-ASCII text): no
    float (msgspec writes 1e-05 as 0.00001), nothing ``json`` does not know."""
    kind = type(value)
    if kind in _LEAVES:
        return True
    if kind is dict:
        return all(
            type(key) is str and _is_plain_json(item, enums=enums) for key, item in value.items()
        )
    if kind is list or kind is tuple:
        return all(_is_plain_json(item, enums=enums) for item in value)
    return enums and isinstance(value, enum.Enum) and type(value.value) in (str, int)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    enum_value = getattr(value, "value", None)
    if enum_value is not None:
        return enum_value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# Decimals as str(value), enums by value, as _default writes them.
_write_json = msgspec.json.Encoder().encode
_read_json = msgspec.json.Decoder(float_hook=Decimal).decode
