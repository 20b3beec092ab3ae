"""`tradeactors run` with its ZeroMQ edge under hostile clients, as a real subprocess:
one frame no longer kills the edge, and an edge that keeps dying ends the run with exit 1
instead of leaving it to trade on without an edge (issue 14, point 1)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bridges.zmq_client import Client, EventSubscriber

pytestmark = pytest.mark.timeout(120)

KILLING_EDGE = """
import sys
from bridges import zmq_server

real = zmq_server.parse_request


class SocketThreadKilledError(BaseException):
    pass


def parse(frames, max_frame):
    if frames == [b"kill the socket thread"]:
        raise SocketThreadKilledError
    return real(frames, max_frame)


zmq_server.parse_request = parse
from tools.cli import main

sys.exit(main(sys.argv[1:]))
"""


def _command(data_dir: Path, *, killing: bool = False) -> list[str]:
    start = ["-c", KILLING_EDGE] if killing else ["-m", "tools.cli"]
    return [
        sys.executable,
        *start,
        "run",
        "--data-dir",
        str(data_dir),
        "--speed",
        "0",
        "--records",
        "5",
        "--quiet",
        "--hold",
        "60",
        "--commands-endpoint",
        "tcp://127.0.0.1:*",
        "--events-endpoint",
        "tcp://127.0.0.1:*",
        "--no-metrics",
    ]


def _endpoint(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(3)]
    assert "serving commands" in lines[2], lines
    return lines[1].split("commands on ")[1].split(", events on ")[0]


def test_a_deeply_nested_frame_is_answered_and_the_running_edge_keeps_serving(
    tmp_path: Path,
) -> None:
    with subprocess.Popen(_command(tmp_path), stdout=subprocess.PIPE, text=True) as process:
        try:
            endpoint = _endpoint(process)
            with Client(endpoint, timeout_s=10) as client:
                client.send_raw(b"[" * 1000)
                assert client.receive(10_000)["error"]["code"] == "bad_request"
                client.send_raw(b'{"v":1,"id":"d","cmd":"ping","args":{"x":' + b"[" * 5000 + b"}}")
                assert client.receive(10_000)["error"]["code"] == "bad_request"
                assert client.request("ping")["pong"] is True
                assert client.request("status")["generation"] == 1
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        assert process.returncode == 130


def test_a_run_whose_edge_keeps_dying_stops_and_exits_1(tmp_path: Path) -> None:
    with subprocess.Popen(
        _command(tmp_path, killing=True), stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            endpoint = _endpoint(process)
            for kill in range(1, 7):  # the edge's supervisor allows 5 restarts in 30 s
                with Client(endpoint, timeout_s=10) as client:
                    client.send_raw(b"kill the socket thread")
                    with pytest.raises(TimeoutError):
                        client.receive(300)
                    if kill <= 5:
                        client.request("ping")  # restarted on the same endpoint
            out, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 1
        assert "stopped: the ZeroMQ socket thread died more than 5 times in 30.0 s" in out


def test_heartbeat_s_sets_the_interval_of_the_heartbeat_topic(tmp_path: Path) -> None:
    command = [*_command(tmp_path), "--heartbeat-s", "0.25"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(3)]
            events = lines[1].split(", events on ")[1].strip()
            subscriber = EventSubscriber(events, ("heartbeat",))
            try:
                beats = [subscriber.next_event(10)[1]["event"] for _ in range(3)]
            finally:
                subscriber.close()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    assert {beat["interval_ms"] for beat in beats} == {250}
    assert beats[0]["ts"] < beats[1]["ts"] < beats[2]["ts"]
