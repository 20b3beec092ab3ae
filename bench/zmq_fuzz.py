"""Hostile frames against the real ZeroMQ edge: every frame must get one structured answer,
and neither the edge nor the runtime's core may restart.

The server is a ``Runtime`` (journal on SQLite in a temporary directory) that has replayed
``bench.zmq_commands``' feed (market ``m1`` open, one book per instrument) and a
``ZmqEdge`` on ``tcp://127.0.0.1:*``; the client is a DEALER. Here the server runs in a
child process, so its RSS is the server's alone (not hypothesis's); the suite runs it in
the test's process. The frames are drawn by hypothesis (``FRAMES``): nesting far past the
parser's bound, frames around and over the maximum frame size, bytes that are not UTF-8
(a BOM, encoded surrogates, UTF-16, random bytes), envelopes with wrong fields, and
submit / set_limits / switch_market with every numeric edge (huge and tiny exponents, NaN
and Infinity, 4,000-digit integers, 5,000-digit fractions, digits of other scripts,
spaces, separators) as strings and as raw JSON literals. The suite runs a few hundred
(tests/bridges/test_zmq_fuzz.py); this command runs many more and prints frames sent,
answers by code, and the server's RSS before and after.

    python -m bench.zmq_fuzz [--frames 20000] [--seed 0]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import structlog
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from bench.zmq_commands import MARKET, _feed
from bridges.zmq_client import Client
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.zmq_edge import ZmqEdge
from supervisors.kernel.base import ask
from supervisors.kernel.protocol import WhichChildren

_RAW_NUMBERS = [
    "1e999999999",
    "1E400",
    "1e-400",
    "-0",
    "0",
    "-1",
    "NaN",
    "Infinity",
    "-Infinity",
    "1" * 4000,
    "9" * 4301,
    "0." + "7" * 5000,
    "0." + "0" * 5000,
    "1000000000",
    "1000000000.000000000001",
    "0.000000000001",
    "0.0000000000001",
    "5",
    "0.10",
]
"""Number literals written into the JSON text as they are (not as strings)."""

NUMBER_STRINGS = st.one_of(
    st.sampled_from(_RAW_NUMBERS),
    st.integers(-(10**9), 10**9).map(lambda exponent: f"1e{exponent}"),
    st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
    st.text(st.characters(categories=["Nd"]), min_size=1, max_size=12),
    st.sampled_from([" 5", "5 ", "1_000", "+5", ".5", "5.", "0x10", "1e", "--1", "", "\u0665"]),
)
NUMBERS: st.SearchStrategy[Any] = st.one_of(
    NUMBER_STRINGS,
    st.integers(),
    st.integers(min_value=10**30, max_value=10**3000),
    st.booleans(),
    st.none(),
    st.floats(),
)
"""Values a numeric argument may be sent as (JSON-encodable ones)."""


def _envelope(cmd: str, args: dict[str, Any], request_id: str = "f") -> bytes:
    return json.dumps({"v": 1, "id": request_id, "cmd": cmd, "args": args}).encode()


def _with_raw_number(cmd: str, args: dict[str, Any], field: str, literal: str) -> bytes:
    """The envelope with ``field`` set to ``literal`` written raw into the JSON text."""
    frame = _envelope(cmd, {**args, field: "PLACEHOLDER"})
    return frame.replace(b'"PLACEHOLDER"', literal.encode())


_SUBMIT = {
    "market_id": MARKET,
    "security_id": f"{MARKET}-YES",
    "side": "BUY",
    "price": "0.10",
    "size": "5",
}
_SWITCH = {
    "market_id": "mz",
    "instruments": [
        {"security_id": "mz-YES", "outcome": "YES"},
        {"security_id": "mz-NO", "outcome": "NO"},
    ],
}
_LIMITS = ("max_order_size", "max_order_notional", "max_open_orders", "daily_loss_limit")


def _numeric(draw: Callable[[st.SearchStrategy[Any]], Any]) -> bytes:
    cmd, base, fields = draw(
        st.sampled_from(
            [
                ("submit", _SUBMIT, ("price", "size", "priority")),
                ("set_limits", {}, _LIMITS),
                ("switch_market", _SWITCH, ("payout",)),
            ]
        )
    )
    field = draw(st.sampled_from(fields))
    if draw(st.booleans()):
        return _with_raw_number(cmd, base, field, draw(st.sampled_from(_RAW_NUMBERS)))
    return _envelope(cmd, {**base, field: draw(NUMBERS)})


NUMERIC_FRAMES = st.composite(_numeric)()

_OPEN = st.sampled_from(["[", "{", '{"a":', "[[", '{"args":'])
DEEP_FRAMES = st.one_of(
    st.integers(33, 20_000).map(lambda depth: b"[" * depth),
    st.integers(33, 3_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(33, 3_000).map(
        lambda depth: (
            _envelope("ping", {})[:-2]
            + b',"deep":'
            + b'{"a":' * depth
            + b"1"
            + b"}" * depth
            + b"}}"
        )
    ),
    st.lists(_OPEN, min_size=33, max_size=400).map(lambda parts: "".join(parts).encode()),
    st.integers(1025, 20_000).map(lambda count: b"[" + b"[]," * count + b"[]]"),
)
HUGE_FRAMES = st.one_of(
    st.integers(65_000, 70_000).map(lambda size: b" " * size),
    st.integers(100, 60_000).map(lambda size: _envelope("lookup", {"security_id": "s" * size})),
    st.integers(100, 30_000).map(
        lambda size: _envelope("submit", {**_SUBMIT, "reason": "r" * size})
    ),
    st.integers(65_537, 1_000_000).map(lambda size: b"[" * size),
)
NOT_UTF8_FRAMES = st.one_of(
    st.binary(max_size=256),
    st.just(b"\xef\xbb\xbf" + _envelope("ping", {})),
    st.just(_envelope("ping", {}).decode().encode("utf-16")),
    st.just(_envelope("ping", {}).decode().encode("utf-32")),
    st.sampled_from(
        [b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xc0\x80", b"\xff", b"\xf8\x88\x80\x80"]
    ).map(lambda bad: b'{"v":1,"id":"' + bad + b'","cmd":"ping"}'),
    st.sampled_from(["\\ud800", "\\udfff", "\\ud83d"]).map(
        lambda escape: ('{"v":1,"id":"a' + escape + '","cmd":"ping"}').encode()
    ),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
ENVELOPE_FRAMES = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 2, "1", None, True, 1.0]),
        "id": st.sampled_from(["a", "", 7, None, "x" * 201]),
        "cmd": st.sampled_from(["ping", "status", "submit", "cancel", "lookup", "nope", "", 3]),
        "args": JSON_VALUES,
        "extra": st.integers(),
    },
).map(lambda document: json.dumps(document).encode())

FRAMES: st.SearchStrategy[list[bytes]] = st.one_of(
    DEEP_FRAMES.map(lambda frame: [frame]),
    HUGE_FRAMES.map(lambda frame: [frame]),
    NOT_UTF8_FRAMES.map(lambda frame: [frame]),
    NUMERIC_FRAMES.map(lambda frame: [frame]),
    ENVELOPE_FRAMES.map(lambda frame: [frame]),
    st.lists(st.binary(max_size=64), min_size=2, max_size=3),
)
"""A message of one or more frames, as a DEALER sends it."""

CODES = frozenset(
    {
        "ok",
        "bad_json",
        "bad_request",
        "not_an_object",
        "bad_envelope",
        "bad_version",
        "frame_too_large",
        "extra_frames",
        "unknown_command",
        "bad_args",
        "not_found",
        "unavailable",
        "busy",
    }
)
"""What a hostile frame may be answered; ``internal`` and ``timeout`` are failures here."""


class FuzzServer:
    """A runtime and its edge in ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        feed = _feed()
        self.runtime = Runtime(RuntimeConfig(data_dir=data_dir)).start(feed)
        self.runtime.replay(feed)
        self.edge = ZmqEdge(
            self.runtime, commands="tcp://127.0.0.1:*", events="tcp://127.0.0.1:*"
        ).start()

    @property
    def endpoint(self) -> str:
        return self.edge.commands_endpoint

    def restarts(self) -> tuple[int, int]:
        """(the core's generation: 1 if it never restarted, the edge's socket-thread restarts)."""
        assert self.edge.supervisor is not None
        children = ask(self.edge.supervisor, WhichChildren())
        return self.runtime.generation, sum(child.restarts for child in children)

    def close(self) -> None:
        self.edge.stop()
        self.runtime.stop()


class FuzzClient:
    """Sends messages to the edge and counts the answers by code."""

    def __init__(self, endpoint: str) -> None:
        self.client = Client(endpoint, timeout_s=10)
        self.codes: Counter[str] = Counter()
        self.sent = 0

    def throw(self, frames: list[bytes]) -> str:
        """Send one message; its answer's code. TimeoutError if none came."""
        self.client.send_raw(*frames)
        self.sent += 1
        reply = self.client.receive(10_000)
        code = "ok" if reply.get("ok") else str(reply.get("error", {}).get("code"))
        self.codes[code] += 1
        return code

    def close(self) -> None:
        self.client.close()


def fuzz(client: FuzzClient, frames: int, random_seed: int) -> None:
    """Throw ``frames`` hypothesis-drawn messages; AssertionError on an unexpected answer."""

    @seed(random_seed)
    @settings(
        max_examples=frames,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(message=FRAMES)
    def throw(message: list[bytes]) -> None:
        code = client.throw(message)
        assert code in CODES, code

    throw()


def rss_bytes() -> int:
    """This process's resident set size now (Linux: /proc/self/statm)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _server_process(connection: Connection) -> None:
    """The server's process: serve until told ``stop``; answer ``report`` with
    (RSS bytes, core generation, edge restarts)."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    with tempfile.TemporaryDirectory(prefix="zmq-fuzz-") as directory:
        server = FuzzServer(Path(directory))
        try:
            connection.send(server.endpoint)
            while connection.recv() == "report":
                gc.collect()
                connection.send((rss_bytes(), *server.restarts()))
        finally:
            server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.zmq_fuzz", description=__doc__)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_server_process, args=(theirs,), daemon=True)
    process.start()
    try:
        endpoint = ours.recv()
        ours.send("report")
        before, _, _ = ours.recv()
        client = FuzzClient(endpoint)
        started = time.perf_counter()
        failure = ""
        try:
            fuzz(client, args.frames, args.seed)
        except (AssertionError, TimeoutError) as error:
            failure = f"{type(error).__name__}: {error}"
        elapsed = time.perf_counter() - started
        with contextlib.suppress(TimeoutError):
            client.client.request("ping")
            client.codes["ping after"] += 1
        client.close()
        ours.send("report")
        after, generation, edge_restarts = ours.recv()
        ours.send("stop")
    finally:
        process.join(timeout=60)
    out = sys.stdout
    out.write(f"frames sent: {client.sent} in {elapsed:.1f} s (seed {args.seed})\n")
    out.write("answers by code:\n")
    for code, count in sorted(client.codes.items(), key=lambda item: -item[1]):
        out.write(f"  {code:16s} {count:7d}\n")
    out.write(
        f"server RSS before {before / 2**20:.1f} MiB, after {after / 2**20:.1f} MiB\n"
        f"core generation {generation} (1: never restarted), edge restarts {edge_restarts}\n"
    )
    if failure:
        out.write(f"FAILED: {failure}\n")
    alive = client.codes["ping after"] == 1
    return 0 if not failure and (generation, edge_restarts) == (1, 0) and alive else 1


if __name__ == "__main__":
    raise SystemExit(main())
