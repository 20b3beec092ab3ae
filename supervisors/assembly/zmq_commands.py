"""The commands a ZeroMQ client can send, each answered from the running runtime.

Handlers run on the server's worker threads, outside every actor, so they may wait on the
actors (asks with timeouts). Arguments are checked here, strictly: a wrong type, a missing
field or a negative size is a ``bad_args`` error naming the field, never an exception in an
actor. docs/PROTOCOL.md documents each command's arguments and result.
"""

from __future__ import annotations

import concurrent.futures
import importlib.metadata
import os
import re
import time
from collections.abc import Callable
from decimal import Context, Decimal
from typing import Any

import pykka

from bridges.zmq_protocol import CommandError, ErrorCode, Request, plain
from messages.broker import BrokerOrderStatus, RawDealEvent, RawOrderEvent
from messages.client_requests import AwaitMarket, SubmitSignal
from messages.enums import OrderSide, Outcome
from messages.markets import Instrument, MarketDefinition, MarketOpened
from messages.order_commands import CancelOrder
from messages.queries import ListRoutedOrders
from messages.signals import TradeSignal
from supervisors.assembly.risk_config import RiskConfigError, limits_from
from supervisors.assembly.runtime import Runtime, RuntimeDownError
from supervisors.kernel.base import ASK_TIMEOUT_S, ask
from supervisors.kernel.protocol import WhichChildren

Handler = Callable[["Commands", dict[str, Any]], Any]
Change = Callable[[], dict[str, Any]]

_HANDLERS: dict[str, Handler] = {}
_CHANGES: frozenset[str] = frozenset(
    {"submit", "cancel", "switch_market", "reconcile", "set_limits", "broker_event"}
)
"""Commands that change state. Their handlers check the arguments and return the change
itself, which the runtime runs as a unit of work (``Runtime.change``): in a lockstep
replay, between two feed steps, so a client never keeps a step from ending."""
_NO_RUNTIME = frozenset({"ping"})
"""Commands that never touch the runtime (``ping`` is answered on the socket thread)."""


def command(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _HANDLERS[name] = handler
        return handler

    return register


def command_names() -> tuple[str, ...]:
    return tuple(sorted(_HANDLERS))


class Commands:
    """``handle(request)`` runs the named command against ``runtime``."""

    def __init__(self, runtime: Runtime, submit_timeout_s: float = 5.0):
        self.runtime = runtime
        self.submit_timeout_s = submit_timeout_s
        self.instance = {
            "data_dir": str(runtime.journal_path.parent.resolve()),
            "pid": os.getpid(),
            "started_ns": time.time_ns(),
            "version": _version(),
        }
        """Which runtime answers: a client on a default endpoint must be able to tell."""

    def handle(self, request: Request) -> Any:
        handler = _HANDLERS.get(request.cmd)
        if handler is None:
            raise CommandError(
                ErrorCode.UNKNOWN_COMMAND,
                f"unknown command {request.cmd!r}; known: {', '.join(command_names())}",
            )
        try:
            if request.cmd not in _NO_RUNTIME:
                # After a core restart the refs held are dead: find the new core first.
                self.runtime.follow(timeout_s=self.submit_timeout_s)
            result = handler(self, request.args)
            if request.cmd in _CHANGES:
                return self.runtime.change(result)
            return result
        except RuntimeDownError as error:
            raise CommandError(
                ErrorCode.UNAVAILABLE, f"the runtime could not answer now ({error}); retry"
            ) from None
        except (pykka.ActorDeadError, pykka.Timeout, TimeoutError) as error:
            raise CommandError(
                ErrorCode.UNAVAILABLE, f"the runtime could not answer now ({error}); retry"
            ) from None

    def actor(self, ref: pykka.ActorRef[Any] | None, what: str) -> pykka.ActorRef[Any]:
        if ref is None:
            raise CommandError(ErrorCode.UNAVAILABLE, f"no {what} in this runtime")
        return ref


# -- argument checks ------------------------------------------------------------------------


def _args(args: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    missing = [name for name in required if name not in args]
    if missing:
        raise CommandError(ErrorCode.BAD_ARGS, f"missing arguments {missing}")
    unknown = sorted(set(args) - set(required) - set(optional))
    if unknown:
        raise CommandError(ErrorCode.BAD_ARGS, f"unknown arguments {unknown}")


MAX_TEXT = 256
"""Longest string argument: a client's text is echoed in replies and events, so it is
bounded here, not by what each subscriber's buffer can hold."""
MAX_MAGNITUDE = Decimal(10) ** 9
"""Largest price or size a client may send (no instrument here has a tick or lot size)."""
MAX_PLACES = 12
"""Most decimal places a price or size may have."""
MAX_LIMIT = MAX_MAGNITUDE * MAX_MAGNITUDE
"""Largest risk limit: a notional of the largest price times the largest size."""
_STEP = Decimal(1).scaleb(-MAX_PLACES)
_QUANTIZE = Context(prec=40)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
"""A decimal as a string: ASCII digits, an optional exponent; no spaces, no "_"."""


def _text(args: dict[str, Any], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if not isinstance(value, str) or not value:
        raise CommandError(ErrorCode.BAD_ARGS, f"{name} must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise CommandError(
            ErrorCode.BAD_ARGS, f"{name} has {len(value)} characters; the maximum is {MAX_TEXT}"
        )
    return value


def _decimal(
    args: dict[str, Any], name: str, *, positive: bool = False, maximum: Decimal = MAX_MAGNITUDE
) -> Decimal:
    """A price or size the domain can compute with: finite, at most ``maximum``, at most
    ``MAX_PLACES`` decimal places (trailing zeros past them are dropped)."""
    value = args.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise CommandError(ErrorCode.BAD_ARGS, f"{name} must be a number or a numeric string")
    if isinstance(value, int) and value > maximum:
        raise CommandError(ErrorCode.BAD_ARGS, f"{name} must be at most {maximum:,}")
    shown = _shown(value)
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        raise CommandError(
            ErrorCode.BAD_ARGS,
            f"{name} must be a finite number in decimal syntax (ASCII digits), got {shown}",
        )
    number = value if isinstance(value, Decimal) else Decimal(value)
    if not number.is_finite() or number < 0 or (positive and number == 0):
        kind = "positive" if positive else "non-negative"
        raise CommandError(ErrorCode.BAD_ARGS, f"{name} must be a {kind} number, got {shown}")
    if number > maximum:
        raise CommandError(ErrorCode.BAD_ARGS, f"{name} must be at most {maximum:,}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        # Exact: at most 1e18 with 12 places is 31 digits; the quantize context has 40.
        rounded = number.quantize(_STEP, context=_QUANTIZE)
        if rounded != number:
            raise CommandError(
                ErrorCode.BAD_ARGS, f"{name} has more than {MAX_PLACES} decimal places"
            )
        number = _without_trailing_zeros(rounded)
    return number


def _shown(value: Any) -> str:
    """A client's value in an error message, cut short: the message is echoed too."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else f"{text[:40]}... ({len(text)} characters)"


def _without_trailing_zeros(number: Decimal) -> Decimal:
    exponent = number.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return number.quantize(Decimal(1).scaleb(min(exponent, 0)))


MAX_INT = 2**63 - 1
"""Largest integer argument: what a signed 64-bit column (and a JavaScript BigInt) holds."""


def _int(args: dict[str, Any], name: str) -> int:
    value = args.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise CommandError(
            ErrorCode.BAD_ARGS, f"{name} must be an integer from 0 to {MAX_INT} (2**63 - 1)"
        )
    return value


def _enum(args: dict[str, Any], name: str, kind: type[Any]) -> Any:
    value = args.get(name)
    try:
        return kind(value)
    except ValueError:
        choices = [member.value for member in kind]
        raise CommandError(ErrorCode.BAD_ARGS, f"{name} must be one of {choices}") from None


def _version() -> str:
    try:
        return importlib.metadata.version("tradeactors")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


# -- the commands ---------------------------------------------------------------------------


@command("ping")
def _ping(_commands: Commands, args: dict[str, Any]) -> dict[str, Any]:
    _args(args, ())
    return {"pong": True, "ts": time.time_ns()}


@command("status")
def _status(commands: Commands, args: dict[str, Any]) -> dict[str, Any]:
    _args(args, ())
    runtime = commands.runtime
    root = commands.actor(runtime.root, "root supervisor")
    children = [
        {
            "id": child.child_id,
            "alive": child.ref is not None and child.ref.is_alive(),
            "restarts": child.restarts,
        }
        for child in ask(root, WhichChildren())
    ]
    markets = commands.actor(runtime.supervisor, "market supervisor")
    market_children = ask(markets, WhichChildren())
    routed = ask(commands.actor(runtime.execution, "execution"), ListRoutedOrders())
    result: dict[str, Any] = {
        "instance": commands.instance,
        "generation": runtime.generation,
        "next_step": runtime.next_step,
        "actors": children,
        "market_actors": [
            {"id": child.child_id, "restarts": child.restarts} for child in market_children
        ],
        "routed_orders": len(routed.running),
        "broker": None,
    }
    venue = runtime.venue
    if runtime.config.broker is not None and venue is not None:
        status = venue.proxy().status().get(timeout=ASK_TIMEOUT_S)
        normalizer = commands.actor(runtime.extra("normalizer"), "normalizer")
        counters = normalizer.proxy().counters().get(timeout=ASK_TIMEOUT_S)
        result["broker"] = {
            "connected": status.connected,
            "registered": status.registered,
            "last_callback_ns": status.last_callback_ns,
            "callbacks": status.callbacks,
            "open_orders": counters.open_orders,
        }
    return result


@command("positions")
def _positions(commands: Commands, args: dict[str, Any]) -> dict[str, Any]:
    filters = ("account", "strategy", "market_id", "security_id")
    _args(args, (), filters)
    wanted = {name: _text(args, name) for name in filters if name in args}
    positions = []
    for snapshot in commands.runtime.positions():
        if any(getattr(snapshot, f) != v for f, v in wanted.items() if f != "security_id"):
            continue
        if "security_id" in wanted and wanted["security_id"] not in {
            leg.security_id for leg in snapshot.legs
        }:
            continue
        positions.append(plain(snapshot))
    return {"positions": positions}


@command("snapshot")
def _snapshot(commands: Commands, args: dict[str, Any]) -> dict[str, Any]:
    _args(args, ())
    runtime = commands.runtime
    result: dict[str, Any] = {
        "positions": [plain(snapshot) for snapshot in runtime.positions()],
        "orders": [plain(order) for order in runtime.orders()],
        "markets": [plain(market) for market in runtime.markets()],
        "account_positions": [],
    }
    if runtime.config.broker is not None:
        result["account_positions"] = [plain(p) for p in runtime.account_positions()]
    return result


@command("lookup")
def _lookup(commands: Commands, args: dict[str, Any]) -> dict[str, Any]:
    _args(args, ("security_id",))
    security_id = _text(args, "security_id")
    return {
        "security_id": security_id,
        "trackers": [plain(m) for m in commands.runtime.lookup(security_id)],
    }


@command("submit")
def _submit(commands: Commands, args: dict[str, Any]) -> Change:
    _args(
        args,
        ("market_id", "security_id", "side", "price", "size"),
        ("reason", "strategy", "account", "priority"),
    )
    runtime = commands.runtime
    kept = {"strategy": runtime.config.strategy_name, "account": runtime.config.account}
    for name, value in kept.items():
        if args.get(name, value) != value:
            raise CommandError(
                ErrorCode.BAD_ARGS,
                f"this runtime keeps one position per market, for account "
                f"{kept['account']!r} and strategy {kept['strategy']!r}; "
                f"{name} {args[name]!r} has none",
            )
    signal = TradeSignal(
        market_id=_text(args, "market_id"),
        security_id=_text(args, "security_id"),
        side=_enum(args, "side", OrderSide),
        price=_decimal(args, "price"),
        size=_decimal(args, "size", positive=True),
        priority=_int(args, "priority") if "priority" in args else 0,
        reason=_text(args, "reason", "submitted by a client"),
        # Unnamed, they are the market's position's: execution takes them from it.
        strategy=_text(args, "strategy") if "strategy" in args else None,
        account=_text(args, "account") if "account" in args else None,
    )

    def submit() -> dict[str, Any]:
        answer: concurrent.futures.Future[dict[str, str]] = concurrent.futures.Future()
        execution = commands.actor(runtime.execution, "execution")
        execution.tell(SubmitSignal(signal=signal, answer=answer))
        try:
            return dict(answer.result(timeout=commands.submit_timeout_s))
        except TimeoutError:
            answer.cancel()
            raise CommandError(
                ErrorCode.TIMEOUT,
                f"no answer for signal {signal.id} in {commands.submit_timeout_s} s",
            ) from None

    return submit


@command("cancel")
def _cancel(commands: Commands, args: dict[str, Any]) -> Change:
    _args(args, ("order_id",), ("reason",))
    request = CancelOrder(order_id=_text(args, "order_id"), reason=_text(args, "reason", "client"))

    def cancel() -> dict[str, Any]:
        denied = ask(commands.actor(commands.runtime.execution, "execution"), request)
        if denied is not None:
            raise CommandError(ErrorCode.NOT_FOUND, denied.reason)
        return {"order_id": request.order_id, "cancel_requested": True}

    return cancel


@command("switch_market")
def _switch_market(commands: Commands, args: dict[str, Any]) -> Change:
    _args(args, ("market_id", "instruments"), ("payout",))
    instruments = args["instruments"]
    if not isinstance(instruments, list) or not instruments:
        raise CommandError(ErrorCode.BAD_ARGS, "instruments must be a non-empty list")
    parsed = []
    for entry in instruments:
        if not isinstance(entry, dict):
            raise CommandError(ErrorCode.BAD_ARGS, "each instrument is an object")
        _args(entry, ("security_id", "outcome"))
        parsed.append(
            Instrument(
                security_id=_text(entry, "security_id"), outcome=_enum(entry, "outcome", Outcome)
            )
        )
    try:
        definition = MarketDefinition(
            market_id=_text(args, "market_id"),
            instruments=tuple(parsed),
            payout=_decimal(args, "payout", positive=True) if "payout" in args else Decimal(1),
        )
    except (TypeError, ValueError) as error:
        raise CommandError(ErrorCode.BAD_ARGS, str(error)) from None

    def switch() -> dict[str, Any]:
        # Answered once execution routes the market, so a submit sent after the reply is
        # never denied for a market it does not know yet.
        answer: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        execution = commands.actor(commands.runtime.execution, "execution")
        execution.tell(AwaitMarket(market_id=definition.market_id, answer=answer))
        commands.runtime.inject(MarketOpened(ts_event=time.time_ns(), definition=definition))
        try:
            opened = answer.result(timeout=commands.submit_timeout_s)
        except TimeoutError:
            answer.cancel()
            raise CommandError(
                ErrorCode.UNAVAILABLE,
                f"market {definition.market_id} does not take orders after "
                f"{commands.submit_timeout_s} s; retry",
            ) from None
        if "refused" in opened:
            raise CommandError(ErrorCode.BAD_ARGS, opened["refused"])
        return {"market_id": definition.market_id, "opened": True}

    return switch


@command("reconcile")
def _reconcile(commands: Commands, args: dict[str, Any]) -> Change:
    _args(args, (), ("reason",))
    if commands.runtime.config.broker is None:
        raise CommandError(ErrorCode.UNAVAILABLE, "this runtime trades without a broker")
    reason = _text(args, "reason", "client command")

    def reconcile() -> dict[str, Any]:
        commands.runtime.reconcile(reason)
        return {"reconcile_requested": True}

    return reconcile


@command("set_limits")
def _set_limits(commands: Commands, args: dict[str, Any]) -> Change:
    risk = commands.actor(commands.runtime.risk, "risk actor")
    current = risk.proxy().limits.get(timeout=ASK_TIMEOUT_S)
    # Bounded like prices and sizes, so no rule's arithmetic can overflow on a limit.
    values = {
        name: None
        if value is None
        else _decimal(args, name, maximum=MAX_MAGNITUDE if name == "max_open_orders" else MAX_LIMIT)
        for name, value in args.items()
    }
    try:
        limits = limits_from(values, where="set_limits", base=current)
    except RiskConfigError as error:
        raise CommandError(ErrorCode.BAD_ARGS, str(error)) from None

    def set_limits() -> dict[str, Any]:
        commands.runtime.set_limits(limits)
        return {"limits": plain(limits)}

    return set_limits


@command("broker_event")
def _broker_event(commands: Commands, args: dict[str, Any]) -> Change:
    """Inject a raw broker callback, as a replay or an out-of-process adapter would."""
    normalizer = commands.actor(commands.runtime.extra("normalizer"), "broker normalizer")
    kind = args.get("kind")
    if kind == "order":
        _args(args, ("kind", "order_no", "seq_no", "status"), ("broker_ts_ns", "reason"))
        event: RawOrderEvent | RawDealEvent = RawOrderEvent(
            order_no=_text(args, "order_no"),
            seq_no=_int(args, "seq_no"),
            status=_enum(args, "status", BrokerOrderStatus),
            broker_ts_ns=_int(args, "broker_ts_ns") if "broker_ts_ns" in args else 0,
            recv_ns=time.time_ns(),
            reason=_text(args, "reason") if "reason" in args else "",
        )
    elif kind == "deal":
        _args(
            args,
            ("kind", "order_no", "seq_no", "match_ts", "security_id", "side", "price", "size"),
        )
        event = RawDealEvent(
            order_no=_text(args, "order_no"),
            seq_no=_int(args, "seq_no"),
            match_ts=_int(args, "match_ts"),
            security_id=_text(args, "security_id"),
            side=_enum(args, "side", OrderSide),
            price=_decimal(args, "price"),
            size=_decimal(args, "size", positive=True),
            recv_ns=time.time_ns(),
        )
    else:
        raise CommandError(ErrorCode.BAD_ARGS, 'kind must be "order" or "deal"')

    def inject() -> dict[str, Any]:
        normalizer.tell(event)
        return {"accepted": True}

    return inject
