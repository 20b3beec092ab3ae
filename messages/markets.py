"""Market lifecycle: what a market is, and the facts of its opening, closing,
draining and resolution."""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.enums import Outcome
from messages.fields import (
    enum_field,
    id_field,
    positive_decimal,
    text_field,
    ts_init_field,
    tuple_of,
)


@attrs.frozen(kw_only=True, slots=True)
class Instrument:
    """One tradable token of a market, e.g. the YES side of a binary market."""

    security_id: str = text_field()
    outcome: Outcome = enum_field(Outcome)


@attrs.frozen(kw_only=True, slots=True)
class MarketDefinition:
    """A market: its instruments and what the winning instrument pays per share."""

    market_id: str = text_field()
    instruments: tuple[Instrument, ...] = tuple_of(Instrument)
    payout: Decimal = positive_decimal(default=Decimal(1))

    def instrument(self, security_id: str) -> Instrument:
        for instrument in self.instruments:
            if instrument.security_id == security_id:
                return instrument
        raise KeyError(security_id)

    @property
    def security_ids(self) -> tuple[str, ...]:
        return tuple(instrument.security_id for instrument in self.instruments)


@attrs.frozen(kw_only=True, slots=True)
class MarketOpened:
    """A market starts trading; the previous market (if any) stops taking new orders."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    ts_event: int = attrs.field(validator=attrs.validators.instance_of(int))
    definition: MarketDefinition = attrs.field(
        validator=attrs.validators.instance_of(MarketDefinition)
    )


@attrs.frozen(kw_only=True, slots=True)
class MarketClosed:
    """A market stops trading; its open orders are cancelled, its position stays until settled."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    ts_event: int = attrs.field(validator=attrs.validators.instance_of(int))
    market_id: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class MarketResolved:
    """The market's outcome is known: ``winning_security_id`` pays the payout, others pay 0."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    ts_event: int = attrs.field(validator=attrs.validators.instance_of(int))
    market_id: str = text_field()
    winning_security_id: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class MarketDrained:
    """A closed market has no open orders left: its position can be settled safely."""

    market_id: str = text_field()
