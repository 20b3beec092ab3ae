"""EventStreamActor: every runtime event, as JSON on the PUB socket under a topic.

Topics are ``<kind>.<key>``: ``order.<market>``, ``fill.<market>``, ``position.<market>``
(deltas), ``snapshot.<market>`` (a whole position: opened, settled, archived),
``market.<market>``, ``account.<account>`` and ``correction.<account>`` (broker edge),
``supervision.<supervisor>``. A subscriber filters by prefix (``fill.``, ``order.m1``).

Every message carries ``seq``, counted per topic from 1: a subscriber that sees a topic's
seq jump has lost events there (the PUB socket drops for a subscriber that cannot keep up)
and asks the ``snapshot`` command for the current state.
"""

from __future__ import annotations

from typing import Any

import pykka

from bridges.zmq_protocol import encode_event
from bridges.zmq_server import ZmqServer
from messages.broker_events import AccountPositionChanged, Correction, DealRefused
from messages.markets import MarketClosed, MarketOpened, MarketResolved
from messages.orders import (
    FillChargeRefused,
    FillRefused,
    FillReversalRefused,
    OrderDenied,
    OrderUpdated,
)
from messages.positions import (
    PositionArchived,
    PositionDelta,
    PositionFillCharged,
    PositionFillReversed,
    PositionOpened,
    PositionSettled,
)
from supervisors.kernel.events import (
    ChildAbandoned,
    ChildRestarted,
    ChildStarted,
    ChildStartFailed,
    ChildStopped,
    ChildTerminated,
    IntensityExceeded,
)

SUPERVISION_EVENTS = (
    ChildAbandoned,
    ChildRestarted,
    ChildStarted,
    ChildStartFailed,
    ChildStopped,
    ChildTerminated,
    IntensityExceeded,
)


def topics_of(event: Any) -> list[tuple[str, Any]]:
    """(topic, payload object) pairs an event is published as; [] for one not streamed."""
    if isinstance(event, OrderUpdated):
        return [(f"order.{event.order.market_id}", event)]
    if isinstance(event, OrderDenied):
        return [(f"order.{event.signal.market_id}", event)]
    if isinstance(event, PositionDelta):
        return [(f"position.{event.market_id}", event), (f"fill.{event.market_id}", event.fill)]
    if isinstance(event, PositionFillReversed):
        return [
            (f"position.{event.market_id}", event),
            (f"fill.{event.market_id}", event.reversal),
        ]
    if isinstance(event, PositionFillCharged):
        return [(f"position.{event.market_id}", event), (f"fill.{event.market_id}", event.charge)]
    if isinstance(event, FillRefused):
        return [(f"fill.{event.fill.market_id}", event)]
    if isinstance(event, FillReversalRefused):
        return [(f"fill.{event.reversal.market_id}", event)]
    if isinstance(event, FillChargeRefused):
        return [(f"fill.{event.charge.market_id}", event)]
    if isinstance(event, PositionOpened | PositionSettled | PositionArchived):
        return [(f"snapshot.{event.position.market_id}", event)]
    if isinstance(event, MarketOpened):
        return [(f"market.{event.definition.market_id}", event)]
    if isinstance(event, MarketClosed | MarketResolved):
        return [(f"market.{event.market_id}", event)]
    if isinstance(event, AccountPositionChanged):
        return [(f"account.{event.position.account}", event)]
    if isinstance(event, DealRefused):
        return [(f"account.{event.deal.account}", event)]
    if isinstance(event, Correction):
        return [(f"correction.{event.account}", event)]
    if isinstance(event, SUPERVISION_EVENTS):
        return [(f"supervision.{event.supervisor}", event)]
    return []


class EventStreamActor(pykka.ThreadingActor):
    """Subscribed to the runtime's events; hands each to the server's PUB socket."""

    def __init__(self, server: ZmqServer) -> None:
        super().__init__()
        self.server = server
        self.seq: dict[str, int] = {}

    def on_receive(self, message: Any) -> None:
        for topic, payload in topics_of(message):
            seq = self.seq[topic] = self.seq.get(topic, 0) + 1
            self.server.publish(topic, encode_event(seq, payload))
