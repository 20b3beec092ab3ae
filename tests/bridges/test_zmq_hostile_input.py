"""Hostile frames on a real socket: each gets a structured error, the edge keeps serving,
and nothing reaches the runtime's actors (issue 14, points 1, 2, 8 and 9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridges.zmq_client import Client
from bridges.zmq_protocol import CommandError
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.zmq_edge import ZmqEdge
from tests.bridges.zmq_stubs import FEED, LOCAL, OPEN_STEPS, answer, envelope, submit_args

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def runtime(tmp_path: Path) -> Any:
    with Runtime(RuntimeConfig(data_dir=tmp_path / "data")).start(FEED) as running:
        running.replay(FEED, end=OPEN_STEPS)
        yield running


@pytest.fixture
def edge(runtime: Runtime) -> Any:
    started = ZmqEdge(runtime, commands=LOCAL, events=LOCAL).start()
    yield started
    started.stop()


DEEP = [
    pytest.param(b"[" * 1000, id="1000 open brackets"),
    pytest.param(b"[" * 100 + b"]" * 100, id="100 nested lists"),
    pytest.param(
        envelope("ping")[:-2] + b',"deep":' + b"{" * 40 + b"}" * 40 + b"}}",
        id="nesting inside args",
    ),
    pytest.param(b"[" + b"[]," * 2000 + b"[]]", id="2001 lists side by side"),
]


@pytest.mark.parametrize("frame", DEEP)
def test_a_deeply_nested_frame_is_a_bad_request_and_the_edge_keeps_serving(
    edge: ZmqEdge, frame: bytes
) -> None:
    with Client(edge.commands_endpoint) as client:
        reply = answer(client, frame)
        assert reply["ok"] is False
        assert reply["error"]["code"] == "bad_request", reply
        assert client.request("ping")["pong"] is True


def test_brackets_inside_strings_are_text_not_nesting(edge: ZmqEdge) -> None:
    with Client(edge.commands_endpoint) as client, pytest.raises(CommandError) as refused:
        client.request("lookup", security_id="[" * 500)
    assert refused.value.code == "bad_args"  # too long a string, not too deep a document


NOT_UTF8 = [
    pytest.param(b"\xef\xbb\xbf" + envelope("ping"), id="utf-8 byte order mark"),
    pytest.param(
        envelope("ping", request_id="\ud800").replace(b"\\ud800", b"\xed\xa0\x80"),
        id="an encoded surrogate",
    ),
    pytest.param(envelope("ping", request_id="\ud800"), id="a lone surrogate escape"),
    pytest.param(envelope("ping").decode().encode("utf-16"), id="utf-16"),
    pytest.param(b'{"v":1,"id":"\xff","cmd":"ping"}', id="an invalid byte"),
]


@pytest.mark.parametrize("frame", NOT_UTF8)
def test_a_frame_that_is_not_utf8_json_text_is_bad_json(edge: ZmqEdge, frame: bytes) -> None:
    with Client(edge.commands_endpoint) as client:
        reply = answer(client, frame)
        assert reply["ok"] is False
        assert reply["error"]["code"] == "bad_json", reply


ABSURD = [
    pytest.param("size", "1e999999999", id="size 1e999999999"),
    pytest.param("size", "1e400", id="size 1e400"),
    pytest.param("size", "1e-400", id="size 1e-400"),
    pytest.param("price", "1e-400", id="price 1e-400"),
    pytest.param("size", "\u0661\u0662", id="arabic-indic digits"),
    pytest.param("size", int("9" * 4000), id="a 4000-digit integer"),
    pytest.param("price", "0." + "3" * 5000, id="a 5000-digit fraction"),
    pytest.param("size", " 5 ", id="spaces"),
    pytest.param("size", "1_000", id="digit separators"),
    pytest.param("price", "1000000000.5", id="price over 1e9"),
    pytest.param("size", "0.0000000000001", id="13 decimal places"),
]


@pytest.mark.parametrize(("field", "value"), ABSURD)
def test_an_absurd_number_is_refused_with_bad_args_and_no_order_and_no_restart(
    edge: ZmqEdge, runtime: Runtime, field: str, value: Any
) -> None:
    orders = len(runtime.orders())
    with Client(edge.commands_endpoint, timeout_s=10) as client:
        with pytest.raises(CommandError) as refused:
            client.request("submit", **submit_args(**{field: value}))
        assert refused.value.code == "bad_args"
        assert field in refused.value.message
        assert len(refused.value.message) < 200  # a 5000-digit value is not echoed whole
        status = client.request("status")
    assert status["generation"] == 1  # the core never restarted
    assert all(actor["restarts"] == 0 for actor in status["actors"])
    assert len(runtime.orders()) == orders


def test_numbers_at_the_bounds_trade_and_risk_computes_with_them(
    edge: ZmqEdge, runtime: Runtime
) -> None:
    with Client(edge.commands_endpoint, timeout_s=10) as client:
        client.request("set_limits", max_order_notional="1000000000000000000")
        placed = client.request("submit", **submit_args(price="0.000000000001", size="1000000000"))
        assert "order_id" in placed, placed
        client.request("set_limits", max_order_notional="0.000000000001")
        denied = client.request("submit", **submit_args(security_id="m1-NO", size="999999999"))
        assert denied["denied"].startswith("risk: order notional")
        trailing = client.request(
            "submit", **submit_args(security_id="m1-NO", side="SELL", price="0." + "0" * 4000)
        )
        # 0 with 4000 zeros is 0, within the bounds: an order at price 0, scale dropped.
        (order,) = [o for o in runtime.orders() if o.order_id == trailing["order_id"]]
        assert str(order.price) == "0"
        with pytest.raises(CommandError) as refused:
            client.request("set_limits", daily_loss_limit="1e999999999")
        assert refused.value.code == "bad_args"
        status = client.request("status")
    assert status["generation"] == 1


def test_a_client_string_is_capped_before_it_can_be_echoed_in_events(edge: ZmqEdge) -> None:
    with Client(edge.commands_endpoint) as client:
        with pytest.raises(CommandError) as refused:
            client.request("submit", **submit_args(reason="x" * 30_000))
        assert refused.value.code == "bad_args"
        assert "reason has 30000 characters; the maximum is 256" in refused.value.message
        with pytest.raises(CommandError):
            client.request("cancel", order_id="O1", reason="y" * 257)
        placed = client.request("submit", **submit_args(reason="r" * 256))
        assert "order_id" in placed or "denied" in placed


def test_an_unknown_field_of_any_kind_is_still_answered(edge: ZmqEdge) -> None:
    with Client(edge.commands_endpoint) as client:
        reply = answer(client, json.dumps({"v": 1, "id": "z", "cmd": "ping", "x": [1]}).encode())
        assert reply["error"]["code"] == "bad_envelope"
