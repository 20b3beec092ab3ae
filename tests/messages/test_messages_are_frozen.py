"""Every message class is immutable: a real instance of each refuses every change, has no
``__dict__`` to grow, and holds no list, dict or set however deep one looks."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from decimal import Decimal

import attrs
import pytest

import messages
from messages.fills import Fill
from messages.market_data import BookLevel
from messages.signals import TradeSignal
from tests.messages.examples import EXAMPLES, holding_refs
from tests.stubs import collector

pytestmark = pytest.mark.timeout(10)


def _message_classes() -> list[type]:
    found: list[type] = []
    for module_info in pkgutil.iter_modules(messages.__path__):
        module = importlib.import_module(f"messages.{module_info.name}")
        for _, member in inspect.getmembers(module, inspect.isclass):
            if attrs.has(member) and member.__module__ == module.__name__:
                found.append(member)
    return found


MESSAGE_CLASSES = _message_classes()


@pytest.fixture
def instances() -> dict[type, object]:
    """One real instance per message class; the refs are a live actor's."""
    ref, _ = collector()
    return {type(message): message for message in [*EXAMPLES, *holding_refs(ref)]}


def test_every_message_class_has_an_example_instance(instances: dict[type, object]) -> None:
    missing = {cls.__name__ for cls in MESSAGE_CLASSES} - {cls.__name__ for cls in instances}
    assert not missing


@pytest.mark.parametrize("cls", MESSAGE_CLASSES, ids=lambda c: c.__name__)
def test_no_field_of_a_message_can_be_set_or_deleted(
    cls: type, instances: dict[type, object]
) -> None:
    message = instances[cls]
    for field in attrs.fields(cls):
        before = getattr(message, field.name)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(message, field.name, before)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            delattr(message, field.name)
        assert getattr(message, field.name) is before


@pytest.mark.parametrize("cls", MESSAGE_CLASSES, ids=lambda c: c.__name__)
def test_a_message_takes_no_new_attribute(cls: type, instances: dict[type, object]) -> None:
    message = instances[cls]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.added = 1  # type: ignore[attr-defined]
    assert not hasattr(message, "__dict__")


def _mutable_parts(value: object, path: str) -> Iterator[str]:
    """Where ``value`` holds a list, dict, set or bytearray. Actor refs and futures are
    handles to something alive, not data, and are not looked into."""
    if isinstance(value, list | dict | set | bytearray):
        yield path
    elif isinstance(value, tuple | frozenset):
        for index, item in enumerate(value):
            yield from _mutable_parts(item, f"{path}[{index}]")
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            yield from _mutable_parts(getattr(value, field.name), f"{path}.{field.name}")


@pytest.mark.parametrize("cls", MESSAGE_CLASSES, ids=lambda c: c.__name__)
def test_a_message_holds_no_mutable_container(cls: type, instances: dict[type, object]) -> None:
    assert list(_mutable_parts(instances[cls], cls.__name__)) == []


def test_a_float_price_is_refused_at_construction() -> None:
    with pytest.raises(TypeError, match="price must be a Decimal"):
        BookLevel(price=0.5, size=Decimal(1))  # type: ignore[arg-type]


def test_a_negative_size_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="size must be > 0"):
        TradeSignal(
            market_id="m",
            security_id="m-YES",
            side=messages.enums.OrderSide.BUY,
            price=Decimal("0.5"),
            size=Decimal(-1),
            reason="r",
        )


def test_a_redelivered_fill_equals_the_original_despite_its_new_ts_init() -> None:
    kwargs = {
        "fill_id": "F",
        "ts_event": 5,
        "order_id": "O",
        "market_id": "m",
        "security_id": "m-YES",
        "side": messages.enums.OrderSide.BUY,
        "price": Decimal("0.4"),
        "size": Decimal(1),
    }
    assert Fill(ts_init=1, **kwargs) == Fill(ts_init=2, **kwargs)
