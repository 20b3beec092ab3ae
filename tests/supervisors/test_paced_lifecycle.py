"""A paced run whose core restarts loses book changes in transit, never a market's opening:
the successor is handed the lifecycle records its journal lacks before the next record.
Before, the market switch was lost with the dead core and the rest of that market's feed
went nowhere (and a full disk could then stop filling, so the run ended as if nothing had
happened)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from messages.supervision import InjectFault
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from tests.stubs import book, opened

pytestmark = pytest.mark.timeout(60)


def test_a_market_opening_told_to_a_core_that_dies_is_fed_again_to_its_successor(
    tmp_path: Path,
) -> None:
    feed = [
        opened("m1"),
        book("m1-YES", bids=(("0.40", "100"),), asks=(("0.45", "100"),)),
        book("m1-NO", bids=(("0.50", "100"),), asks=(("0.53", "100"),)),
        opened("m2", ts=2),
        book("m2-YES", bids=(("0.40", "100"),), asks=(("0.45", "100"),), ts=2),
    ]
    runtime = Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed)
    try:
        for record in feed[:3]:
            runtime.feed(record)
        runtime.wait_idle()
        first = runtime.generation
        assert runtime.journal is not None
        # The journal fails before it journals the opening queued behind the fault.
        runtime.journal.tell(InjectFault(reason="the core dies with m2's opening in flight"))
        runtime.feed(feed[3])
        deadline = time.monotonic() + 30
        while runtime.generation == first and time.monotonic() < deadline:
            runtime.follow()
            threading.Event().wait(0.01)
        assert runtime.generation > first
        with capture_logs() as logs:
            runtime.feed(feed[4])
            runtime.wait_idle()
        markets = {position.market_id for position in runtime.positions()}
    finally:
        runtime.stop()
    assert markets == {"m1", "m2"}
    refed = [log for log in logs if log["event"] == "lifecycle_record_fed_again"]
    assert [(log["step"], log["kind"]) for log in refed] == [(3, "MarketOpened")]
