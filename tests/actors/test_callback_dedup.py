"""``actors.callback_dedup``: which keys were seen, and which repeats are conflicts."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.callback_dedup import CallbackDedup, Source, Terms, describe
from messages.enums import OrderSide

TERMS: Terms = ("yes", OrderSide.BUY, Decimal("0.5"), Decimal(10))
OTHER: Terms = ("yes", OrderSide.BUY, Decimal("0.5"), Decimal(11))


def test_a_key_is_new_then_a_callback_duplicate() -> None:
    dedup = CallbackDedup()
    assert "k" not in dedup
    assert dedup.callback("k") is None
    assert "k" in dedup
    assert dedup.callback("k") is Source.CALLBACK


def test_a_listed_key_tells_its_callback_it_is_late_and_the_next_one_it_is_a_duplicate() -> None:
    dedup = CallbackDedup()
    dedup.listed("k")
    assert dedup.callback("k") is Source.LISTED
    assert dedup.callback("k") is Source.CALLBACK


def test_the_first_terms_are_no_conflict_and_other_terms_conflict_once() -> None:
    dedup = CallbackDedup()
    assert dedup.conflict("k", TERMS) is None
    assert dedup.conflict("k", TERMS) is None
    assert dedup.conflict("k", OTHER) == TERMS
    assert dedup.conflict("k", OTHER) is None
    assert dedup.first_terms("k") == TERMS


def test_terms_read_as_an_order() -> None:
    assert describe(TERMS) == "BUY 10 yes @ 0.5"


terms = st.tuples(
    st.sampled_from(["yes", "no"]),
    st.sampled_from(list(OrderSide)),
    st.sampled_from([Decimal("0.4"), Decimal("0.5")]),
    st.sampled_from([Decimal(1), Decimal(2)]),
)


@settings(deadline=None, max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), terms), max_size=40))
def test_every_other_version_of_a_key_conflicts_exactly_once_and_names_the_first(
    seen: list[tuple[str, Terms]],
) -> None:
    dedup = CallbackDedup()
    reported = [(key, version, dedup.conflict(key, version)) for key, version in seen]
    first: dict[str, Terms] = {}
    for key, version in seen:
        first.setdefault(key, version)
    conflicts = [(key, version) for key, version, named in reported if named is not None]
    assert sorted(conflicts, key=str) == sorted(
        {(key, version) for key, version in seen if version != first[key]}, key=str
    )
    assert all(named == first[key] for key, _, named in reported if named is not None)
