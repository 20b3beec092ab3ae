"""Every message class is an immutable, slotted attrs class holding immutable field types."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from decimal import Decimal

import attrs
import pytest

import messages
from messages.fills import Fill
from messages.market_data import BookLevel
from messages.signals import TradeSignal


def _message_classes() -> list[type]:
    found: list[type] = []
    for module_info in pkgutil.iter_modules(messages.__path__):
        module = importlib.import_module(f"messages.{module_info.name}")
        for _, member in inspect.getmembers(module, inspect.isclass):
            if attrs.has(member) and member.__module__ == module.__name__:
                found.append(member)
    return found


MESSAGE_CLASSES = _message_classes()


def test_the_message_package_defines_the_expected_kinds() -> None:
    names = {cls.__name__ for cls in MESSAGE_CLASSES}
    assert {
        "BookSnapshot",
        "PriceChange",
        "MarketSnapshot",
        "TradeSignal",
        "SubmitOrder",
        "CancelOrder",
        "OrderUpdated",
        "Fill",
        "PositionSnapshot",
        "PositionDelta",
    } <= names


@pytest.mark.parametrize("cls", MESSAGE_CLASSES, ids=lambda c: c.__name__)
def test_message_class_is_frozen_and_slotted(cls: type) -> None:
    assert "__slots__" in cls.__dict__
    instance = object.__new__(cls)
    for field in attrs.fields(cls):
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(instance, field.name, None)


@pytest.mark.parametrize("cls", MESSAGE_CLASSES, ids=lambda c: c.__name__)
def test_message_fields_hold_no_mutable_containers(cls: type) -> None:
    for field in attrs.fields(cls):
        annotation = str(field.type)
        assert "list[" not in annotation
        assert "dict[" not in annotation
        assert "set[" not in annotation.replace("frozenset[", "")


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
