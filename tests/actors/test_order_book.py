"""OrderBook: snapshots, in-sequence changes, stale changes, gaps and the cached view."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.order_book import OrderBook
from messages.enums import BookSide, Outcome
from messages.market_data import BookLevel, BookSnapshot, InstrumentBook, PriceChange

SID = "yes-token"

Levels = tuple[tuple[str, str], ...]


def book() -> OrderBook:
    return OrderBook(security_id=SID, outcome=Outcome.YES)


def levels(pairs: Levels) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(price=Decimal(price), size=Decimal(size)) for price, size in pairs)


def snapshot(
    sequence: int, *, bids: Levels = (), asks: Levels = (), security_id: str = SID
) -> BookSnapshot:
    return BookSnapshot(
        ts_event=0,
        market_id="m1",
        security_id=security_id,
        sequence=sequence,
        bids=levels(bids),
        asks=levels(asks),
    )


def change(
    sequence: int, side: BookSide, price: str, size: str, *, security_id: str = SID
) -> PriceChange:
    return PriceChange(
        ts_event=0,
        market_id="m1",
        security_id=security_id,
        sequence=sequence,
        side=side,
        price=Decimal(price),
        size=Decimal(size),
    )


def synced_book() -> OrderBook:
    """Bids 0.40 x 10, 0.45 x 5; asks 0.55 x 7, 0.50 x 3; at sequence 10."""
    ob = book()
    ob.apply_snapshot(
        snapshot(10, bids=(("0.40", "10"), ("0.45", "5")), asks=(("0.55", "7"), ("0.50", "3")))
    )
    return ob


def test_new_book_is_unsynced_and_empty() -> None:
    ob = book()

    assert not ob.synced
    assert ob.sequence == -1
    assert ob.view() == InstrumentBook(
        security_id=SID, outcome=Outcome.YES, bids=(), asks=(), synced=False, sequence=-1
    )


def test_snapshot_applies_and_orders_levels_best_first() -> None:
    ob = book()

    changed = ob.apply_snapshot(
        snapshot(10, bids=(("0.40", "10"), ("0.45", "5")), asks=(("0.55", "7"), ("0.50", "3")))
    )

    assert changed
    assert ob.synced
    assert ob.sequence == 10
    view = ob.view()
    assert view.bids == levels((("0.45", "5"), ("0.40", "10")))
    assert view.asks == levels((("0.50", "3"), ("0.55", "7")))
    assert view.synced
    assert view.sequence == 10


def test_snapshot_replaces_every_level_even_with_a_lower_sequence() -> None:
    ob = synced_book()

    ob.apply_snapshot(snapshot(3, bids=(("0.30", "1"),)))

    assert ob.sequence == 3
    assert ob.view().bids == levels((("0.30", "1"),))
    assert ob.view().asks == ()


def test_snapshot_for_another_instrument_raises_value_error() -> None:
    ob = synced_book()

    with pytest.raises(ValueError, match="no-token"):
        ob.apply_snapshot(snapshot(11, security_id="no-token"))

    assert ob.sequence == 10


def test_change_for_another_instrument_raises_value_error() -> None:
    ob = synced_book()

    with pytest.raises(ValueError, match="no-token"):
        ob.apply_change(change(11, BookSide.BID, "0.40", "1", security_id="no-token"))


def test_change_in_sequence_updates_the_size_of_a_level() -> None:
    ob = synced_book()

    assert ob.apply_change(change(11, BookSide.BID, "0.40", "12"))

    assert ob.sequence == 11
    assert ob.view().bids == levels((("0.45", "5"), ("0.40", "12")))
    assert ob.view().sequence == 11


def test_change_in_sequence_adds_a_new_level_in_price_order() -> None:
    ob = synced_book()

    assert ob.apply_change(change(11, BookSide.ASK, "0.52", "4"))

    assert ob.view().asks == levels((("0.50", "3"), ("0.52", "4"), ("0.55", "7")))


def test_change_with_size_zero_removes_the_level() -> None:
    ob = synced_book()

    assert ob.apply_change(change(11, BookSide.ASK, "0.50", "0"))

    assert ob.view().asks == levels((("0.55", "7"),))
    assert ob.view().bids == levels((("0.45", "5"), ("0.40", "10")))


@pytest.mark.parametrize(
    ("side", "price", "size"),
    [(BookSide.BID, "0.40", "10"), (BookSide.ASK, "0.60", "0")],
    ids=["same-size", "remove-absent-level"],
)
def test_change_that_leaves_the_levels_as_they_were_advances_sequence_but_reports_no_change(
    side: BookSide, price: str, size: str
) -> None:
    ob = synced_book()
    before = ob.view()

    assert not ob.apply_change(change(11, side, price, size))

    assert ob.sequence == 11
    assert (ob.view().bids, ob.view().asks) == (before.bids, before.asks)
    assert ob.view().sequence == 11


@pytest.mark.parametrize("sequence", [10, 9, 0])
def test_stale_change_is_ignored(sequence: int) -> None:
    ob = synced_book()
    before = ob.view()

    assert not ob.apply_change(change(sequence, BookSide.BID, "0.40", "99"))

    assert ob.sequence == 10
    assert ob.synced
    assert ob.view() is before


def test_gap_unsyncs_the_book_without_applying_the_change() -> None:
    ob = synced_book()

    assert ob.apply_change(change(12, BookSide.BID, "0.40", "99"))

    assert not ob.synced
    assert ob.sequence == 10
    view = ob.view()
    assert not view.synced
    assert view.bids == levels((("0.45", "5"), ("0.40", "10")))


def test_after_a_gap_changes_are_ignored_until_the_next_snapshot_resyncs() -> None:
    ob = synced_book()
    ob.apply_change(change(12, BookSide.BID, "0.40", "99"))

    assert not ob.apply_change(change(13, BookSide.BID, "0.40", "98"))
    assert not ob.apply_change(change(20, BookSide.BID, "0.40", "97"))
    assert not ob.apply_change(change(11, BookSide.BID, "0.40", "96"))
    assert not ob.synced
    assert ob.view().bids == levels((("0.45", "5"), ("0.40", "10")))

    ob.apply_snapshot(snapshot(30, bids=(("0.41", "2"),)))
    assert ob.synced
    assert ob.apply_change(change(31, BookSide.BID, "0.41", "3"))
    assert ob.view().bids == levels((("0.41", "3"),))
    assert ob.view().synced


def test_change_before_any_snapshot_is_ignored_and_book_stays_unsynced() -> None:
    ob = book()

    assert not ob.apply_change(change(0, BookSide.BID, "0.40", "1"))

    assert not ob.synced
    assert ob.sequence == -1
    assert ob.view().bids == ()


def test_view_is_immutable() -> None:
    view = synced_book().view()

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        view.bids = ()  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        view.bids[0].size = Decimal(1)  # type: ignore[misc]
    assert isinstance(view.bids, tuple)
    assert isinstance(view.asks, tuple)


def test_view_is_cached_until_a_change_and_then_replaced_leaving_the_old_view_intact() -> None:
    ob = synced_book()
    first = ob.view()
    assert ob.view() is first

    ob.apply_change(change(11, BookSide.ASK, "0.50", "0"))

    second = ob.view()
    assert second is not first
    assert ob.view() is second
    assert first.asks == levels((("0.50", "3"), ("0.55", "7")))
    assert first.sequence == 10
    assert second.asks == levels((("0.55", "7"),))


def test_view_after_a_change_on_one_side_reuses_the_other_sides_levels() -> None:
    ob = synced_book()
    first = ob.view()

    ob.apply_change(change(11, BookSide.ASK, "0.50", "1"))

    assert ob.view().bids is first.bids


prices = st.integers(min_value=1, max_value=20).map(lambda cents: Decimal(cents) / 100)
sizes = st.integers(min_value=0, max_value=5).map(Decimal)
updates = st.lists(st.tuples(st.sampled_from(BookSide), prices, sizes), max_size=40)


@given(updates=updates)
def test_in_sequence_changes_leave_the_book_equal_to_a_plain_dict_model(
    updates: list[tuple[BookSide, Decimal, Decimal]],
) -> None:
    ob = book()
    ob.apply_snapshot(snapshot(0))
    model: dict[BookSide, dict[Decimal, Decimal]] = {BookSide.BID: {}, BookSide.ASK: {}}

    for sequence, (side, price, size) in enumerate(updates, start=1):
        ob.apply_change(
            PriceChange(
                ts_event=0,
                market_id="m1",
                security_id=SID,
                sequence=sequence,
                side=side,
                price=price,
                size=size,
            )
        )
        if size:
            model[side][price] = size
        else:
            model[side].pop(price, None)

    view = ob.view()
    assert view.bids == tuple(
        BookLevel(price=p, size=s) for p, s in sorted(model[BookSide.BID].items(), reverse=True)
    )
    assert view.asks == tuple(
        BookLevel(price=p, size=s) for p, s in sorted(model[BookSide.ASK].items())
    )
    assert view.sequence == len(updates)
    assert view.synced
