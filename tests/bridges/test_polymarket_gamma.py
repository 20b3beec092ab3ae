"""Market metadata from a Gamma API on 127.0.0.1, in the documented shapes."""

from __future__ import annotations

import pytest

from bridges.polymarket_gamma import GammaClient, GammaError, MarketSeries
from tests.bridges.polymarket_gamma_server import gamma_market, gamma_server

pytestmark = pytest.mark.timeout(20)

END_S = 1_759_321_800


def test_a_market_by_slug_has_its_tokens_yes_first_its_condition_and_end_time() -> None:
    slug = "btc-updown-15m-1759320900"
    with gamma_server({slug: gamma_market(slug, ("111", "222"), END_S)}) as (url, asked):
        market = GammaClient(url).market(slug)

    assert asked == [slug]
    assert market.tokens == ("111", "222")
    assert market.outcomes == ("Up", "Down")
    assert market.end_ns == END_S * 1_000_000_000
    assert market.condition_id.startswith("0x")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (None, "no market with the slug"),
        (b"<html>", "not JSON"),
        (b'{"slug": "s"}', "expected an array of markets"),
        (gamma_market("s", ("1", "2"), END_S, clobTokenIds='["1"]'), "is not binary"),
        (gamma_market("s", ("1", "2"), END_S, clobTokenIds="[1, 2]"), "not an array of strings"),
        (gamma_market("s", ("1", "2"), END_S, endDate="tomorrow"), "is not ISO 8601"),
        (gamma_market("s", ("1", "2"), END_S, endDate="2025-10-01T12:00:00"), "no time zone"),
        (gamma_market("s", ("1", "2"), END_S, conditionId=None), "has no conditionId"),
    ],
)
def test_metadata_that_is_not_the_documented_shape_is_a_clear_error(
    answer: object, reason: str
) -> None:
    markets = {} if answer is None else {"s": answer}
    with gamma_server(markets) as (url, _asked), pytest.raises(GammaError, match=reason):
        GammaClient(url).market("s")


def test_an_unreachable_api_and_a_bad_url_are_clear_errors() -> None:
    with gamma_server({}) as (url, _asked):
        pass  # stopped: nothing listens there any more
    with pytest.raises(GammaError, match="GET"):
        GammaClient(url).market("s")
    with pytest.raises(GammaError, match="http"):
        GammaClient("ftp://127.0.0.1")


def test_a_series_names_the_window_that_holds_a_moment_and_the_next_ones() -> None:
    series = MarketSeries(template="btc-updown-15m-{start}", period_s=900)
    moment = (1_759_320_900 + 899) * 1_000_000_000

    assert series.slug_at(moment) == "btc-updown-15m-1759320900"
    assert series.slug_at(moment + 1_000_000_000) == "btc-updown-15m-1759321800"
    assert series.slug_at(moment, windows_ahead=2) == "btc-updown-15m-1759322700"
    with pytest.raises(ValueError, match="start"):
        MarketSeries(template="btc-updown", period_s=900)
    with pytest.raises(ValueError, match="positive"):
        MarketSeries(template="{start}", period_s=0)
