"""``watch --plain``: lines that say what happened, and when the server goes and comes back."""

from __future__ import annotations

import pytest

from tools.watch_lines import ServerLiveness, describe

pytestmark = pytest.mark.timeout(10)

ORDER = {"order_id": "O1", "side": "BUY", "size": "10", "security_id": "m1-YES",
         "price": "0.40", "status": "PARTIALLY_FILLED", "filled": "4"}  # fmt: skip
FILL = {"order_id": "O1", "side": "BUY", "size": "4", "security_id": "m1-YES", "price": "0.40",
        "fee": "0.0016"}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "event", "says"),
    [
        ("OrderUpdated", {"order": ORDER, "cause": "fill O1-1"},
         "O1 BUY 10 m1-YES @ 0.40: PARTIALLY_FILLED, filled 4 (fill O1-1)"),
        ("Fill", FILL, "O1 BUY 4 m1-YES @ 0.40, fee 0.0016"),
        ("OrderDenied", {"signal": {"side": "SELL", "size": "5", "security_id": "m1-NO",
                                    "price": "0.6"}, "reason": "max_position"},
         "SELL 5 m1-NO @ 0.6 denied: max_position"),
        ("MarketResolved", {"market_id": "m1", "winning_security_id": "m1-YES"},
         "m1 resolved: m1-YES wins"),
        ("MarketOpened", {"definition": {"market_id": "m2"}}, "m2 opened"),
    ],
)  # fmt: skip
def test_a_line_says_what_happened(kind: str, event: dict[str, object], says: str) -> None:
    line = describe("order.m1", {"seq": 7, "kind": kind, "event": event})

    assert line.startswith("     7 order.m1")
    assert line.endswith(says)


def test_an_unknown_shape_still_gives_its_kind() -> None:
    assert describe("x", {"seq": 1, "kind": "OrderUpdated", "event": {}}).endswith("OrderUpdated")


def test_silence_past_three_heartbeats_and_the_return_are_said_once_each() -> None:
    live = ServerLiveness("tcp://127.0.0.1:41551", now=0.0)
    beat = {"seq": 1, "kind": "Heartbeat", "event": {"ts": 1, "interval_ms": 500}}

    assert live.heard("heartbeat", beat, now=0.1) is None
    assert live.check(now=1.5) is None  # 1.4 s: under 3 intervals of 0.5 s
    gone = live.check(now=1.7)
    assert live.check(now=5.0) is None  # said once

    back = live.heard("heartbeat", beat, now=6.0)

    assert gone is not None
    assert "no heartbeat from tcp://127.0.0.1:41551" in gone
    assert back is not None
    assert "is back" in back
