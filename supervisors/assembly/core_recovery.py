"""The core's recovery, one named step: the journal's state and what each core child is
built from.

Run by the journal's factory at each start of the core (``supervisors.assembly.subsystems``)
and by the benchmarks that restart from a journal, so a restart is recovered one way.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs

from actors.account_book import AccountBook
from actors.journal_store import JournalStore
from actors.order_state import CLOSED_STATUSES
from actors.position_accounting import PositionBook
from actors.runtime_state import RuntimeState
from bridges.feed_codec import FeedRecord
from bridges.venue_matching import MatchingEngine, StagedFills
from bridges.venue_replay import rebuild_venue
from messages.broker_events import OpenOrderAdopted, OrderRouted
from messages.enums import MarketPhase
from messages.market_data import ReferencePrice
from messages.mementos import OrderMemento
from messages.orders import OrderSnapshot
from messages.positions import PositionSnapshot
from messages.queries import MarketState
from messages.risk import RiskLimits
from supervisors.assembly.market_lifecycle import RestoredMarket
from supervisors.assembly.recovery import RecoveryReport, recover_state


@attrs.frozen(kw_only=True)
class Recovered:
    """One recovery of the core. ``state`` is the journal actor's (it alone changes it from
    then on); every other field is a copy a later child is built from."""

    state: RuntimeState
    report: RecoveryReport
    engine: MatchingEngine
    markets: list[RestoredMarket]
    orders: tuple[OrderMemento, ...]
    """The orders whose actors start: open ones, and closed ones whose effects are not all
    journaled (their actors journal them again, then stop as any closed order's does)."""
    closed_orders: tuple[OrderSnapshot, ...]
    """Closed orders whose positions carry every effect: no actor, the snapshot stands."""
    archived: list[PositionSnapshot]
    archived_markets: tuple[MarketState, ...]
    accounts: AccountBook
    routed: tuple[OrderRouted, ...]
    open_order_ids: frozenset[str]
    adopted: tuple[OpenOrderAdopted, ...]
    risk_limits: RiskLimits | None
    order_count: int
    resume_step: int


def recover_core(
    store: JournalStore,
    *,
    fee_rate: Decimal,
    feed: Sequence[FeedRecord],
    staged: StagedFills | None = None,
) -> Recovered:
    """Recover ``store`` (voiding a corrupt tail; a torn step is left out and voided by the
    journal actor started with ``report.torn_void``) and rebuild the simulated venue's
    books from ``feed`` and the journal's orders."""
    state, report = recover_state(store, void_torn=False)
    engine = MatchingEngine(fee_rate=fee_rate, staged=staged)
    books = rebuild_venue(engine, state, feed, store)
    markets, archived = _restorable(state, books, _references(state, feed))
    orders, closed_orders = _restorable_orders(state)
    return Recovered(
        state=state,
        report=report,
        engine=engine,
        markets=markets,
        orders=orders,
        closed_orders=closed_orders,
        archived=archived,
        archived_markets=tuple(
            MarketState(
                market_id=record.definition.market_id,
                phase=MarketPhase.RESOLVED,
                winning_security_id=record.winning_security_id,
            )
            for record in state.markets.values()
            if record.archived
        ),
        accounts=AccountBook.from_memento(state.accounts.memento(), state.accounts.deals),
        routed=tuple(state.routed.values()),
        open_order_ids=frozenset(
            order_id
            for order_id, order in state.orders.items()
            if order.status not in CLOSED_STATUSES
        ),
        adopted=tuple(state.adopted.values()),
        risk_limits=state.risk_limits,
        order_count=state.order_count,
        resume_step=state.resume_step,
    )


def _references(state: RuntimeState, feed: Sequence[FeedRecord]) -> dict[str, ReferencePrice]:
    """Each live market's latest reference price in the committed steps of the feed, as its
    MarketActor had it (its books are warmed from the same steps)."""
    live = {record.definition.market_id for record in state.live_markets()}
    latest: dict[str, ReferencePrice] = {}
    for record in feed[: state.resume_step]:
        if isinstance(record, ReferencePrice) and record.market_id in live:
            latest[record.market_id] = record
    return latest


def _restorable(
    state: RuntimeState,
    books: dict[str, dict[str, Any]],
    references: dict[str, ReferencePrice],
) -> tuple[list[RestoredMarket], list[PositionSnapshot]]:
    """Copies of the journal's state for the actors (the journal keeps its own objects)."""
    restored: list[RestoredMarket] = []
    archived: list[PositionSnapshot] = []
    for record in state.markets.values():
        position = state.positions.get(record.position_id or "")
        if record.archived:
            if position is not None:
                archived.append(position.snapshot())
            continue
        restored.append(
            RestoredMarket(
                definition=record.definition,
                position=None
                if position is None
                else PositionBook.from_memento(position.memento()),
                books=books[record.definition.market_id],
                reference=references.get(record.definition.market_id),
                closed=record.closed,
                winning_security_id=record.winning_security_id,
            )
        )
    return restored, archived


def _restorable_orders(
    state: RuntimeState,
) -> tuple[tuple[OrderMemento, ...], tuple[OrderSnapshot, ...]]:
    """The orders to start an actor for, and the closed ones that need none: a run of many
    orders recovers with threads for its open ones only."""
    started: list[OrderMemento] = []
    closed: list[OrderSnapshot] = []
    for order in state.orders.values():
        memento = order.memento()
        market = state.markets.get(order.market_id)
        position = None if market is None else state.positions.get(market.position_id or "")
        if order.is_closed and position is not None and position.carries(memento):
            closed.append(order.snapshot())
        else:
            started.append(memento)
    return tuple(started), tuple(closed)
