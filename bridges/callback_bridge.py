"""The callback bridge: what runs on the broker's threads, and nothing more than it must.

A broker calls back on its own threads, at its own pace; work done there delays the next
callback and races the runtime's actors. So the handlers stamp the time (``time.time_ns``,
the start of the callback-to-position latency), build one compact raw event and tell it to
the normalizer (a pykka tell is a queue put). The heartbeat, ``last_callback_ns``, is one
int store per callback; the owner reads it for status and gap checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pykka

from messages.broker import BrokerOrderStatus, RawDealEvent, RawOrderEvent
from messages.enums import OrderSide


class CallbackBridge:
    """``on_order`` and ``on_deal`` are what the broker is registered with."""

    def __init__(self, sink: pykka.ActorRef[Any], clock: Callable[[], int] = time.time_ns) -> None:
        self.sink = sink
        self.clock = clock
        self.last_callback_ns = 0
        self.received = 0
        self.lost = 0
        """Callbacks that found the normalizer dead (restarting); reconciliation recovers them."""
        self._count = threading.Lock()

    def on_order(
        self,
        order_no: str,
        seq_no: int,
        status: BrokerOrderStatus,
        broker_ts_ns: int,
        reason: str,
    ) -> None:
        now = self.clock()
        self.last_callback_ns = now
        self._enqueue(
            RawOrderEvent(
                order_no=order_no,
                seq_no=seq_no,
                status=status,
                broker_ts_ns=broker_ts_ns,
                recv_ns=now,
                reason=reason,
            )
        )

    def on_deal(  # noqa: PLR0917 - the broker's calling convention (bridges.broker)
        self,
        order_no: str,
        seq_no: int,
        match_ts: int,
        security_id: str,
        side: OrderSide,
        price: Decimal,
        size: Decimal,
    ) -> None:
        now = self.clock()
        self.last_callback_ns = now
        self._enqueue(
            RawDealEvent(
                order_no=order_no,
                seq_no=seq_no,
                match_ts=match_ts,
                security_id=security_id,
                side=side,
                price=price,
                size=size,
                recv_ns=now,
            )
        )

    def _enqueue(self, event: RawOrderEvent | RawDealEvent) -> None:
        try:
            self.sink.tell(event)
            lost = 0
        except pykka.ActorDeadError:
            lost = 1
        with self._count:
            self.received += 1
            self.lost += lost
