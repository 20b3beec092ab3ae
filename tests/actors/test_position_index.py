"""The position index: lookups by security and account, and — under random fills, market
switches and restarts — always equal to the index derived from the positions themselves."""

from __future__ import annotations

import decimal
import itertools
from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.exact_decimal import EXACT
from actors.position_accounting import PositionBook
from actors.position_index_book import PositionIndex, meta_for
from messages.enums import OrderSide
from messages.fills import Fill
from messages.positions import PositionSnapshot
from messages.risk import PositionMeta

pytestmark = pytest.mark.timeout(60)
D = Decimal


def book(market_id: str, account: str = "paper") -> PositionBook:
    return PositionBook(
        position_id=f"{market_id}/{account}/s",
        market_id=market_id,
        account=account,
        strategy="s",
        security_ids=(f"{market_id}-YES", f"{market_id}-NO"),
    )


def derived(live: list[PositionBook]) -> set[PositionMeta]:
    """What the index must hold: every leg of every live position, as it is now."""
    return {
        meta_for(snapshot, leg, 0)
        for snapshot in (position.snapshot() for position in live)
        for leg in snapshot.legs
    }


def content(index: PositionIndex) -> set[PositionMeta]:
    """The index's legs without the version each was last changed at (its own bookkeeping)."""
    return {attrs.evolve(meta, version=0) for meta in index.all()}


def test_lookups_by_security_and_account_and_removal() -> None:
    index = PositionIndex()
    first, second = book("m1"), book("m2", account="other")
    index.opened(first.snapshot())
    index.opened(second.snapshot())
    assert {m.position_id for m in index.trackers_for("m1-YES")} == {"m1/paper/s"}
    assert {m.security_id for m in index.of_market("m2")} == {"m2-YES", "m2-NO"}
    assert len(index) == 4
    assert index.remove("m1/paper/s", "m1-YES") == 1
    assert index.trackers_for("m1-YES") == ()
    assert index.remove("m1/paper/s") == 1
    assert len(index) == 2


def test_an_older_version_of_a_leg_never_overwrites_a_newer_one() -> None:
    index = PositionIndex()
    position = book("m1")
    index.opened(position.snapshot())
    for fill_id, size in (("F1", "10"), ("F2", "5")):
        position.apply_fill(fill(fill_id, "m1-YES", OrderSide.BUY, "0.40", size))
        index.leg_changed(position.position_id, position.leg_snapshot("m1-YES"), position.version)
    stale = position.leg_snapshot("m1-YES")
    assert not index.leg_changed(position.position_id, stale, position.version - 1)
    (meta,) = index.trackers_for("m1-YES")
    assert meta.quantity == D(15)


_ids = itertools.count()


def fill(fill_id: str, security_id: str, side: OrderSide, price: str, size: str) -> Fill:
    return Fill(
        fill_id=fill_id,
        ts_event=1,
        order_id=f"O-{fill_id}",
        market_id=security_id.rsplit("-", 1)[0],
        security_id=security_id,
        side=side,
        price=D(price),
        size=D(size),
        fee=D("0.01"),
    )


def rebuilt(position: PositionBook) -> PositionBook:
    restored = PositionBook.from_memento(position.memento())
    restored._version = max(position.version - 3, 0)  # a restart may start lower
    return restored


OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("fill"),
            st.integers(0, 1),
            st.sampled_from(["YES", "NO"]),
            st.sampled_from(list(OrderSide)),
            st.integers(1, 99),
            st.integers(1, 40),
        ),
        st.tuples(st.just("switch"), st.integers(0, 1), st.booleans()),
        st.tuples(st.just("restart index")),
        st.tuples(
            st.just("mark"), st.integers(0, 1), st.sampled_from(["YES", "NO"]), st.integers(1, 99)
        ),
        st.tuples(st.just("restart position"), st.integers(0, 1)),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(ops=OPS)
def test_the_index_always_equals_the_index_derived_from_the_positions(ops: list[tuple]) -> None:
    generation = itertools.count(1)
    live = [book(f"m{slot}-{next(generation)}") for slot in range(2)]
    archived: list[PositionSnapshot] = []
    marks: dict[str, Decimal] = {}
    index = PositionIndex()
    for position in live:
        index.opened(position.snapshot())
    for op in ops:
        if op[0] == "fill":
            _, slot, outcome, side, cents, size = op
            position = live[slot]
            security_id = f"{position.market_id}-{outcome}"
            price = str(D(cents) / 100)
            position.apply_fill(fill(f"F{next(_ids)}", security_id, side, price, str(size)))
            index.leg_changed(
                position.position_id, position.leg_snapshot(security_id), position.version
            )
        elif op[0] == "switch":
            _, slot, yes_wins = op
            old = live[slot]
            old.settle(f"{old.market_id}-{'YES' if yes_wins else 'NO'}", D(1))
            index.settled(old.snapshot())
            index.archived(old.snapshot())
            archived.append(old.snapshot())
            live[slot] = book(f"m{slot}-{next(generation)}")
            index.opened(live[slot].snapshot())
        elif op[0] == "mark":
            _, slot, outcome, cents = op
            security_id = f"{live[slot].market_id}-{outcome}"
            marks[security_id] = D(cents) / 100
            index.set_mark(security_id, marks[security_id])
        elif op[0] == "restart position":
            # Rebuilt from the journal (here: its memento) with a version of its own; it
            # announces itself, and its later deltas count from there.
            _, slot = op
            live[slot] = rebuilt(live[slot])
            index.opened(live[slot].snapshot())
        else:
            index = PositionIndex.bulk_load_active(
                (position.snapshot() for position in live), archived
            )
            for security_id, mark in marks.items():
                index.set_mark(security_id, mark)
        assert content(index) == derived(live)
        legs = derived(live)
        totals = index.account("paper")
        with decimal.localcontext(EXACT):  # the running totals are exact, so is this sum
            assert totals.exposure == sum((abs(m.cost) for m in legs), D(0))
            assert totals.realized_net == sum((m.realized_pnl - m.fees for m in legs), D(0))
            unrealized = sum(
                (
                    m.quantity * marks[m.security_id] - m.cost
                    for m in legs
                    if m.security_id in marks
                ),
                D(0),
            )
            assert totals.unrealized == unrealized
            closed = sum((leg.realized_pnl - leg.fees for p in archived for leg in p.legs), D(0))
            assert index.closed_pnl.get("paper", D(0)) == closed
