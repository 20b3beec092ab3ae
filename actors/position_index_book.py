"""PositionIndex: ``security_id -> [position metadata]``, the lookup a risk check needs (seed 004).

A plain class, so it is tested without threads. It is fed position lifecycle events: a
position opened (its legs replace whatever was indexed for it), a fill changed a leg
(updated unless the index holds a newer version), settled (like opened), archived (every
leg removed).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import attrs

from messages.positions import LegSnapshot, PositionSnapshot
from messages.risk import PositionMeta

ZERO = Decimal(0)

_Key = tuple[str, str]
"""(position_id, security_id)."""


def meta_for(position: PositionSnapshot, leg: LegSnapshot, version: int) -> PositionMeta:
    return PositionMeta(
        position_id=position.position_id,
        market_id=position.market_id,
        account=position.account,
        strategy=position.strategy,
        security_id=leg.security_id,
        quantity=leg.quantity,
        cost=leg.cost,
        avg_price=leg.avg_open_price,
        realized_pnl=leg.realized_pnl,
        fees=leg.fees,
        status=position.status,
        version=version,
    )


class PositionIndex:
    """Active position legs by security, by position and by account."""

    def __init__(self) -> None:
        self._by_security: dict[str, dict[str, PositionMeta]] = {}
        self._by_position: dict[str, dict[str, PositionMeta]] = {}
        self._by_account: dict[str, dict[_Key, PositionMeta]] = {}
        self.closed_pnl: dict[str, Decimal] = {}

    def __len__(self) -> int:
        return sum(len(legs) for legs in self._by_position.values())

    def add(self, meta: PositionMeta) -> bool:
        """Add or replace a leg unless the index holds a newer version of it."""
        current = self._by_position.get(meta.position_id, {}).get(meta.security_id)
        if current is not None and current.version > meta.version:
            return False
        self._by_security.setdefault(meta.security_id, {})[meta.position_id] = meta
        self._by_position.setdefault(meta.position_id, {})[meta.security_id] = meta
        self._by_account.setdefault(meta.account, {})[(meta.position_id, meta.security_id)] = meta
        return True

    update = add

    def remove(self, position_id: str, security_id: str | None = None) -> int:
        """Remove one leg, or every leg of the position; returns how many went."""
        legs = self._by_position.get(position_id, {})
        gone = [legs[security_id]] if security_id in legs else []
        if security_id is None:
            gone = list(legs.values())
        for meta in gone:
            del self._by_security[meta.security_id][position_id]
            if not self._by_security[meta.security_id]:
                del self._by_security[meta.security_id]
            del self._by_account[meta.account][(position_id, meta.security_id)]
            if not self._by_account[meta.account]:
                del self._by_account[meta.account]
            del legs[meta.security_id]
        if not legs:
            self._by_position.pop(position_id, None)
        return len(gone)

    def trackers_for(self, security_id: str) -> tuple[PositionMeta, ...]:
        return tuple(self._by_security.get(security_id, {}).values())

    def of_account(self, account: str) -> tuple[PositionMeta, ...]:
        return tuple(self._by_account.get(account, {}).values())

    def all(self) -> tuple[PositionMeta, ...]:
        return tuple(meta for legs in self._by_position.values() for meta in legs.values())

    # -- lifecycle events ------------------------------------------------------------------

    def opened(self, position: PositionSnapshot) -> None:
        """The position as it is now, whatever the index held: a restarted position's
        versions start again lower (marks are not journaled), so this one is not compared."""
        self.remove(position.position_id)
        for leg in position.legs:
            self.add(meta_for(position, leg, position.version))

    def leg_changed(self, position_id: str, leg: LegSnapshot, version: int) -> bool:
        """A fill moved one leg; False when the position is not indexed (never opened here)."""
        current = self._by_position.get(position_id, {}).get(leg.security_id)
        if current is None:
            return False
        return self.add(
            attrs.evolve(
                current,
                quantity=leg.quantity,
                cost=leg.cost,
                avg_price=leg.avg_open_price,
                realized_pnl=leg.realized_pnl,
                fees=leg.fees,
                version=version,
            )
        )

    def settled(self, position: PositionSnapshot) -> None:
        self.opened(position)

    def archived(self, position: PositionSnapshot) -> None:
        """The position is final: its legs leave the index, its PnL joins the account's."""
        self.remove(position.position_id)
        self.closed_pnl[position.account] = self.closed_pnl.get(position.account, ZERO) + sum(
            (leg.realized_pnl - leg.fees for leg in position.legs), ZERO
        )

    @classmethod
    def bulk_load_active(
        cls, live: Iterable[PositionSnapshot], archived: Iterable[PositionSnapshot] = ()
    ) -> PositionIndex:
        """The index of the journal's live positions, with the PnL of its archived ones."""
        index = cls()
        for position in archived:
            index.archived(position)
        for position in live:
            index.opened(position)
        return index
