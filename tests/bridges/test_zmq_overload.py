"""Floods and slow consumers on real sockets: a flooding client is told ``busy`` and cannot
delay another, and what the edge holds for events is bounded in bytes (issue 14, point 6)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bridges.zmq_client import Client
from bridges.zmq_protocol import Request
from bridges.zmq_server import ZmqServer
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.zmq_edge import ZmqEdge
from tests.bridges.zmq_stubs import FEED, LOCAL, OPEN_STEPS, envelope, wait_until

pytestmark = pytest.mark.timeout(60)


class HeldHandler:
    """Answers every request; the first ``held`` wait until ``release``. Records the order
    in which requests were taken up."""

    def __init__(self, held: int) -> None:
        self.held = held
        self.release = threading.Event()
        self.taken: list[str] = []
        self.waiting = threading.Semaphore(0)
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Any:
        with self._lock:
            self.taken.append(request.id)
            hold = len(self.taken) <= self.held
        if hold:
            self.waiting.release()
            self.release.wait(10)
        return {"id": request.id}


def test_a_flooding_client_is_told_busy_and_another_client_is_served_before_its_backlog() -> None:
    handler = HeldHandler(held=2)
    server = ZmqServer(handler, commands=LOCAL, events=LOCAL, workers=2, per_client=4).start()
    try:
        with Client(server.bound_commands) as flood, Client(server.bound_commands) as calm:
            for number in range(1, 11):
                flood.send_raw(envelope("work", request_id=f"a{number}"))
            for _ in range(2):
                assert handler.waiting.acquire(timeout=5)  # both workers hold a1, a2
            refused = [flood.receive(5000) for _ in range(6)]
            assert {reply["id"] for reply in refused} == {f"a{n}" for n in range(5, 11)}
            assert {reply["error"]["code"] for reply in refused} == {"busy"}
            calm.send_raw(envelope("work", request_id="b1"))
            wait_until(lambda: server.stats().requests == 11, "b1 received")
            handler.release.set()
            assert calm.receive(5000)["result"] == {"id": "b1"}
            served = {flood.receive(5000)["id"] for _ in range(4)}
        assert served == {"a1", "a2", "a3", "a4"}
        # a3 and b1 are taken up as a1 and a2 finish; a4 only after one of them.
        assert handler.taken.index("b1") < handler.taken.index("a4")
        assert server.stats().busy == 6
    finally:
        server.stop()


def test_the_event_outbox_is_bounded_in_bytes_and_drops_are_counted() -> None:
    server = ZmqServer(lambda request: {}, commands=LOCAL, events=LOCAL, max_outbox_bytes=10_000)
    server.start()
    try:
        server.halt()  # nobody drains the outbox now: a subscriber this slow
        for _ in range(100):
            server.publish("order.m1", b"x" * 1000)
        assert server.stats().events_dropped == 90
        server.start()
        wait_until(lambda: server.stats().events == 10, "the 10 queued events sent")
    finally:
        server.stop()


def test_a_client_flooding_the_runtime_with_status_cannot_starve_another(tmp_path: Path) -> None:
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(FEED) as running:
        running.replay(FEED, end=OPEN_STEPS)
        edge = ZmqEdge(running, commands=LOCAL, events=LOCAL).start()
        try:
            with Client(edge.commands_endpoint) as flood, Client(edge.commands_endpoint) as calm:
                for number in range(600):
                    flood.send_raw(envelope("status", request_id=f"s{number}"))
                assert calm.request("positions")["positions"]
                codes = Counter(
                    "ok" if reply["ok"] else reply["error"]["code"]
                    for reply in (flood.receive(10_000) for _ in range(600))
                )
            assert set(codes) == {"ok", "busy"}, codes  # every request answered, none lost
        finally:
            edge.stop()
