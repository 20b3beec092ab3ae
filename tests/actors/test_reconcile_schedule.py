"""``actors.reconcile_schedule``: which reconciles run, and when, with no threads or timers."""

from __future__ import annotations

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.reconcile_schedule import (
    MAX_STARTUP_RETRY_S,
    STARTUP,
    AccountJob,
    OrdersJob,
    ReconcileSchedule,
)
from messages.reconciliation import PositionsCompared, ReconcileRequest

SECOND = 1_000_000_000
SESSION = 100 * SECOND


class FakeClock:
    def __init__(self, now: int = 1_000 * SECOND) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def schedule(clock: FakeClock | None = None, **kwargs: object) -> ReconcileSchedule:
    return ReconcileSchedule(
        accounts=("b", "a"),
        session_start_ns=SESSION,
        clock=clock if clock is not None else FakeClock(),
        **kwargs,  # type: ignore[arg-type]
    )


def compared(account: str, *unsettled: str) -> PositionsCompared:
    return PositionsCompared(account=account, corrected=0, unsettled=unsettled)


def test_the_startup_reconciles_every_account_from_the_session_start() -> None:
    jobs = schedule().startup()
    assert [(job.account, job.reason, job.since_ns, job.scope) for job in jobs] == [
        ("a", STARTUP, SESSION, ()),
        ("b", STARTUP, SESSION, ()),
    ]


def test_trading_is_enabled_when_the_last_startup_account_has_compared() -> None:
    plan = schedule()
    plan.startup()
    assert plan.compared(compared("a")) is None
    assert not plan.trading_enabled
    plan.compared(compared("b"))
    assert plan.trading_enabled
    assert plan.startup() == []  # nothing left to start up


def test_a_comparison_with_deals_moving_is_retried_for_those_securities() -> None:
    retry = schedule(retry_s=0.25).compared(compared("a", "yes"))
    assert retry is not None
    assert retry.after_s == 0.25
    assert retry.request is not None
    assert retry.request.security_ids == ("yes",)


def test_a_retry_says_once_why_the_comparison_it_retries_ran() -> None:
    plan = schedule()
    first = PositionsCompared(account="a", corrected=0, unsettled=("yes",), reason="trade failed")
    retry = plan.compared(first)
    assert retry is not None
    assert retry.request is not None
    assert retry.request.reason == "deals moved during the last comparison (trade failed)"
    again = plan.compared(attrs.evolve(first, reason=retry.request.reason))
    assert again is not None
    assert again.request is not None
    assert again.request.reason == retry.request.reason


def test_the_same_reconcile_already_at_the_broker_is_coalesced_until_it_answers() -> None:
    plan = schedule()
    [first, _] = plan.full_sync()
    assert plan.full_sync() == []
    assert plan.coalesced == 2
    plan.done(first)
    assert [job.account for job in plan.full_sync()] == [first.account]


def test_a_scoped_reconcile_is_not_coalesced_with_a_whole_one() -> None:
    plan = schedule()
    plan.full_sync()
    jobs = plan.request(ReconcileRequest(reason="gap", security_ids=("yes",)))
    assert [job.key for job in jobs] == [("b", ("yes",)), ("a", ("yes",))]


def test_a_request_naming_only_orders_reads_those_orders() -> None:
    jobs = schedule().request(ReconcileRequest(reason="unknown", order_nos=("B1", "B2")))
    assert jobs == [OrdersJob(order_nos=("B1", "B2"), reason="unknown")]


def test_a_plain_request_reads_every_account_whole_from_the_session_start() -> None:
    jobs = schedule().request(ReconcileRequest(reason="operator"))
    assert [
        (job.account, job.since_ns, job.scope) for job in jobs if isinstance(job, AccountJob)
    ] == [
        ("b", SESSION, ()),
        ("a", SESSION, ()),
    ]


def test_a_sync_reads_from_a_margin_before_the_last_whole_check_of_the_account() -> None:
    clock = FakeClock(now=SESSION + 50 * SECOND)
    plan = schedule(clock, overlap_s=5.0, min_sync_s=0.0)
    [b, a] = plan.full_sync()
    plan.done(a)
    clock.now += 10 * SECOND
    jobs = plan.position_callback(now=1.0)
    since = {job.account: job.since_ns for job in jobs}
    assert since["a"] == a.started_ns - 5 * SECOND
    assert "b" not in since  # its whole check is still at the broker: coalesced
    plan.done(b)
    assert plan.position_callback(now=2.0)[-1].since_ns == b.started_ns - 5 * SECOND


def test_the_margin_never_reaches_before_the_session_start() -> None:
    clock = FakeClock(now=SESSION + SECOND)
    plan = schedule(clock, overlap_s=5.0, min_sync_s=0.0)
    for job in plan.full_sync():
        plan.done(job)
    assert {job.since_ns for job in plan.position_callback(now=1.0)} == {SESSION}


def test_a_scoped_answer_moves_no_watermark() -> None:
    plan = schedule(min_sync_s=0.0)
    for job in plan.request(ReconcileRequest(reason="gap", security_ids=("yes",))):
        plan.done(job)
    assert {job.since_ns for job in plan.position_callback(now=1.0)} == {SESSION}


def test_a_failed_startup_is_retried_after_a_delay_that_doubles_to_a_cap() -> None:
    plan = schedule(retry_s=8.0)
    delays = []
    for _ in range(4):
        [job, other] = plan.startup()
        delays.append(plan.failed(job))
        plan.done(other)
    assert [retry.after_s for retry in delays] == [8.0, 16.0, 30.0, MAX_STARTUP_RETRY_S]
    assert all(retry.request is None for retry in delays)
    assert plan.failures == 4


def test_any_other_failure_retries_its_reason_after_retry_s() -> None:
    plan = schedule(retry_s=0.5)
    [job] = plan.request(ReconcileRequest(reason="unknown", order_nos=("B1",)))
    retry = plan.failed(job)
    assert retry.after_s == 0.5
    assert retry.request is not None
    assert retry.request.reason == "retry: unknown"


def test_orders_the_broker_no_longer_lists_are_read_and_none_reads_nothing() -> None:
    plan = schedule()
    assert plan.orders_missing(()) == []
    [job] = plan.orders_missing(("B1",))
    assert job.order_nos == ("B1",)


def test_the_startup_counts_as_the_first_sync() -> None:
    plan = schedule(min_sync_s=5.0)
    plan.started(now=100.0)
    assert plan.next_sync_due == 105.0
    assert plan.position_callback(now=104.0) == []
    assert len(plan.position_callback(now=105.0)) == 2
    assert plan.next_sync_due == 110.0


@settings(deadline=None, max_examples=300)
@given(
    st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), max_size=40),
    st.floats(min_value=0.1, max_value=5, allow_nan=False),
)
def test_callback_syncs_run_at_least_min_sync_s_apart_and_skip_only_inside_it(
    gaps: list[float], min_sync_s: float
) -> None:
    plan = schedule(min_sync_s=min_sync_s)
    plan.started(now=0.0)
    now, last_sync = 0.0, 0.0
    for gap in gaps:
        now += gap
        jobs = plan.position_callback(now)
        for job in jobs:
            plan.done(job)  # each sync answered before the next callback: none coalesced
        if jobs:
            assert now >= last_sync + min_sync_s
            assert plan.next_sync_due == now + min_sync_s
            last_sync = now
        else:
            assert now < last_sync + min_sync_s == plan.next_sync_due
    assert plan.callback_triggers == len(gaps)
    assert plan.syncs + plan.skipped == len(gaps)


def test_a_callback_skipped_by_the_debounce_is_owed_a_sync_when_it_ends() -> None:
    plan = schedule(min_sync_s=5.0)
    plan.started(now=100.0)
    assert plan.owed_sync(now=106.0) == [], "nothing skipped, nothing owed"
    assert plan.position_callback(now=101.0) == []
    assert plan.position_callback(now=102.0) == []
    assert plan.owes_sync
    assert plan.owed_sync(now=104.9) == [], "not before the debounce ends"
    jobs = plan.owed_sync(now=105.0)
    assert {job.account for job in jobs} == {"a", "b"}
    assert jobs[0].reason == "position callbacks debounced"
    assert (plan.syncs, plan.skipped, plan.owes_sync) == (1, 2, False)
    assert plan.owed_sync(now=111.0) == [], "owed once"
