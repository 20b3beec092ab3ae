"""OrderWaiter: turns the bus's answer to a submitted signal into a future a client waits on.

A signal's fate is published on the bus, correlated by the signal's id: the new order's
``OrderCreated`` (journaled, so the order exists from then on, even before its actor runs)
or an ``OrderDenied``. The waiter is told to expect
an id *before* the signal is sent, so the answer can never arrive first.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import attrs
import pykka

from messages.journal import OrderCreated
from messages.orders import OrderDenied


@attrs.frozen(kw_only=True, slots=True)
class _Expect:
    correlation_id: str
    future: concurrent.futures.Future[dict[str, Any]]


@attrs.frozen(kw_only=True, slots=True)
class _Forget:
    correlation_id: str


class _WaiterActor(pykka.ThreadingActor):
    def __init__(self) -> None:
        super().__init__()
        self.waiting: dict[str, concurrent.futures.Future[dict[str, Any]]] = {}

    def on_receive(self, message: Any) -> None:
        if isinstance(message, _Expect):
            self.waiting[message.correlation_id] = message.future
        elif isinstance(message, _Forget):
            self.waiting.pop(message.correlation_id, None)
        elif isinstance(message, OrderCreated):
            self._resolve(message.correlation_id, {"order_id": message.order_id})
        elif isinstance(message, OrderDenied):
            self._resolve(message.correlation_id, {"denied": message.reason})

    def _resolve(self, correlation_id: str, answer: dict[str, Any]) -> None:
        future = self.waiting.pop(correlation_id, None)
        if future is not None and not future.done():
            future.set_result(answer)


class OrderWaiter:
    """Subscribe ``ref`` to the runtime's events; ``expect`` before sending a signal."""

    def __init__(self) -> None:
        self.ref = _WaiterActor.start()

    def expect(self, correlation_id: str) -> concurrent.futures.Future[dict[str, Any]]:
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        self.ref.tell(_Expect(correlation_id=correlation_id, future=future))
        return future

    def forget(self, correlation_id: str) -> None:
        try:
            self.ref.tell(_Forget(correlation_id=correlation_id))
        except pykka.ActorDeadError:
            return

    def stop(self) -> None:
        self.ref.stop()
