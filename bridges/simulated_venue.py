"""The simulated venue's actor shell: latency in front of the matching core.

All matching lives in ``bridges.venue_matching.MatchingEngine`` (no I/O, no clock); this
shell only delays commands by the configured latency, feeds it book snapshots and sends
its reports to the subscribers (the ExecutionActor).

The venue lives in the feed's timeline: its reports are stamped with the latest market time
it has seen, not the wall clock, so a replay of the same feed produces the same reports.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import attrs

from bridges.venue_matching import MatchingEngine
from messages.market_data import MarketSnapshot
from messages.markets import MarketClosed, MarketOpened
from messages.order_commands import CancelOrder, SubmitOrder
from messages.stats import ActorStats
from supervisors.kernel.base import PublishingActor, handles
from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.scheduler import REAL_SCHEDULER, Scheduler
from supervisors.kernel.supervised import Supervised


@attrs.frozen(kw_only=True, slots=True)
class _Arrived:
    """A command whose latency has passed: it reaches the matching engine now."""

    command: SubmitOrder | CancelOrder


class SimulatedVenueActor(Supervised, PublishingActor):
    """A venue without a broker: orders arrive ``latency_ns`` after they were sent."""

    kind = "venue"

    def __init__(
        self,
        *,
        latency_ns: int = 0,
        engine: MatchingEngine | None = None,
        scheduler: Scheduler = REAL_SCHEDULER,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self.engine = engine if engine is not None else MatchingEngine()
        self.latency_ns = latency_ns
        self.now_ns = 0
        self.timer = scheduler.timer("venue-latency") if latency_ns > 0 else None
        self.scheduled = 0

    def on_stop(self) -> None:
        if self.timer is not None:
            self.timer.stop()

    def on_failure(
        self,
        _exception_type: type[BaseException] | None,
        _exception_value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.on_stop()

    def stats(self) -> ActorStats:
        return ActorStats(kind=self.kind, handled=self.handled, scheduled=self.scheduled)

    @handles(MarketOpened)
    def _market_opened(self, message: MarketOpened) -> None:
        self.now_ns = max(self.now_ns, message.ts_event)
        definition = message.definition
        self.engine.open_market(definition.market_id, definition.security_ids)

    @handles(MarketClosed)
    def _market_closed(self, message: MarketClosed) -> None:
        self.now_ns = max(self.now_ns, message.ts_event)
        self._report(self.engine.close_market(message.market_id, self.now_ns))

    @handles(MarketSnapshot)
    def _market_snapshot(self, snapshot: MarketSnapshot) -> None:
        self.now_ns = max(self.now_ns, snapshot.ts_event)
        for book in snapshot.books:
            self._report(self.engine.update_book(snapshot.market_id, book, self.now_ns))

    @handles(SubmitOrder, CancelOrder)
    def _command(self, command: SubmitOrder | CancelOrder) -> None:
        if self.timer is None:
            self._execute(command)
            return
        self.scheduled += 1
        self.timer.tell_later(self.latency_ns, self.actor_ref, _Arrived(command=command))

    @handles(_Arrived)
    def _arrived(self, message: _Arrived) -> None:
        self.scheduled -= 1
        self._execute(message.command)

    def _execute(self, command: SubmitOrder | CancelOrder) -> None:
        if isinstance(command, SubmitOrder):
            self._report(self.engine.submit(command, self.now_ns))
        else:
            self._report(self.engine.cancel(command.order_id, self.now_ns))

    def _report(self, events: list[Any]) -> None:
        for event in events:
            self.publish(event)
