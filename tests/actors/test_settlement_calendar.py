"""``actors.settlement_calendar``: T+2 on TWSE's trading days (weekends and the holidays
given), trade dates in Taipei time, and the sign and size of a deal's cash."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from actors.settlement_calendar import (
    NS_PER_HOUR,
    SettlementCalendar,
    deal_cash,
    hour_of,
    parse_holidays,
)
from messages.enums import OrderSide

D = Decimal
day = datetime.date
NEW_YEAR = SettlementCalendar(holidays=frozenset({day(2027, 1, 1)}))


@pytest.mark.parametrize(
    ("traded", "settles"),
    [
        (day(2026, 12, 1), day(2026, 12, 3)),  # Tuesday: Thursday
        (day(2026, 12, 3), day(2026, 12, 7)),  # Thursday: over the weekend to Monday
        (day(2026, 12, 4), day(2026, 12, 8)),  # Friday: Tuesday
        (day(2026, 12, 5), day(2026, 12, 8)),  # Saturday counts from Monday
        (day(2026, 12, 30), day(2027, 1, 4)),  # Wednesday, over the New Year holiday
        (day(2026, 12, 31), day(2027, 1, 5)),
    ],
)
def test_cash_settles_on_the_second_trading_day_after_the_trade(
    traded: datetime.date, settles: datetime.date
) -> None:
    assert NEW_YEAR.settles_on(traded) == settles
    first = NEW_YEAR.first_trade_date(settles)
    assert first is not None
    assert first <= traded
    assert NEW_YEAR.settles_on(first) == settles


def test_no_cash_settles_on_a_weekend_or_a_holiday() -> None:
    assert NEW_YEAR.first_trade_date(day(2026, 12, 5)) is None
    assert NEW_YEAR.first_trade_date(day(2027, 1, 1)) is None
    assert NEW_YEAR.first_trade_date(day(2027, 1, 4)) == day(2026, 12, 30)


def test_a_trade_date_is_the_date_in_taipei_utc_plus_8() -> None:
    calendar = SettlementCalendar()
    at = datetime.datetime(2026, 12, 3, 15, 59, tzinfo=datetime.UTC)  # 23:59 in Taipei
    assert calendar.trade_date(hour_of(int(at.timestamp()) * 10**9)) == day(2026, 12, 3)
    later = hour_of(int(at.timestamp()) * 10**9 + NS_PER_HOUR)  # 00:59 the next day
    assert calendar.trade_date(later) == day(2026, 12, 4)


def test_a_buy_pays_its_notional_and_charges_and_a_sell_receives_its_notional_less_them() -> None:
    assert deal_cash(OrderSide.BUY, D("25.5"), D(1000), D(36)) == D(-25536)
    assert deal_cash(OrderSide.SELL, D("26"), D(1000), D(115)) == D(25885)


def test_holidays_are_iso_dates_and_a_bad_one_is_named() -> None:
    assert parse_holidays(" 2027-01-01,2026-12-25 ,") == {day(2027, 1, 1), day(2026, 12, 25)}
    with pytest.raises(ValueError, match="'12/25' is not a date"):
        parse_holidays("12/25")
