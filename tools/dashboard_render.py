"""One frame of the live dashboard as text, fitted to the terminal.

A frame is a header (current market, total PnL, event rates, counters, restarts) and three
sections: markets, open orders, positions. When the terminal is short, the positions keep
their rows longest, then the open orders, then the markets; each shows its newest rows and
says how many it left out. When it is narrow, tables drop their least telling columns
before anything is cut. Plain ASCII, so a character is a column.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from messages.enums import MarketPhase
from tools.console import decimal_text
from tools.dashboard import RATE_KINDS, DashboardState

_GAP = "  "


@attrs.frozen(kw_only=True, slots=True)
class _Column:
    name: str
    right: bool = False
    drop: int = 0
    """0: always kept; otherwise the column with the highest ``drop`` goes first."""


@attrs.frozen(kw_only=True, slots=True)
class _Section:
    title: str
    remark: str = ""
    head: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()
    tail: tuple[str, ...] = ()

    @property
    def least(self) -> int:
        """Lines it needs to be shown at all: a blank and the title; if it has rows, also
        its head, one row and its tail."""
        if not self.rows:
            return 2
        return 2 + len(self.head) + 1 + len(self.tail)

    def lines(self, shown: int) -> list[str]:
        if not self.rows:
            return ["", f"{self.title}: none"]
        count = len(self.rows)
        title = f"{self.title} ({count if shown == count else f'last {shown} of {count}'})"
        if self.remark:
            title += _GAP + self.remark
        return ["", title, *self.head, *self.rows[count - shown :], *self.tail]


_POSITION_COLUMNS = (
    _Column(name="market"),
    _Column(name="status", drop=5),
    _Column(name="instrument"),
    _Column(name="qty", right=True),
    _Column(name="avg price", right=True, drop=4),
    _Column(name="realized", right=True, drop=1),
    _Column(name="unrealized", right=True, drop=2),
    _Column(name="fees", right=True, drop=3),
    _Column(name="net", right=True),
)

_ORDER_COLUMNS = (
    _Column(name="order"),
    _Column(name="instrument"),
    _Column(name="side"),
    _Column(name="price", right=True),
    _Column(name="filled", right=True),
    _Column(name="status", drop=1),
)


_PRIORITY = (2, 1, 0)
"""Who keeps lines longest on a short terminal: positions, then open orders, then markets."""


def render(state: DashboardState, width: int, height: int) -> str:
    """The frame: at most ``height`` lines of at most ``width`` characters each."""
    if width <= 0 or height <= 0:
        return ""
    head = _header(state)
    sections = (_markets(state), _orders(state, width), _positions(state, width))
    shown = _fit(sections, _PRIORITY, height - len(head))
    lines = list(head)
    for section, rows in zip(sections, shown, strict=True):
        if rows is not None:
            lines += section.lines(rows)
    return "\n".join(line[:width] for line in lines[:height])


def _fit(sections: Sequence[_Section], priority: Sequence[int], budget: int) -> list[int | None]:
    """Rows shown per section (None: left out): each that fits at all, in ``priority`` order,
    then one more row each in turn while lines are left."""
    shown: list[int | None] = [None] * len(sections)
    for index in priority:
        if sections[index].least <= budget:
            shown[index] = min(1, len(sections[index].rows))
            budget -= sections[index].least
    growing = True
    while budget > 0 and growing:
        growing = False
        for index in priority:
            rows = shown[index]
            if budget > 0 and rows is not None and rows < len(sections[index].rows):
                shown[index] = rows + 1
                budget -= 1
                growing = True
    return shown


def _header(state: DashboardState) -> list[str]:
    market = state.current_market
    where = "no market event yet"
    if market is not None:
        where = f"market {market} {state.markets[market].phase.value}"
        manual = state.standing_aside().get(market)
        if manual is not None:
            where += f" (strategy aside: manual {manual.order_id} open)"
    rates = _GAP.join(f"{state.rate(kind):.1f} {kind}" for kind in RATE_KINDS)
    counts = _GAP.join(f"{state.counts[kind]} {kind}" for kind in state.counts)
    restarts = _GAP.join(
        f"{kind} {count}"
        for kind, count in sorted(state.restarts.items(), key=lambda item: (-item[1], item[0]))
    )
    lines = [
        _GAP.join(
            [
                "tradeactors",
                where,
                f"net PnL {decimal_text(state.total().net)}",
                f"up {_duration(state.uptime_s)}",
            ]
        ),
        f"per s     {rates}  (last {state.rates.window_s:g} s)",
        f"seen      {counts}",
        f"restarts  {restarts or 'none'}",
    ]
    if state.note:
        lines.append(state.note)
    return lines


def _markets(state: DashboardState) -> _Section:
    width = max((len(market_id) for market_id in state.markets), default=0)
    aside = state.standing_aside()
    rows = []
    for row in state.markets.values():
        mark = "*" if row.market_id == state.current_market else " "
        line = f"{mark} {row.market_id.ljust(width)}  {row.phase.value}"
        if row.phase is MarketPhase.RESOLVED:
            line += f"  {row.winner} wins"
        manual = aside.get(row.market_id)
        if manual is not None:
            line += (
                f"  strategy stands aside: manual order {manual.order_id} "
                f"{manual.side.value} {manual.security_id} is open (pending-flag guard)"
            )
        rows.append(line)
    return _Section(title="MARKETS", rows=tuple(rows))


def _orders(state: DashboardState, width: int) -> _Section:
    cells = [
        (
            f"{order.order_id} (manual)" if order.manual else order.order_id,
            order.security_id,
            order.side.value,
            str(order.price),
            f"{order.filled}/{order.size}",
            order.status.value,
        )
        for order in state.open_orders.values()
    ]
    head, rows = _table(_ORDER_COLUMNS, cells, width)
    return _Section(title="OPEN ORDERS", head=(head,), rows=tuple(rows))


def _positions(state: DashboardState, width: int) -> _Section:
    cells = []
    for row in state.legs():
        pnl = row.pnl
        cells.append(
            (
                row.market_id,
                row.status.value,
                row.leg.security_id.removeprefix(row.market_id + "-"),
                str(row.leg.quantity),
                decimal_text(row.leg.avg_open_price),
                decimal_text(pnl.realized),
                decimal_text(pnl.unrealized),
                decimal_text(pnl.fees),
                decimal_text(pnl.net),
            )
        )
    total = state.total()
    cells.append(
        (
            "TOTAL",
            "",
            "",
            "",
            "",
            decimal_text(total.realized),
            decimal_text(total.unrealized),
            decimal_text(total.fees),
            decimal_text(total.net),
        )
    )
    head, rows = _table(_POSITION_COLUMNS, cells, width)
    rule = "-" * max(len(head), *(len(row) for row in rows))
    return _Section(
        title="POSITIONS",
        remark="unrealized as of each leg's last fill",
        head=(head,),
        rows=tuple(rows[:-1]),
        tail=(rule, rows[-1]),
    )


def _table(
    columns: Sequence[_Column], cells: Sequence[tuple[str, ...]], width: int
) -> tuple[str, list[str]]:
    """The header and the rows, aligned; droppable columns go until the rows fit ``width``."""
    widths = [
        max([len(column.name), *(len(row[i]) for row in cells)]) for i, column in enumerate(columns)
    ]
    keep = list(range(len(columns)))
    droppable = sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop)
    for index in droppable:
        if sum(widths[i] for i in keep) + len(_GAP) * (len(keep) - 1) <= width:
            break
        keep.remove(index)

    def line(row: Sequence[str]) -> str:
        return _GAP.join(
            row[i].rjust(widths[i]) if columns[i].right else row[i].ljust(widths[i]) for i in keep
        ).rstrip()

    return line([column.name for column in columns]), [line(row) for row in cells]


def _duration(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
