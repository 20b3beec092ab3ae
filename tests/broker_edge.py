"""The broker edge for tests: the runtime's journal (SQLite), bus, account book, normalizer,
broker venue and reconciler around a broker adapter (a SimulatedBroker, a test driver's
adapter, or a real broker's adapter over a stand-in for its API); a collector stands in for
execution."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pykka

from actors.broker import Broker, DealCallback, OrderCallback
from bridges.journal_sqlite import SqliteStoreFactory
from bridges.simulated_broker import SimulatedBroker
from messages.broker import BrokerFill, BrokerPosition
from messages.broker_events import AccountPosition
from messages.enums import OrderSide
from messages.journal_protocol import Sync
from messages.order_commands import SubmitOrder
from supervisors.assembly.runtime_config import BrokerConfig, RuntimeConfig
from supervisors.assembly.subsystems import Wiring, broker_edge_alone, start_harness
from supervisors.kernel.base import ask
from supervisors.kernel.protocol import WhichChildren
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


def _always_idle(_timeout_s: float) -> bool:
    return True


class Edge:
    """Start with ``start()``; ``stop()`` stops the actors (the broker is the test's).

    The children are the runtime's own (``subsystems.broker_edge_alone``) under a one_for_all
    supervisor, as the root runs them; ``reports`` is what execution would hear. ``idle``
    waits until the broker delivered every callback it owes (a paper broker's ``wait_idle``
    unless another adapter's test driver says how).
    """

    def __init__(
        self,
        broker: Broker,
        path: Path,
        *,
        idle: Callable[[float], bool] | None = None,
        gap_s: float = 2.0,
        min_sync_s: float = 5.0,
        unrouted_grace_s: float = 30.0,
        scheduler: Scheduler = REAL_SCHEDULER,
        account: str = ACCOUNT,
    ) -> None:
        self.broker = broker
        if idle is None:
            # A paper broker delivers from a thread of its own; an adapter over a stand-in
            # that calls back before its call returns has nothing left to wait for.
            idle = broker.wait_idle if isinstance(broker, SimulatedBroker) else _always_idle
        self.idle = idle
        self.config = RuntimeConfig(
            account=account,
            strategy_name="test",
            broker=BrokerConfig(
                broker=broker,
                gap_s=gap_s,
                min_sync_s=min_sync_s,
                unrouted_grace_s=unrouted_grace_s,
            ),
            journal_store=SqliteStoreFactory(path),
            scheduler=scheduler,
        )
        self.reports: queue.Queue[Any] = queue.Queue()
        self.events: queue.Queue[Any] = queue.Queue()

    def start(self) -> Edge:
        self.wiring = Wiring(config=self.config, stores=self.config.stores())
        self.wiring.listeners.append(Collector.start(self.events))
        self.specs = broker_edge_alone(self.wiring, lambda: Collector.start(self.reports))
        self.supervisor = start_harness("broker_edge", self.specs, self.wiring)
        self.children = ask(self.supervisor, WhichChildren())
        return self

    def stop(self) -> None:
        self.supervisor.stop()

    @property
    def journal(self) -> pykka.ActorRef[Any]:
        return self.wiring.refs["journal"]

    @property
    def bus(self) -> pykka.ActorRef[Any]:
        return self.wiring.refs["bus"]

    @property
    def account_positions(self) -> pykka.ActorRef[Any]:
        return self.wiring.refs["account_positions"]

    @property
    def normalizer(self) -> pykka.ActorRef[Any]:
        return self.wiring.refs["normalizer"]

    @property
    def venue(self) -> pykka.ActorRef[Any]:
        return self.wiring.refs["venue"]

    @property
    def reconciler(self) -> pykka.ActorRef[Any]:
        return self.wiring.refs["reconciler"]

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
        assert self.idle(timeout_s)
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
            answer = self.broker.list_positions(self.config.account, page)
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
