"""The Polymarket broker adapter against a local CLOB and user channel (no internet)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from actors.broker import BrokerError
from bridges.polymarket_clob_broker import PolymarketBroker, clob_client
from bridges.polymarket_credentials import CredentialsError, load
from bridges.polymarket_user_channel import Reversal
from bridges.polymarket_ws import MarketChannelConfig
from messages.broker import BrokerOrderRequest, BrokerOrderStatus, deal_key
from messages.enums import OrderSide
from tests.bridges.polymarket_clob_venue import CREDENTIALS, ClobVenue
from tests.broker_edge import wait_until

pytestmark = pytest.mark.timeout(30)
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


class Heard:
    """What the broker called back, in order."""

    def __init__(self) -> None:
        self.deals: list[tuple[Any, ...]] = []
        self.orders: list[tuple[Any, ...]] = []
        self.reversals: list[Reversal] = []

    def on_order(self, *args: Any) -> None:
        self.orders.append(args)

    def on_deal(self, *args: Any) -> None:
        self.deals.append(args)


@pytest.fixture
def venue() -> Iterator[ClobVenue]:
    with ClobVenue() as clob:
        yield clob


def started(venue: ClobVenue, heard: Heard) -> PolymarketBroker:
    broker = PolymarketBroker(
        CREDENTIALS,
        clob_client(CREDENTIALS, host=venue.http_url),
        channel=MarketChannelConfig(url=venue.ws_url, backoff_initial_s=0.01),
        on_reversal=heard.reversals.append,
    ).start()
    wait_until(lambda: broker.connected and venue.connections == 1, what="the user channel")
    broker.register_callbacks(heard.on_order, heard.on_deal)
    return broker


@pytest.fixture
def heard() -> Heard:
    return Heard()


@pytest.fixture
def broker(venue: ClobVenue, heard: Heard) -> Iterator[PolymarketBroker]:
    broker = started(venue, heard)
    yield broker
    broker.close()


def request(price: str = "0.45", size: str = "30", order_id: str = "o1") -> BrokerOrderRequest:
    return BrokerOrderRequest(
        client_order_id=order_id,
        account="polymarket",
        security_id=YES,
        side=OrderSide.BUY,
        price=Decimal(price),
        size=Decimal(size),
    )


def test_an_order_is_signed_posted_and_listed_open_under_our_order_id(
    venue: ClobVenue, broker: PolymarketBroker
) -> None:
    order_no = broker.place_order(request())

    (posted,) = venue.posted
    assert posted["order"]["tokenId"] == YES
    assert posted["order"]["side"] == "BUY"
    assert posted["order"]["signature"].startswith("0x")
    assert (posted["order"]["makerAmount"], posted["order"]["takerAmount"]) == (
        "13500000",  # 30 x 0.45 USDC, in micro-units
        "30000000",
    )
    (listed,) = broker.list_open_orders("polymarket").items
    assert (listed.order_no, listed.client_order_id, listed.price, listed.size) == (
        order_no,
        "o1",
        Decimal("0.45"),
        Decimal(30),
    )
    assert broker.place_order(request()) == order_no  # placed once per order id
    assert len(venue.posted) == 1


@pytest.mark.parametrize("price", ["0.455", "0", "1", "1.2"])
def test_a_price_off_the_markets_tick_grid_is_refused_before_it_is_signed(
    venue: ClobVenue, broker: PolymarketBroker, price: str
) -> None:
    with pytest.raises(BrokerError, match="ticks"):
        broker.place_order(request(price=price))
    assert venue.posted == []


def test_a_finer_tick_size_takes_a_price_a_coarser_one_refuses(heard: Heard) -> None:
    with ClobVenue(tick_size="0.001") as venue:
        broker = started(venue, heard)
        try:
            broker.place_order(request(price="0.455"))
            assert len(venue.posted) == 1
        finally:
            broker.close()


def test_a_refusal_by_the_clob_is_a_broker_error_with_its_message(heard: Heard) -> None:
    answer = {"success": False, "errorMsg": "not enough balance / allowance", "orderID": ""}
    with ClobVenue(answer=answer) as venue:
        broker = started(venue, heard)
        try:
            with pytest.raises(BrokerError, match="not enough balance"):
                broker.place_order(request())
        finally:
            broker.close()


def test_matched_then_confirmed_books_one_deal_whatever_repeats_or_comes_late(
    venue: ClobVenue, broker: PolymarketBroker, heard: Heard
) -> None:
    order_no = broker.place_order(request())
    matched = venue.trade(order_no, "t1", "MATCHED")
    venue.push(matched, matched)
    mined = venue.trade(order_no, "t1", "MINED")
    confirmed = venue.trade(order_no, "t1", "CONFIRMED")
    venue.push(confirmed, mined, matched, as_array=True)  # CONFIRMED overtook MINED
    venue.push(venue.trade(order_no, "t1", "FAILED"))  # after CONFIRMED: changes nothing
    wait_until(lambda: broker.book.ignored == 5, what="every message read")

    (deal,) = heard.deals
    assert deal[0] == order_no
    assert deal[3:] == (YES, OrderSide.BUY, Decimal("0.45"), Decimal(30))
    assert heard.reversals == []


def test_a_failed_trade_after_it_matched_is_reversed_with_a_reason_and_leaves_the_truth(
    venue: ClobVenue, broker: PolymarketBroker, heard: Heard
) -> None:
    order_no = broker.place_order(request())
    venue.push(venue.trade(order_no, "t1", "MATCHED"))
    wait_until(lambda: len(heard.deals) == 1)
    assert [p.quantity for p in broker.list_positions("polymarket").items] == [Decimal(30)]

    venue.push(venue.trade(order_no, "t1", "RETRYING"), venue.trade(order_no, "t1", "FAILED"))
    wait_until(lambda: len(heard.reversals) == 1, what="the reversal")

    (reversal,) = heard.reversals
    assert reversal.deal.key == deal_key(*heard.deals[0][:3])
    assert "t1 FAILED" in reversal.reason
    assert broker.list_positions("polymarket").items == ()
    assert broker.list_fills("polymarket", 0).items == ()
    venue.push(venue.trade(order_no, "t1", "FAILED"))
    wait_until(lambda: broker.book.ignored == 2)
    assert len(heard.reversals) == 1
    assert len(heard.deals) == 1


@pytest.mark.parametrize(
    ("keeps_matched", "status", "filled"),
    [
        (True, BrokerOrderStatus.CANCELLED, Decimal(10)),  # MATCHED kept: done, 10 settled
        (False, BrokerOrderStatus.SUBMITTED, Decimal(0)),  # reopened LIVE: it trades on
    ],
)
def test_an_order_the_clob_keeps_matched_after_a_failed_trade_is_cancelled_for_the_rest(
    heard: Heard, keeps_matched: bool, status: BrokerOrderStatus, filled: Decimal
) -> None:
    with ClobVenue(keeps_matched=keeps_matched) as venue:
        broker = started(venue, heard)
        try:
            order_no = broker.place_order(request())
            venue.push(venue.trade(order_no, "t1", "MATCHED", size="10"))
            venue.push(venue.trade(order_no, "t2", "MATCHED", size="20"))
            wait_until(lambda: len(heard.deals) == 2)
            assert broker.order_status(order_no).status is BrokerOrderStatus.FILLED

            venue.push(venue.trade(order_no, "t2", "FAILED", size="20"))
            wait_until(lambda: len(heard.reversals) == 1, what="the reversal")

            found = broker.order_status(order_no)
        finally:
            broker.close()

    assert (found.status, found.filled) == (status, filled)


def test_a_trade_that_overtakes_the_orders_answer_is_booked_once_the_order_is_known(
    heard: Heard,
) -> None:
    with ClobVenue(match_on_post=True) as venue:
        broker = started(venue, heard)
        try:
            order_no = broker.place_order(request())
            wait_until(lambda: len(heard.deals) == 1, what="the early trade booked")
            assert heard.deals[0][0] == order_no
        finally:
            broker.close()


def test_a_trade_that_fails_before_it_is_heard_matched_is_never_booked(
    venue: ClobVenue, broker: PolymarketBroker, heard: Heard
) -> None:
    order_no = broker.place_order(request())
    venue.push(venue.trade(order_no, "t1", "FAILED"), venue.trade(order_no, "t1", "MATCHED"))
    wait_until(lambda: broker.book.ignored == 2)
    assert heard.deals == []
    assert heard.reversals == []


def test_a_listed_fill_has_the_identity_of_the_channels_deal(
    venue: ClobVenue, broker: PolymarketBroker, heard: Heard
) -> None:
    order_no = broker.place_order(request())
    other = broker.place_order(request(order_id="o2", size="5"))
    venue.push(venue.trade(order_no, "t1", "MATCHED"), venue.trade(other, "t2", "CONFIRMED"))
    wait_until(lambda: len(heard.deals) == 2)

    listed = broker.list_fills("polymarket", 0).items  # two pages of the venue's cursor
    assert sorted(f.key for f in listed) == sorted(deal_key(*d[:3]) for d in heard.deals)
    assert {f.client_order_id for f in listed} == {"o1", "o2"}
    assert broker.order_status(order_no).status is BrokerOrderStatus.FILLED


def test_order_messages_report_placement_fill_and_cancellation(
    venue: ClobVenue, broker: PolymarketBroker, heard: Heard
) -> None:
    order_no = broker.place_order(request())
    base = {"event_type": "order", "id": order_no, "original_size": "30", "timestamp": "1700000000"}
    venue.push(
        {**base, "type": "PLACEMENT", "size_matched": "0"},
        {**base, "type": "UPDATE", "size_matched": "10"},
        {**base, "type": "CANCELLATION", "size_matched": "10"},
    )
    broker.cancel_order(order_no)
    wait_until(lambda: len(heard.orders) == 3)
    assert [o[2] for o in heard.orders] == [
        BrokerOrderStatus.SUBMITTED,
        BrokerOrderStatus.PARTIALLY_FILLED,
        BrokerOrderStatus.CANCELLED,
    ]
    assert venue.cancelled == [order_no]
    assert broker.list_open_orders("polymarket").items == ()


def test_a_dropped_connection_is_a_new_session_resubscribed_and_trades_flow_again(
    venue: ClobVenue, broker: PolymarketBroker, heard: Heard
) -> None:
    order_no = broker.place_order(request())
    session = broker.session
    venue.drop()
    wait_until(lambda: broker.session > session, what="the loss seen")
    wait_until(lambda: broker.connected and venue.connections == 1, what="the reconnection")
    assert len(venue.subscriptions) == 2
    assert venue.subscriptions[1] == venue.subscriptions[0]

    venue.push(venue.trade(order_no, "t1", "MATCHED"))
    wait_until(lambda: broker.book.legs.get(("t1", order_no)) is not None)
    assert heard.deals == []  # the registration died with the session
    broker.register_callbacks(heard.on_order, heard.on_deal)
    venue.push(venue.trade(order_no, "t2", "MATCHED", size="10"))
    wait_until(lambda: len(heard.deals) == 1)


def test_no_secret_reaches_a_log_or_a_repr(
    venue: ClobVenue, heard: Heard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        broker = started(venue, heard)
        try:
            order_no = broker.place_order(request())
            venue.push(
                venue.trade(order_no, "t1", "MATCHED"), venue.trade(order_no, "t1", "FAILED")
            )
            wait_until(lambda: len(heard.reversals) == 1)
            venue.drop()
            wait_until(lambda: broker.connected and len(venue.subscriptions) == 2)
            with pytest.raises(BrokerError):
                broker.place_order(request(price="0.455", order_id="o2"))
        finally:
            broker.close()
    written = repr(logs) + caplog.text + repr(CREDENTIALS) + repr(broker)
    assert logs  # the flow was logged
    for secret in CREDENTIALS.secrets:
        assert secret not in written


def test_credentials_come_from_the_environment_and_name_what_is_missing() -> None:
    env = {
        "POLYMARKET_PRIVATE_KEY": CREDENTIALS.private_key,
        "POLYMARKET_API_KEY": CREDENTIALS.api_key,
        "POLYMARKET_API_SECRET": CREDENTIALS.api_secret,
        "POLYMARKET_API_PASSPHRASE": CREDENTIALS.api_passphrase,
    }
    assert load(env=env) == CREDENTIALS
    del env["POLYMARKET_API_SECRET"]
    with pytest.raises(CredentialsError, match="POLYMARKET_API_SECRET") as refused:
        load(env=env)
    assert CREDENTIALS.api_key not in str(refused.value)


def test_a_credentials_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "polymarket.env"
    path.write_text(
        "# the wallet and the API key\n"
        f"POLYMARKET_PRIVATE_KEY={CREDENTIALS.private_key}\n"
        f"POLYMARKET_API_KEY={CREDENTIALS.api_key}\n"
        f"POLYMARKET_API_SECRET={CREDENTIALS.api_secret}\n"
        f"POLYMARKET_API_PASSPHRASE={CREDENTIALS.api_passphrase}\n"
    )
    for mode in (0o640, 0o604, 0o644):
        os.chmod(path, mode)
        with pytest.raises(CredentialsError, match=r"readable by others.*chmod 600") as refused:
            load(path)
        assert CREDENTIALS.private_key not in str(refused.value)
    os.chmod(path, 0o600)
    assert load(path) == CREDENTIALS
