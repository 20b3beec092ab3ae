"""The in-process event bus: every published event goes to every subscriber.

Publishers (orders, positions, execution, the market lifecycle actor) tell the bus once; views,
the journal and the ZeroMQ publisher subscribe here instead of to each actor.
"""

from __future__ import annotations

from typing import Any

from messages.stats import GetStats
from messages.subscriptions import Subscribe, Unsubscribe
from messages.supervision import InjectFault
from supervisors.kernel.base import PublishingActor
from supervisors.kernel.supervised import Supervised


class EventBusActor(Supervised, PublishingActor):
    kind = "event_bus"

    def on_receive(self, message: Any) -> Any:
        if type(message) in (Subscribe, Unsubscribe, GetStats, InjectFault):
            return super().on_receive(message)
        self.handled += 1
        self.publish(message)
        return None
