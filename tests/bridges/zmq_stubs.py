"""Helpers for the ZeroMQ edge's tests: a runtime with market m1 open, raw frames, waits."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from bridges.zmq_client import Client
from supervisors.assembly.runtime import Runtime
from supervisors.assembly.runtime_tree import CoreRefs, CurrentCore
from supervisors.kernel.base import ask
from tests.stubs import arbitrage_feed

FEED = arbitrage_feed()
LOCAL = "tcp://127.0.0.1:*"
OPEN_STEPS = 6
"""Feed records to replay so that m1 is open and its position holds 60 YES and 60 NO."""


def envelope(cmd: str, request_id: str = "r1", **args: Any) -> bytes:
    return json.dumps({"v": 1, "id": request_id, "cmd": cmd, "args": args}).encode()


def submit_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "market_id": "m1",
        "security_id": "m1-YES",
        "side": "BUY",
        "price": "0.10",
        "size": "5",
    }
    args.update(overrides)
    return args


def answer(client: Client, *frames: bytes, timeout_ms: int = 5000) -> dict[str, Any]:
    """Send raw frames; the reply (the test fails on a timeout: a frame went unanswered)."""
    client.send_raw(*frames)
    return client.receive(timeout_ms)


def ping_until_served(endpoint: str, attempts: int = 50) -> None:
    """Ping until the edge answers (it may be restarting); AssertionError if it never does."""
    for _ in range(attempts):
        with Client(endpoint, timeout_s=0.2) as client:
            try:
                client.request("ping")
                return
            except TimeoutError:
                continue
    raise AssertionError(f"the edge at {endpoint} never answered a ping")


def root_core(runtime: Runtime) -> CoreRefs | None:
    """What the root says its core is, asked directly (never through the facade's refs)."""
    assert runtime.root is not None
    core: CoreRefs | None = ask(runtime.root, CurrentCore())
    return core


def wait_until(condition: Callable[[], bool], what: str, attempts: int = 500) -> None:
    """Poll ``condition`` (every 10 ms, at most ``attempts`` times)."""
    for _ in range(attempts):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"never: {what}")
