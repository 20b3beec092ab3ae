"""Logs: order and fill lines carry their bound context; JSON off a terminal, console on one;
the runtime writes no print()."""

from __future__ import annotations

import ast
import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog

from messages.orders import OrderUpdated
from supervisors.assembly.runtime import Runtime
from tests.stubs import arbitrage_feed, collector
from tools.logging_setup import configure_logging

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PACKAGES = ("actors", "bridges", "messages", "supervisors", "tools")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def _run_the_arbitrage_feed() -> list[OrderUpdated]:
    """The feed's four orders and their fills, lockstep; the orders as published."""
    with Runtime() as runtime:
        spy, events = collector()
        runtime.subscribe(spy)
        for record in arbitrage_feed()[:-2]:
            runtime.feed_and_wait(record)
        runtime.wait_idle()
    published = []
    while not events.empty():
        event = events.get()
        if isinstance(event, OrderUpdated) and event.cause == "submitted":
            published.append(event)
    return published


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.timeout(30)
def test_order_and_fill_lines_carry_market_order_actor_and_correlation() -> None:
    out = io.StringIO()
    configure_logging("info", stream=out)
    submitted = _run_the_arbitrage_feed()

    lines = _lines(out.getvalue())
    assert len(submitted) == 4
    for update in submitted:
        order = update.order
        mine = [line for line in lines if line.get("order_id") == order.order_id]
        events = {line["event"]: line for line in mine}
        assert {
            "order_created",
            "order_submitted",
            "order_accepted",
            "fill_applied",
            "fill_booked",
        } <= set(events)
        for line in mine:
            assert line["market_id"] == "m1"
            assert line["correlation_id"] == update.correlation_id
            assert line["level"] == "info"
            assert "timestamp" in line
        assert events["order_created"]["actor"] == "execution"
        assert events["order_submitted"]["actor"] == "order"
        assert events["order_submitted"]["side"] == order.side.value
        assert events["order_submitted"]["size"] == str(order.size)
        assert events["fill_applied"]["actor"] == "order"
        assert events["fill_booked"]["actor"] == "position"
        assert events["fill_booked"]["security_id"] == order.security_id
    applied = [line for line in lines if line["event"] == "fill_applied"]
    booked = [line for line in lines if line["event"] == "fill_booked"]
    assert sorted(line["fill_id"] for line in applied) == sorted(line["fill_id"] for line in booked)
    assert len(applied) == 4


@pytest.mark.timeout(30)
def test_the_level_filters_the_fill_path_lines_out() -> None:
    out = io.StringIO()
    configure_logging("warning", stream=out)
    assert len(_run_the_arbitrage_feed()) == 4
    assert out.getvalue() == ""


@pytest.mark.timeout(10)
def test_a_terminal_gets_console_lines_with_the_context() -> None:
    out = Terminal()
    configure_logging("info", stream=out)
    structlog.get_logger("tradeactors", actor="order").bind(order_id="O1").info(
        "order_submitted", size=Decimal("2.50")
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert "order_submitted" in text
    assert "order_id=O1" in text
    assert "2.50" in text
    assert "Decimal(" not in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def _prints(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
    ]


@pytest.mark.timeout(10)
def test_the_runtime_has_no_print() -> None:
    found = {
        str(path.relative_to(ROOT)): lines
        for package in RUNTIME_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if (lines := _prints(path))
    }
    assert found == {}
