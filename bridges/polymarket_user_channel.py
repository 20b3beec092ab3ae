"""Polymarket's authenticated user channel: ``order`` and ``trade`` messages to broker events.

The channel (``wss://ws-subscriptions-clob.polymarket.com/ws/user``) is subscribed with
``{"auth": {"apiKey", "secret", "passphrase"}, "type": "user", "markets": [...]}`` and then
sends, as one object or a JSON array of them per frame:

- ``event_type: "order"`` with ``type`` PLACEMENT, UPDATE or CANCELLATION, ``id`` (the order
  id), ``original_size`` and ``size_matched``;
- ``event_type: "trade"`` with ``id`` (the trade id), ``status`` (MATCHED, MINED, CONFIRMED,
  RETRYING, FAILED), ``taker_order_id`` with ``size`` and ``price``, and ``maker_orders``
  (each ``order_id``, ``matched_amount``, ``price``), ``match_time`` in seconds.

A trade updates through its statuses, and the channel repeats and reorders them. Here one
trade leg (trade id, our order id) is booked once, at the first status that says it
matched (MATCHED, MINED, RETRYING or CONFIRMED, whichever comes first); a later FAILED of a
booked leg is a ``Reversal`` with the reason; CONFIRMED and FAILED are final and anything
after them changes nothing. Legs of orders this process did not place are not ours to book
(reconciliation lists them). A plain class with no I/O: the broker adapter owns one.
"""

from __future__ import annotations

import enum
import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from bridges.broker_truth import OrderNotice
from messages.broker import BrokerOrderStatus, deal_key
from messages.enums import OrderSide

PUBLIC_USER_CHANNEL = "wss://ws-subscriptions-clob.polymarket.com/ws/user"


class TradeStatus(enum.Enum):
    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


_FINAL = frozenset({TradeStatus.CONFIRMED, TradeStatus.FAILED})


@attrs.frozen(kw_only=True, slots=True)
class OurOrder:
    """An order this process placed: what its trade legs are booked as."""

    order_no: str
    security_id: str
    side: OrderSide


@attrs.frozen(kw_only=True, slots=True)
class DealNote:
    """A leg to book: the arguments of ``on_deal``."""

    order_no: str
    seq_no: int
    match_ts: int
    security_id: str
    side: OrderSide
    price: Decimal
    size: Decimal
    trade_id: str

    @property
    def key(self) -> str:
        return deal_key(self.order_no, self.seq_no, self.match_ts)


@attrs.frozen(kw_only=True, slots=True)
class Reversal:
    """A booked leg whose trade FAILED on chain: it did not happen after all."""

    deal: DealNote
    reason: str


Note = DealNote | OrderNotice | Reversal
"""What a user-channel message asks to report: an order status is the paper broker's
``OrderNotice`` (``on_order``'s arguments); a leg keeps its trade id for a reversal."""


def subscription(api_key: str, secret: str, passphrase: str, markets: tuple[str, ...]) -> str:
    """The subscription message; it carries the credentials, so it is never logged."""
    return json.dumps(
        {
            "auth": {"apiKey": api_key, "secret": secret, "passphrase": passphrase},
            "markets": list(markets),
            "type": "user",
        }
    )


def trade_seq_no(trade_id: str) -> int:
    """A leg's ``seq_no``: the same from the channel and from the trade query, so one trade
    is one deal identity whichever reports it first."""
    return int.from_bytes(hashlib.sha256(trade_id.encode()).digest()[:6], "big")


def seconds_ns(text: object) -> int:
    """The venue's timestamps are seconds (or milliseconds) as strings."""
    value = int(Decimal(str(text)))
    return value * 1_000_000_000 if value < 10**11 else value * 1_000_000


def trade_legs(trade: dict[str, Any], orders: dict[str, OurOrder]) -> list[DealNote]:
    """The legs of ``trade`` that belong to our orders: the taker's, and each maker's."""
    trade_id = str(trade["id"])
    match_ts = seconds_ns(trade.get("match_time") or trade.get("matchtime") or 0)
    legs: list[tuple[str, object, object]] = [
        (str(trade.get("taker_order_id", "")), trade.get("size"), trade.get("price"))
    ]
    legs += [
        (str(maker.get("order_id", "")), maker.get("matched_amount"), maker.get("price"))
        for maker in trade.get("maker_orders") or ()
    ]
    out: list[DealNote] = []
    for order_no, size, price in legs:
        order = orders.get(order_no)
        if order is None:
            continue
        out.append(
            DealNote(
                order_no=order_no,
                seq_no=trade_seq_no(trade_id),
                match_ts=match_ts,
                security_id=order.security_id,
                side=order.side,
                price=Decimal(str(price)),
                size=Decimal(str(size)),
                trade_id=trade_id,
            )
        )
    return out


class UserChannelBook:
    """Our orders and the last status of each of their trade legs; see the module docstring."""

    def __init__(self) -> None:
        self.orders: dict[str, OurOrder] = {}
        self.legs: dict[tuple[str, str], TradeStatus] = {}
        """(trade id, order id) -> the leg's status; booked unless FAILED first."""
        self.booked: dict[tuple[str, str], DealNote] = {}
        self.ignored = 0
        """Leg updates that booked and reversed nothing: a later status, a repeat, one out
        of order or after a final status."""
        self.rejected: list[str] = []
        """Frames or messages that were not the protocol, with why."""

    def track(self, order: OurOrder) -> None:
        self.orders[order.order_no] = order

    def on_frame(self, text: str) -> list[Note]:
        if text.strip() in ("PONG", ""):
            return []
        try:
            parsed = json.loads(text)
        except ValueError:
            self.rejected.append(f"not JSON: {text[:80]!r}")
            return []
        messages = parsed if isinstance(parsed, list) else [parsed]
        out: list[Note] = []
        for message in messages:
            try:
                out += self._message(message)
            except (KeyError, TypeError, ValueError, InvalidOperation) as error:
                self.rejected.append(f"{type(error).__name__}: {error}")
        return out

    def _message(self, message: Any) -> list[Note]:
        if not isinstance(message, dict):
            raise TypeError(f"a message is an object, got {type(message).__name__}")
        kind = message.get("event_type")
        if kind == "trade":
            return self.trade(message)
        if kind == "order":
            return self._order(message)
        raise ValueError(f"unknown event_type {kind!r}")

    def trade(self, trade: dict[str, Any]) -> list[Note]:
        """One trade message (also what the trade query lists, read the same way)."""
        status = TradeStatus(trade["status"])
        out: list[Note] = []
        for leg in trade_legs(trade, self.orders):
            key = (leg.trade_id, leg.order_no)
            before = self.legs.get(key)
            if before in _FINAL or (before is not None and status is not TradeStatus.FAILED):
                if before is not status and before not in _FINAL:
                    self.legs[key] = status
                self.ignored += 1
                continue
            self.legs[key] = status
            if status is not TradeStatus.FAILED:
                self.booked[key] = leg
                out.append(leg)
            elif before is not None:
                out.append(
                    Reversal(
                        deal=self.booked[key],
                        reason=f"trade {leg.trade_id} FAILED on chain after {before.value}",
                    )
                )
            else:
                self.ignored += 1  # failed before we heard it match: nothing was booked
        return out

    def _order(self, order: dict[str, Any]) -> list[Note]:
        order_no = str(order["id"])
        if order_no not in self.orders:
            return []
        kind = str(order["type"])
        matched = Decimal(str(order.get("size_matched") or 0))
        size = Decimal(str(order.get("original_size") or 0))
        if kind == "PLACEMENT":
            status = BrokerOrderStatus.SUBMITTED
        elif kind == "CANCELLATION":
            status = BrokerOrderStatus.CANCELLED
        elif kind == "UPDATE":
            filled = size > 0 and matched >= size
            status = BrokerOrderStatus.FILLED if filled else BrokerOrderStatus.PARTIALLY_FILLED
        else:
            raise ValueError(f"unknown order message type {kind!r}")
        return [
            OrderNotice(
                order_no=order_no,
                seq_no=trade_seq_no(f"{kind}:{matched}"),
                status=status,
                broker_ts_ns=seconds_ns(order.get("timestamp") or 0),
            )
        ]
