"""The floors: what the machine does with nothing of the runtime in the way.

Every figure of the suite is divided by one of these, measured in the same run, because
the machine (2 cores, shared, noisy) drifts and only ratios compare across runs:

- a bare queue handoff between two threads (``queue.SimpleQueue``): ping-pong round trips
  one at a time, and one-way throughput;
- a bare pykka actor: ``ask`` → reply round trips one at a time, and ``tell`` throughput to
  an actor that only counts;
- a bare pyzmq echo: a ROUTER in a thread of this process answers a DEALER in a client
  process (spawned, as a user's client is), over ``tcp://127.0.0.1``, with a ping's request
  and reply sizes: round trips one at a time, and pipelined with a window in flight;
- bare SQLite inserts: ``executemany`` of fill-sized rows into a one-column table of a
  temporary file, WAL, ``synchronous=NORMAL``, a commit per batch.

    python -m bench.floors [--quick]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import queue
import sqlite3
import tempfile
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pykka
import zmq

from bench.figures import Figure, bad_side, latency, nearest_rank, rate, shown

QUEUE_LATENCY = "queue.SimpleQueue ping-pong, round trip"
QUEUE_RATE = "queue.SimpleQueue one-way, thread → thread"
PYKKA_LATENCY = "pykka ask → reply, round trip"
PYKKA_RATE = "pykka tell → counting actor"
ZMQ_LATENCY = "pyzmq DEALER → ROUTER echo, round trip"
ZMQ_RATE = "pyzmq DEALER → ROUTER echo, pipelined"
SQLITE_RATE = "SQLite executemany (WAL, NORMAL, 1000 a commit)"

PAYLOAD = (
    '{"fill_id":"F0000000000","ts_event":1718000000000000000,"order_id":"O0000000",'
    '"market_id":"btc-up-0001","security_id":"btc-up-0001-YES","side":"BUY",'
    '"price":"0.47","size":"120","fee":"0.0005"}'
)
"""A journaled Fill's size and shape."""
PING_REQUEST = b'{"v":1,"id":"abcd1234-1234","cmd":"ping","args":{}}'.ljust(58)
PING_REPLY = b'{"v":1,"id":"abcd1234-1234","ok":true,"result":{"pong":true}}'.ljust(86)
"""The sizes of a ZeroMQ ``ping``'s request and reply."""
ZMQ_WINDOW = 100
QUICK = (2_000, 20_000, 50_000)
FULL = (5_000, 100_000, 200_000)
"""(round trips, messages, SQLite rows) of each floor."""
SQLITE_BATCH = 1000
TIMEOUT_S = 60.0


# The queue handoff.


def queue_handoff(round_trips: int, messages: int) -> tuple[list[float], float]:
    """(round-trip seconds, one-way messages/s) between the caller and one other thread."""
    there: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    back: queue.SimpleQueue[int] = queue.SimpleQueue()

    def echo() -> None:
        while (item := there.get()) is not None:
            back.put(item)

    echoing = threading.Thread(target=echo, name="floor-queue-echo")
    echoing.start()
    samples = []
    try:
        for i in range(round_trips):
            started = time.perf_counter()
            there.put(i)
            back.get()
            samples.append(time.perf_counter() - started)
    finally:
        there.put(None)
        echoing.join(TIMEOUT_S)
    handoff: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    done = threading.Event()

    def consume() -> None:
        while handoff.get() is not None:
            pass
        done.set()

    consumer = threading.Thread(target=consume, name="floor-queue-consumer")
    consumer.start()
    started = time.perf_counter()
    for i in range(messages):
        handoff.put(i)
    handoff.put(None)
    done.wait(TIMEOUT_S)
    elapsed = time.perf_counter() - started
    consumer.join(TIMEOUT_S)
    return samples, messages / elapsed


# The pykka actor.


class _Echo(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        return message


class _Count(pykka.ThreadingActor):
    def __init__(self, expect: int, done: threading.Event) -> None:
        super().__init__()
        self.expect = expect
        self.count = 0
        self.done = done

    def on_receive(self, _message: Any) -> None:
        self.count += 1
        if self.count >= self.expect:
            self.done.set()


def pykka_actor(round_trips: int, messages: int) -> tuple[list[float], float]:
    """(ask round-trip seconds, tells/s into an actor that counts them)."""
    echo = _Echo.start()
    samples = []
    try:
        for i in range(round_trips):
            started = time.perf_counter()
            echo.ask(i, timeout=TIMEOUT_S)
            samples.append(time.perf_counter() - started)
    finally:
        echo.stop()
    done = threading.Event()
    counter = _Count.start(messages, done)
    try:
        started = time.perf_counter()
        for i in range(messages):
            counter.tell(i)
        if not done.wait(TIMEOUT_S):
            raise TimeoutError(f"the counting actor did not get {messages} tells")
        elapsed = time.perf_counter() - started
    finally:
        counter.stop()
    return samples, messages / elapsed


# The pyzmq echo.


class EchoServer:
    """A bare ROUTER in a thread of this process answering every request with ``reply``.

    ``pooled``: the server's shape without its work: the socket thread hands each request
    to a thread pool, whose worker puts the reply on a queue and writes a byte to a pipe the
    socket thread polls beside the ROUTER (no JSON, no handler). It says what the two
    thread hand-offs cost by themselves.
    """

    def __init__(self, reply: bytes, *, pooled: bool = False) -> None:
        self.reply = reply
        self.context = zmq.Context()
        self.router: zmq.Socket[bytes] = self.context.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router.bind("tcp://127.0.0.1:*")
        self.endpoint = self.router.getsockopt_string(zmq.LAST_ENDPOINT)
        self.stopping = threading.Event()
        target = self._run_pooled if pooled else self._run
        self.thread = threading.Thread(target=target, name="floor-zmq-echo", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            if self.router.poll(100):
                identity, *_request = self.router.recv_multipart()
                self.router.send_multipart([identity, self.reply])

    def _run_pooled(self) -> None:
        pool = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="echo-pool")
        outbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        wake_r, wake_w = os.pipe()

        def serve(identity: bytes) -> None:
            outbox.put(identity)
            os.write(wake_w, b"x")

        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(wake_r, zmq.POLLIN)
        try:
            while not self.stopping.is_set():
                ready = dict(poller.poll(100))
                if self.router in ready:
                    while True:
                        try:
                            identity, *_request = self.router.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        pool.submit(serve, identity)
                if wake_r in ready:
                    os.read(wake_r, 65536)
                    while True:
                        try:
                            identity = outbox.get_nowait()
                        except queue.Empty:
                            break
                        self.router.send_multipart([identity, self.reply], zmq.NOBLOCK)
        finally:
            pool.shutdown(wait=True)
            os.close(wake_r)
            os.close(wake_w)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.router.close(0)
        self.context.term()


def _echo_client(  # noqa: PLR0917 - a process target's arguments
    conn: Connection, endpoint: str, request: bytes, round_trips: int, messages: int, warmup: int
) -> None:
    """The client process: round trips one at a time, then a window in flight."""
    context = zmq.Context()
    socket: zmq.Socket[bytes] = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(endpoint)
    try:
        for _ in range(warmup):
            socket.send(request)
            socket.recv_multipart()
        samples = []
        for _ in range(round_trips):
            started = time.perf_counter()
            socket.send(request)
            if not socket.poll(int(TIMEOUT_S * 1000)):
                raise TimeoutError("the echo did not answer")
            socket.recv_multipart()
            samples.append(time.perf_counter() - started)
        started = time.perf_counter()
        sent = received = 0
        while received < messages:
            while sent < messages and sent - received < ZMQ_WINDOW:
                socket.send(request)
                sent += 1
            socket.recv_multipart()
            received += 1
        conn.send(("ok", samples, messages / (time.perf_counter() - started)))
    except Exception as error:
        conn.send(("error", f"{type(error).__name__}: {error}", 0.0))
    finally:
        socket.close(0)
        context.term()
        conn.close()


def zmq_echo(
    round_trips: int,
    messages: int,
    *,
    request: bytes = PING_REQUEST,
    reply: bytes = PING_REPLY,
    warmup: int = 100,
) -> tuple[list[float], float]:
    """(round-trip seconds, pipelined round trips/s) of a client process with a bare echo."""
    server = EchoServer(reply)
    context = multiprocessing.get_context("spawn")
    mine, theirs = context.Pipe()
    client = context.Process(
        target=_echo_client,
        args=(theirs, server.endpoint, request, round_trips, messages, warmup),
        name="floor-zmq-client",
    )
    try:
        client.start()
        theirs.close()
        if not mine.poll(TIMEOUT_S * 2):
            raise TimeoutError("the echo client process did not answer")
        status, samples, per_s = mine.recv()
        if status != "ok":
            raise RuntimeError(f"the echo client failed: {samples}")
    finally:
        client.join(TIMEOUT_S)
        if client.is_alive():
            client.kill()
            client.join(TIMEOUT_S)
        mine.close()
        server.stop()
    return samples, per_s


# The SQLite inserts.


def sqlite_insert_rate(
    path: Path, payloads: Sequence[str], batch: int, synchronous: str = "NORMAL"
) -> float:
    """Rows/s of bare executemany of ``payloads`` into a one-column table, a commit a batch."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("CREATE TABLE floor (payload TEXT)")
        batches = [[(p,) for p in payloads[i : i + batch]] for i in range(0, len(payloads), batch)]
        started = time.perf_counter()
        for rows in batches:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO floor (payload) VALUES (?)", rows)
            conn.execute("COMMIT")
        return len(payloads) / (time.perf_counter() - started)
    finally:
        conn.close()


def sqlite_inserts(rows: int, directory: Path | None = None) -> float:
    """Rows/s of ``rows`` fill-sized rows into a fresh temporary file."""
    with tempfile.TemporaryDirectory(dir=directory, prefix="bench-floor-") as tmp:
        return sqlite_insert_rate(Path(tmp) / "floor.db", [PAYLOAD] * rows, SQLITE_BATCH)


# Together.


def figures(quick: bool) -> list[Figure]:
    """The four floors once: each is its own floor, so its ratio is 1."""
    round_trips, messages, rows = QUICK if quick else FULL
    queue_rtt, queue_rate = queue_handoff(round_trips, messages)
    pykka_rtt, pykka_rate = pykka_actor(round_trips, messages)
    zmq_rtt, zmq_rate = zmq_echo(round_trips, messages // 5)
    sqlite_rate = sqlite_inserts(rows)
    return [
        latency(QUEUE_LATENCY, queue_rtt, floor=QUEUE_LATENCY),
        rate(QUEUE_RATE, queue_rate, floor=QUEUE_RATE, unit="msgs/s"),
        latency(PYKKA_LATENCY, pykka_rtt, floor=PYKKA_LATENCY),
        rate(PYKKA_RATE, pykka_rate, floor=PYKKA_RATE, unit="msgs/s"),
        latency(ZMQ_LATENCY, zmq_rtt, floor=ZMQ_LATENCY),
        rate(ZMQ_RATE, zmq_rate, floor=ZMQ_RATE, unit="msgs/s"),
        rate(SQLITE_RATE, sqlite_rate, floor=SQLITE_RATE, unit="rows/s"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args(argv)
    print(f"{'floor':50} {'median':>16} {'p99, bad side':>16}")
    for figure in figures(args.quick):
        median = shown(figure, nearest_rank(figure.samples, 0.5))
        bad = shown(figure, bad_side(figure.kind, figure.samples))
        print(f"{figure.name:50} {median:>16} {bad:>16}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
