"""Which broker callbacks were seen before, and which repeats are conflicts, not duplicates.

A plain table with no threads; ``actors.callback_normalization`` owns one. A deal is
identified by the broker's ``(order_no, seq_no, match_ts)`` and must always come with the
same terms (security, side, price, size): a repeat in the same terms is a duplicate, one in
other terms a conflict, reported once per version so the journal can refuse it.
"""

from __future__ import annotations

import enum
from decimal import Decimal

from messages.broker import BrokerFill, RawDealEvent
from messages.enums import OrderSide

Terms = tuple[str, OrderSide, Decimal, Decimal]
"""What a deal's identity must always come with: security, side, price and size."""


def terms_of(deal: RawDealEvent | BrokerFill) -> Terms:
    return (deal.security_id, deal.side, deal.price, deal.size)


def describe(terms: Terms) -> str:
    security_id, side, price, size = terms
    return f"{side.value} {size} {security_id} @ {price}"


class Source(enum.Enum):
    """Who brought a key first: a callback, or reconciliation from the broker's list."""

    CALLBACK = "callback"
    LISTED = "listed"


class CallbackDedup:
    """Deal and order-event keys already handled, and the terms each deal came with first.

    Kept for the life of the process; the journal's dedup keys make the same true across
    restarts.
    """

    def __init__(self) -> None:
        self._seen: dict[str, Source] = {}
        self._terms: dict[str, Terms] = {}
        self._conflicting: set[tuple[str, Terms]] = set()

    def __contains__(self, key: str) -> bool:
        return key in self._seen

    def callback(self, key: str) -> Source | None:
        """Mark ``key`` as brought by a callback; who had brought it before, if anyone."""
        before = self._seen.get(key)
        self._seen[key] = Source.CALLBACK
        return before

    def listed(self, key: str) -> None:
        """Mark ``key`` as booked from the broker's list, before any callback of it."""
        self._seen[key] = Source.LISTED

    def first_terms(self, key: str) -> Terms | None:
        return self._terms.get(key)

    def conflict(self, key: str, terms: Terms) -> Terms | None:
        """The first terms of deal ``key`` when ``terms`` differ from them for the first time.

        None when they are the first terms, or a version already reported: a repeat of a
        conflict is a duplicate like any other.
        """
        first = self._terms.setdefault(key, terms)
        if first == terms or (key, terms) in self._conflicting:
            return None
        self._conflicting.add((key, terms))
        return first
