"""The shared actor base: typed dispatch, unknown messages survive, stats for idleness."""

from __future__ import annotations

import pytest

from messages.stats import GetStats
from supervisors.kernel.base import RuntimeActor, handles

pytestmark = pytest.mark.timeout(10)


class _Echo(RuntimeActor):
    kind = "echo"

    @handles(int, float)
    def _number(self, message: float) -> float:
        return message * 2


def test_a_message_goes_to_the_handler_declared_for_its_type() -> None:
    echo = _Echo.start()
    assert echo.ask(21, timeout=5) == 42
    assert echo.ask(1.5, timeout=5) == 3.0


def test_an_unknown_message_is_logged_and_the_actor_keeps_working() -> None:
    echo = _Echo.start()
    echo.tell("not a number")
    echo.tell(["also", "not"])
    assert echo.ask(2, timeout=5) == 4
    stats = echo.ask(GetStats(), timeout=5)
    assert (stats.kind, stats.handled) == ("echo", 1)
