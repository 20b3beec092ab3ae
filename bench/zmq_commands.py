"""The ZeroMQ edge seen from another process: command round trips and events per second,
beside bare pyzmq floors measured in the same run.

The server is the real thing: a ``Runtime`` (journal on SQLite in a temporary directory,
risk with no limits, the simulated venue with no latency) that has replayed, in lockstep, a
binary market's opening and one book snapshot per instrument (so execution has a current
market and the venue has books; the example strategy sees no arbitrage there and trades
nothing), and a ``ZmqEdge`` bound to ``tcp://127.0.0.1:*``, all in this process. The client
is a second process (multiprocessing, spawn) that speaks through ``bridges.zmq_client``,
so every figure crosses a real socket and a process boundary, as a user's would.

1. ``ping``, one request at a time, ``time.perf_counter_ns`` around each ``Client.request``
   in the client process (its JSON included): socket thread → worker pool → handler →
   outbox and wake pipe → socket thread; no actor. Two floors, each a ROUTER in a thread of
   this process and a bare DEALER in the client process (send, poll, receive; no JSON),
   with a ping's request and reply sizes: the bare echo (the floor the target is about),
   and the same echo in the server's shape (the socket thread hands each request to a
   thread pool whose worker queues the reply and wakes the socket thread through a pipe),
   which says what the shape costs before any of the edge's work. The three alternate in
   ``--rounds`` rounds and each is pooled over them, since the machine drifts.

2. ``submit``, timed the same way: the ping's path plus the handler's wait on the runtime.
   Execution reserves the side, risk checks the signal (no limits: approved), execution
   journals ``OrderCreated`` (group commit), the market lifecycle actor has the market
   supervisor start the order actor (a new thread) and wait for its ``on_start``, which
   publishes ``OrderUpdated (submitted)`` on the bus, where the edge's waiter resolves the
   handler's future. Each submit is a limit order far from the books (BUY at 0.01, SELL at
   0.99; the books are 0.40-0.53), so it rests; the client then cancels it and waits on its
   ``order.m1`` subscription until it is cancelled, so the pending guard never denies the
   next one and every timed submit meets an idle runtime (the four (security, side) pairs
   take turns). Orders and denials are counted apart. Beside it: the same submits' time inside the
   server's handler (the rest is sockets, threads and JSON), and what the handler waits on,
   bare, measured here: ten wake-ups along nine pykka actors, an actor start, and one
   ``OrderCreated`` appended to a ``SqliteJournalStore`` of its own. ``cancel`` is printed
   too, for what it shows: the command checks that the order exists by asking every order
   actor execution still routes for a snapshot, one after the other, so its cost grows with
   every order the live markets ever had (closed orders stay alive until their market is
   archived); and right after a submit it can answer ``not_found`` for the order the submit
   just returned (counted; the client retries 1 ms later).

3. Events per second on the stream. The client process subscribes to ``""`` (every topic)
   with ``EventSubscriber`` and counts what arrives, first event to last. Bursts of
   ``--events``: (a) the runtime's: this process tells execution trade signals on a side
   that already has a resting order, so each is denied by the pending guard at once and
   becomes one ``OrderDenied`` on the bus: execution → bus → the edge's stream actor
   (``attrs.asdict``, JSON) → the server's outbox and wake pipe → the PUB socket thread;
   (b) the edge alone: the same ``OrderDenied`` told straight to the stream actor; the
   floor, before and after: a bare PUB in this process sending a payload of the same size
   and topic as fast as it can to the same subscriber code. Every PUB drops at a
   high-water mark of 10,000 rather than block: ``lost`` counts what never arrived.

The targets: ``submit`` round trip p99 ≤ 1 ms (issue 16; issue 14 asked 2 ms); ``ping``
within 1.5x the bare echo (judged on p50; the p99 ratio is printed beside it). Logging is at
warning.

    python -m bench.zmq_commands [--pings 9000] [--submits 800] [--events 20000]
                                 [--rounds 3] [--warmup 100]

A count of 0 skips that part.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import attrs
import pykka
import zmq

from actors.journal_store import NewEntry
from bench import floors
from bench.figures import Figure, Kind, Statistic, Target, latency, rate
from bridges.journal_sqlite import SqliteJournalStore
from bridges.zmq_client import Client, EventSubscriber
from bridges.zmq_protocol import (
    CommandError,
    ErrorCode,
    decode_json,
    encode_json,
    encode_request,
    reply_ok,
)
from messages.codec import encode, kind_of
from messages.enums import OrderSide, Outcome
from messages.journal import OrderCreated
from messages.market_data import BookLevel, BookSnapshot
from messages.markets import Instrument, MarketDefinition, MarketOpened
from messages.orders import OrderDenied
from messages.signals import TradeSignal
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.zmq_edge import ZmqEdge
from tools.logging_setup import configure_logging

LOCAL = "tcp://127.0.0.1:*"
MARKET = "m1"
TOPIC = f"order.{MARKET}"
SUBMIT_P99_TARGET_US = 1_000.0
PING_TARGET_RATIO = 1.5
KEYS = (
    (f"{MARKET}-YES", "BUY", "0.01"),
    (f"{MARKET}-NO", "BUY", "0.01"),
    (f"{MARKET}-YES", "SELL", "0.99"),
    (f"{MARKET}-NO", "SELL", "0.99"),
)
"""(security, side, limit) of the timed submits: far from the books, so each rests."""
EVENT_HWM = 10_000
"""The edge's PUB high-water mark (ZmqServer's default); the floor's PUB uses it too."""
PING_ROW = "ping"
FLOOR_ROW = "bare pyzmq ROUTER/DEALER echo (floor)"
SHAPE_ROW = "bare echo, server's shape (pool + pipe)"
PING_HANDLER_ROW = "  ping: in its handler (server side)"
SUBMIT_ROW = "submit → order id"
SUBMIT_HANDLER_ROW = "  submit: in its handler (server side)"
HOPS_ROW = "  bare pykka: 10 wake-ups (9 actors)"
SPAWN_ROW = "  bare pykka: actor start → on_start"
COMMIT_ROW = "  bare journal store: 1 OrderCreated"
ECHO = "bare pyzmq echo, alternating with ping (bench floor)"
PUB = "bare PUB → SUB, before and after the runtime's bursts (bench floor)"
QUICK = (
    "--pings", "1500", "--submits", "150", "--events", "5000", "--rounds", "2",
    "--warmup", "50",
)  # fmt: skip
FULL = ("--pings", "6000", "--submits", "600", "--events", "20000")
PING_TARGET = Target(
    text="ZeroMQ ping within 1.5x the bare pyzmq echo (on medians)",
    statistic=Statistic.RATIO,
    limit=PING_TARGET_RATIO,
    at_most=True,
)
SUBMIT_TARGET = Target(
    text="ZeroMQ submit round trip p99 ≤ 1 ms",
    statistic=Statistic.BAD,
    limit=SUBMIT_P99_TARGET_US / 1e6,
    at_most=True,
)


# The feed.


def _feed() -> list[Any]:
    """A binary market and one book snapshot per instrument (0.98 for both asks: the
    example strategy sees no arbitrage and stays out)."""
    definition = MarketDefinition(
        market_id=MARKET,
        instruments=(
            Instrument(security_id=f"{MARKET}-YES", outcome=Outcome.YES),
            Instrument(security_id=f"{MARKET}-NO", outcome=Outcome.NO),
        ),
    )

    def book(security_id: str, bid: str, ask: str) -> BookSnapshot:
        return BookSnapshot(
            ts_event=1,
            market_id=MARKET,
            security_id=security_id,
            sequence=0,
            bids=(BookLevel(price=Decimal(bid), size=Decimal(100)),),
            asks=(BookLevel(price=Decimal(ask), size=Decimal(100)),),
        )

    return [
        MarketOpened(ts_event=1, definition=definition),
        book(f"{MARKET}-YES", "0.40", "0.45"),
        book(f"{MARKET}-NO", "0.50", "0.53"),
    ]


# The client process.


def _client_main(conn: Connection) -> None:
    """Runs jobs the bench process sends until it says stop; answers each with its result."""
    jobs: dict[str, Callable[..., Any]] = {
        "ping_floor": _job_ping_floor,
        "ping": _job_ping,
        "submit": _job_submit,
        "events": _job_events,
        "json": _job_json,
    }
    while True:
        kind, *args = conn.recv()
        if kind == "stop":
            return
        try:
            conn.send(("ok", jobs[kind](conn, *args)))
        except Exception as error:
            conn.send(("error", f"{type(error).__name__}: {error}"))


def _job_ping_floor(_conn: Connection, endpoint: str, request: bytes, n: int) -> list[int]:
    socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(endpoint)
    samples = []
    try:
        for _ in range(n):
            started = time.perf_counter_ns()
            socket.send_multipart([request])
            if not socket.poll(5000):
                raise TimeoutError("the bare echo did not answer in 5 s")
            socket.recv_multipart()
            samples.append(time.perf_counter_ns() - started)
    finally:
        socket.close(0)
    return samples


def _job_ping(_conn: Connection, endpoint: str, n: int) -> list[int]:
    samples = []
    with Client(endpoint, timeout_s=5.0) as client:
        for _ in range(n):
            started = time.perf_counter_ns()
            client.request("ping")
            samples.append(time.perf_counter_ns() - started)
    return samples


def _job_json(_conn: Connection, n: int) -> float:
    """What ``Client.request`` spends on JSON per ping (writing and reading), in µs."""
    reply = reply_ok("abcd1234-17", {"pong": True, "ts": time.time_ns()})
    started = time.perf_counter_ns()
    for i in range(n):
        encode_request(f"abcd1234-{i}", "ping", {})
        decode_json(reply)
    return (time.perf_counter_ns() - started) / n / 1e3


def _wait_cancelled(events: EventSubscriber, order_id: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            _topic, message = events.next_event(timeout_s=left)
        except TimeoutError:
            return False
        event = message.get("event") or {}
        if (
            message.get("kind") == "OrderUpdated"
            and (event.get("order") or {}).get("order_id") == order_id
            and str(event.get("cause", "")).startswith("cancelled")
        ):
            return True
    return False


def _cancel(client: Client, order_id: str) -> int:
    """Cancel ``order_id``; returns how often the edge said ``not_found`` first.

    The submit's answer comes from the order actor's first ``OrderUpdated``, which can
    overtake the market lifecycle actor's ``OrderStarted`` to execution, the table ``cancel``
    checks: right after a submit, the order it answered may not be found yet.
    """
    for attempt in range(1000):
        try:
            client.request("cancel", order_id=order_id)
        except CommandError as error:
            if error.code != ErrorCode.NOT_FOUND:
                raise
            time.sleep(0.001)
            continue
        return attempt
    raise RuntimeError(f"order {order_id} was never found by cancel")


def _job_submit(
    _conn: Connection, commands: str, events_endpoint: str, n: int, warmup: int
) -> dict[str, Any]:
    """``warmup`` + ``n`` submits, each cancelled and waited for before the next."""
    result: dict[str, Any] = {
        "submit_ns": [],
        "cancel_ns": [],
        "closed_ns": [],
        "orders": 0,
        "denials": {},
        "unclosed": 0,
        "not_found": 0,
        "not_found_retries": 0,
    }
    events = EventSubscriber(events_endpoint, (TOPIC,))
    try:
        with Client(commands, timeout_s=10.0) as client:
            time.sleep(0.3)  # the subscription reaches the PUB socket (slow joiner)
            for i in range(warmup + n):
                timed = i >= warmup
                security, side, price = KEYS[i % len(KEYS)]
                started = time.perf_counter_ns()
                answer = client.request(
                    "submit",
                    market_id=MARKET,
                    security_id=security,
                    side=side,
                    price=price,
                    size="1",
                    reason="bench",
                )
                answered = time.perf_counter_ns()
                order_id = answer.get("order_id")
                if timed:
                    result["submit_ns"].append(answered - started)
                    if order_id is None:
                        reason = str(answer.get("denied"))
                        result["denials"][reason] = result["denials"].get(reason, 0) + 1
                    else:
                        result["orders"] += 1
                if order_id is None:
                    continue
                retries = _cancel(client, order_id)
                if timed:
                    result["not_found"] += retries > 0
                    result["not_found_retries"] += retries
                cancelled = time.perf_counter_ns()
                closed = _wait_cancelled(events, order_id, timeout_s=5.0)
                if timed:
                    result["cancel_ns"].append(cancelled - answered)
                    if closed:
                        result["closed_ns"].append(time.perf_counter_ns() - cancelled)
                    else:
                        result["unclosed"] += 1
    finally:
        events.close()
    return result


def _job_events(conn: Connection, endpoint: str, idle_s: float) -> dict[str, Any]:
    """Says ``seen`` at the first event (the subscription is live), ``ready`` once the
    warm-up has gone quiet, then counts every event until none came for ``idle_s``."""
    events = EventSubscriber(endpoint, ("",))
    try:
        events.next_event(timeout_s=30.0)
        conn.send("seen")
        while True:
            try:
                events.next_event(timeout_s=0.3)
            except TimeoutError:
                break
        gaps_before = events.gaps
        conn.send("ready")
        received = first = last = 0
        while True:
            try:
                events.next_event(timeout_s=idle_s if received else 30.0)
            except TimeoutError:
                break
            last = time.perf_counter_ns()
            first = first or last
            received += 1
        return {
            "received": received,
            "seconds": (last - first) / 1e9,
            "gaps": events.gaps - gaps_before,
        }
    finally:
        events.close()


# The bench process: the client's proxy.


class _ClientProcess:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_client_main, args=(child,), name="zmq-client")
        self.process.start()
        child.close()

    def call(self, *job: Any) -> Any:
        self.conn.send(job)
        return self.result()

    def result(self) -> Any:
        status, value = self.conn.recv()
        if status != "ok":
            raise RuntimeError(f"the client process failed: {value}")
        return value

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send(("stop",))
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()


# The floors.


class _HandlerClock:
    """Wraps the server's ``handle``: how long each command spent in its handler (on a
    worker thread), so a round trip splits into the handler and everything around it."""

    def __init__(self, handle: Callable[[Any], Any]) -> None:
        self.handle = handle
        self.ns: dict[str, list[int]] = {}

    def __call__(self, request: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            return self.handle(request)
        finally:
            self.ns.setdefault(request.cmd, []).append(time.perf_counter_ns() - started)


def _publish_floor(client: _ClientProcess, size: int, count: int) -> dict[str, float]:
    """A bare PUB sends ``count`` payloads of ``size`` bytes as fast as it can."""
    context = zmq.Context()
    pub: zmq.Socket[bytes] = context.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.setsockopt(zmq.SNDHWM, EVENT_HWM)
    pub.bind(LOCAL)
    topic = TOPIC.encode()
    seq = 0

    def payload(number: int) -> bytes:
        head = json.dumps({"seq": number, "kind": "Floor", "pad": ""}).encode()
        return head[:-2] + b"x" * max(0, size - len(head)) + b'"}'

    try:

        def warm() -> None:
            nonlocal seq
            seq += 1
            pub.send_multipart([topic, payload(seq)], zmq.NOBLOCK)

        _warm_up(client, pub.getsockopt_string(zmq.LAST_ENDPOINT), warm)
        burst = [payload(seq + 1 + i) for i in range(count)]
        started = time.perf_counter()
        for frame in burst:
            try:
                pub.send_multipart([topic, frame], zmq.NOBLOCK)
            except zmq.Again:
                continue
        sent_s = time.perf_counter() - started
        got = client.result()
    finally:
        pub.close(0)
        context.term()
    return {**got, "sent_per_s": count / sent_s}


def _warm_up(client: _ClientProcess, endpoint: str, publish_one: Callable[[], object]) -> None:
    """Publish until the client has seen an event, then wait for its quiet ``ready``."""
    client.conn.send(("events", endpoint, 1.0))
    deadline = time.monotonic() + 30
    while not client.conn.poll(0.02):
        if time.monotonic() > deadline:
            raise TimeoutError("the subscriber saw nothing in 30 s")
        publish_one()
    for expected in ("seen", "ready"):
        said = client.conn.recv()
        if said != expected:
            raise RuntimeError(f"the client said {said!r}, not {expected!r}")


# The runtime's burst.


def _denied_payload_size() -> int:
    """The stream's bytes for one OrderDenied like the burst's."""
    document = {
        "seq": 12345,
        "kind": "OrderDenied",
        "event": attrs.asdict(_denied("burst"), recurse=True),
    }
    return len(encode_json(document))


def _signal(reason: str) -> TradeSignal:
    return TradeSignal(
        market_id=MARKET,
        security_id=f"{MARKET}-YES",
        side=OrderSide.BUY,
        price=Decimal("0.01"),
        size=Decimal(1),
        reason=reason,
    )


def _denied(reason: str) -> OrderDenied:
    signal = _signal(reason)
    return OrderDenied(
        correlation_id=signal.id,
        signal=signal,
        reason=f"order O12345 is pending on {signal.security_id} {signal.side.value}",
    )


def _burst(
    client: _ClientProcess,
    edge: ZmqEdge,
    target: pykka.ActorRef[Any],
    make: Callable[[str], Any],
    count: int,
) -> dict[str, float]:
    """Warm up with ``make("warm-up")`` told to ``target``, then tell it ``count`` more."""
    _warm_up(client, edge.events_endpoint, lambda: target.tell(make("warm-up")))
    messages = [make("burst") for _ in range(count)]
    before = edge.server.stats().events
    started = time.perf_counter()
    for message in messages:
        target.tell(message)
    while edge.server.stats().events - before < count and time.perf_counter() - started < 120:
        time.sleep(0.001)
    elapsed = time.perf_counter() - started
    published = edge.server.stats().events - before
    got = client.result()
    return {**got, "sent_per_s": published / elapsed}


def _events(
    client: _ClientProcess, edge: ZmqEdge, count: int
) -> list[tuple[str, dict[str, float]]]:
    size = _denied_payload_size()
    execution, stream = edge.runtime.execution, edge.stream
    assert execution is not None
    assert stream is not None
    rows = [("bare PUB → SUB (floor)", _publish_floor(client, size, count))]
    # The first warm-up signal becomes a resting order; every later one on that side is
    # denied by the pending guard before risk: one OrderDenied each on the bus.
    rows.append(
        ("runtime: signals denied → bus → stream", _burst(client, edge, execution, _signal, count))
    )
    rows.append(
        ("the edge alone: OrderDenied → stream actor", _burst(client, edge, stream, _denied, count))
    )
    rows.append(("bare PUB → SUB (floor, again)", _publish_floor(client, size, count)))
    print(f"  payload {size} B (an OrderDenied as the stream encodes it)")
    return rows


# Figures.


def _percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e3


def _figures(samples: list[int]) -> dict[str, float]:
    if not samples:
        return dict.fromkeys(("n", "p50", "p99", "max", "mean"), float("nan"))
    return {
        "n": len(samples),
        "p50": _percentile(samples, 0.50),
        "p99": _percentile(samples, 0.99),
        "max": max(samples) / 1e3,
        "mean": statistics.fmean(samples) / 1e3,
    }


Samples = list[tuple[str, list[int]]]
"""(row, nanoseconds) of each round-trip row."""


def _round_trips(
    client: _ClientProcess, edge: ZmqEdge, clock: _HandlerClock, args: argparse.Namespace
) -> Samples:
    request = encode_request("abcd1234-1234", "ping", {})
    reply = reply_ok("abcd1234-1234", {"pong": True, "ts": time.time_ns()})
    floor = floors.EchoServer(reply)
    pooled = floors.EchoServer(reply, pooled=True)
    floor_ns: list[int] = []
    pooled_ns: list[int] = []
    ping_ns: list[int] = []
    per_round = max(1, args.pings // args.rounds)
    try:
        client.call("ping_floor", floor.endpoint, request, args.warmup)
        client.call("ping_floor", pooled.endpoint, request, args.warmup)
        client.call("ping", edge.commands_endpoint, args.warmup)
        clock.ns.clear()
        for round_number in range(args.rounds):
            floor_ns.extend(client.call("ping_floor", floor.endpoint, request, per_round))
            pooled_ns.extend(client.call("ping_floor", pooled.endpoint, request, per_round))
            ping_ns.extend(client.call("ping", edge.commands_endpoint, per_round))
            print(
                f"  round {round_number + 1}: floor p50 {_percentile(floor_ns, 0.5):.0f} µs, "
                f"server-shaped echo p50 {_percentile(pooled_ns, 0.5):.0f} µs, "
                f"ping p50 {_percentile(ping_ns, 0.5):.0f} µs (pooled so far)",
                flush=True,
            )
    finally:
        floor.stop()
        pooled.stop()
    json_us = client.call("json", 20_000)
    print(
        f"  request {len(request)} B, reply {len(reply)} B; Client's JSON per ping (in the "
        f"ping figure, not the floors'): {json_us:.1f} µs",
        flush=True,
    )
    return [
        (FLOOR_ROW, floor_ns),
        (SHAPE_ROW, pooled_ns),
        (PING_ROW, ping_ns),
        (PING_HANDLER_ROW, clock.ns["ping"]),
    ]


def _submits(
    client: _ClientProcess,
    edge: ZmqEdge,
    clock: _HandlerClock,
    args: argparse.Namespace,
    data_dir: Path,
) -> Samples:
    started = time.perf_counter()
    result: dict[str, Any] = client.call(
        "submit", edge.commands_endpoint, edge.events_endpoint, args.submits, args.warmup
    )
    cancels = result["cancel_ns"]
    tenth = max(1, len(cancels) // 10)
    denials = sum(result["denials"].values())
    why = f" {result['denials']}" if denials else ""
    print(
        f"  {args.warmup + args.submits} submits, each cancelled, in "
        f"{time.perf_counter() - started:.1f} s. Timed: {result['orders']} orders, "
        f"{denials} denials{why}; "
        f"{result['unclosed']} not seen cancelled in 5 s.\n"
        f"  cancel answered not_found for the order its submit had just returned: "
        f"{result['not_found']} times ({result['not_found_retries']} retries, 1 ms apart).\n"
        f"  cancel p50, first tenth {_percentile(cancels[:tenth], 0.5):.0f} µs, last tenth "
        f"{_percentile(cancels[-tenth:], 0.5):.0f} µs; orders execution routes now: "
        f"{len(edge.runtime.orders())}",
        flush=True,
    )
    return [
        (SUBMIT_ROW, result["submit_ns"]),
        (SUBMIT_HANDLER_ROW, clock.ns["submit"][-args.submits :]),
        *_submit_parts(data_dir, 1000),
        ("cancel (not a target; retries included)", cancels),
        ("cancel → its cancelled event", result["closed_ns"]),
    ]


class _Forward(pykka.ThreadingActor):
    def __init__(self, target: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.target = target

    def on_receive(self, message: Any) -> None:
        self.target.tell(message)


class _Wake(pykka.ThreadingActor):
    """The chain's last actor wakes the waiting thread; on_start too (the spawn figure)."""

    def __init__(self, done: threading.Event, *, on_start: bool = False) -> None:
        super().__init__()
        self.done = done
        self.wake_on_start = on_start

    def on_start(self) -> None:
        if self.wake_on_start:
            self.done.set()

    def on_receive(self, _message: Any) -> None:
        self.done.set()


def _submit_parts(data_dir: Path, samples: int) -> Samples:
    """What a submit's handler waits on, measured bare in this run (the runtime is idle).

    From the handler's tell to its future: worker → execution → risk → execution →
    journal (commit) → execution → market supervisor → order actor (a new thread) → bus →
    waiter → worker: ten thread wake-ups, a SQLite commit and an actor start. (Since the
    market lifecycle actor tells the supervisor, a real submit takes one wake-up more.)
    """
    done = threading.Event()
    last = _Wake.start(done)
    chain: list[pykka.ActorRef[Any]] = [last]
    for _ in range(9):
        chain.append(_Forward.start(chain[-1]))
    hops: list[int] = []
    for _ in range(samples):
        done.clear()
        started = time.perf_counter_ns()
        chain[-1].tell(None)
        done.wait(5)
        hops.append(time.perf_counter_ns() - started)
    for ref in chain:
        ref.stop()
    spawns: list[int] = []
    for _ in range(max(1, samples // 4)):
        done.clear()
        started = time.perf_counter_ns()
        ref = _Wake.start(done, on_start=True)
        done.wait(5)
        spawns.append(time.perf_counter_ns() - started)
        ref.stop()
    store = SqliteJournalStore(data_dir.parent / "parts.sqlite")
    signal = _signal("bench")
    commits: list[int] = []
    try:
        for i in range(samples):
            created = OrderCreated(
                order_id=f"O{i}",
                correlation_id=signal.id,
                market_id=MARKET,
                security_id=signal.security_id,
                account="paper",
                strategy="synthetic_arbitrage",
                side=signal.side,
                price=signal.price,
                size=signal.size,
            )
            entry = NewEntry(
                stream=f"order:O{i}",
                kind=kind_of(created),
                payload=encode(created),
                dedup_key=f"created:O{i}",
                ts_ns=i,
            )
            started = time.perf_counter_ns()
            store.append([entry])
            commits.append(time.perf_counter_ns() - started)
    finally:
        store.close()
    return [
        (HOPS_ROW, hops),
        (SPAWN_ROW, spawns),
        (COMMIT_ROW, commits),
    ]


def _print_round_trips(rows: list[tuple[str, dict[str, float]]]) -> None:
    floor = rows[0][1] if rows[0][0].startswith("bare") else None
    print(
        f"\n{'command round trip (client process)':40} {'n':>6} {'p50 µs':>8} {'p99 µs':>8} "
        f"{'max µs':>8} {'p50 x floor':>11} {'p99 x floor':>11}"
    )
    for name, row in rows:
        ratios = (
            f"{row['p50'] / floor['p50']:11.2f} {row['p99'] / floor['p99']:11.2f}"
            if floor and not name.startswith(" ")
            else f"{'-':>11} {'-':>11}"
        )
        print(
            f"{name:40} {row['n']:6.0f} {row['p50']:8.0f} {row['p99']:8.0f} {row['max']:8.0f} "
            + ratios
        )
    print(
        "one request at a time, perf_counter_ns around Client.request in the client process; "
        "floor: the first row. Indented rows are not round trips: a handler row is the same "
        "requests' time in the server's handler (a worker thread); the bare rows are what "
        "a submit's handler waits on, measured alone in this process."
    )
    _where_the_time_goes(dict(rows))


def _where_the_time_goes(rows: dict[str, dict[str, float]]) -> None:
    """Differences of p50s (which do not add exactly, but say where most of it is)."""
    floor, shape, ping = rows.get(FLOOR_ROW), rows.get(SHAPE_ROW), rows.get(PING_ROW)
    print("\nwhere the time goes (differences of p50s)")
    if floor and shape and ping:
        print(
            f"  ping {ping['p50']:.0f} µs = bare echo {floor['p50']:.0f} + the server's shape "
            f"(pool hand-off, pipe wake) {shape['p50'] - floor['p50']:.0f} + the edge's work "
            f"and JSON on both ends {ping['p50'] - shape['p50']:.0f} (of which the handler "
            f"{rows[PING_HANDLER_ROW]['p50']:.0f})"
        )
    submit, handler = rows.get(SUBMIT_ROW), rows.get(SUBMIT_HANDLER_ROW)
    if submit and handler:
        outside = submit["p50"] - handler["p50"]
        line = (
            f"  submit {submit['p50']:.0f} µs = in the handler {handler['p50']:.0f} + "
            f"around it {outside:.0f}"
        )
        if ping:
            line += f" (a ping's: {ping['p50'] - rows[PING_HANDLER_ROW]['p50']:.0f})"
        print(line)
        bare = sum(rows[name]["p50"] for name in (HOPS_ROW, SPAWN_ROW, COMMIT_ROW))
        print(
            f"  the handler's wait, bare (10 wake-ups + an actor start + a commit): {bare:.0f} "
            f"µs; the other {handler['p50'] - bare:.0f} µs is the runtime's own work on "
            f"the way and threads waiting for the GIL"
        )


def _print_events(rows: list[tuple[str, dict[str, float]]], count: int) -> None:
    floor_rate = statistics.fmean(
        row["received"] / row["seconds"] for name, row in rows if "floor" in name
    )
    print(
        f"\n{'events on the stream (SUB on all topics)':44} {'sent/s':>9} {'received':>9} "
        f"{'lost':>7} {'gaps':>5} {'events/s':>9} {'x floor':>8}"
    )
    for name, row in rows:
        rate = row["received"] / row["seconds"] if row["seconds"] else 0.0
        print(
            f"{name:44} {row['sent_per_s']:9.0f} {row['received']:9.0f} "
            f"{max(0, count - row['received']):7.0f} {row['gaps']:5.0f} "
            f"{rate:9.0f} {rate / floor_rate:8.2f}"
        )
    print(
        f"{count:,} events a burst. sent/s: handed to the PUB socket per second, from the "
        f"burst's first tell or send to its last event handed over (the edge: the server's "
        f"count, and the bench's telling of the burst is in it); lost: not received (dropped at a "
        f"high-water mark); gaps: seq jumps the subscriber saw; events/s: received per "
        f"second, first to last; x floor: over the floors' mean."
    )


def _verdicts(rows: dict[str, dict[str, float]]) -> None:
    print("\ntargets")
    submit = rows.get(SUBMIT_ROW)
    if submit is not None:
        p99 = submit["p99"]
        print(
            f"  submit round trip p99 ≤ {SUBMIT_P99_TARGET_US / 1e3:.0f} ms: {p99:,.0f} µs — "
            f"{'met' if p99 <= SUBMIT_P99_TARGET_US else 'NOT met'}"
        )
    ping = rows.get(PING_ROW)
    floor = rows.get(FLOOR_ROW)
    if ping is not None and floor is not None:
        ratio = ping["p50"] / floor["p50"]
        print(
            f"  ping within {PING_TARGET_RATIO}x the bare echo: p50 {ping['p50']:.0f} µs vs "
            f"{floor['p50']:.0f} µs = {ratio:.2f}x — "
            f"{'met' if ratio <= PING_TARGET_RATIO else 'NOT met'} "
            f"(p99 {ping['p99'] / floor['p99']:.2f}x)"
        )


@attrs.frozen
class _Results:
    round_trips: Samples
    events: list[tuple[str, dict[str, float]]]


def _serve(client: _ClientProcess, args: argparse.Namespace, data_dir: Path) -> _Results:
    feed = _feed()
    runtime = Runtime(RuntimeConfig(data_dir=data_dir)).start(feed)
    edge: ZmqEdge | None = None
    try:
        runtime.replay(feed)
        edge = ZmqEdge(runtime, commands=LOCAL, events=LOCAL).start()
        print(
            f"server: Runtime + ZmqEdge, commands {edge.commands_endpoint}, events "
            f"{edge.events_endpoint}; client: process {client.process.pid}",
            flush=True,
        )
        clock = _HandlerClock(edge.server.handle)
        edge.server.handle = clock
        rows: Samples = []
        if args.pings:
            print("\n1. ping and the bare echo", flush=True)
            rows += _round_trips(client, edge, clock, args)
        if args.submits:
            print("\n2. submit (risk, execution, journal, order actor)", flush=True)
            rows += _submits(client, edge, clock, args, data_dir)
        events = []
        if args.events:
            print("\n3. events per second", flush=True)
            events = _events(client, edge, args.events)
        return _Results(rows, events)
    finally:
        if edge is not None:
            edge.stop()
        runtime.stop()


def measure(args: argparse.Namespace) -> _Results:
    """A runtime with its ZeroMQ edge here, the client in a second process."""
    client = _ClientProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-zmq-") as tmp:
            return _serve(client, args, Path(tmp) / "data")
    finally:
        client.stop()
        pykka.ActorRegistry.stop_all()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pings", type=int, default=9_000, help="per path, over the rounds")
    parser.add_argument("--submits", type=int, default=800, help="timed submits")
    parser.add_argument("--events", type=int, default=20_000, help="events a burst")
    parser.add_argument("--rounds", type=int, default=3, help="floor/ping alternations")
    parser.add_argument("--warmup", type=int, default=100, help="untimed requests first")
    return parser


def _received_per_s(row: dict[str, float]) -> float:
    return row["received"] / row["seconds"] if row["seconds"] else 0.0


def figures(quick: bool) -> list[Figure]:
    """Round trips against the bare echo measured alternating with the ping (which is
    against the suite's echo: the same shape, at another moment); the parts a submit waits
    on against the suite's pykka and SQLite floors; the event stream against a bare PUB
    measured just before and after it."""
    args = _parser().parse_args(QUICK if quick else FULL)
    results = measure(args)
    parts: dict[str, dict[str, Any]] = {
        HOPS_ROW: {"floor": floors.PYKKA_LATENCY},
        SPAWN_ROW: {"floor": floors.PYKKA_LATENCY},
        COMMIT_ROW: {"floor": floors.SQLITE_RATE, "items": 1},
    }
    targets = {PING_ROW: PING_TARGET, SUBMIT_ROW: SUBMIT_TARGET}
    result = []
    for name, samples in results.round_trips:
        if not samples:
            continue
        seconds = [ns / 1e9 for ns in samples]
        label = name.strip()
        if name == FLOOR_ROW:
            result.append(latency(ECHO, seconds, floor=floors.ZMQ_LATENCY))
            continue
        result.append(
            Figure(
                name=label,
                kind=Kind.LATENCY,
                unit="µs",
                samples=seconds,
                target=targets.get(name),
                **parts.get(name, {"floor": ECHO}),
            )
        )
    pub = [row for name, row in results.events if name.startswith("bare PUB")]
    if pub:
        result.append(
            rate(PUB, [_received_per_s(row) for row in pub], unit="events/s", floor=floors.ZMQ_RATE)
        )
    for name, row in results.events:
        if not name.startswith("bare PUB"):
            result.append(
                rate(
                    name,
                    _received_per_s(row),
                    unit="events/s",
                    floor=PUB,
                    note=f"{row['received']:,.0f} of {args.events:,} received",
                )
            )
    return result


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging("warning")
    started = time.perf_counter()
    print(
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"pyzmq {zmq.__version__} (libzmq {zmq.zmq_version()})",
        flush=True,
    )
    results = measure(args)
    summaries = [(name, _figures(samples)) for name, samples in results.round_trips]
    if summaries:
        _print_round_trips(summaries)
    if results.events:
        _print_events(results.events, args.events)
    _verdicts(dict(summaries))
    print(f"whole run {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
