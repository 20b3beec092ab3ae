"""Reading back what the journal wrote, without validating every field a second time.

``messages.codec.decode`` rebuilds a message through its constructor, so every validator
runs again: right for anything that crossed a process boundary, and about 30 µs for a
``Fill``. A journal record is not such input. Its message passed those validators when it
was built, ``codec.encode`` wrote it, and its checksum (checked by the store as it reads)
says the bytes are the ones written. Recovery reads a million of them, so here msgspec
decodes each kind into a struct of the same fields and types (Decimal from its exact text,
enums by value, tuples, nested messages: all in C), whose values are then set on the
message directly, which takes about a sixth of the time.

A record that does not have exactly the fields its kind has now (one written before a
field was added, say), or a kind msgspec cannot type (a union of two message classes),
goes to ``codec.decode``, which knows what to do with it or says what is wrong with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import msgspec

from messages.codec import KINDS, decode

_Build = Callable[[str], object]


def decode_trusted(kind: str, payload: str) -> object:
    """The message the journal wrote as ``kind``/``payload``: equal to what ``decode`` gives."""
    build = _BUILDERS.get(kind)
    if build is not None:
        try:
            return build(payload)
        except (msgspec.ValidationError, msgspec.DecodeError, TypeError, ValueError):
            pass
    return decode(kind, payload)


def _shape(kind: str, cls: type) -> tuple[type, Callable[[Any], object]]:
    """A struct shaped like ``cls`` and the function that turns one into a bare ``cls``.

    A field typed as an attrs class (a ``FillApplied``'s ``Fill``) gets a struct of its
    own too: msgspec would build it through its constructor, validators and all.
    """
    fields = attrs.fields(attrs.resolve_types(cls))
    types: list[tuple[str, Any]] = []
    nested: list[tuple[int, Callable[[Any], object]]] = []
    for index, field in enumerate(fields):
        if isinstance(field.type, type) and attrs.has(field.type):
            inner, inner_convert = _shape(f"{kind}_{field.name}", field.type)
            types.append((field.name, inner))
            nested.append((index, inner_convert))
        else:
            types.append((field.name, field.type))
    shape = msgspec.defstruct(f"{kind}Record", types, forbid_unknown_fields=True)
    return shape, _converter(cls, [field.name for field in fields], dict(nested))


def _converter(
    cls: type, names: list[str], nested: dict[int, Callable[[Any], object]]
) -> Callable[[Any], object]:
    """``record -> bare cls``: one generated function that sets each slot through its member
    descriptor (past the frozen guard, as attrs' pickling hook does, in a third of its
    time: no loop, no name lookup, no bound ``object.__setattr__`` per call)."""
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    lines = ["def convert(record):", "    message = new(cls)"]
    for index, name in enumerate(names):
        namespace[f"set{index}"] = getattr(cls, name).__set__
        value = f"record.{name}"
        if index in nested:
            namespace[f"inner{index}"] = nested[index]
            value = f"inner{index}({value})"
        lines.append(f"    set{index}(message, {value})")
    lines.append("    return message")
    exec("\n".join(lines), namespace)  # the source is built above from field names only
    convert: Callable[[Any], object] = namespace["convert"]
    return convert


def _builder(kind: str, cls: type) -> _Build | None:
    """Decode into a struct shaped like ``cls``, then give its values to a bare ``cls``."""
    shape, convert = _shape(kind, cls)
    try:
        decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(type=shape)
    except TypeError:
        return None
    decode_struct = decoder.decode

    def build(payload: str) -> object:
        return convert(decode_struct(payload))

    return build


_BUILDERS: dict[str, _Build] = {
    kind: build for kind, cls in KINDS.items() if (build := _builder(kind, cls)) is not None
}
