"""Shards on Ray behind one gateway: throughput with 1 and 2 shards, the gateway's added
latency over a runtime's own edge, and how long a SIGKILLed shard takes to serve again,
beside a bare pyzmq floor measured in the same run.

Ray runs on this machine (loopback, ``num_cpus=2``); each shard is a ``ShardActor``
(journal on SQLite under a temporary root, no feed) and the ``Gateway`` is in this process.
The client is a second process (spawn) with one DEALER:

1. Throughput: ``submit`` requests for markets no shard has opened, spread evenly over the
   shards by their keys, each answered by its shard's execution (``denied: no position``)
   after the whole path: gateway socket thread → its DEALER to the shard (the relay) → the
   shard's command handler → execution → back. ``--window`` requests in flight, ``--seconds`` long.
   Floor: the bare pyzmq DEALER → ROUTER echo, pipelined (``bench.floors``). The target:
   2 shards ≥ 1.6x one shard.
2. Latency: the same ``submit``, one at a time, through the gateway to one shard, and
   straight to that shard's own command socket (the direct connection). Target: the
   gateway within 1.5x at p50. Beside them, a ``ZmqEdge`` on a ``Runtime`` in this process
   (a single runtime's own edge, no Ray worker around it).
   Beside them, the hop the gateway adds, bare: a Ray actor call that does nothing.
3. Recovery: SIGKILL a shard's process (its journal holds the run's commands), then time
   until Ray has restarted it and it answers a call (its constructor recovered the
   journal first); beside it, when its new incarnation became ready.

    python -m bench.cluster [--seconds 5] [--window 32] [--round-trips 400]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import signal
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import ray
import zmq

from bench.figures import nearest_rank
from bench.floors import zmq_echo
from bridges.shard_map import ShardMap
from bridges.zmq_protocol import encode_request
from supervisors.assembly.gateway import Gateway
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.shard import ShardSpec, start_local_ray, start_shards
from supervisors.assembly.zmq_edge import ZmqEdge
from tools.logging_setup import configure_logging

ANY_PORT = "tcp://127.0.0.1:*"
TIMEOUT_S = 60.0


def _requests(shards: ShardMap, per_shard: int) -> list[bytes]:
    """Submits for ``per_shard`` unopened markets of each shard, interleaved."""
    owned: list[list[str]] = [[] for _ in range(shards.count)]
    number = 0
    while min(len(markets) for markets in owned) < per_shard:
        market = f"bench-{number}"
        if len(owned[shards.of_market(market)]) < per_shard:
            owned[shards.of_market(market)].append(market)
        number += 1
    markets = [market for row in zip(*owned, strict=True) for market in row]
    return [
        encode_request(
            f"r{index}",
            "submit",
            {
                "market_id": m,
                "security_id": f"{m}-YES",
                "side": "BUY",
                "price": "0.01",
                "size": "1",
            },
        )
        for index, m in enumerate(markets)
    ]


def _client(  # noqa: PLR0917 - a process target's arguments
    conn: Connection, endpoint: str, requests: list[bytes], window: int, seconds: float, trips: int
) -> None:
    """The client process: ``trips`` round trips one at a time, then a window in flight for
    ``seconds``; sends (samples, replies/s)."""
    context = zmq.Context()
    socket: zmq.Socket[bytes] = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(endpoint)
    try:
        samples = []
        for number in range(trips):
            started = time.perf_counter()
            socket.send(requests[number % len(requests)])
            if not socket.poll(int(TIMEOUT_S * 1000)):
                raise TimeoutError("no reply")
            socket.recv_multipart()
            samples.append(time.perf_counter() - started)
        per_s = 0.0
        if seconds > 0:
            sent = received = 0
            started = time.perf_counter()
            end = started + seconds
            while time.perf_counter() < end or received < sent:
                while time.perf_counter() < end and sent - received < window:
                    socket.send(requests[sent % len(requests)])
                    sent += 1
                if not socket.poll(int(TIMEOUT_S * 1000)):
                    raise TimeoutError("no reply")
                socket.recv_multipart()
                received += 1
            per_s = received / (time.perf_counter() - started)
        conn.send(("ok", samples, per_s))
    except Exception as error:
        conn.send(("error", f"{type(error).__name__}: {error}", 0.0))
    finally:
        socket.close(0)
        context.term()
        conn.close()


def _drive(
    endpoint: str, requests: list[bytes], *, window: int, seconds: float, trips: int
) -> tuple[list[float], float]:
    context = multiprocessing.get_context("spawn")
    mine, theirs = context.Pipe()
    client = context.Process(
        target=_client, args=(theirs, endpoint, requests, window, seconds, trips)
    )
    client.start()
    theirs.close()
    try:
        if not mine.poll(TIMEOUT_S + seconds * 2 + trips):
            raise TimeoutError("the client process did not answer")
        status, samples, per_s = mine.recv()
        if status != "ok":
            raise RuntimeError(f"the client failed: {samples}")
        return samples, per_s
    finally:
        client.join(TIMEOUT_S)
        mine.close()


@ray.remote(num_cpus=0)
class _Echo:
    """The floor of a gateway → shard hop: a Ray actor call that does nothing."""

    def echo(self, value: Any) -> Any:
        return value


def _ray_call_floor(trips: int) -> list[float]:
    """Round trips of a bare Ray actor call from this process, one at a time."""
    echo = _Echo.remote()  # type: ignore[attr-defined]
    try:
        ray.get(echo.echo.remote(0), timeout=TIMEOUT_S * 2)
        samples = []
        for number in range(trips):
            started = time.perf_counter()
            ray.get(echo.echo.remote(("submit", {"market_id": f"m{number}"})))
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        ray.kill(echo)


class _Cluster:
    def __init__(self, count: int, root: Path) -> None:
        self.shards = ShardMap(count=count)
        name = f"bench-{count}"
        self.gateway = Gateway(
            self.shards, commands=ANY_PORT, events=ANY_PORT, ingest=ANY_PORT, cluster=name
        ).start()
        specs = [
            ShardSpec(
                index=index,
                shards=self.shards,
                journal=str(root / name),
                events=self.gateway.ingest_endpoint,
                cluster=name,
            )
            for index in range(count)
        ]
        self.actors = start_shards(specs, num_cpus=2 / count)
        ray.get([actor.info.remote() for actor in self.actors], timeout=TIMEOUT_S * 2)

    def stop(self) -> None:
        ray.get([actor.stop.remote() for actor in self.actors], timeout=TIMEOUT_S)
        for actor in self.actors:
            ray.kill(actor)
        self.gateway.stop()


def _recovery(cluster: _Cluster) -> tuple[float, float]:
    """(seconds from SIGKILL to the first answered call, to the new incarnation's ready)."""
    actor = cluster.actors[0]
    pid = ray.get(actor.info.remote())["pid"]
    killed_ns = time.time_ns()
    os.kill(pid, signal.SIGKILL)
    while True:
        try:
            info = ray.get(actor.info.remote(), timeout=TIMEOUT_S)
        except ray.exceptions.RayActorError:
            time.sleep(0.01)
            continue
        if info["pid"] != pid:
            answered = (time.time_ns() - killed_ns) / 1e9
            return answered, (info["ready_ns"] - killed_ns) / 1e9


def _direct(root: Path, requests: list[bytes], trips: int) -> list[float]:
    """One runtime's own edge, in this process: the gateway's latency reference."""
    runtime = Runtime(RuntimeConfig(data_dir=root / "direct")).start()
    edge = ZmqEdge(runtime, commands=ANY_PORT, events=ANY_PORT).start()
    try:
        samples, _ = _drive(edge.commands_endpoint, requests, window=1, seconds=0, trips=trips)
        return samples
    finally:
        edge.stop()
        runtime.stop()


def _p50_ms(samples: list[float]) -> str:
    p50, p99 = nearest_rank(samples, 0.5), nearest_rank(samples, 0.99)
    return f"{p50 * 1e3:.2f} ms (p99 {p99 * 1e3:.2f})"


def _row(name: str, value: str, note: str = "") -> None:
    print(f"{name:58} {value:>28}  {note}", flush=True)


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each rate run")
    parser.add_argument("--window", type=int, default=32, help="requests in flight")
    parser.add_argument("--round-trips", type=int, default=400, help="one-at-a-time samples")
    args = parser.parse_args(argv)
    configure_logging("error")
    started = time.perf_counter()
    print(f"{platform.platform()}, {os.cpu_count()} CPUs, Ray {ray.__version__}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    start_local_ray(num_cpus=2)
    rates: dict[int, float] = {}
    latencies: dict[int, list[float]] = {}
    to_shard: list[float] = []
    recovery: tuple[float, float] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as temp:
        root = Path(temp)
        _, floor = zmq_echo(0, 20_000)
        ray_floor = _ray_call_floor(args.round_trips)
        for count in (1, 2):
            cluster = _Cluster(count, root)
            try:
                requests = _requests(cluster.shards, 8)
                latencies[count], rates[count] = _drive(
                    cluster.gateway.commands_endpoint,
                    requests,
                    window=args.window,
                    seconds=args.seconds,
                    trips=args.round_trips,
                )
                if count == 1:
                    shard = ray.get(cluster.actors[0].info.remote())["commands"]
                    to_shard, _ = _drive(
                        shard, requests, window=1, seconds=0, trips=args.round_trips
                    )
                if count == 2:
                    recovery = _recovery(cluster)
            finally:
                cluster.stop()
        direct = _direct(root, _requests(ShardMap(count=1), 8), args.round_trips)
    _, floor_after = zmq_echo(0, 20_000)
    ray.shutdown()
    floor_low = min(floor, floor_after)
    _row("figure", "value", "ratio")
    _row(
        "floor: bare pyzmq echo, pipelined (before, after)", f"{floor:,.0f} / {floor_after:,.0f} /s"
    )
    for count in (1, 2):
        _row(
            f"submit through the gateway, {count} shard(s), window {args.window}",
            f"{rates[count]:,.0f} /s",
            f"{rates[count] / floor_low:.4f}x floor",
        )
    scaling = rates[2] / rates[1]
    _row("2 shards over 1 (target >= 1.6x)", f"{scaling:.2f}x", _verdict(scaling >= 1.6))
    _row("submit round trip, gateway, 1 shard", _p50_ms(latencies[1]))
    _row("submit round trip, straight to the shard (direct)", _p50_ms(to_shard))
    _row("submit round trip, a runtime's own edge in this process", _p50_ms(direct))
    ratio = nearest_rank(latencies[1], 0.5) / nearest_rank(to_shard, 0.5)
    _row("floor: bare Ray actor call, round trip", _p50_ms(ray_floor))
    _row("gateway over direct at p50 (target <= 1.5x)", f"{ratio:.2f}x", _verdict(ratio <= 1.5))
    if recovery is not None:
        _row("killed shard: SIGKILL to its first answered call", f"{recovery[0]:.2f} s")
        _row("killed shard: SIGKILL to recovered (constructor done)", f"{recovery[1]:.2f} s")
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} at the end; run {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
