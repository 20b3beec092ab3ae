"""Rebuild the simulated venue after a restart: the feed's books plus the journal's orders.

The simulated venue lives in this process, so a crash takes its resting orders and the
liquidity it has handed out with it. Its state is a function of what it was fed, in order:
for each feed record, the book first (the venue hears every book before any strategy), then
the orders and cancels that record caused, in journal order. Replaying exactly that for the
live markets restores it; the books it builds on the way warm up the MarketActors too.

The orders and cancels come from the recovered state, which keeps them per live market with
their step (snapshot + tail): a restart reads no history a snapshot covers, so damage
there cannot stop it. Only a snapshot older than that fold makes it read the journal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import structlog

from actors.journal_decode import decode_trusted
from actors.journal_store import JournalStore
from actors.order_book import OrderBook
from actors.runtime_state import RuntimeState, submit_for
from bridges.feed_codec import FeedRecord
from bridges.venue_matching import MatchingEngine
from messages.journal import CancelRequested, OrderCreated, StepStarted
from messages.market_data import BookSnapshot, PriceChange, ReferencePrice
from messages.markets import MarketClosed, MarketOpened
from messages.mementos import VenueCommandMemento

_log = structlog.get_logger("tradeactors", actor="venue_replay")
_VENUE_KINDS = frozenset({"StepStarted", "OrderCreated", "CancelRequested"})


def rebuild_venue(
    engine: MatchingEngine,
    state: RuntimeState,
    feed: Sequence[FeedRecord],
    store: JournalStore,
) -> dict[str, dict[str, OrderBook]]:
    """Replay the live markets' history into ``engine``; returns their books by market."""
    live = {record.definition.market_id: record for record in state.live_markets()}
    books: dict[str, dict[str, OrderBook]] = {
        market_id: {
            i.security_id: OrderBook(security_id=i.security_id, outcome=i.outcome)
            for i in record.definition.instruments
        }
        for market_id, record in live.items()
    }
    if not live:
        return books
    if len(feed) < state.resume_step:
        _log.warning(
            "venue_replay_without_feed",
            feed_records=len(feed),
            needed=state.resume_step,
            live_markets=sorted(live),
        )
    commands = (
        _folded_commands(state.venue_commands)
        if state.venue_commands is not None
        else _venue_commands(store, set(live), state)
    )
    now = 0
    first = min(record.opened_step for record in live.values())
    for step in range(max(first, 0), min(state.resume_step, len(feed))):
        record = feed[step]
        now = max(now, record.ts_event)
        if isinstance(record, MarketOpened) and record.definition.market_id in live:
            engine.open_market(record.definition.market_id, record.definition.security_ids)
        elif isinstance(record, BookSnapshot | PriceChange) and record.market_id in live:
            book = books[record.market_id][record.security_id]
            changed = (
                book.apply_snapshot(record)
                if isinstance(record, BookSnapshot)
                else book.apply_change(record)
            )
            if changed:
                for each in books[record.market_id].values():
                    engine.update_book(record.market_id, each.view(), now)
        elif isinstance(record, ReferencePrice) and record.market_id in live:
            # The market publishes its books again with the new reference, and the venue
            # matches against them as on any snapshot (a staged remainder may come due).
            for each in books[record.market_id].values():
                engine.update_book(record.market_id, each.view(), now)
        elif isinstance(record, MarketClosed) and record.market_id in live:
            engine.close_market(record.market_id, now)
        for command in commands.get(step, ()):
            if isinstance(command, OrderCreated):
                engine.submit(submit_for(command), now)
            else:
                engine.cancel(command.order_id, now)
    return books


def _folded_commands(
    folded: list[VenueCommandMemento],
) -> dict[int, list[OrderCreated | CancelRequested]]:
    """The live markets' orders and cancels as the fold kept them, grouped by step."""
    by_step: dict[int, list[OrderCreated | CancelRequested]] = defaultdict(list)
    for command in folded:
        event = command.created if command.created is not None else command.cancel
        if event is not None:
            by_step[command.step].append(event)
    return by_step


def _venue_commands(
    store: JournalStore, live: set[str], state: RuntimeState
) -> dict[int, list[OrderCreated | CancelRequested]]:
    """Orders and cancels of the live markets, grouped by the feed step that caused them,
    read from the whole journal: only for a snapshot older than the fold that keeps them."""
    _log.info("venue_replay_reads_journal", reason="snapshot without venue commands")
    by_step: dict[int, list[OrderCreated | CancelRequested]] = defaultdict(list)
    step = -1
    for record in store.read():
        if record.kind not in _VENUE_KINDS:
            continue
        event = decode_trusted(record.kind, record.payload)
        if isinstance(event, StepStarted):
            step = event.step
        elif isinstance(event, OrderCreated) and event.market_id in live:
            by_step[step].append(event)
        elif isinstance(event, CancelRequested):
            market_id = state.order_markets.get(event.order_id)
            if market_id in live:
                by_step[step].append(event)
    return by_step
