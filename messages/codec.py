"""The journal's wire codec: a message as a type tag (its kind) and compact JSON of its fields.

Encoding is msgspec's (it writes an attrs message in C, about five times faster than
unstructuring it in Python, and every fill is encoded); decoding here is the strict path,
for a record that must be checked field by field: ``messages.strict_reader`` reads it in C
and builds it through its constructor, and a record it refuses goes through cattrs, whose
message names the field. ``actors.journal_decode`` reads trusted records faster still.

Every field travels, ``id`` and ``ts_init`` included, because the journal is the record of
what happened and a replay must hand actors the very messages they saw. Decimals travel as
JSON strings (``"0.47"``, ``"1E+2"``) so they come back digit for digit and no float ever
touches a price; enums travel by value and tuples as lists.

The registry is discovered, not listed: every attrs class of the ``messages`` package whose
fields are all plain data is a kind, named by its class. Classes holding an actor ref
(``SwitchMarket``), a future or an ``object`` field (``Append``) are left out, since a ref
or a future means nothing to another process and ``object`` says nothing to structure.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import json
import pkgutil
import types
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs
import cattrs
import msgspec
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.errors import ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn

import messages
from messages.fields import ADDED_LATER
from messages.strict_reader import reader
from messages.wire import describe_value, strict, structure_decimal, structure_enum

_Structure = Callable[[Any, Any], Any]


class CodecError(ValueError):
    """Raised by :func:`decode` when a journal record is not a message it can rebuild.

    An unknown kind, a payload that is not JSON, or fields that do not structure (a float
    where a Decimal belongs, a field missing or unexpected, a value a message's validator
    refuses); the text names the kind and the field.
    """


def kind_of(message: object) -> str:
    """The type tag the journal stores beside the payload: the message's class name.

    Raises ``TypeError`` for anything that is not a registered kind, so no record is ever
    tagged with a kind :func:`decode` could not read back.
    """
    cls = type(message)
    if cls not in _CLASSES:
        raise TypeError(f"not a journal message kind: {cls.__name__}")
    return cls.__name__


def encode(message: object) -> str:
    """Compact JSON of every field of ``message`` (the journal's hot path: every fill).

    Raises ``TypeError`` for an object that is not a registered kind, such as a message
    holding an actor ref.
    """
    if type(message) not in _CLASSES:
        raise TypeError(f"not a journal message kind: {type(message).__name__}")
    return _encode_json(message).decode()


def decode(kind: str, payload: str) -> object:
    """The message ``encode`` wrote for ``kind``: equal to it, with the same id and ts_init.

    The message's constructor runs, so its validators check the stored data again. Raises
    :class:`CodecError` saying what is wrong and where.
    """
    read = _READERS.get(kind)
    if read is not None:
        try:
            return read(payload)
        except Exception:  # cattrs says what is wrong, or reads it
            pass
    cls = KINDS.get(kind)
    if cls is None:
        raise CodecError(f"unknown message kind {kind!r}")
    # Built on the first refusal of a kind (cattrs caches it): building every kind's hook at
    # import cost each process a quarter of a second, and most records never need one.
    structure = _converter.get_structure_hook(cls)
    try:
        fields = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise CodecError(f"{kind}: not JSON: {exc}") from None
    try:
        return structure(fields, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        errors = cattrs.transform_error(exc, path=kind, format_exception=_format_exception)
        raise CodecError("; ".join(errors)) from exc


def structure(value: Any, type_: Any) -> Any:
    """Plain JSON data as ``type_``, as strictly as :func:`decode` structures a field."""
    return _converter.structure(value, type_)


# The converter: strict hooks, so nothing is coerced ("3" is not an int, 0.47 not a price).

_PLAIN_TYPES: frozenset[Any] = frozenset({str, int, bool, Decimal, type(None)})


def _is_tuple(type_: Any) -> bool:
    return typing.get_origin(type_) is tuple


def _make_tuple_hook(tuple_type: Any, converter: cattrs.Converter) -> _Structure:
    args = typing.get_args(tuple_type)
    if len(args) == 2 and args[1] is Ellipsis:
        structure_members = homogenous_tuple_structure_factory(tuple_type, converter)

        def structure_homogeneous(value: Any, _type: Any) -> tuple[Any, ...]:
            if type(value) is not list:
                raise TypeError(f"expected a list, got {describe_value(value)}")
            return structure_members(value, tuple_type)

        return structure_homogeneous
    hooks = [(converter.get_structure_hook(arg), arg) for arg in args]

    def structure_fixed(value: Any, _type: Any) -> tuple[Any, ...]:
        if type(value) is not list or len(value) != len(hooks):
            raise TypeError(f"expected a list of {len(hooks)} items, got {describe_value(value)}")
        return tuple(hook(item, arg) for (hook, arg), item in zip(hooks, value, strict=True))

    return structure_fixed


def _make_structure_hook(cls: type, converter: cattrs.Converter) -> _Structure:
    structure_fields: Callable[[Mapping[str, Any], Any], Any] = make_dict_structure_fn(
        cls, converter
    )
    # Defaults included: a record without its id or ts_init must not get fresh ones. Only a
    # field added after records were written (``ADDED_LATER``) may be missing from them.
    names = frozenset(
        field.name for field in attrs.fields(cls) if not field.metadata.get(ADDED_LATER)
    )

    def structure(value: Any, _type: Any) -> Any:
        if type(value) is not dict:
            raise TypeError(f"expected an object, got {describe_value(value)}")
        missing = names - value.keys()
        if missing:
            raise ValueError(f"required field(s) missing: {', '.join(sorted(missing))}")
        return structure_fields(value, cls)

    return structure


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    converter.register_structure_hook(Decimal, structure_decimal)
    converter.register_structure_hook(int, strict(int, "an integer"))
    converter.register_structure_hook(bool, strict(bool, "a boolean"))
    converter.register_structure_hook(str, strict(str, "a string"))
    converter.register_structure_hook(enum.Enum, structure_enum)
    converter.register_structure_hook_factory(_is_tuple, _make_tuple_hook)
    converter.register_structure_hook_factory(attrs.has, _make_structure_hook)
    return converter


def _format_exception(exc: BaseException, _type: type | None) -> str:
    if isinstance(exc, ForbiddenExtraKeysError):
        return f"unexpected field(s) {', '.join(sorted(exc.extra_fields))}"
    return str(exc)


# The registry.


def is_plain_data(type_: Any) -> bool:
    """Whether values of ``type_`` survive JSON and mean the same in another process."""
    if type_ in _PLAIN_TYPES:
        return True
    if inspect.isclass(type_) and issubclass(type_, enum.Enum):
        return True
    if inspect.isclass(type_) and attrs.has(type_):
        return all(is_plain_data(field.type) for field in attrs.fields(attrs.resolve_types(type_)))
    origin = typing.get_origin(type_)
    if origin in (tuple, typing.Union, types.UnionType):
        return all(arg is Ellipsis or is_plain_data(arg) for arg in typing.get_args(type_))
    return False


def _discover() -> dict[str, type]:
    """Every plain-data attrs class defined in a module of ``messages``, by class name."""
    kinds: dict[str, type] = {}
    for module_info in pkgutil.iter_modules(messages.__path__):
        if f"messages.{module_info.name}" == __name__:
            continue
        module = importlib.import_module(f"messages.{module_info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not attrs.has(cls):
                continue
            if not is_plain_data(cls):
                continue
            if name in kinds:
                raise TypeError(f"two message classes are named {name}: the kind is ambiguous")
            kinds[name] = cls
    return kinds


_converter = _make_converter()

KINDS: Mapping[str, type] = types.MappingProxyType(dict(sorted(_discover().items())))
"""Every registered kind and its class; :func:`decode` knows exactly these."""

_CLASSES: frozenset[type] = frozenset(KINDS.values())
_READERS: Mapping[str, Callable[[str], object]] = {
    kind: read for kind, cls in KINDS.items() if (read := reader(cls)) is not None
}
# Decimals as their exact text (msgspec's default, ``str(value)``), enums by value, tuples
# as lists, an attrs message as an object of every field.
_encode_json = msgspec.json.Encoder().encode
