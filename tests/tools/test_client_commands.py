"""``tradeactors ping``, ``switch-market``, ``set-limits``, ``cancel`` and a denied ``submit``,
through the console script against a real runtime's ZeroMQ edge on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.zmq_edge import ZmqEdge
from tests.stubs import arbitrage_feed

pytestmark = pytest.mark.timeout(60)

LOCAL = "tcp://127.0.0.1:*"
FEED = arbitrage_feed()


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[tuple[Runtime, ZmqEdge]]:
    with Runtime(RuntimeConfig(data_dir=tmp_path / "data")).start(FEED) as runtime:
        runtime.replay(FEED, end=3)
        started = ZmqEdge(runtime, commands=LOCAL, events=LOCAL).start()
        try:
            yield runtime, started
        finally:
            started.stop()


def client(edge: ZmqEdge, *argv: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "tradeactors"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "tools.main"]
    return subprocess.run(
        [*command, argv[0], "--endpoint", edge.commands_endpoint, *argv[1:]],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_ping_answers_with_the_round_trip(edge: tuple[Runtime, ZmqEdge]) -> None:
    _runtime, zmq_edge = edge

    human = client(zmq_edge, "ping")
    scripted = client(zmq_edge, "ping", "--json")

    assert human.returncode == 0, human.stdout + human.stderr
    assert human.stdout.startswith("pong in ")
    assert json.loads(scripted.stdout)["pong"] is True
    assert json.loads(scripted.stdout)["round_trip_ms"] > 0


def test_switch_market_opens_the_market_the_runtime_then_trades(
    edge: tuple[Runtime, ZmqEdge],
) -> None:
    runtime, zmq_edge = edge

    done = client(zmq_edge, "switch-market", "m9", "m9-YES", "m9-NO", "--payout", "1")

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "market m9 open and current"
    assert "m9" in {p.market_id for p in runtime.positions()}


def test_set_limits_changes_named_limits_and_switches_others_off(
    edge: tuple[Runtime, ZmqEdge],
) -> None:
    _runtime, zmq_edge = edge

    done = client(zmq_edge, "set-limits", "--max-order-size", "5", "--max-open-orders", "2",
                  "--json")  # fmt: skip
    off = client(zmq_edge, "set-limits", "--off", "max_order_size", "--json")

    assert done.returncode == 0, done.stdout + done.stderr
    limits = json.loads(done.stdout)["limits"]
    assert (Decimal(limits["max_order_size"]), limits["max_open_orders"]) == (Decimal(5), 2)
    after = json.loads(off.stdout)["limits"]
    assert after["max_order_size"] is None
    assert after["max_open_orders"] == 2


def test_a_denied_submit_exits_non_zero_and_cancel_says_what_happened(
    edge: tuple[Runtime, ZmqEdge],
) -> None:
    _runtime, zmq_edge = edge
    market = FEED[0].definition  # type: ignore[union-attr]
    security = market.security_ids[0]

    denied = client(zmq_edge, "submit", "no-such-market", security, "BUY", "0.40", "1")
    placed = client(zmq_edge, "submit", market.market_id, security, "BUY", "0.01", "1")
    order_id = placed.stdout.split()[-1]
    cancelled = client(zmq_edge, "cancel", order_id)

    assert denied.returncode == 1
    assert denied.stdout.startswith("denied: ")
    assert placed.returncode == 0, placed.stdout + placed.stderr
    assert cancelled.returncode == 0
    assert cancelled.stdout.strip().startswith(f"cancel of {order_id} handed to execution")


def test_status_names_the_instance_that_answers(
    edge: tuple[Runtime, ZmqEdge], tmp_path: Path
) -> None:
    _runtime, zmq_edge = edge

    scripted = client(zmq_edge, "status", "--json")
    human = client(zmq_edge, "status")

    instance = json.loads(scripted.stdout)["instance"]
    assert instance["pid"] == os.getpid()
    assert instance["data_dir"] == str((tmp_path / "data").resolve())
    assert instance["version"]
    assert 0 < instance["started_ns"] <= time.time_ns()
    first = human.stdout.splitlines()[0]
    assert f"pid {os.getpid()}" in first
    assert str((tmp_path / "data").resolve()) in first
