"""The end-of-run verdict of a run through a broker: what we print, against the broker's truth.

The run prints a positions table and the account book's balance with the broker; the verdict
compares each of them with the broker and says EQUALS only when all of them agree:

- the account book's quantity per security against the broker's positions;
- each leg of the table whose market is still open (its quantity is what we hold) against
  the broker's position in that security (a settled leg's shares were paid out here, and a
  paper broker keeps them: the account book covers those);
- our open orders against the broker's open orders (by our order id, the client order id
  the broker keeps).

Plain data in, lines out: no runtime, so both verdicts are tested directly too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import attrs

from actors.order_state import CLOSED_STATUSES
from messages.broker import BrokerOrder
from messages.enums import PositionStatus
from messages.orders import OrderSnapshot
from messages.positions import PositionSnapshot


@attrs.frozen(kw_only=True, slots=True)
class BrokerVerdict:
    """Whether everything compared agrees, and one line per comparison."""

    equal: bool
    lines: tuple[str, ...]


def broker_verdict(
    *,
    positions: Iterable[PositionSnapshot],
    book: Mapping[str, Decimal],
    truth: Mapping[str, Decimal],
    orders: Iterable[OrderSnapshot],
    broker_open: Iterable[BrokerOrder],
) -> BrokerVerdict:
    """``book`` and ``truth``: non-zero quantities by security, ours and the broker's."""
    lines: list[str] = []
    book_differs = _differences(book, truth)
    lines.append(
        f"the account book {_verb(book_differs)} the broker's positions "
        f"({len(truth)} securities){_listed(book_differs)}"
    )
    legs = {
        leg.security_id: leg.quantity
        for position in positions
        if position.status is PositionStatus.OPEN
        for leg in position.legs
    }
    legs_differ = _differences(legs, {s: truth.get(s, Decimal(0)) for s in legs})
    lines.append(
        f"the positions table {_verb(legs_differ)} the broker's positions "
        f"({len(legs)} open legs){_listed(legs_differ)}"
    )
    ours = sorted(o.order_id for o in orders if o.status not in CLOSED_STATUSES)
    theirs = sorted(o.client_order_id or o.order_no for o in broker_open)
    lines.append(
        f"our open orders {'EQUAL' if ours == theirs else 'DIFFER FROM'} the broker's "
        f"({len(ours)} here: {', '.join(ours) or 'none'}; "
        f"{len(theirs)} there: {', '.join(theirs) or 'none'})"
    )
    equal = not book_differs and not legs_differ and ours == theirs
    lines.append(f"the run {'EQUALS' if equal else 'DIFFERS FROM'} the broker's truth")
    return BrokerVerdict(equal=equal, lines=tuple(lines))


def _differences(ours: Mapping[str, Decimal], theirs: Mapping[str, Decimal]) -> list[str]:
    return [
        f"{security_id} {ours.get(security_id, Decimal(0))} here, "
        f"{theirs.get(security_id, Decimal(0))} at the broker"
        for security_id in sorted(set(ours) | set(theirs))
        if ours.get(security_id, Decimal(0)) != theirs.get(security_id, Decimal(0))
    ]


def _verb(differences: list[str]) -> str:
    return "DIFFERS FROM" if differences else "EQUALS"


def _listed(differences: list[str]) -> str:
    return f": {'; '.join(differences)}" if differences else ""
