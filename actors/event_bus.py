"""The in-process event bus: every published event goes to every subscriber.

Publishers (orders, positions, execution, the market supervisor) tell the bus once; views,
the journal and the ZeroMQ publisher subscribe here instead of to each actor.
"""

from __future__ import annotations

from typing import Any

import pykka

from actors.base import RuntimeActor, handles, publish
from messages.commands import Subscribe, Unsubscribe
from messages.stats import GetStats


class EventBusActor(RuntimeActor):
    kind = "event_bus"

    def __init__(self) -> None:
        super().__init__()
        self.subscribers: list[pykka.ActorRef[Any]] = []

    @handles(Subscribe)
    def _subscribe(self, message: Subscribe) -> None:
        if message.subscriber not in self.subscribers:
            self.subscribers.append(message.subscriber)

    @handles(Unsubscribe)
    def _unsubscribe(self, message: Unsubscribe) -> None:
        if message.subscriber in self.subscribers:
            self.subscribers.remove(message.subscriber)

    def on_receive(self, message: Any) -> Any:
        if type(message) in self._dispatch or type(message) is GetStats:
            return super().on_receive(message)
        self.handled += 1
        publish(self.subscribers, message)
        return None
