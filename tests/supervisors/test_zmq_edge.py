"""The ZeroMQ edge on real sockets (127.0.0.1): every command, many clients at once, a
client that vanishes, CURVE with an allowed and an unknown key, and the event stream."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.auth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.zmq_fuzz import JSON_VALUES
from bridges.simulated_broker import SimulatedBroker
from bridges.zmq_client import Client, ClientCurve, EventSubscriber
from bridges.zmq_protocol import CommandError
from bridges.zmq_server import CurveConfig
from messages.markets import MarketOpened
from supervisors.assembly import subsystems
from supervisors.assembly.market_lifecycle import MarketLifecycleActor
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.runtime_config import BrokerConfig
from supervisors.assembly.zmq_edge import ZmqEdge
from tests.broker_edge import wait_until
from tests.holding import Gate, GoOn, holding
from tests.stubs import arbitrage_feed

pytestmark = pytest.mark.timeout(60)
FEED = arbitrage_feed()
LOCAL = "tcp://127.0.0.1:*"


@pytest.fixture
def runtime(tmp_path: Path) -> Any:
    with Runtime(RuntimeConfig(data_dir=tmp_path / "data")).start(FEED) as running:
        running.replay(FEED, end=6)
        yield running


@pytest.fixture
def edge(runtime: Runtime) -> Any:
    started = ZmqEdge(runtime, commands=LOCAL, events=LOCAL).start()
    yield started
    started.stop()


def client(edge: ZmqEdge, **options: Any) -> Client:
    return Client(edge.commands_endpoint, **options)


def test_ping_status_positions_snapshot_and_lookup_answer_from_the_runtime(edge: ZmqEdge) -> None:
    with client(edge) as c:
        assert c.request("ping")["pong"] is True
        status = c.request("status")
        assert [a["id"] for a in status["actors"]][:2] == ["journal", "bus"]
        assert all(a["alive"] for a in status["actors"])
        (position,) = c.request("positions", market_id="m1")["positions"]
        assert position["position_id"] == "m1/paper/synthetic_arbitrage"
        assert c.request("positions", market_id="nope")["positions"] == []
        snapshot = c.request("snapshot")
        assert len(snapshot["orders"]) == 4
        assert snapshot["markets"] == [
            {"market_id": "m1", "phase": "open", "winning_security_id": None}
        ]
        (tracker,) = c.request("lookup", security_id="m1-YES")["trackers"]
        assert Decimal(tracker["quantity"]) == Decimal(60)


def test_submit_answers_the_order_id_or_the_denial_and_cancel_reaches_the_order(
    edge: ZmqEdge,
) -> None:
    with client(edge) as c:
        placed = c.request(
            "submit", market_id="m1", security_id="m1-YES", side="BUY", price="0.10", size="5"
        )
        assert placed == {"order_id": "O5"}
        again = c.request(
            "submit", market_id="m1", security_id="m1-YES", side="BUY", price="0.10", size="5"
        )
        assert again == {"denied": "order O5 is pending on m1-YES BUY"}
        assert c.request("cancel", order_id="O5") == {"order_id": "O5", "cancel_requested": True}
        with pytest.raises(CommandError) as unknown:
            c.request("cancel", order_id="O99")
        assert unknown.value.code == "not_found"
        c.request("set_limits", max_order_size="1")
        denied = c.request(
            "submit", market_id="m1", security_id="m1-NO", side="BUY", price="0.10", size="5"
        )
        assert denied == {"denied": "risk: order size 5 is over the maximum 1"}


def test_switch_market_opens_a_market_whose_events_reach_a_subscriber(edge: ZmqEdge) -> None:
    events = EventSubscriber(edge.events_endpoint, ("market.",))
    try:
        with client(edge) as c:
            # A slow joiner: ask until the subscription is live.
            for attempt in range(50):
                c.request(
                    "switch_market",
                    market_id=f"m{attempt + 2}",
                    instruments=[
                        {"security_id": f"m{attempt + 2}-YES", "outcome": "YES"},
                        {"security_id": f"m{attempt + 2}-NO", "outcome": "NO"},
                    ],
                )
                try:
                    topic, message = events.next_event(timeout_s=0.2)
                    break
                except TimeoutError:
                    continue
            assert topic.startswith("market.m")
            assert message["kind"] == "MarketOpened"
            assert message["seq"] >= 1
    finally:
        events.close()


def test_switch_market_replies_only_once_a_submit_for_the_new_market_can_trade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate()
    held = holding(
        MarketLifecycleActor, MarketOpened, lambda m: m.definition.market_id == "m2", gate
    )
    monkeypatch.setattr(subsystems, "MarketLifecycleActor", held)
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(FEED) as running:
        running.replay(FEED, end=6)
        edge = ZmqEdge(running, commands=LOCAL, events=LOCAL).start()
        try:
            with Client(edge.commands_endpoint) as c:
                instruments = [
                    {"security_id": "m2-YES", "outcome": "YES"},
                    {"security_id": "m2-NO", "outcome": "NO"},
                ]
                switch = {"market_id": "m2", "instruments": instruments}
                c.send_raw(
                    json.dumps(
                        {"v": 1, "id": "s1", "cmd": "switch_market", "args": switch}
                    ).encode()
                )
                gate.wait_holding()
                # The lifecycle actor holds m2's opening, so execution cannot know m2: a reply
                # now would be one a submit could not trade on. (The old code answered in ms.)
                with pytest.raises(TimeoutError):
                    c.receive(500)
                lifecycle = running.market_lifecycle
                assert lifecycle is not None
                lifecycle.tell(GoOn())
                reply = c.receive(5000)
                assert reply["result"] == {"market_id": "m2", "opened": True}

                placed = c.request(
                    "submit",
                    market_id="m2",
                    security_id="m2-YES",
                    side="BUY",
                    price="0.10",
                    size="5",
                )
                assert placed == {"order_id": "O5"}
        finally:
            edge.stop()


def _read_to(subscriber: EventSubscriber, seq: int, topic: str = "order.m1") -> None:
    """Read ``subscriber``'s events of ``topic`` up to the one numbered ``seq``."""
    while subscriber.last_seq.get(topic, 0) < seq:
        subscriber.next_event(timeout_s=5)


def test_a_subscriber_that_misses_events_of_a_topic_counts_the_gap_and_a_witness_none(
    edge: ZmqEdge,
) -> None:
    """Every event on ``order.m1`` here is one of our denied submits, so its seq is their
    count. The subscriber is offline while three are published (a witness receives them):
    they are gone for it, and its next event on the topic jumps by four."""
    endpoint = edge.events_endpoint
    witness = EventSubscriber(endpoint, ("order.m1",))
    subject = EventSubscriber(endpoint, ("order.m1",))
    denied = 0
    try:
        with client(edge) as c:
            c.request("set_limits", max_order_size="1")

            def deny() -> None:
                nonlocal denied
                answer = c.request(
                    "submit",
                    market_id="m1",
                    security_id="m1-YES",
                    side="BUY",
                    price="0.10",
                    size="5",
                )
                assert answer == {"denied": "risk: order size 5 is over the maximum 1"}
                denied += 1

            def join(subscriber: EventSubscriber) -> None:
                # A slow joiner: deny until the subscription is live, then read up to now.
                for _ in range(50):
                    deny()
                    try:
                        subscriber.next_event(timeout_s=0.2)
                    except TimeoutError:
                        continue
                    _read_to(subscriber, denied)
                    return
                raise AssertionError("the subscription never became live")

            join(witness)
            join(subject)
            _read_to(witness, denied)
            assert subject.gaps == 0

            subject.socket.disconnect(endpoint)
            for _ in range(3):
                deny()
            _read_to(witness, denied)  # all three were published
            last_seen = subject.last_seq["order.m1"]
            subject.socket.connect(endpoint)
            join(subject)
            _read_to(witness, denied)

        assert subject.gaps == 1
        assert subject.last_seq["order.m1"] == denied
        assert denied - last_seen > 3
        assert witness.gaps == 0
        assert witness.last_seq["order.m1"] == denied
    finally:
        witness.close()
        subject.close()


def test_commands_that_need_a_broker_say_it_is_unavailable(edge: ZmqEdge) -> None:
    with client(edge) as c:
        for cmd, args in (("reconcile", {}), ("broker_event", {"kind": "order"})):
            with pytest.raises(CommandError) as refused:
                c.request(cmd, **args)
            assert refused.value.code == "unavailable"


def test_twenty_clients_at_once_each_get_their_own_answers(edge: ZmqEdge) -> None:
    failures: list[BaseException] = []

    def work() -> None:
        try:
            with client(edge) as c:
                for _ in range(20):
                    assert c.request("ping")["pong"] is True
                    assert len(c.request("positions")["positions"]) == 1
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []


def test_a_client_that_vanishes_mid_request_does_not_hold_the_server_up(edge: ZmqEdge) -> None:
    for _ in range(5):
        gone = client(edge)
        gone.send_raw(b'{"v":1,"id":"x","cmd":"snapshot","args":{}}')
        gone.close()
    with client(edge) as c:
        assert c.request("ping")["pong"] is True


def test_curve_serves_an_allowed_key_and_gives_an_unknown_one_nothing(
    runtime: Runtime, tmp_path: Path
) -> None:
    keys, allowed, strangers = tmp_path / "keys", tmp_path / "allowed", tmp_path / "strangers"
    for folder in (keys, allowed, strangers):
        folder.mkdir()
    server_public, server_secret = zmq.auth.create_certificates(keys, "server")
    # The allow-list holds public keys only; the client keeps its secret elsewhere.
    _, client_secret = zmq.auth.create_certificates(allowed, "client")
    Path(client_secret).rename(keys / "client.key_secret")
    _, stranger_secret = zmq.auth.create_certificates(strangers, "stranger")
    curve = CurveConfig(server_secret_file=Path(server_secret), allowed_clients_dir=allowed)
    edge = ZmqEdge(runtime, commands=LOCAL, events=LOCAL, curve=curve).start()
    try:
        good = ClientCurve(
            server_public_file=Path(server_public), client_secret_file=keys / "client.key_secret"
        )
        with client(edge, curve=good) as c:
            assert c.request("ping")["pong"] is True
        bad = ClientCurve(
            server_public_file=Path(server_public), client_secret_file=Path(stranger_secret)
        )
        with client(edge, curve=bad, timeout_s=0.5) as c, pytest.raises(TimeoutError):
            c.request("ping")
        with client(edge, timeout_s=0.5) as c, pytest.raises(TimeoutError):
            c.request("ping")  # no CURVE at all
    finally:
        edge.stop()


CODES = {
    "bad_json",
    "not_an_object",
    "bad_envelope",
    "bad_version",
    "frame_too_large",
    "extra_frames",
    "unknown_command",
    "bad_args",
    "not_found",
    "unavailable",
}
ENVELOPES = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 2, "1", None, True]),
        "id": st.sampled_from(["a", "", 7, None]),
        "cmd": st.sampled_from(["ping", "submit", "cancel", "lookup", "nope", "", 3]),
        "args": JSON_VALUES,
        "extra": st.integers(),
    },
)
FRAMES = st.one_of(
    st.lists(st.binary(max_size=64), min_size=1, max_size=3),
    JSON_VALUES.map(lambda value: [json.dumps(value).encode()]),
    ENVELOPES.map(lambda value: [json.dumps(value).encode()]),
    st.just([b"x" * 70_000]),
)


def test_malformed_frames_each_get_a_structured_error_and_change_nothing(
    edge: ZmqEdge, runtime: Runtime
) -> None:
    before = [p.legs for p in runtime.positions()]
    orders = len(runtime.orders())
    with client(edge) as c:

        @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
        @given(frames=FRAMES)
        def throw(frames: list[bytes]) -> None:
            c.send_raw(*frames)
            reply = c.receive(5000)
            if reply["ok"]:
                # A well-formed request slipped through (e.g. a valid ping): answered, fine.
                return
            assert reply["error"]["code"] in CODES, reply
            assert reply["error"]["message"]

        throw()
        assert c.request("ping")["pong"] is True
    assert [p.legs for p in runtime.positions()] == before
    assert len(runtime.orders()) == orders


@pytest.mark.parametrize(
    ("cmd", "args", "message"),
    [
        ("set_limits", {"stop_loss": "NaN"}, "must be a finite number"),
        ("set_limits", {"max_size": "1"}, "unknown limits"),
        (
            "submit",
            {
                "market_id": "m1",
                "security_id": "m1-YES",
                "side": "BUY",
                "price": "0.1",
                "size": "1",
                "strategy": "manual",
            },
            "one position per market",
        ),
        (
            "submit",
            {
                "market_id": "m1",
                "security_id": "m1-YES",
                "side": "BUY",
                "price": "0.1",
                "size": "-1",
            },
            "size must be a positive number",
        ),
        ("lookup", {}, "missing arguments ['security_id']"),
        ("ping", {"extra": 1}, "unknown arguments ['extra']"),
    ],
    ids=["nan limit", "unknown limit", "foreign strategy", "negative size", "missing", "extra"],
)
def test_bad_arguments_are_refused_with_the_field_named(
    edge: ZmqEdge, cmd: str, args: dict[str, Any], message: str
) -> None:
    with client(edge) as c, pytest.raises(CommandError) as refused:
        c.request(cmd, **args)
    assert refused.value.code == "bad_args"
    assert message in refused.value.message


def test_curve_without_an_allow_list_directory_refuses_to_start(
    runtime: Runtime, tmp_path: Path
) -> None:
    _, secret = zmq.auth.create_certificates(tmp_path, "server")
    curve = CurveConfig(server_secret_file=Path(secret), allowed_clients_dir=tmp_path / "none")
    with pytest.raises(RuntimeError, match="not a directory"):
        ZmqEdge(runtime, commands=LOCAL, events=LOCAL, curve=curve).start()


def test_reconcile_and_broker_event_reach_the_broker_edge(tmp_path: Path) -> None:
    paper = SimulatedBroker(seed=2)
    config = RuntimeConfig(data_dir=tmp_path, broker=BrokerConfig(broker=paper))
    try:
        with Runtime(config).start(FEED) as running:
            edge = ZmqEdge(running, commands=LOCAL, events=LOCAL).start()
            try:
                with client(edge) as c:
                    assert c.request("reconcile", reason="test") == {"reconcile_requested": True}
                    injected = c.request(
                        "broker_event",
                        kind="deal",
                        order_no="ELSEWHERE-1",
                        seq_no=1,
                        match_ts=5,
                        security_id="X",
                        side="BUY",
                        price="1.5",
                        size="2",
                    )
                    assert injected == {"accepted": True}
                    status = c.request("status")
                    assert status["broker"]["registered"] is True
                normalizer = running.extra("normalizer")
                assert normalizer is not None
                counters = normalizer.proxy().counters().get()
                assert counters.quarantined == 1  # an order nobody knows: held, not lost
            finally:
                edge.stop()
    finally:
        paper.close()


def test_a_deal_with_a_booked_identity_and_other_size_reaches_a_subscriber_as_refusals(
    tmp_path: Path,
) -> None:
    paper = SimulatedBroker(seed=2)
    config = RuntimeConfig(data_dir=tmp_path, broker=BrokerConfig(broker=paper))
    try:
        with Runtime(config).start(FEED) as running:
            reconciler = running.extra("reconciler")
            assert reconciler is not None
            wait_until(lambda: bool(reconciler.proxy().trading_enabled.get()))
            running.replay(FEED, end=4)
            assert paper.wait_idle(10)
            running.wait_idle()
            deal = paper.list_fills("paper", 0).items[0]
            book = running.account_positions()
            edge = ZmqEdge(running, commands=LOCAL, events=LOCAL).start()
            events = EventSubscriber(edge.events_endpoint, ("account.", "fill."))
            try:
                with client(edge) as c:
                    # A slow joiner: each attempt is another size, so another conflict.
                    for attempt in range(1, 50):
                        c.request(
                            "broker_event",
                            kind="deal",
                            order_no=deal.order_no,
                            seq_no=deal.seq_no,
                            match_ts=deal.match_ts,
                            security_id=deal.security_id,
                            side=deal.side.value,
                            price=str(deal.price),
                            size=str(deal.size + attempt),
                        )
                        try:
                            received = [events.next_event(timeout_s=0.2) for _ in range(2)]
                            break
                        except TimeoutError:
                            continue
                    else:
                        raise AssertionError("no refusal reached the subscriber")
                kinds = {topic: message["kind"] for topic, message in received}
                assert kinds == {"account.paper": "DealRefused", "fill.m1": "FillRefused"}
                for _topic, message in received:
                    assert message["event"]["reason"] == "conflicting_duplicate"
                    assert f"(journaled {deal.size})" in message["event"]["detail"]
                running.wait_idle()
                assert running.account_positions() == book
            finally:
                events.close()
                edge.stop()
    finally:
        paper.close()


def test_an_order_can_be_cancelled_the_moment_submit_names_it(edge: ZmqEdge) -> None:
    """``submit`` answers once the order exists; execution may still be starting it, so
    a cancel that arrives first waits for it instead of being refused."""
    with client(edge) as c:
        for number in range(20):
            side, price = ("BUY", "0.01") if number % 2 else ("SELL", "0.99")
            placed = c.request(
                "submit", market_id="m1", security_id="m1-NO", side=side, price=price, size="1"
            )
            assert "order_id" in placed, placed
            cancelled = c.request("cancel", order_id=placed["order_id"])
            assert cancelled["cancel_requested"] is True
            _wait_closed(edge, placed["order_id"])


def _wait_closed(edge: ZmqEdge, order_id: str) -> None:
    for _ in range(500):
        orders = {o.order_id: o for o in edge.runtime.orders()}
        if orders[order_id].status.value in ("CANCELLED", "FILLED"):
            return
        time.sleep(0.01)
    raise AssertionError(f"{order_id} never closed")
