"""The query view on its own: it reads the core the follower holds, and a read that meets a
dead actor is tried again on the successor core, with its pause injected."""

from __future__ import annotations

from typing import Any

import pykka
import pytest

from supervisors.assembly.core_follower import CoreFollower
from supervisors.assembly.query_view import QueryView
from tests.supervisors.core_stubs import Root, assemble

pytestmark = pytest.mark.timeout(30)


def test_a_read_that_meets_a_dead_core_is_answered_by_its_successor() -> None:
    root: pykka.ActorRef[Any] = Root.start()
    dead, _ = assemble(root)
    follower = CoreFollower(lambda: root)
    follower.await_core(5.0)
    assemble(root, generation=2)
    dead.execution.stop()
    slept: list[float] = []
    view = QueryView(follower, lambda: follower.await_core(5.0), sleep=slept.append)

    assert view.orders() == []
    assert view.positions() == []
    assert view.lookup("m1-YES") == ()
    assert follower.core is not None
    assert follower.core.generation == 2
    assert slept == [0.05]


def test_a_view_of_a_runtime_not_started_says_so() -> None:
    view = QueryView(CoreFollower(), lambda: None)

    with pytest.raises(RuntimeError, match="not started"):
        view.positions()
