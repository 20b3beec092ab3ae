"""`tradeactors ping|switch-market|set-limits|status|positions|snapshot|lookup|submit|cancel|
reconcile|watch|keygen`.

Each command is one request to a running runtime's ZeroMQ edge (docs/PROTOCOL.md), printed
as a table on a terminal or as JSON with ``--json``; ``watch`` follows the event stream, as
the live dashboard on a terminal (``--plain``: a line per event).
Exit status: 0 answered, 1 answered with an error, 3 no answer (runtime not running?).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import attrs
import zmq.auth

from bridges.zmq_client import Client, ClientCurve, EventSubscriber
from bridges.zmq_protocol import CommandError, encode_json
from bridges.zmq_server import DEFAULT_COMMANDS, DEFAULT_EVENTS
from messages.codec import CodecError, decode
from messages.orders import OrderSnapshot
from messages.positions import PositionSnapshot
from messages.queries import MarketState
from messages.risk import RiskLimits
from tools.cli_types import endpoint
from tools.console import positions_table
from tools.dashboard import DashboardState, Restarted, Unknown
from tools.dashboard_live import PacedDashboard
from tools.dashboard_screen import REDRAW_S, is_terminal
from tools.watch_lines import HEARTBEAT, ServerLiveness, describe

CLIENT_COMMANDS = (
    "ping",
    "switch-market",
    "set-limits",
    "status",
    "positions",
    "snapshot",
    "lookup",
    "submit",
    "cancel",
    "reconcile",
    "watch",
    "keygen",
)


LIMITS = tuple(field.name for field in attrs.fields(RiskLimits))
"""The risk limits ``set-limits`` takes, by the names the protocol uses."""


def add_commands(commands: Any) -> None:
    """Add the client commands to the ``tradeactors`` parser's subcommands."""
    for name, help_text in (
        ("ping", "is a runtime answering there, and how fast"),
        ("switch-market", "open a market and make it the current one"),
        ("set-limits", "change risk limits (journaled: a restart keeps them)"),
        ("status", "actors, restarts, broker link, open orders"),
        ("positions", "positions, filtered by --account/--strategy/--market/--security"),
        ("snapshot", "every position and order"),
        ("lookup", "the position index's answer for a security"),
        ("submit", "send a trade signal; prints the order id or the denial"),
        ("cancel", "cancel an order"),
        ("reconcile", "reconcile with the broker now"),
        ("watch", "follow the event stream"),
    ):
        parser = commands.add_parser(name, help=help_text)
        _connection(parser)
        if name == "positions":
            for flag in ("account", "strategy", "market", "security"):
                parser.add_argument(f"--{flag}")
        elif name == "lookup":
            parser.add_argument("security_id")
        elif name == "submit":
            parser.add_argument("market_id")
            parser.add_argument("security_id")
            parser.add_argument("side", choices=["BUY", "SELL"])
            parser.add_argument("price")
            parser.add_argument("size")
            parser.add_argument("--reason", default="submitted from the command line")
        elif name == "cancel":
            parser.add_argument("order_id")
            parser.add_argument("--reason", default="client", help="why, for the order's history")
        elif name == "switch-market":
            parser.add_argument("market_id")
            parser.add_argument("yes_security_id", help="the instrument that pays on YES")
            parser.add_argument("no_security_id", help="the instrument that pays on NO")
            parser.add_argument("--payout", default="1", help="what the winner pays per share")
        elif name == "set-limits":
            for limit in LIMITS:
                parser.add_argument(f"--{limit.replace('_', '-')}", dest=limit, help="a number")
            parser.add_argument(
                "--off", nargs="+", default=[], choices=LIMITS, metavar="LIMIT",
                help="switch these rules off",
            )  # fmt: skip
        elif name == "watch":
            parser.add_argument("topics", nargs="*", default=[""], help="topic prefixes")
            parser.add_argument("--events-endpoint", type=endpoint, default=DEFAULT_EVENTS)
            parser.add_argument("--count", type=int, help="stop after this many events")
            parser.add_argument(
                "--plain",
                action="store_true",
                help="a line per event even on a terminal, instead of the live dashboard",
            )
        parser.set_defaults(handler=run_client)
    keygen = commands.add_parser("keygen", help="write a CURVE key pair (for server or client)")
    keygen.add_argument("directory")
    keygen.add_argument("--name", default="server", help="file name: NAME.key and NAME.key_secret")
    keygen.set_defaults(handler=_keygen)


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint", type=endpoint, default=DEFAULT_COMMANDS, help="the command socket"
    )
    parser.add_argument("--server-key", help="the server's public key file (CURVE)")
    parser.add_argument("--client-key", help="this client's secret key file (CURVE)")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait")
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")


class ClientSetupError(Exception):
    """A client command that cannot even be sent: said on one line, exit status 2."""


def _curve(args: argparse.Namespace) -> ClientCurve | None:
    if not args.server_key and not args.client_key:
        return None
    if not (args.server_key and args.client_key):
        raise ClientSetupError("CURVE needs both --server-key and --client-key")
    _key(args.server_key, "--server-key", secret=False)
    _key(args.client_key, "--client-key", secret=True)
    return ClientCurve(
        server_public_file=Path(args.server_key), client_secret_file=Path(args.client_key)
    )


def _key(path: str, flag: str, *, secret: bool) -> None:
    """A key file ``zmq.auth`` can read, holding a secret key where one is needed."""
    try:
        _public, secret_key = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as error:
        raise ClientSetupError(f"{flag} {path}: not a CURVE key file ({error})") from None
    if secret and secret_key is None:
        raise ClientSetupError(
            f"{flag} {path} holds a public key only; pass this client's secret key file "
            "(NAME.key_secret, written by tradeactors keygen)"
        )


def run_client(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    if args.command == "watch":
        return watch(args, out)
    request = _request_for(args)
    sent = time.perf_counter()
    try:
        curve = _curve(args)
        with Client(args.endpoint, timeout_s=args.timeout, curve=curve) as client:
            result = client.request(args.command.replace("-", "_"), **request)
    except ClientSetupError as error:
        return _failed(args, out, "bad_setup", str(error), 2)
    except CommandError as error:
        return _failed(args, out, str(error.code), error.message, 1)
    except TimeoutError:
        message = f"no answer from {args.endpoint} in {args.timeout} s (is a runtime running?)"
        return _failed(args, out, "no_answer", message, 3)
    if args.command == "ping" and isinstance(result, dict):
        result = {**result, "round_trip_ms": round((time.perf_counter() - sent) * 1000, 3)}
    if args.json:
        out.write(encode_json(result).decode() + "\n")
    else:
        out.write(_human(args.command, result) + "\n")
    denied = args.command == "submit" and isinstance(result, dict) and "denied" in result
    return 1 if denied else 0


def _failed(args: argparse.Namespace, out: TextIO, code: str, message: str, status: int) -> int:
    """One line saying what went wrong (a JSON document with ``--json``) and its status."""
    if args.json:
        out.write(json.dumps({"error": {"code": code, "message": message}}) + "\n")
    elif code in ("bad_setup", "no_answer"):
        out.write(f"tradeactors: {message}\n")
    else:
        out.write(f"error {code}: {message}\n")
    return status


def _request_for(args: argparse.Namespace) -> dict[str, Any]:
    if args.command == "positions":
        fields = {"account": "account", "strategy": "strategy", "market": "market_id"}
        request = {
            name: getattr(args, flag) for flag, name in fields.items() if getattr(args, flag)
        }
        if args.security:
            request["security_id"] = args.security
        return request
    if args.command == "lookup":
        return {"security_id": args.security_id}
    if args.command == "submit":
        return {
            "market_id": args.market_id,
            "security_id": args.security_id,
            "side": args.side,
            "price": args.price,
            "size": args.size,
            "reason": args.reason,
        }
    if args.command == "cancel":
        return {"order_id": args.order_id, "reason": args.reason}
    if args.command == "switch-market":
        instruments = [
            {"security_id": args.yes_security_id, "outcome": "YES"},
            {"security_id": args.no_security_id, "outcome": "NO"},
        ]
        return {"market_id": args.market_id, "instruments": instruments, "payout": args.payout}
    if args.command == "set-limits":
        limits: dict[str, Any] = dict.fromkeys(args.off)
        limits.update({n: getattr(args, n) for n in LIMITS if getattr(args, n) is not None})
        return limits
    return {}


def _human(command: str, result: Any) -> str:
    if command in ("positions", "snapshot"):
        snapshots = [decode_snapshot(plain) for plain in result["positions"]]
        text = positions_table(snapshots)
        if command == "snapshot":
            text += f"\n{len(result['orders'])} orders"
        return text
    if command == "status":
        instance = result.get("instance") or {}
        lines = [
            f"tradeactors {instance.get('version', '?')}, pid {instance.get('pid', '?')}, "
            f"data dir {instance.get('data_dir', '?')}, up since {_since(instance)}",
            f"core generation {result['generation']}, next record {result['next_step']}",
        ]
        lines += [
            f"  {a['id']:<18} {'up' if a['alive'] else 'DOWN':<5} restarts {a['restarts']}"
            for a in result["actors"]
        ]
        restarted = [m for m in result["market_actors"] if m["restarts"]]
        lines.append(
            f"  {len(result['market_actors'])} market actors, {len(restarted)} restarted, "
            f"{result['routed_orders']} orders routed"
        )
        lines += [
            f"  shard {s['shard']:<4} {'up' if s['up'] else 'DOWN':<5} node {s['node']} "
            f"({s['host']}), pid {s['pid']}, restarts {s['restarts']}"
            + (f", record {s['next_step']} of {s['records']}" if s["up"] else "")
            for s in result.get("shards", ())
        ]
        if result["broker"]:
            broker = result["broker"]
            lines.append(
                f"  broker: connected {broker['connected']}, registered {broker['registered']}, "
                f"{broker['callbacks']} callbacks, {broker['open_orders']} open orders"
            )
        return "\n".join(lines)
    if command == "lookup":
        rows = [
            f"  {m['position_id']:<40} {m['account']:<10} {m['quantity']:>10} @ {m['avg_price']}"
            for m in result["trackers"]
        ]
        return "\n".join([f"{result['security_id']}: {len(rows)} positions", *rows])
    if command == "submit":
        if "order_id" in result:
            return f"order {result['order_id']}"
        return f"denied: {result['denied']}"
    if command == "cancel":
        return f"cancel of {result['order_id']} handed to execution (the outcome: watch order.)"
    if command == "ping":
        return f"pong in {result['round_trip_ms']} ms (server clock {result['ts']} ns)"
    if command == "switch-market":
        return f"market {result['market_id']} open and current"
    if command == "set-limits":
        return "\n".join(f"  {name:<22} {value}" for name, value in result["limits"].items())
    return json.dumps(result, default=str)


def _since(instance: dict[str, Any]) -> str:
    started = instance.get("started_ns")
    if not isinstance(started, int):
        return "?"
    moment = datetime.datetime.fromtimestamp(started // 10**9).astimezone()
    return moment.isoformat(timespec="seconds")


def decode_snapshot(plain: dict[str, Any]) -> PositionSnapshot:
    snapshot = decode("PositionSnapshot", json.dumps(plain, default=str))
    assert isinstance(snapshot, PositionSnapshot)
    return snapshot


def _order(plain: dict[str, Any]) -> OrderSnapshot:
    order = decode("OrderSnapshot", json.dumps(plain, default=str))
    assert isinstance(order, OrderSnapshot)
    return order


def _market(plain: dict[str, Any]) -> MarketState:
    market = decode("MarketState", json.dumps(plain, default=str))
    assert isinstance(market, MarketState)
    return market


def stream_event(message: dict[str, Any]) -> object:
    """The message object a stream event carries, so the dashboard folds the very classes
    `tradeactors run` folds; ``Restarted`` for a restart (its actor ref did not travel),
    ``Unknown`` for a kind this client cannot rebuild."""
    kind = str(message.get("kind", ""))
    fields = message.get("event", {})
    try:
        if kind == "ChildRestarted":
            return Restarted(
                supervisor=fields["supervisor"],
                child_id=fields["child_id"],
                restarts=fields["restarts"],
            )
        return decode(kind, json.dumps(fields, default=str))
    except (CodecError, KeyError, TypeError):
        return Unknown(kind=kind)


def watch(args: argparse.Namespace, out: TextIO, stop: threading.Event | None = None) -> int:
    """Follow the stream until ``--count`` events, Ctrl-C or ``stop`` (set from another
    thread): the live dashboard on a terminal, else a ``seq topic kind`` line (or a JSON
    line) per event."""
    wanted = tuple(args.topics)
    topics = wanted if "" in wanted else (*wanted, HEARTBEAT)  # heartbeats tell liveness
    subscriber = EventSubscriber(args.events_endpoint, topics, curve=_curve(args))
    events = _events(subscriber, args.count, stop, counted=wanted)
    try:
        if args.json or args.plain or not is_terminal(out):
            _follow_lines(
                events, out, as_json=args.json, endpoint=args.events_endpoint, wanted=wanted
            )
        else:
            _follow_dashboard(events, out, args)
    except KeyboardInterrupt:
        return 130
    finally:
        subscriber.close()
    return 0


_Event = tuple[str, dict[str, Any]]


def _events(
    subscriber: EventSubscriber,
    count: int | None,
    stop: threading.Event | None,
    *,
    counted: tuple[str, ...] = ("",),
) -> Iterator[_Event | None]:
    """Each (topic, message) as it comes, and None after ``REDRAW_S`` without one (time to
    redraw, or to notice ``stop``); until ``count`` events of the ``counted`` topics, or
    ``stop``."""
    seen = 0
    while (count is None or seen < count) and not (stop is not None and stop.is_set()):
        try:
            event = subscriber.next_event(timeout_s=REDRAW_S)
        except TimeoutError:
            yield None
            continue
        seen += event[0].startswith(counted)
        yield event


def _follow_lines(
    events: Iterator[_Event | None],
    out: TextIO,
    *,
    as_json: bool,
    endpoint: str,
    wanted: tuple[str, ...],
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """A line per event (JSON with ``as_json``), heartbeats only if ``wanted``; and a line
    when the server goes silent and when it is back."""
    liveness = ServerLiveness(endpoint, clock())
    for event in events:
        if event is None:
            note = liveness.check(clock())
        else:
            topic, message = event
            note = liveness.heard(topic, message, clock())
        if note is not None and not as_json:
            out.write(note + "\n")
        if event is None or not topic.startswith(wanted):
            out.flush()
            continue
        if as_json:
            out.write(json.dumps({"topic": topic, **message}, default=str) + "\n")
        else:
            out.write(describe(topic, message) + "\n")
        out.flush()


def _follow_dashboard(
    events: Iterator[_Event | None],
    out: TextIO,
    args: argparse.Namespace,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """The dashboard on a snapshot, then the events; its note line says when the server
    goes silent and when it is back, as ``--plain`` does in a line."""
    with PacedDashboard(out, clock=clock) as dashboard:
        dashboard.state.note = f"asking {args.endpoint} for a snapshot"
        dashboard.draw()
        _seed(dashboard.state, args)
        liveness = ServerLiveness(args.events_endpoint, clock())
        for event in events:
            if event is None:
                note = liveness.check(clock())
            else:
                note = liveness.heard(event[0], event[1], clock())
                dashboard.state.apply(stream_event(event[1]))
            if note is not None:
                dashboard.state.note = note.removeprefix("-- ")
                dashboard.draw()
            dashboard.tick()


def _seed(state: DashboardState, args: argparse.Namespace) -> None:
    """Positions and orders from one ``snapshot``: what happened before the stream joined."""
    try:
        with Client(args.endpoint, timeout_s=args.timeout, curve=_curve(args)) as client:
            answer = client.request("snapshot")
    except (CommandError, TimeoutError) as error:
        state.note = f"no snapshot from {args.endpoint} ({error}): events from now on only"
        return
    state.seed(
        [decode_snapshot(plain) for plain in answer["positions"]],
        [_order(plain) for plain in answer["orders"]],
        # A server older than the markets in its snapshot: the markets come with events.
        [_market(plain) for plain in answer.get("markets", [])],
    )
    state.note = f"events from {args.events_endpoint} on a snapshot from {args.endpoint}"


def _keygen(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    directory = Path(args.directory)
    directory.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(directory, args.name)
    Path(secret).chmod(0o600)  # pyzmq writes it 0644: a secret is its owner's alone
    out.write(f"public key {public}\nsecret key {secret}\n")
    return 0
