"""The codecs on their own: what each wire path costs a call, beside bare JSON floors
measured in the same rounds.

Paths, each on one thread with nothing else of the runtime:

- the ZeroMQ edge: ``parse_request`` of a client's ``submit`` frame (bytes in, a checked
  envelope out), ``reply_ok`` of a submit's answer and of a ``positions`` result, and the
  event stream's encoding of an ``OrderUpdated`` and a ``PositionDelta``
  (``EventStreamActor.on_receive`` with a server that keeps what it is handed);
- the journal: the strict ``codec.decode`` of a ``Fill`` and an ``OrderCreated`` (untrusted
  input: every validator runs) and, beside it, the trusted ``decode_trusted`` of the same
  record;
- the feed: ``decode_record`` of a ``book_snapshot`` line.

Floors: ``msgspec.json.decode`` of the same bytes into plain Python objects (the least a
read of that JSON can cost) for the reads, and ``msgspec.json.encode`` of a dict of the
same fields for the writes. ``json`` (stdlib) of the same bytes is printed beside them, for
what the paths cost before msgspec. The machine drifts, so paths and floors alternate in
``--rounds`` rounds; each figure is the median over rounds of a round's mean per call, and
its ratio is over its floor's median from the same rounds.

    python -m bench.codec [--rounds 15] [--calls 2000]

The same file runs against an older tree of the project (it calls only functions that
were there before msgspec): put this file in that tree's ``bench/`` and run it there.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import msgspec

from actors.journal_decode import decode_trusted
from bridges.feed_codec import decode_record, encode_record
from bridges.zmq_events import EventStreamActor
from bridges.zmq_protocol import parse_request, plain, reply_ok
from messages.codec import decode, encode, kind_of
from messages.enums import OrderSide, OrderStatus, PositionStatus
from messages.fills import Fill
from messages.journal import OrderCreated
from messages.market_data import BookLevel, BookSnapshot
from messages.orders import OrderSnapshot, OrderUpdated
from messages.positions import LegSnapshot, PositionDelta, PositionSnapshot

D = Decimal
READ_FLOOR = "msgspec.json.decode of the same bytes (bench floor)"
WRITE_FLOOR = "msgspec.json.encode of the same fields (bench floor)"


def _fill() -> Fill:
    return Fill(
        fill_id="F0000000017",
        ts_event=1718000000000000000,
        order_id="O17",
        market_id="m1",
        security_id="m1-YES",
        side=OrderSide.BUY,
        price=D("0.47"),
        size=D("120"),
        fee=D("0.0005"),
    )


def _leg() -> LegSnapshot:
    return LegSnapshot(
        security_id="m1-YES",
        quantity=D("120"),
        cost=D("56.40"),
        avg_open_price=D("0.47"),
        realized_pnl=D("0"),
        fees=D("0.0005"),
        mark=D("0.48"),
        unrealized_pnl=D("1.20"),
        pending_buy=False,
        pending_sell=False,
    )


def _order() -> OrderSnapshot:
    return OrderSnapshot(
        order_id="O17",
        correlation_id="8cde6cdf26b3-2c",
        market_id="m1",
        security_id="m1-YES",
        account="paper",
        strategy="synthetic_arbitrage",
        side=OrderSide.BUY,
        price=D("0.47"),
        size=D("120"),
        filled=D("0"),
        avg_fill_price=None,
        fees=D("0"),
        status=OrderStatus.PENDING,
        fill_count=0,
        last_fill_id=None,
        version=0,
    )


def _position() -> PositionSnapshot:
    return PositionSnapshot(
        position_id="m1/paper/synthetic_arbitrage",
        market_id="m1",
        account="paper",
        strategy="synthetic_arbitrage",
        status=PositionStatus.OPEN,
        version=6,
        legs=(_leg(), attrs.evolve(_leg(), security_id="m1-NO")),
    )


SUBMIT_FRAME = (
    b'{"v":1,"id":"abcd1234-17","cmd":"submit","args":{"market_id":"m1",'
    b'"security_id":"m1-YES","side":"BUY","price":"0.01","size":"1","reason":"bench"}}'
)


class _Keep:
    """Stands in for the ZmqServer: keeps the last payload it is handed."""

    payload = b""

    def publish(self, _topic: str, payload: bytes) -> None:
        self.payload = payload


Path_ = tuple[str, Callable[[], Any], str, bytes | dict[str, Any]]
"""(name, the call, its floor, what the floor reads or writes)."""


def paths() -> list[Path_]:
    fill = _fill()
    created = OrderCreated(
        order_id="O17",
        correlation_id="8cde6cdf26b3-2c",
        market_id="m1",
        security_id="m1-YES",
        account="paper",
        strategy="synthetic_arbitrage",
        side=OrderSide.BUY,
        price=D("0.47"),
        size=D("120"),
    )
    updated = OrderUpdated(correlation_id="8cde6cdf26b3-2c", cause="submitted", order=_order())
    delta = PositionDelta(
        correlation_id="O17",
        position_id="m1/paper/synthetic_arbitrage",
        market_id="m1",
        version=6,
        fill=fill,
        leg=_leg(),
    )
    book = BookSnapshot(
        ts_event=1,
        market_id="m1",
        security_id="m1-YES",
        sequence=0,
        bids=(BookLevel(price=D("0.40"), size=D("100")),),
        asks=(BookLevel(price=D("0.45"), size=D("100")),),
    )
    positions = {"positions": [plain(_position())]}
    server = _Keep()
    stream = EventStreamActor(server)  # type: ignore[arg-type]
    fill_json, created_json = encode(fill), encode(created)
    line = encode_record(book)

    def event_fields(event: Any) -> dict[str, Any]:
        return {"seq": 1, "kind": type(event).__name__, "event": plain(event)}

    return [
        ("zmq: parse_request (submit)", lambda: parse_request([SUBMIT_FRAME]), READ_FLOOR,
         SUBMIT_FRAME),
        ("zmq: reply_ok (submit's answer)", lambda: reply_ok("abcd1234-17", {"order_id": "O17"}),
         WRITE_FLOOR, {"v": 1, "id": "abcd1234-17", "ok": True, "result": {"order_id": "O17"}}),
        ("zmq: reply_ok (positions, one position)", lambda: reply_ok("r", positions),
         WRITE_FLOOR, {"v": 1, "id": "r", "ok": True, "result": positions}),
        ("zmq: event OrderUpdated", lambda: stream.on_receive(updated), WRITE_FLOOR,
         event_fields(updated)),
        ("zmq: event PositionDelta (2 topics)", lambda: stream.on_receive(delta), WRITE_FLOOR,
         event_fields(delta)),
        ("journal: strict decode Fill", lambda: decode(kind_of(fill), fill_json), READ_FLOOR,
         fill_json.encode()),
        ("journal: strict decode OrderCreated", lambda: decode("OrderCreated", created_json),
         READ_FLOOR, created_json.encode()),
        ("journal: trusted decode Fill", lambda: decode_trusted("Fill", fill_json), READ_FLOOR,
         fill_json.encode()),
        ("feed: decode_record book_snapshot", lambda: decode_record(line), READ_FLOOR,
         line.encode()),
    ]  # fmt: skip


def _per_call(call: Callable[[], Any], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls


def _floors(data: bytes | dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """(the msgspec floor, the stdlib json reference) for what a path reads or writes."""
    if isinstance(data, bytes):
        return (lambda: msgspec.json.decode(data)), (lambda: json.loads(data))
    return (lambda: msgspec.json.encode(data)), (
        lambda: json.dumps(data, default=str, separators=(",", ":")).encode()
    )


def measure(rounds: int, calls: int) -> list[tuple[str, float, float, float]]:
    """(path, median µs a call, its floor's median µs, json's median µs) per path."""
    table = paths()
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, call, _floor, data in table:
            floor, reference = _floors(data)
            for key, timed in ((name, call), (f"{name}/floor", floor), (f"{name}/json", reference)):
                samples.setdefault(key, []).append(_per_call(timed, calls))
    median = {key: statistics.median(values) * 1e6 for key, values in samples.items()}
    return [(name, median[name], median[f"{name}/floor"], median[f"{name}/json"])
            for name, *_ in table]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000, help="calls a path, each round")
    args = parser.parse_args(argv)
    print(
        f"{platform.platform()}, Python {platform.python_version()}, msgspec "
        f"{msgspec.__version__}; {args.rounds} rounds of {args.calls} calls a path"
    )
    print(f"\n{'path':42} {'µs a call':>9} {'floor µs':>9} {'x floor':>8} {'json µs':>8}")
    for name, took, floor, reference in measure(args.rounds, args.calls):
        print(f"{name:42} {took:9.2f} {floor:9.2f} {took / floor:8.2f} {reference:8.2f}")
    print(
        "\nmedians over rounds of a round's mean; floor: msgspec reading the same bytes "
        "(reads) or writing the same fields as plain data (writes); json: the stdlib doing "
        "the same (json.loads; json.dumps with Decimals as str)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
