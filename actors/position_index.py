"""PositionIndexActor: serves ``security_id`` lookups to risk, kept current by positions.

Positions tell it their lifecycle themselves (opened, a fill moved a leg, settled), and the
market lifecycle actor tells it when a market's position is archived: nobody has to remember to
call it. A position tells the index *before* it tells anyone else of a change, so a signal
caused by that change reaches risk after the index has it: a check never sees a position
older than a fill acknowledged before the signal was sent. A restarted index is loaded from
the journal's live positions (``bulk_load_active``) before it takes a message.
"""

from __future__ import annotations

from typing import Any

from actors.position_index_book import PositionIndex
from messages.market_data import MarketSnapshot
from messages.positions import (
    PositionArchived,
    PositionDelta,
    PositionFillCharged,
    PositionFillReversed,
    PositionOpened,
    PositionSettled,
)
from messages.risk import PositionMeta, Trackers, TrackersFor
from supervisors.kernel.base import RuntimeActor, handles
from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.supervised import Supervised


class PositionIndexActor(Supervised, RuntimeActor):
    kind = "position_index"

    def __init__(
        self, index: PositionIndex | None = None, *, supervision: SupervisedContext | None = None
    ) -> None:
        super().__init__(supervision=supervision)
        self.index = index if index is not None else PositionIndex()
        self.lookups = 0

    def all(self) -> tuple[PositionMeta, ...]:
        """Every indexed leg (for callers outside: ``ref.proxy().all().get()``)."""
        return self.index.all()

    @handles(PositionOpened)
    def _opened(self, message: PositionOpened) -> None:
        self.index.opened(message.position)

    @handles(PositionDelta, PositionFillReversed, PositionFillCharged)
    def _delta(self, message: PositionDelta | PositionFillReversed | PositionFillCharged) -> None:
        if not self.index.leg_changed(message.position_id, message.leg, message.version):
            self.log.warning(
                "delta_for_unindexed_position",
                position_id=message.position_id,
                security_id=message.leg.security_id,
            )

    @handles(PositionSettled)
    def _settled(self, message: PositionSettled) -> None:
        self.index.settled(message.position)

    @handles(PositionArchived)
    def _archived(self, message: PositionArchived) -> None:
        self.index.archived(message.position)

    @handles(MarketSnapshot)
    def _market(self, snapshot: MarketSnapshot) -> None:
        for book in snapshot.books:
            if book.mid is not None:
                self.index.set_mark(book.security_id, book.mid)

    @handles(TrackersFor, reads_only=True)
    def _trackers_for(self, message: TrackersFor) -> Trackers | None:
        self.lookups += 1
        answer = self.index.answer(message)
        if message.reply_to is None:
            return answer  # a query: its answer is the reply, nothing else happens
        # Telling the answer is work that follows: counted, or a quiescence check could
        # see no change while the answer is still on its way (``Runtime.wait_idle``).
        self.handled += 1
        reply_to: Any = message.reply_to
        reply_to.tell(answer)
        return None
