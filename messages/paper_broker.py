"""What the paper broker writes to its own file: every call that changed its state.

The paper broker plays a venue, and a venue outlives the process that trades with it. It
keeps its state by recording each call that changed it (an order placed, a cancel, a book,
a market opened or closed, a fill by hand, a seeded position or order) with the time it
used, in its own SQLite file; a restarted broker replays them into the same orders, deals,
positions and order numbers, and the same matching state. Nothing here is the runtime's
journal: the runtime never reads these records.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.broker import BrokerOrderRequest
from messages.enums import OrderSide
from messages.fields import (
    decimal_field,
    enum_field,
    non_negative_decimal,
    positive_decimal,
    text_field,
    tuple_of,
)
from messages.market_data import InstrumentBook

_ts = attrs.validators.instance_of(int)


@attrs.frozen(kw_only=True, slots=True)
class PaperOrderPlaced:
    """``place_order(request)`` at ``ts``."""

    request: BrokerOrderRequest = attrs.field(
        validator=attrs.validators.instance_of(BrokerOrderRequest)
    )
    ts: int = attrs.field(validator=_ts)


@attrs.frozen(kw_only=True, slots=True)
class PaperCancelRequested:
    """``cancel_order(order_no)`` at ``ts``, for an order the broker holds."""

    order_no: str = text_field()
    ts: int = attrs.field(validator=_ts)


@attrs.frozen(kw_only=True, slots=True)
class PaperMarketOpened:
    """``open_market``: the market's securities match at the venue from now on."""

    market_id: str = text_field()
    security_ids: tuple[str, ...] = tuple_of(str)


@attrs.frozen(kw_only=True, slots=True)
class PaperMarketClosed:
    """``close_market`` at ``ts``: its resting orders are cancelled."""

    market_id: str = text_field()
    ts: int = attrs.field(validator=_ts)


@attrs.frozen(kw_only=True, slots=True)
class PaperBookUpdated:
    """``update_book`` at ``ts``: resting orders traded against ``book``."""

    market_id: str = text_field()
    book: InstrumentBook = attrs.field(validator=attrs.validators.instance_of(InstrumentBook))
    ts: int = attrs.field(validator=_ts)


@attrs.frozen(kw_only=True, slots=True)
class PaperOrderExecuted:
    """``execute``: ``size`` of a resting order filled by hand at ``price``."""

    order_no: str = text_field()
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()
    ts: int = attrs.field(validator=_ts)


@attrs.frozen(kw_only=True, slots=True)
class PaperPositionSeeded:
    """``seed_position``: a position held before the runtime started."""

    account: str = text_field()
    security_id: str = text_field()
    quantity: Decimal = decimal_field()
    avg_price: Decimal = non_negative_decimal()


@attrs.frozen(kw_only=True, slots=True)
class PaperOrderSeeded:
    """``seed_open_order``: an order resting since before the runtime started."""

    account: str = text_field()
    security_id: str = text_field()
    side: OrderSide = enum_field(OrderSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()
    filled: Decimal = non_negative_decimal()


PaperBrokerRecord = (
    PaperOrderPlaced
    | PaperCancelRequested
    | PaperMarketOpened
    | PaperMarketClosed
    | PaperBookUpdated
    | PaperOrderExecuted
    | PaperPositionSeeded
    | PaperOrderSeeded
)
