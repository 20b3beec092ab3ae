"""``tradeactors watch --plain``: a line per event that says what happened, and whether the
server is still there.

The server publishes a ``heartbeat`` every interval; ``ServerLiveness`` notices when none
came for three intervals (the server, or its edge, is gone) and when events come again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SILENT_INTERVALS = 3
"""No heartbeat for this many intervals means the server is not running (docs/PROTOCOL.md)."""
DEFAULT_INTERVAL_S = 1.0
HEARTBEAT = "heartbeat"


def describe(topic: str, message: dict[str, Any]) -> str:
    """``seq topic kind`` and, for the kinds a trader follows, what they say."""
    kind = message.get("kind", "?")
    head = f"{message.get('seq', '?'):>6} {topic:<24} {kind}"
    event = message.get("event") or {}
    detail = _DETAILS.get(kind)
    if detail is None or not isinstance(event, dict):
        return head
    try:
        return f"{head}  {detail(event)}"
    except (KeyError, TypeError):
        return head  # a shape this client does not know: the kind is still worth a line


def _order(event: dict[str, Any]) -> str:
    order = event["order"]
    filled = f", filled {order['filled']}" if order.get("filled") not in (None, "0") else ""
    return (
        f"{order['order_id']} {order['side']} {order['size']} {order['security_id']} @ "
        f"{order['price']}: {order['status']}{filled} ({event['cause']})"
    )


def _fill(event: dict[str, Any]) -> str:
    return (
        f"{event['order_id']} {event['side']} {event['size']} {event['security_id']} @ "
        f"{event['price']}, fee {event['fee']}"
    )


def _denied(event: dict[str, Any]) -> str:
    signal = event["signal"]
    return (
        f"{signal['side']} {signal['size']} {signal['security_id']} @ {signal['price']} "
        f"denied: {event['reason']}"
    )


def _refused(event: dict[str, Any]) -> str:
    return f"{_fill(event['fill'])} refused: {event['reason']} {event.get('detail', '')}".strip()


def _delta(event: dict[str, Any]) -> str:
    return f"{event['position_id']} v{event['version']}: {_fill(event['fill'])}"


def _market(event: dict[str, Any]) -> str:
    definition = event.get("definition")
    if isinstance(definition, dict):
        return f"{definition['market_id']} opened"
    winner = event.get("winning_security_id")
    return f"{event['market_id']} " + (f"resolved: {winner} wins" if winner else "closed")


_DETAILS: dict[str, Callable[[dict[str, Any]], str]] = {
    "OrderUpdated": _order,
    "Fill": _fill,
    "OrderDenied": _denied,
    "FillRefused": _refused,
    "PositionDelta": _delta,
    "MarketOpened": _market,
    "MarketClosed": _market,
    "MarketResolved": _market,
}


class ServerLiveness:
    """Says when the server went silent and when it came back; ``now`` is monotonic s."""

    def __init__(self, endpoint: str, now: float) -> None:
        self.endpoint = endpoint
        self.interval_s = DEFAULT_INTERVAL_S
        self.last_heard = now
        self.silent = False

    def heard(self, topic: str, message: dict[str, Any], now: float) -> str | None:
        """A line to print if the server had been silent; notes a heartbeat's interval."""
        if topic == HEARTBEAT:
            interval_ms = (message.get("event") or {}).get("interval_ms")
            if isinstance(interval_ms, int) and interval_ms > 0:
                self.interval_s = interval_ms / 1000
        self.last_heard = now
        if self.silent:
            self.silent = False
            return f"-- {self.endpoint} is back (its topics' seq may have started again at 1)"
        return None

    def check(self, now: float) -> str | None:
        """A line to print the moment the server has been silent too long."""
        if not self.silent and now - self.last_heard > SILENT_INTERVALS * self.interval_s:
            self.silent = True
            return (
                f"-- no heartbeat from {self.endpoint} for "
                f"{now - self.last_heard:.1f} s: the server is gone or stopped; waiting"
            )
        return None
