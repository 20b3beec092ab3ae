"""When a deal's cash settles, and how much: T+N on an exchange's trading days.

TWSE settles cash T+2: on the second trading day after the trade date, where weekends and
the exchange's holidays (a list the run is given: the exchange publishes it each year) are
not trading days. A deal's trade date is its match time in the exchange's zone (Taipei:
UTC+8, no daylight saving). Amounts are signed as a broker's settlement report signs them:
a buy pays its notional and its fee and tax (negative), a sell receives its notional less
them (positive). Plain values and functions, no threads: the account book keeps cash per
hour of match time, and the comparison dates it here.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import attrs

from messages.enums import OrderSide

NS_PER_HOUR = 3_600_000_000_000
_EPOCH = datetime.date(1970, 1, 1)


def hour_of(match_ts: int) -> int:
    """The UTC hour (since the epoch) a match time falls in: the account book's cash key."""
    return match_ts // NS_PER_HOUR


def deal_cash(side: OrderSide, price: Decimal, size: Decimal, charges: Decimal) -> Decimal:
    """What a deal settles: the notional received (a sell) or paid (a buy), less its fee
    and tax (``charges``) either way."""
    notional = price * size
    return (notional if side is OrderSide.SELL else -notional) - charges


@attrs.frozen(kw_only=True, slots=True)
class SettlementCalendar:
    """T+``days`` on trading days: Monday to Friday but ``holidays``, in the exchange's zone
    (``utc_offset_hours`` from UTC). The default is TWSE's: T+2, Taipei time."""

    days: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    holidays: frozenset[datetime.date] = frozenset()
    utc_offset_hours: int = 8

    def is_trading_day(self, day: datetime.date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def trade_date(self, hour: int) -> datetime.date:
        """The exchange's date of a UTC hour (``hour_of``)."""
        return _EPOCH + datetime.timedelta(days=(hour + self.utc_offset_hours) // 24)

    def settles_on(self, trade_date: datetime.date) -> datetime.date:
        """The ``days``-th trading day after ``trade_date``."""
        day, left = trade_date, self.days
        while left:
            day += datetime.timedelta(days=1)
            left -= self.is_trading_day(day)
        return day

    def first_trade_date(self, settlement_date: datetime.date) -> datetime.date | None:
        """The earliest trade date whose cash settles on ``settlement_date`` (the trading
        day ``days`` before it; a weekend or holiday after that settles the same day); None
        when no cash settles then (not a trading day)."""
        if not self.is_trading_day(settlement_date):
            return None
        day, left = settlement_date, self.days
        while left:
            day -= datetime.timedelta(days=1)
            left -= self.is_trading_day(day)
        return day


def parse_holidays(text: str) -> frozenset[datetime.date]:
    """``2026-12-25,2027-01-01``; ValueError naming the item that is not an ISO date."""
    days = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            days.add(datetime.date.fromisoformat(item))
        except ValueError:
            raise ValueError(f"holiday {item!r} is not a date (YYYY-MM-DD)") from None
    return frozenset(days)
