"""The callback bridge: what runs on the broker's threads, and nothing more than it must.

A broker calls back on its own threads, at its own pace; work done there delays the next
callback and races the runtime's actors. So the handlers stamp the time (``time.time_ns``,
the start of the callback-to-position latency), build one compact raw event and tell it to
the normalizer (a pykka tell is a queue put). The heartbeat, ``last_callback_ns``, is one
int store per callback; the owner reads it for status and gap checks.

A callback whose arguments do not make a raw event (a wrong type, a field missing, one too
many) raises nothing on the broker's thread: it goes to the normalizer as a
``CallbackQuarantined`` with the reason and the arguments' reprs, and is counted here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pykka

from messages.broker import BrokerOrderStatus, RawDealEvent, RawDealReversal, RawOrderEvent
from messages.broker_events import CallbackQuarantined
from messages.enums import OrderSide
from messages.reconciliation import PositionCallback


class CallbackBridge:
    """``on_order`` and ``on_deal`` (and ``on_reversal``, ``on_position`` where the broker
    has them) are what the broker is registered with."""

    def __init__(self, sink: pykka.ActorRef[Any], clock: Callable[[], int] = time.time_ns) -> None:
        self.sink = sink
        self.clock = clock
        self.last_callback_ns = 0
        self.received = 0
        self.lost = 0
        """Callbacks that found the normalizer dead (restarting); reconciliation recovers them."""
        self.malformed = 0
        """Callbacks whose arguments made no raw event, handed over as quarantined."""
        self._count = threading.Lock()

    def on_order(self, *args: Any, **kwargs: Any) -> None:
        """``on_order(order_no, seq_no, status, broker_ts_ns, reason)`` (actors.broker)."""
        self._received("on_order", _order_event, args, kwargs)

    def on_deal(self, *args: Any, **kwargs: Any) -> None:
        """``on_deal(order_no, seq_no, match_ts, security_id, side, price, size, fee=None)``."""
        self._received("on_deal", _deal_event, args, kwargs)

    def on_reversal(self, *args: Any, **kwargs: Any) -> None:
        """``on_reversal(order_no, seq_no, match_ts, reason)`` (actors.broker.DealReversals)."""
        self._received("on_reversal", _reversal_event, args, kwargs)

    def on_position(self, _account: str, _security_id: str) -> None:
        """``on_position(account, security_id)`` (actors.broker.PositionPushes): a trigger of
        the position sync; which position changed is the reconcile's to read."""
        self.last_callback_ns = self.clock()
        try:
            self.sink.tell(PositionCallback())
            lost = 0
        except pykka.ActorDeadError:
            lost = 1
        with self._count:
            self.received += 1
            self.lost += lost

    def _received(
        self,
        callback: str,
        build: Callable[..., RawOrderEvent | RawDealEvent | RawDealReversal],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        now = self.clock()
        self.last_callback_ns = now
        try:
            event: RawOrderEvent | RawDealEvent | RawDealReversal | CallbackQuarantined = build(
                now, *args, **kwargs
            )
            malformed = 0
        except Exception as error:  # the broker's thread must never see one
            event = CallbackQuarantined(
                callback=callback,
                arguments=(
                    *(repr(arg) for arg in args),
                    *(f"{name}={value!r}" for name, value in kwargs.items()),
                ),
                reason=f"{type(error).__name__}: {error}",
                recv_ns=now,
            )
            malformed = 1
        try:
            self.sink.tell(event)
            lost = 0
        except pykka.ActorDeadError:
            lost = 1
        with self._count:
            self.received += 1
            self.lost += lost
            self.malformed += malformed


def _order_event(  # noqa: PLR0917 - the broker's calling convention (actors.broker)
    recv_ns: int,
    order_no: str,
    seq_no: int,
    status: BrokerOrderStatus,
    broker_ts_ns: int,
    reason: str,
) -> RawOrderEvent:
    return RawOrderEvent(
        order_no=order_no,
        seq_no=seq_no,
        status=status,
        broker_ts_ns=broker_ts_ns,
        recv_ns=recv_ns,
        reason=reason,
    )


def _deal_event(  # noqa: PLR0917 - the broker's calling convention (actors.broker)
    recv_ns: int,
    order_no: str,
    seq_no: int,
    match_ts: int,
    security_id: str,
    side: OrderSide,
    price: Decimal,
    size: Decimal,
    fee: Decimal | None = None,
) -> RawDealEvent:
    return RawDealEvent(
        order_no=order_no,
        seq_no=seq_no,
        match_ts=match_ts,
        security_id=security_id,
        side=side,
        price=price,
        size=size,
        recv_ns=recv_ns,
        fee=fee,
    )


def _reversal_event(
    recv_ns: int, order_no: str, seq_no: int, match_ts: int, reason: str
) -> RawDealReversal:
    return RawDealReversal(
        order_no=order_no, seq_no=seq_no, match_ts=match_ts, reason=reason, recv_ns=recv_ns
    )
