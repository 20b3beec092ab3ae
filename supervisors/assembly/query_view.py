"""Reading the runtime's state from outside the actors: positions, orders, lookups.

Each read asks the core the follower holds and blocks (``ask``), which is safe outside any
actor. A read that meets a dead or restarting actor is tried again, after pointing at the
successor core when the one held has died; it never moves the feed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import pykka

from actors.runtime_state import order_from_created
from messages.broker_events import AccountPosition
from messages.orders import OrderSnapshot
from messages.positions import PositionSnapshot
from messages.queries import (
    GetSnapshot,
    ListMarkets,
    ListPositions,
    ListRoutedOrders,
    MarketState,
    MarketStates,
    PositionRefs,
    RoutedOrders,
)
from messages.risk import PositionMeta, Trackers, TrackersFor
from supervisors.assembly.core_follower import CoreFollower
from supervisors.kernel.base import ASK_TIMEOUT_S, ask

T = TypeVar("T")


def require(ref: pykka.ActorRef[Any] | None) -> pykka.ActorRef[Any]:
    """``ref``, or RuntimeError when the runtime (so the actor) is not started."""
    if ref is None:
        raise RuntimeError("the runtime is not started")
    return ref


class QueryView:
    """The read side of one runtime; ``refresh`` waits for a successor core."""

    def __init__(
        self,
        follower: CoreFollower,
        refresh: Callable[[], None],
        *,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.follower = follower
        self._refresh = refresh
        self._sleep = sleep

    def positions(self) -> list[PositionSnapshot]:
        """Every position: archived (settled) ones and the live ones, oldest market first."""

        def read() -> list[PositionSnapshot]:
            refs: PositionRefs = ask(self.follower.require().market_lifecycle, ListPositions())
            live = [ask(ref, GetSnapshot()) for _, ref in refs.live]
            return [*refs.archived, *live]

        return self._retrying(read)

    def markets(self) -> tuple[MarketState, ...]:
        """Every market of the run and its phase, archived first; the last opened last."""

        def read() -> tuple[MarketState, ...]:
            states: MarketStates = ask(self.follower.require().market_lifecycle, ListMarkets())
            return states.markets

        return self._retrying(read)

    def account_positions(self) -> tuple[AccountPosition, ...]:
        """The broker-account view (with a broker configured): per (account, security)."""

        def read() -> tuple[AccountPosition, ...]:
            book = require(self.follower.require().extras.get("account_positions"))
            return book.proxy().positions().get(timeout=ASK_TIMEOUT_S)  # type: ignore[no-any-return]

        return self._retrying(read)

    def orders(self) -> list[OrderSnapshot]:
        """Every order execution still routes (archived markets' orders are gone); an order
        whose actor is still starting is as it was created, a stopped one as it closed."""

        def read() -> list[OrderSnapshot]:
            routed: RoutedOrders = ask(self.follower.require().execution, ListRoutedOrders())
            running = [ask(ref, GetSnapshot()) for _, ref in routed.running]
            starting = [order_from_created(created).snapshot() for created in routed.starting]
            return running + starting + list(routed.closed)

        return self._retrying(read)

    def lookup(self, security_id: str) -> tuple[PositionMeta, ...]:
        """The position index's answer for ``security_id``."""

        def read() -> tuple[PositionMeta, ...]:
            trackers: Trackers = ask(
                self.follower.require().index, TrackersFor(security_ids=(security_id,))
            )
            return trackers.by_security

        return self._retrying(read)

    def _retrying(self, read: Callable[[], T], attempts: int = 5) -> T:
        """``read`` again when an actor it asked was dead or restarting at that moment."""
        for _ in range(attempts - 1):
            try:
                return read()
            except (pykka.ActorDeadError, pykka.Timeout):
                self._sleep(0.05)
                core = self.follower.core
                if core is not None and not core.intact():
                    self._refresh()
        return read()
