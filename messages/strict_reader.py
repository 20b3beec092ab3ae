"""Strict readers of untrusted JSON records in C: msgspec checks the shapes, the message's
constructor runs its validators.

The wire codecs (the journal's ``decode``, the feed's ``decode_record``) structure a record
through cattrs, which names the field that is wrong; for a ``Fill`` that takes about 25 µs.
A reader here takes a few: msgspec decodes the JSON into a struct of the message's fields,
typed as strictly as the cattrs hooks of ``messages.wire`` (no coercion; a Decimal only
from a string in ``DECIMAL_SYNTAX``, never from a number; an enum by value; no unknown
field, none missing), then the message is built with its constructor, so every validator
runs. A record a reader refuses, for whatever reason, goes to the cattrs path, which says
what is wrong (or reads it: a field left out that has a default, a union of messages), so
the errors and the edge cases stay the cattrs path's.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Annotated, Any

import attrs
import msgspec

from messages.wire import DECIMAL_SYNTAX

Convert = Callable[[Any], Any]

DECIMAL_TEXT = Annotated[str, msgspec.Meta(pattern=f"^{DECIMAL_SYNTAX.pattern}\\Z")]
"""A Decimal's wire form as msgspec checks it (``re.search``, anchored, so "1\\n" fails)."""


class UnsupportedTypeError(TypeError):
    """Raised while building a reader for a type msgspec cannot check as cattrs does."""


def shape_of(cls: type, *, omit: Collection[str] = (), **options: Any) -> tuple[type, Convert]:
    """A msgspec struct for ``cls``'s fields (less ``omit``, in nested messages too) and a
    function building ``cls`` from a decoded one. ``options`` go to ``msgspec.defstruct``
    (a tag, say)."""
    fields = [f for f in attrs.fields(attrs.resolve_types(cls)) if f.name not in omit]
    wire: list[tuple[str, Any]] = []
    converts: list[tuple[str, Convert | None]] = []
    for field in fields:
        type_, convert = _wire_type(field.type, omit)
        wire.append((field.name, type_))
        converts.append((field.name, convert))
    shape = msgspec.defstruct(f"{cls.__name__}Wire", wire, forbid_unknown_fields=True, **options)
    changed = tuple((name, convert) for name, convert in converts if convert is not None)
    as_dict = msgspec.structs.asdict

    def build(struct: Any) -> Any:
        values = as_dict(struct)
        for name, convert in changed:
            values[name] = convert(values[name])
        return cls(**values)

    return shape, build


def reader(cls: type, *, omit: Collection[str] = ()) -> Callable[[str | bytes], Any] | None:
    """Reads one JSON record as ``cls``; raises on anything the cattrs path must judge.
    None when msgspec cannot type ``cls`` as strictly (a union of two messages)."""
    try:
        shape, build = shape_of(cls, omit=omit)
        decode: Callable[[str | bytes], Any] = msgspec.json.Decoder(type=shape).decode
    except TypeError:  # UnsupportedTypeError, or a type msgspec refuses
        return None

    def read(payload: str | bytes) -> Any:
        return build(decode(payload))

    return read


def _wire_type(type_: Any, omit: Collection[str]) -> tuple[Any, Convert | None]:
    """The type msgspec decodes for ``type_`` and how its value becomes ``type_``'s (None:
    as it is)."""
    if type_ in (str, int, bool, type(None)):
        return type_, None
    if type_ is Decimal:
        return DECIMAL_TEXT, Decimal
    if inspect.isclass(type_) and issubclass(type_, enum.Enum):
        return type_, None
    if inspect.isclass(type_) and attrs.has(type_):
        shape, build = shape_of(type_, omit=omit)
        return shape, build
    origin, args = typing.get_origin(type_), typing.get_args(type_)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            member, convert = _wire_type(args[0], omit)
            many: Any = tuple[member, ...]  # type: ignore[valid-type]
            if convert is None:
                return many, None
            return many, lambda value: tuple([convert(item) for item in value])
        members = [_wire_type(arg, omit) for arg in args]
        converts = [convert or _same for _, convert in members]
        wire: Any = tuple.__class_getitem__(tuple(member for member, _ in members))
        if all(convert is None for _, convert in members):
            return wire, None
        return wire, lambda value: tuple(c(item) for c, item in zip(converts, value, strict=True))
    if origin in (typing.Union, types.UnionType):
        others = [arg for arg in args if arg is not type(None)]
        if len(others) != 1 or len(others) == len(args):
            raise UnsupportedTypeError(f"only X | None is read here, not {type_}")
        member, convert = _wire_type(others[0], omit)
        optional = member | None
        if convert is None:
            return optional, None
        return optional, lambda value: None if value is None else convert(value)
    raise UnsupportedTypeError(f"no strict msgspec type for {type_}")


def _same(value: Any) -> Any:
    return value
