"""PositionIndex: ``security_id -> [position metadata]``, the lookup a risk check needs (seed 004).

A plain class, so it is tested without threads. It is fed position lifecycle events: a
position opened (its legs replace whatever was indexed for it), a fill changed a leg
(updated unless the index holds a newer version), settled (like opened), archived (every
leg removed).
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from decimal import Decimal

import attrs

from actors.exact_decimal import EXACT
from messages.positions import LegSnapshot, PositionSnapshot
from messages.risk import PositionMeta, Trackers, TrackersFor

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


@attrs.define
class AccountTotals:
    """Running sums over an account's indexed legs, kept as legs come and go."""

    exposure: Decimal = ZERO
    realized_net: Decimal = ZERO
    unrealized: Decimal = ZERO
    """Over legs whose security has a mark: quantity x mark - cost."""

    def count(self, meta: PositionMeta, sign: int, mark: Decimal | None) -> None:
        # Exact: a running sum rounded at each step parts from a fresh sum of the same legs.
        with decimal.localcontext(EXACT):
            self.exposure += sign * abs(meta.cost)
            self.realized_net += sign * (meta.realized_pnl - meta.fees)
            if mark is not None:
                self.unrealized += sign * (meta.quantity * mark - meta.cost)


class PositionIndex:
    """Active position legs by security, by position and by market, with running totals
    per account (so no lookup scans what an account holds) and the latest mark per
    security (so those totals include unrealized PnL)."""

    def __init__(self) -> None:
        self._by_security: dict[str, dict[str, PositionMeta]] = {}
        self._by_position: dict[str, dict[str, PositionMeta]] = {}
        self._by_market: dict[str, dict[_Key, PositionMeta]] = {}
        self.totals: dict[str, AccountTotals] = {}
        self.closed_pnl: dict[str, Decimal] = {}
        self.marks: dict[str, Decimal] = {}

    def __len__(self) -> int:
        return sum(len(legs) for legs in self._by_position.values())

    def add(self, meta: PositionMeta) -> bool:
        """Add or replace a leg unless the index holds a newer version of it."""
        current = self._by_position.get(meta.position_id, {}).get(meta.security_id)
        if current is not None:
            if current.version > meta.version:
                return False
            self._forget(current)
        self._by_security.setdefault(meta.security_id, {})[meta.position_id] = meta
        self._by_position.setdefault(meta.position_id, {})[meta.security_id] = meta
        self._by_market.setdefault(meta.market_id, {})[(meta.position_id, meta.security_id)] = meta
        self.totals.setdefault(meta.account, AccountTotals()).count(
            meta, 1, self.marks.get(meta.security_id)
        )
        return True

    update = add

    def remove(self, position_id: str, security_id: str | None = None) -> int:
        """Remove one leg, or every leg of the position; returns how many went."""
        legs = self._by_position.get(position_id, {})
        gone = [legs[security_id]] if security_id in legs else []
        if security_id is None:
            gone = list(legs.values())
        for meta in gone:
            self._forget(meta)
            del legs[meta.security_id]
        if not legs:
            self._by_position.pop(position_id, None)
        return len(gone)

    def _forget(self, meta: PositionMeta) -> None:
        """Take ``meta`` out of the security and market maps and the account's totals."""
        del self._by_security[meta.security_id][meta.position_id]
        if not self._by_security[meta.security_id]:
            del self._by_security[meta.security_id]
        del self._by_market[meta.market_id][(meta.position_id, meta.security_id)]
        if not self._by_market[meta.market_id]:
            del self._by_market[meta.market_id]
        self.totals[meta.account].count(meta, -1, self.marks.get(meta.security_id))

    def set_mark(self, security_id: str, mark: Decimal) -> None:
        """A new mid for ``security_id``: the unrealized PnL of every account holding it moves."""
        old = self.marks.get(security_id)
        if old == mark:
            return
        self.marks[security_id] = mark
        with decimal.localcontext(EXACT):
            for meta in self._by_security.get(security_id, {}).values():
                totals = self.totals[meta.account]
                if old is None:
                    totals.unrealized += meta.quantity * mark - meta.cost
                else:
                    totals.unrealized += meta.quantity * (mark - old)

    def trackers_for(self, security_id: str) -> tuple[PositionMeta, ...]:
        return tuple(self._by_security.get(security_id, {}).values())

    def of_market(self, market_id: str) -> tuple[PositionMeta, ...]:
        return tuple(self._by_market.get(market_id, {}).values())

    def account(self, account: str) -> AccountTotals:
        return self.totals.get(account) or AccountTotals()

    def answer(self, question: TrackersFor) -> Trackers:
        """What ``TrackersFor`` asks: the legs in its securities (and market), and the
        account's running totals; the same cost whatever the account holds."""
        totals = self.account(question.account) if question.account else AccountTotals()
        return Trackers(
            by_security=tuple(
                meta
                for security_id in question.security_ids
                for meta in self.trackers_for(security_id)
            ),
            market_legs=self.of_market(question.market_id) if question.market_id else (),
            exposure=totals.exposure,
            realized_net=totals.realized_net,
            unrealized=totals.unrealized,
            closed_pnl=self.closed_pnl.get(question.account or "", ZERO),
            context=question.context,
        )

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
        with decimal.localcontext(EXACT):
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
