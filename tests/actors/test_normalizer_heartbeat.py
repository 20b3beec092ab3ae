"""The normalizer's callback heartbeat on virtual time: the alerts for a resting order of
ours back off exactly (0.2 s, then 0.4 s, then 0.8 s of silence), and nothing sleeps."""

from __future__ import annotations

import queue
from typing import Any

import pykka
import pytest

from actors.normalizer import NormalizerActor
from messages.broker_events import OrderRouted
from messages.enums import OrderSide
from messages.reconciliation import ReconcileRequest
from supervisors.kernel.scheduler import ManualScheduler
from tests.stubs import Collector

pytestmark = pytest.mark.timeout(30)


def _resting_order() -> OrderRouted:
    return OrderRouted(
        order_id="O1",
        order_no="N1",
        account="paper",
        strategy="test",
        market_id="m",
        security_id="S1",
        side=OrderSide.BUY,
    )


def _alerts(reconciler: pykka.ActorRef[Any], inbox: queue.Queue[Any]) -> list[ReconcileRequest]:
    """What the reconciler was told so far (a round trip first: its mailbox is drained)."""
    reconciler.proxy().inbox.get(timeout=5)
    return [item for item in list(inbox.queue) if isinstance(item, ReconcileRequest)]


def test_callback_gap_alerts_for_a_resting_order_back_off_exactly() -> None:
    clock = ManualScheduler(start_ns=1_000_000_000_000)
    inbox: queue.Queue[Any] = queue.Queue()
    reconciler = Collector.start(inbox)
    normalizer = NormalizerActor.start(
        journal=Collector.start(),
        account_positions=Collector.start(),
        reconciler=reconciler,
        routed=(_resting_order(),),
        open_order_ids=frozenset({"O1"}),
        gap_s=0.2,
        clock=clock.now_ns,
        scheduler=clock,
    )
    normalizer.proxy().handled.get(timeout=5)  # on_start has armed the heartbeat

    # Ticks every 50 ms; an alert once the silence exceeds the wait, which then doubles:
    # at 0.25 s (silent 0.25 > 0.2), 0.70 s (0.45 > 0.4), 1.55 s (0.85 > 0.8), 3.20 s.
    for at_s, expected in ((0.2, 0), (0.25, 1), (0.65, 1), (0.7, 2), (1.6, 3), (3.15, 3)):
        clock.advance(at_s - (clock.now_ns() - 1_000_000_000_000) / 1e9)
        assert len(_alerts(reconciler, inbox)) == expected, f"at {at_s} s"
    clock.advance(0.05)
    alerts = _alerts(reconciler, inbox)
    assert len(alerts) == 4
    assert all(alert.order_nos == ("N1",) and alert.security_ids == ("S1",) for alert in alerts)
    assert all("no callback for" in alert.reason for alert in alerts)
    normalizer.stop()
