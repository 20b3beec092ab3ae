"""A server that passes requests on to another from its socket thread (``bridges.zmq_relay``):
each client gets its own answer under its own id, a silent destination an error that says
the effect is unknown, and what the relay does not route is answered by the workers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

from bridges.zmq_client import Client
from bridges.zmq_protocol import CommandError, Request, decode_json, encode_request
from bridges.zmq_server import ZmqServer

pytestmark = pytest.mark.timeout(30)
ANY = "tcp://127.0.0.1:*"


class OneDestination:
    """The relay of these tests: ``submit`` goes to ``endpoint``, anything else stays."""

    curve = None

    def __init__(self, endpoint: str, timeout_s: float = 5.0) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.lost_endpoints: list[str] = []

    def route(self, request: Request) -> str | None:
        return self.endpoint if request.cmd == "submit" else None

    def lost(self, endpoint: str) -> None:
        self.lost_endpoints.append(endpoint)


def _upstream(request: Request) -> dict[str, Any]:
    return {"answered_by": "upstream", "cmd": request.cmd, "args": request.args}


@pytest.fixture
def upstream() -> Iterator[ZmqServer]:
    server = ZmqServer(_upstream, commands=ANY, events=ANY).start()
    yield server
    server.stop()


class Front:
    def __init__(self, relay: OneDestination) -> None:
        self.relay = relay
        self.worker_threads: list[str] = []
        self.server = ZmqServer(self._handle, commands=ANY, events=ANY, relay=relay).start()

    def _handle(self, request: Request) -> dict[str, Any]:
        self.worker_threads.append(threading.current_thread().name)
        return {"answered_by": "front", "cmd": request.cmd}


@pytest.fixture
def front(upstream: ZmqServer) -> Iterator[Front]:
    front = Front(OneDestination(upstream.bound_commands))
    yield front
    front.server.stop()


def test_a_routed_request_is_answered_by_its_destination(front: Front) -> None:
    with Client(front.server.bound_commands) as client:
        answer = client.request("submit", market_id="M1", size="5")
    assert answer == {
        "answered_by": "upstream",
        "cmd": "submit",
        "args": {"market_id": "M1", "size": "5"},
    }
    assert front.worker_threads == []


def test_what_the_relay_does_not_route_is_answered_by_a_worker(front: Front) -> None:
    with Client(front.server.bound_commands) as client:
        assert client.request("positions") == {"answered_by": "front", "cmd": "positions"}
    assert front.worker_threads[0].startswith("zmq-cmd-")


def test_clients_using_the_same_id_get_their_own_answers(front: Front) -> None:
    clients = [Client(front.server.bound_commands) for _ in range(3)]
    try:
        for number, client in enumerate(clients):
            client.send_raw(encode_request("1", "submit", {"client": number}))
        for number, client in enumerate(clients):
            reply = client.receive(5000)
            assert reply["id"] == "1"
            assert reply["result"]["args"] == {"client": number}
    finally:
        for client in clients:
            client.close()


def test_a_silent_destination_answers_that_the_effect_is_unknown() -> None:
    silent = zmq.Context.instance().socket(zmq.ROUTER)
    silent.setsockopt(zmq.LINGER, 0)
    silent.bind(ANY)
    endpoint = silent.getsockopt_string(zmq.LAST_ENDPOINT)
    front = Front(OneDestination(endpoint, timeout_s=0.2))
    try:
        with Client(front.server.bound_commands) as client, pytest.raises(CommandError) as refused:
            client.request("submit", market_id="M1")
        assert refused.value.code == "internal"
        assert "the effect is unknown" in refused.value.message
        assert front.relay.lost_endpoints == [endpoint]
        # It did reach the destination, once: a change is never sent twice.
        frames = silent.recv_multipart()
        assert decode_json(frames[-1])["cmd"] == "submit"
        assert not silent.poll(100)
    finally:
        front.server.stop()
        silent.close(0)
