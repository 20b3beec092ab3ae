"""A fill taken back, or charged by the broker, reaches ZeroMQ clients as docs/PROTOCOL.md
says: the leg's change on ``position.<m>``, the reversal (or charge) itself on ``fill.<m>``,
a refused one on ``fill.<m>`` too."""

from __future__ import annotations

import json

import pytest

from bridges.zmq_events import topics_of
from bridges.zmq_protocol import encode_event
from messages.orders import FillChargeRefused, FillReversalRefused
from messages.positions import PositionFillCharged, PositionFillReversed
from tests.messages.examples import EXAMPLES

pytestmark = pytest.mark.timeout(10)


def example(kind: type) -> object:
    (found,) = [message for message in EXAMPLES if type(message) is kind]
    return found


def test_a_reversed_fill_is_streamed_on_the_position_and_fill_topics_of_its_market() -> None:
    delta = example(PositionFillReversed)
    assert isinstance(delta, PositionFillReversed)
    assert topics_of(delta) == [("position.m1", delta), ("fill.m1", delta.reversal)]
    wire = json.loads(encode_event(1, delta.reversal))
    assert wire["kind"] == "FillReversed"
    assert wire["event"]["fill_id"] == delta.reversal.fill_id
    assert wire["event"]["reason"] == delta.reversal.reason


def test_a_refused_reversal_is_streamed_on_the_fill_topic_with_its_reason() -> None:
    refused = example(FillReversalRefused)
    assert isinstance(refused, FillReversalRefused)
    assert topics_of(refused) == [("fill.m1", refused)]
    wire = json.loads(encode_event(2, refused))
    assert (wire["kind"], wire["event"]["reason"]) == ("FillReversalRefused", "already_reversed")


def test_a_broker_s_charge_is_streamed_on_the_position_and_fill_topics_and_a_refused_one_too() -> (
    None
):
    delta = example(PositionFillCharged)
    assert isinstance(delta, PositionFillCharged)
    assert topics_of(delta) == [("position.m1", delta), ("fill.m1", delta.charge)]
    wire = json.loads(encode_event(3, delta.charge))
    assert wire["kind"] == "FillCharged"
    assert (wire["event"]["booked_fee"], wire["event"]["fee"], wire["event"]["tax"]) == (
        "0.01",
        "0.02",
        "0.03",
    )
    refused = example(FillChargeRefused)
    assert isinstance(refused, FillChargeRefused)
    assert topics_of(refused) == [("fill.m1", refused)]
    wire = json.loads(encode_event(4, refused))
    assert (wire["kind"], wire["event"]["reason"]) == ("FillChargeRefused", "unknown_fill")
