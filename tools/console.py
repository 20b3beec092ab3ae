"""What `tradeactors run` shows off a terminal (or with ``--plain``): a line per market,
order, fill and position event; and, in every mode, the final positions table."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TextIO

import attrs
import pykka

from messages.markets import MarketClosed, MarketOpened, MarketResolved
from messages.orders import CancelDenied, FillRefused, OrderDenied, OrderUpdated
from messages.positions import PositionDelta, PositionSettled, PositionSnapshot


def decimal_text(value: Decimal | None, places: int = 4) -> str:
    """A price or an amount to ``places`` decimals, exactly (``-`` for none)."""
    if value is None:
        return "-"
    return f"{value:.{places}f}"


@attrs.frozen(kw_only=True, slots=True)
class Note:
    """Something the command itself has to say while a view owns the output."""

    text: str


class ConsoleView(pykka.ThreadingActor):
    """Subscribes to the event bus and writes one human line per event it knows (and per
    ``Note``, in turn with the events, so lines never interleave)."""

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self.out = out

    def on_receive(self, message: Any) -> Any:
        line = self._line(message)
        if line is not None:
            self.out.write(line + "\n")
            self.out.flush()
        return None

    def _line(self, event: Any) -> str | None:
        match event:
            case Note(text=text):
                return text
            case MarketOpened(definition=definition):
                names = ", ".join(i.security_id for i in definition.instruments)
                return f"== market {definition.market_id} opened ({names})"
            case MarketClosed(market_id=market_id):
                return f"== market {market_id} closed"
            case MarketResolved(market_id=market_id, winning_security_id=winner):
                return f"== market {market_id} resolved: {winner} wins"
            case OrderUpdated(cause="submitted", order=order):
                line = (
                    f"   order {order.order_id} {order.side.value} {order.size} "
                    f"{order.security_id} @ {order.price}"
                )
                if order.manual:
                    line += (
                        f" (manual: the strategy stands aside in {order.market_id} while it "
                        "is open, pending-flag guard)"
                    )
                return line
            case OrderUpdated(cause="fill", order=order):
                return (
                    f"   fill  {order.order_id} filled {order.filled}/{order.size} "
                    f"avg {decimal_text(order.avg_fill_price)} -> {order.status.value}"
                )
            case OrderUpdated(cause=cause, order=order) if cause != "accepted":
                return f"   order {order.order_id} {cause} -> {order.status.value}"
            case OrderDenied(reason=reason, signal=signal):
                return f"   denied {signal.security_id} {signal.side.value}: {reason}"
            case CancelDenied(order_id=order_id, reason=reason):
                return f"   cancel denied {order_id}: {reason}"
            case FillRefused(fill=fill, reason=reason, detail=detail):
                return f"!! fill {fill.fill_id} refused ({reason.value}): {detail}"
            case PositionDelta(leg=leg):
                return (
                    f"   position {leg.security_id} qty {leg.quantity} "
                    f"avg {decimal_text(leg.avg_open_price)} "
                    f"realized {decimal_text(leg.realized_pnl)}"
                )
            case PositionSettled(position=position):
                return (
                    f"== position {position.market_id} settled: realized "
                    f"{decimal_text(position.realized_pnl)} fees {decimal_text(position.fees)}"
                )
        return None


_COLUMNS = (
    "market",
    "status",
    "instrument",
    "qty",
    "avg price",
    "realized",
    "unrealized",
    "fees",
    "net",
)


def positions_table(positions: Iterable[PositionSnapshot]) -> str:
    """Per market and instrument: quantity, average price, realized/unrealized PnL, fees."""
    rows: list[tuple[str, ...]] = []
    total_realized = total_unrealized = total_fees = Decimal(0)
    for position in positions:
        for leg in position.legs:
            net = leg.realized_pnl + leg.unrealized_pnl - leg.fees
            rows.append(
                (
                    position.market_id,
                    position.status.value,
                    leg.security_id.removeprefix(position.market_id + "-"),
                    str(leg.quantity),
                    decimal_text(leg.avg_open_price),
                    decimal_text(leg.realized_pnl),
                    decimal_text(leg.unrealized_pnl),
                    decimal_text(leg.fees),
                    decimal_text(net),
                )
            )
            total_realized += leg.realized_pnl
            total_unrealized += leg.unrealized_pnl
            total_fees += leg.fees
    total_net = total_realized + total_unrealized - total_fees
    rows.append(
        (
            "TOTAL",
            "",
            "",
            "",
            "",
            decimal_text(total_realized),
            decimal_text(total_unrealized),
            decimal_text(total_fees),
            decimal_text(total_net),
        )
    )
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]

    def line(cells: tuple[str, ...]) -> str:
        first = [cell.ljust(width) for cell, width in zip(cells[:3], widths[:3], strict=True)]
        rest = [cell.rjust(width) for cell, width in zip(cells[3:], widths[3:], strict=True)]
        return "  ".join(first + rest)

    separator = "  ".join("-" * w for w in widths)
    body = [line(r) for r in rows[:-1]]
    return "\n".join([line(_COLUMNS), separator, *body, separator, line(rows[-1])])
