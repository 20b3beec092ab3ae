"""The broker edge wired for tests: real journal (SQLite), bus, account book, normalizer,
broker venue and reconciler around a SimulatedBroker; a collector stands in for execution."""

from __future__ import annotations

import queue
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pykka

from actors.account_book import AccountBook
from actors.account_positions import AccountPositionsActor
from actors.broker import DealCallback, OrderCallback
from actors.event_bus import EventBusActor
from actors.journal import JournalActor
from actors.normalizer import NormalizerActor
from actors.query_pacer import QueryPacer
from actors.reconciler import ReconcilerActor
from bridges.broker_venue import BrokerVenueActor
from bridges.journal_sqlite import SqliteJournalStore
from bridges.simulated_broker import SimulatedBroker
from messages.broker import BrokerFill, BrokerPosition
from messages.broker_events import AccountPosition
from messages.enums import OrderSide
from messages.journal_protocol import Sync
from messages.order_commands import SubmitOrder
from messages.subscriptions import Subscribe
from supervisors.assembly.recovery import recover_state
from supervisors.kernel.base import ask
from supervisors.kernel.scheduler import REAL_SCHEDULER, Scheduler
from tests.stubs import Collector

ACCOUNT = "paper"


class RedeliveringBroker(SimulatedBroker):
    """A paper broker a test can make call its deal callback again, with the data it likes:
    a repeated deal, or the identity of a booked deal with other data (a broken broker)."""

    def register_callbacks(self, on_order: OrderCallback, on_deal: DealCallback) -> None:
        super().register_callbacks(on_order, on_deal)
        self.on_deal = on_deal

    def call_deal_callback(self, deal: BrokerFill, **changes: Any) -> None:
        """Call the registered deal callback with ``deal`` changed by ``changes``, on the
        caller's thread (as a broker's own thread would)."""
        sent = attrs.evolve(deal, **changes)
        self.on_deal(
            sent.order_no,
            sent.seq_no,
            sent.match_ts,
            sent.security_id,
            sent.side,
            sent.price,
            sent.size,
        )

    def deals(self, account: str = "paper") -> list[BrokerFill]:
        """Every deal of ``account``, as the broker's fill query lists them."""
        fills: list[BrokerFill] = []
        page: int | None = 0
        while page is not None:
            answer = self.list_fills(account, 0, page)
            fills.extend(answer.items)
            page = answer.next_page
        return fills


class Edge:
    """Start with ``start()``; ``stop()`` stops the actors (the broker is the test's)."""

    def __init__(
        self,
        broker: SimulatedBroker,
        path: Path,
        *,
        gap_s: float = 2.0,
        min_sync_s: float = 5.0,
        pacer: QueryPacer | None = None,
        unrouted_grace_s: float = 30.0,
        scheduler: Scheduler = REAL_SCHEDULER,
    ) -> None:
        self.broker = broker
        self.scheduler = scheduler
        self.path = path
        self.gap_s = gap_s
        self.min_sync_s = min_sync_s
        self.pacer = pacer
        self.unrouted_grace_s = unrouted_grace_s
        self.reports: queue.Queue[Any] = queue.Queue()
        self.events: queue.Queue[Any] = queue.Queue()

    def start(self) -> Edge:
        store = SqliteJournalStore(self.path)
        state, _ = recover_state(store)
        self.journal = JournalActor.start(store, state=state)
        self.bus = EventBusActor.start()
        self.bus.tell(Subscribe(subscriber=Collector.start(self.events)))
        self.account_positions = AccountPositionsActor.start(
            AccountBook.from_memento(state.accounts.memento(), state.accounts.deals),
            journal=self.journal,
            bus=self.bus,
        )
        self.normalizer = NormalizerActor.start(
            journal=self.journal,
            account_positions=self.account_positions,
            bus=self.bus,
            routed=tuple(state.routed.values()),
            open_order_ids=frozenset(r.order_id for r in state.routed.values()),
            adopted=tuple(state.adopted.values()),
            gap_s=self.gap_s,
            unrouted_grace_s=self.unrouted_grace_s,
            scheduler=self.scheduler,
        )
        self.normalizer.tell(Subscribe(subscriber=Collector.start(self.reports)))
        self.venue = BrokerVenueActor.start(
            self.broker,
            normalizer=self.normalizer,
            journal=self.journal,
            account=ACCOUNT,
            strategy="test",
            routed={r.order_id: r.order_no for r in state.routed.values()},
            scheduler=self.scheduler,
        )
        self.reconciler = ReconcilerActor.start(
            self.broker,
            accounts=(ACCOUNT,),
            normalizer=self.normalizer,
            account_positions=self.account_positions,
            journal=self.journal,
            bus=self.bus,
            pacer=self.pacer,
            min_sync_s=self.min_sync_s,
            scheduler=self.scheduler,
        )
        return self

    def stop(self) -> None:
        for ref in (self.reconciler, self.venue, self.normalizer, self.account_positions):
            ref.stop()
        self.bus.stop()
        self.journal.stop()

    def submit(
        self, order_id: str, security_id: str, side: OrderSide, size: str, price: str = "10"
    ) -> str:
        """Place an order through the broker venue; returns the broker's order number."""
        self.venue.tell(
            SubmitOrder(
                correlation_id=order_id,
                order_id=order_id,
                market_id="m",
                security_id=security_id,
                side=side,
                price=Decimal(price),
                size=Decimal(size),
            )
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            order_no = self.venue.proxy().order_numbers.get().get(order_id)
            if order_no is not None:
                return str(order_no)
            time.sleep(0.001)
        raise AssertionError(f"order {order_id} was not placed")

    def settle(self, timeout_s: float = 10.0, rounds: int = 3) -> None:
        """Wait until the broker delivered everything and the edge's actors drained.

        Each round asks the normalizer (its mailbox is done), syncs the journal (what it
        appended is committed and delivered) and asks the account book; reconciliation's
        chains (deals booked, then a comparison, then corrections) take a few rounds.
        """
        assert self.broker.wait_idle(timeout_s)
        for _ in range(rounds):
            self.normalizer.proxy().handled.get(timeout=timeout_s)
            ask(self.journal, Sync())
            self.account_positions.proxy().handled.get(timeout=timeout_s)

    def trading_enabled(self) -> bool:
        return bool(self.reconciler.proxy().trading_enabled.get())

    def book(self) -> dict[str, Decimal]:
        positions: tuple[AccountPosition, ...] = self.account_positions.proxy().positions().get()
        return {p.security_id: p.quantity for p in positions if p.quantity != 0}

    def truth(self) -> dict[str, Decimal]:
        positions: list[BrokerPosition] = []
        page: int | None = 0
        while page is not None:
            answer = self.broker.list_positions(ACCOUNT, page)
            positions.extend(answer.items)
            page = answer.next_page
        return {p.security_id: p.quantity for p in positions}


def wait_until(condition: Any, timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def alive(*refs: pykka.ActorRef[Any]) -> bool:
    return all(ref.is_alive() for ref in refs)
