"""Where a restarted run resumes its feed: RuntimeState.resume_step."""

from __future__ import annotations

import pytest

from actors.runtime_state import RUNTIME_STREAM, RuntimeState, market_stream
from messages.journal import StepCommitted, StepStarted
from tests.stubs import opened

pytestmark = pytest.mark.timeout(10)


def fold(*events: object) -> RuntimeState:
    state = RuntimeState()
    for seq, event in enumerate(events, start=1):
        steps = isinstance(event, StepStarted | StepCommitted)
        state.apply(seq, RUNTIME_STREAM if steps else market_stream("m1"), event)
    return state


def test_a_fresh_journal_resumes_at_the_first_record() -> None:
    assert RuntimeState().resume_step == 0


def test_after_a_lockstep_step_the_next_record_is_fed() -> None:
    state = fold(StepStarted(step=0, atomic=True), opened("m1"), StepCommitted(step=0))
    assert state.resume_step == 1


def test_a_paced_step_whose_record_was_journaled_is_not_fed_again() -> None:
    state = fold(StepStarted(step=0, atomic=False), opened("m1"))
    assert state.resume_step == 1
    assert RuntimeState.from_memento(state.memento()).resume_step == 1


def test_a_paced_step_whose_record_was_not_journaled_is_fed_again() -> None:
    state = fold(StepStarted(step=0, atomic=False), opened("m1"), StepStarted(step=1, atomic=False))
    assert state.resume_step == 1
    assert RuntimeState.from_memento(state.memento()).resume_step == 1
