"""What `tradeactors run` shows: a line per market, order, fill and position event, and the
final positions table."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TextIO

import pykka

from messages.markets import MarketClosed, MarketOpened, MarketResolved
from messages.orders import CancelDenied, FillRefused, OrderDenied, OrderUpdated
from messages.positions import PositionDelta, PositionSettled, PositionSnapshot


def _fmt(value: Decimal | None, places: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{places}f}"


class ConsoleView(pykka.ThreadingActor):
    """Subscribes to the event bus and writes one human line per event it knows."""

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self.out = out
        self.counts: dict[str, int] = {"orders": 0, "fills": 0, "denied": 0, "refused": 0}

    def on_receive(self, message: Any) -> Any:
        line = self._line(message)
        if line is not None:
            self.out.write(line + "\n")
            self.out.flush()
        return None

    def _line(self, event: Any) -> str | None:
        match event:
            case MarketOpened(definition=definition):
                names = ", ".join(i.security_id for i in definition.instruments)
                return f"== market {definition.market_id} opened ({names})"
            case MarketClosed(market_id=market_id):
                return f"== market {market_id} closed"
            case MarketResolved(market_id=market_id, winning_security_id=winner):
                return f"== market {market_id} resolved: {winner} wins"
            case OrderUpdated(cause="submitted", order=order):
                self.counts["orders"] += 1
                return (
                    f"   order {order.order_id} {order.side.value} {order.size} "
                    f"{order.security_id} @ {order.price}"
                )
            case OrderUpdated(cause="fill", order=order):
                self.counts["fills"] += 1
                return (
                    f"   fill  {order.order_id} filled {order.filled}/{order.size} "
                    f"avg {_fmt(order.avg_fill_price)} -> {order.status.value}"
                )
            case OrderUpdated(cause=cause, order=order) if cause != "accepted":
                return f"   order {order.order_id} {cause} -> {order.status.value}"
            case OrderDenied(reason=reason, signal=signal):
                self.counts["denied"] += 1
                return f"   denied {signal.security_id} {signal.side.value}: {reason}"
            case CancelDenied(order_id=order_id, reason=reason):
                return f"   cancel denied {order_id}: {reason}"
            case FillRefused(fill=fill, reason=reason, detail=detail):
                self.counts["refused"] += 1
                return f"!! fill {fill.fill_id} refused ({reason.value}): {detail}"
            case PositionDelta(leg=leg):
                return (
                    f"   position {leg.security_id} qty {leg.quantity} "
                    f"avg {_fmt(leg.avg_open_price)} realized {_fmt(leg.realized_pnl)}"
                )
            case PositionSettled(position=position):
                return (
                    f"== position {position.market_id} settled: realized "
                    f"{_fmt(position.realized_pnl)} fees {_fmt(position.fees)}"
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
                    _fmt(leg.avg_open_price),
                    _fmt(leg.realized_pnl),
                    _fmt(leg.unrealized_pnl),
                    _fmt(leg.fees),
                    _fmt(net),
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
            _fmt(total_realized),
            _fmt(total_unrealized),
            _fmt(total_fees),
            _fmt(total_net),
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
