"""The report's HTML: one page, inline CSS and an inline SVG chart, no script, no network.

Amounts are printed as the journal's exact Decimals (``format(d, "f")``: never rounded,
never in exponent form); the chart alone turns them into floats, for pixels. The chart is
a step line per series (PnL changes at events, it does not slide between them), thinned
to the first, lowest, highest and last point of each pixel column, so a long run keeps
its shape in a page of a few hundred kilobytes.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any

from actors.exact_decimal import EXACT
from messages.enums import OrderSide

if TYPE_CHECKING:
    from tools.report import MarketRow, PnlPoint, ReportData

WIDTH, HEIGHT = 960, 360
LEFT, RIGHT, TOP, BOTTOM = 78, 24, 24, 48
SERIES: tuple[tuple[str, str, str, Callable[[PnlPoint], Decimal]], ...] = (
    ("net", "net of fees", "#1f5fbf", lambda p: p.net),
    ("realized", "realized", "#c7760a", lambda p: p.realized),
    ("unrealized", "unrealized", "#7a8290", lambda p: p.unrealized),
)
TIME_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
MAX_MARKERS = 12

CSS = """
:root { --ink:#1d232b; --muted:#5f6b7a; --line:#e3e7ed; --bg:#f5f7fa; --card:#fff;
  --up:#137a3a; --down:#c0281d; --accent:#1f5fbf; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background:#16202e; color:#fff; padding:18px 32px; }
header h1 { margin:0; font-size:20px; font-weight:600; letter-spacing:.2px; }
header p { margin:4px 0 0; color:#b9c3d0; font-size:13px; }
main { max-width:1180px; margin:0 auto; padding:20px 32px 40px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px;
  padding:16px 20px; margin-top:18px; }
h2 { font-size:15px; margin:0 0 12px; font-weight:600; }
h2 small { color:var(--muted); font-weight:400; margin-left:6px; }
.kpis { display:grid; grid-template-columns:repeat(auto-fit, minmax(140px, 1fr)); gap:12px;
  margin-top:0; background:none; border:none; padding:0; }
.kpi { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.kpi .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.4px; }
.kpi .value { font-size:21px; font-weight:600; margin-top:2px; font-variant-numeric:tabular-nums; }
.kpi.main { border-left:4px solid var(--accent); }
.up { color:var(--up); } .down { color:var(--down); }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:left;
  white-space:nowrap; }
th { color:var(--muted); font-weight:600; font-size:12px; background:#fafbfc;
  position:sticky; top:0; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums;
  font-family:ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size:12.5px; }
tr.total td { font-weight:600; border-top:2px solid var(--ink); }
tbody tr:hover td { background:#f3f6fb; }
.scroll { max-height:420px; overflow:auto; border:1px solid var(--line); border-radius:6px; }
.scroll table th { box-shadow:0 1px 0 var(--line); }
.bar { display:inline-block; height:9px; border-radius:2px; vertical-align:middle; }
.tag { display:inline-block; padding:0 6px; border-radius:3px; font-size:11px; font-weight:600;
  background:#eef1f5; color:var(--muted); }
.tag.BUY { background:#e5f3ea; color:var(--up); }
.tag.SELL { background:#fbe9e7; color:var(--down); }
.params { display:grid; grid-template-columns:repeat(auto-fit, minmax(330px, 1fr)); gap:16px;
  align-items:start; }
.params td { white-space:normal; }
.params table td:first-child { color:var(--muted); width:40%; }
.note { color:var(--muted); font-size:12px; margin:8px 0 0; }
svg text { font-family:inherit; }
footer { color:var(--muted); font-size:12px; margin-top:20px; }
"""


def render(data: ReportData) -> str:
    """The whole page."""
    first = data.points[0].ts_ns if data.points else None
    span = (
        f"feed time {_time(first)} to {_time(data.final.ts_ns)} UTC"
        if first is not None
        else "no PnL recorded yet"
    )
    body = [
        "<header><h1>tradeactors run report</h1>",
        f"<p>{escape(str(data.data_dir))} · {span} · {data.steps:,} feed records committed</p>",
        "</header><main>",
        _kpis(data),
        _chart_section(data),
        _markets_section(data.markets, data.final),
        _parameters_section(data),
        _orders_section(data),
        _fills_section(data),
        _footer(data),
        "</main>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>tradeactors report · net {exact_text(data.final.net)}</title>"
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


# Numbers.


def exact_text(value: Decimal) -> str:
    """The exact decimal, in plain notation."""
    return format(value, "f")


def _signed(value: Decimal) -> str:
    css = "up" if value > 0 else "down" if value < 0 else ""
    return f'<span class="{css}">{exact_text(value)}</span>' if css else exact_text(value)


def _time(ts_ns: int | None, *, with_date: bool = True) -> str:
    if ts_ns is None:
        return "—"
    moment = datetime.datetime.fromtimestamp(ts_ns / 1e9, tz=datetime.UTC)
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}"


# Sections.


def _kpis(data: ReportData) -> str:
    final = data.final
    cards = [
        ("main", "net PnL (after fees)", _signed(final.net)),
        ("", "realized", _signed(final.realized)),
        ("", "unrealized", _signed(final.unrealized)),
        ("", "fees", exact_text(final.fees)),
        ("", "fills", f"{len(data.fills):,}"),
        ("", "orders", f"{len(data.orders):,}"),
        ("", "markets", f"{len(data.markets):,}"),
    ]
    return (
        '<section class="kpis">'
        + "".join(
            f'<div class="kpi {css}"><div class="label">{label}</div>'
            f'<div class="value">{value}</div></div>'
            for css, label, value in cards
        )
        + "</section>"
    )


def _chart_section(data: ReportData) -> str:
    title = (
        "<h2>PnL over feed time <small>whole run, all markets; amounts in the price unit"
        "</small></h2>"
    )
    if not data.points:
        return (
            f"<section>{title}<p class='note'>No fill or mark yet: nothing to chart.</p></section>"
        )
    return f"<section>{title}{chart(data.points, data.markets)}</section>"


def chart(points: Sequence[PnlPoint], markets: Sequence[MarketRow] = ()) -> str:
    """The PnL chart as an SVG element (step lines, axes, a legend, settlement markers)."""
    t0, t1 = points[0].ts_ns, points[-1].ts_ns
    if t1 <= t0:
        t1 = t0 + 1_000_000_000
    values = [float(get(p)) for p in points for _, _, _, get in SERIES]
    low, high, ticks = _nice_range(min(0.0, *values), max(0.0, *values))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(ts: int) -> float:
        return LEFT + (ts - t0) / (t1 - t0) * plot_w

    def y(value: float) -> float:
        return TOP + (high - value) / (high - low) * plot_h

    parts = [
        f'<svg id="pnl-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="PnL over feed time">',
        "<title>PnL over feed time: net of fees, realized and unrealized</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fcfdfe" '
        'stroke="#e3e7ed"/>',
    ]
    for tick in ticks:
        ty = y(tick)
        zero = abs(tick) < 1e-12
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" '
            f'stroke="{"#8b95a3" if zero else "#eceff3"}" stroke-width="{1.2 if zero else 1}"/>'
            f'<text x="{LEFT - 8}" y="{ty + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#5f6b7a">{_tick_label(tick, ticks)}</text>'
        )
    for ts in _time_ticks(t0, t1):
        tx = x(ts)
        parts.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#f0f2f5"/>'
            f'<text x="{tx:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" font-size="11" '
            f'fill="#5f6b7a">{_time(ts, with_date=False)[:8]}</text>'
        )
    day = datetime.datetime.fromtimestamp(t0 / 1e9, tz=datetime.UTC).strftime("%Y-%m-%d")
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 8}" text-anchor="middle" font-size="11" '
        f'fill="#5f6b7a">feed time (UTC, {day})</text>'
    )
    parts.extend(_markers(markets, x, t0, t1, plot_h))
    for key, _label, color, get in reversed(SERIES):
        path = _step_path([(x(p.ts_ns), y(float(get(p)))) for p in points])
        dash = ' stroke-dasharray="5 4"' if key == "unrealized" else ""
        width = 2.4 if key == "net" else 1.6
        parts.append(
            f'<path class="series" data-series="{key}" d="{path}" fill="none" stroke="{color}" '
            f'stroke-width="{width}" stroke-linejoin="round"{dash}/>'
        )
    parts.extend(_legend(points[-1]))
    parts.append("</svg>")
    return "".join(parts)


def _markers(
    markets: Sequence[MarketRow], x: Callable[[int], float], t0: int, t1: int, plot_h: float
) -> list[str]:
    """A thin line where each market settled (up to a dozen markets: more would be noise)."""
    settled = [m for m in markets if m.resolved_ts_ns is not None and t0 <= m.resolved_ts_ns <= t1]
    if len(settled) > MAX_MARKERS:
        return []
    out = []
    for market in settled:
        assert market.resolved_ts_ns is not None
        mx = x(market.resolved_ts_ns)
        out.append(
            f'<line class="settled" x1="{mx:.1f}" x2="{mx:.1f}" y1="{TOP}" y2="{TOP + plot_h}" '
            f'stroke="#b9c3d0" stroke-dasharray="2 3"><title>{escape(market.market_id)} '
            f"resolved</title></line>"
            f'<text x="{mx - 4:.1f}" y="{TOP + plot_h - 6:.1f}" text-anchor="end" font-size="10" '
            f'fill="#8b95a3">{escape(market.market_id)} settled</text>'
        )
    return out


def _legend(last: PnlPoint) -> list[str]:
    out = []
    lx = LEFT + 12.0
    for key, label, color, get in SERIES:
        dash = ' stroke-dasharray="5 4"' if key == "unrealized" else ""
        text = f"{label} {exact_text(get(last))}"
        out.append(
            f'<rect x="{lx - 6:.0f}" y="{TOP + 6}" width="{len(text) * 6.6 + 34:.0f}" height="20" '
            f'rx="3" fill="#ffffff" fill-opacity="0.85"/>'
            f'<line x1="{lx:.0f}" x2="{lx + 18:.0f}" y1="{TOP + 16}" y2="{TOP + 16}" '
            f'stroke="{color}" stroke-width="2.4"{dash}/>'
            f'<text x="{lx + 24:.0f}" y="{TOP + 20}" font-size="12" fill="#1d232b">'
            f"{escape(text)}</text>"
        )
        lx += len(text) * 6.6 + 44
    return out


def _step_path(xy: Sequence[tuple[float, float]]) -> str:
    """A step line through the points, thinned per pixel column (first, low, high, last)."""
    thinned: list[tuple[float, float]] = []
    column: list[tuple[float, float]] = []
    for point in xy:
        if column and int(point[0]) != int(column[0][0]):
            thinned.extend(_keep(column))
            column = []
        column.append(point)
    thinned.extend(_keep(column))
    steps = [f"M{thinned[0][0]:.1f},{thinned[0][1]:.1f}"]
    at = f"{thinned[0][0]:.1f}"
    for px, py in thinned[1:]:
        x = f"{px:.1f}"
        steps.append(f"V{py:.1f}" if x == at else f"H{x}V{py:.1f}")
        at = x
    steps.append(f"H{WIDTH - RIGHT}")
    return "".join(steps)


def _keep(column: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(column) <= 4:
        return column
    picks = {0, len(column) - 1}
    picks.add(min(range(len(column)), key=lambda i: column[i][1]))
    picks.add(max(range(len(column)), key=lambda i: column[i][1]))
    return [column[i] for i in sorted(picks)]


def _nice_range(low: float, high: float) -> tuple[float, float, list[float]]:
    """Axis bounds on round numbers and the ticks between them (about six)."""
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    raw = (high - low) / 6
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    end = math.ceil(high / step) * step
    count = round((end - start) / step)
    return start, end, [start + i * step for i in range(count + 1)]


def _tick_label(value: float, ticks: Sequence[float]) -> str:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{0.0 if abs(value) < step / 2 else value:,.{digits}f}"


def _time_ticks(t0: int, t1: int) -> list[int]:
    span_s = (t1 - t0) / 1e9
    step_s = next((s for s in TIME_STEPS_S if span_s / s <= 8), TIME_STEPS_S[-1])
    step = step_s * 1_000_000_000
    first = -(-t0 // step) * step
    return list(range(first, t1 + 1, step))


def _markets_section(markets: Sequence[MarketRow], final: PnlPoint) -> str:
    nets = [_market_net(m) for m in markets]
    widest = max((abs(n) for n in nets), default=Decimal(0)) or Decimal(1)
    rows = []
    for market, net in zip(markets, nets, strict=True):
        p = market.position
        status = p.status.value if p is not None else ("CLOSED" if market.closed else "OPEN")
        winner = market.winner.removeprefix(market.market_id + "-") if market.winner else "—"
        bar_w = float(abs(net) / widest) * 90
        color = "var(--up)" if net >= 0 else "var(--down)"
        rows.append(
            "<tr>"
            f"<td>{escape(market.market_id)}</td><td><span class='tag'>{status}</span></td>"
            f"<td>{escape(winner)}</td>"
            f"<td class='num'>{market.orders:,}</td><td class='num'>{market.fills:,}</td>"
            f"<td class='num'>{exact_text(market.bought)}</td>"
            f"<td class='num'>{exact_text(market.sold)}</td>"
            f"<td class='num'>{_signed(p.realized_pnl) if p else '0'}</td>"
            f"<td class='num'>{_signed(p.unrealized_pnl) if p else '0'}</td>"
            f"<td class='num'>{exact_text(p.fees) if p else '0'}</td>"
            f"<td class='num'><b>{_signed(net)}</b></td>"
            f"<td><span class='bar' style='width:{bar_w:.1f}px;background:{color}'></span></td>"
            "</tr>"
        )
    total = (
        "<tr class='total'><td>TOTAL</td><td></td><td></td>"
        f"<td class='num'>{sum(m.orders for m in markets):,}</td>"
        f"<td class='num'>{sum(m.fills for m in markets):,}</td><td></td><td></td>"
        f"<td class='num'>{_signed(final.realized)}</td>"
        f"<td class='num'>{_signed(final.unrealized)}</td>"
        f"<td class='num'>{exact_text(final.fees)}</td>"
        f"<td class='num'>{_signed(final.net)}</td><td></td></tr>"
    )
    head = _head(
        ("market", "status", "winner", "#orders", "#fills", "bought", "sold", "realized",
         "unrealized", "fees", "net", ""),
        numeric={3, 4, 5, 6, 7, 8, 9, 10},
    )  # fmt: skip
    return (
        "<section><h2>Results by market <small>realized is gross of fees; net = realized + "
        "unrealized - fees</small></h2>"
        f"<table id='markets'>{head}<tbody>{''.join(rows)}{total}</tbody></table></section>"
    )


def _market_net(market: MarketRow) -> Decimal:
    p = market.position
    if p is None:
        return Decimal(0)
    return EXACT.subtract(EXACT.add(p.realized_pnl, p.unrealized_pnl), p.fees)


def _parameters_section(data: ReportData) -> str:
    tables = []
    for number, run in enumerate(data.runs, start=1):
        rows = [(key.replace("_", " "), _param(value)) for key, value in run.items()]
        tables.append(_kv(f"run {number} of {len(data.runs)}", rows))
    if not data.runs:
        tables.append(
            _kv("runs", [("parameters", "not recorded (a data dir from before runs.jsonl)")])
        )
    fee_rates = sorted({f.fill.fee / f.fill.notional for f in data.fills if f.fill.notional})
    journal = [
        ("data dir", escape(str(data.data_dir))),
        ("journal records", f"{data.records:,}"),
        ("feed records committed", f"{data.steps:,}"),
        ("accounts", escape(", ".join(sorted({o.account for o in data.orders})) or "—")),
        ("strategies", escape(", ".join(sorted({o.strategy for o in data.orders})) or "—")),
        ("fee rate in fills", ", ".join(exact_text(r.normalize()) for r in fee_rates[:4]) or "—"),
        ("risk limits set by clients", _param(data.risk_limits) if data.risk_limits else "none"),
    ]
    if data.open_step_left_out:
        journal.append(("left out", f"{data.open_step_left_out} records of an uncommitted step"))
    tables.append(_kv("from the journal", journal))
    markets = [
        (
            escape(m.market_id),
            f"{escape(', '.join(i.removeprefix(m.market_id + '-') for i in m.instruments))}; "
            f"pays {exact_text(m.payout)}; opened {_time(m.opened_ts_ns)}",
        )
        for m in data.markets
    ]
    tables.append(_kv("markets", markets or [("markets", "none")]))
    return (
        "<section><h2>Run parameters</h2>"
        f"<div class='params' id='parameters'>{''.join(tables)}</div></section>"
    )


def _param(value: Any) -> str:
    if isinstance(value, dict):
        return escape(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in value.items()))
    return escape(str(value))


def _kv(title: str, rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in rows)
    head = f"<thead><tr><th colspan='2'>{escape(title)}</th></tr></thead>"
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _head(names: Sequence[str], numeric: set[int]) -> str:
    cells = "".join(
        f"<th class='num'>{escape(n)}</th>" if i in numeric else f"<th>{escape(n)}</th>"
        for i, n in enumerate(names)
    )
    return f"<thead><tr>{cells}</tr></thead>"


def _side(side: OrderSide) -> str:
    return f"<span class='tag {side.value}'>{side.value}</span>"


def _orders_section(data: ReportData) -> str:
    rows = []
    for order in data.orders:
        s = order.snapshot()
        avg = exact_text(s.avg_fill_price) if s.avg_fill_price is not None else "—"
        rows.append(
            f"<tr><td>{escape(s.order_id)}</td><td>{escape(s.security_id)}</td><td>{_side(s.side)}</td>"
            f"<td class='num'>{exact_text(s.price)}</td><td class='num'>{exact_text(s.size)}</td>"
            f"<td class='num'>{exact_text(s.filled)}</td><td class='num'>{avg}</td>"
            f"<td class='num'>{exact_text(s.fees)}</td><td class='num'>{s.fill_count}</td>"
            f"<td><span class='tag'>{s.status.value}</span></td></tr>"
        )
    head = _head(
        ("order", "instrument", "side", "price", "size", "filled", "avg fill", "fees", "#fills",
         "status"),
        numeric={3, 4, 5, 6, 7, 8},
    )  # fmt: skip
    return (
        f"<section><h2>Orders <small>{len(rows):,}, every order the journal holds</small></h2>"
        f"<div class='scroll'><table id='orders'>{head}<tbody>{''.join(rows)}</tbody></table>"
        "</div></section>"
    )


def _fills_section(data: ReportData) -> str:
    rows = []
    for row in data.fills:
        f = row.fill
        rows.append(
            f"<tr><td class='num'>{row.seq}</td><td>{_time(f.ts_event)}</td>"
            f"<td>{escape(f.security_id)}</td><td>{_side(f.side)}</td>"
            f"<td class='num'>{exact_text(f.price)}</td><td class='num'>{exact_text(f.size)}</td>"
            f"<td class='num'>{exact_text(f.notional)}</td><td class='num'>{exact_text(f.fee)}</td>"
            f"<td>{escape(f.order_id)}</td><td>{escape(f.fill_id)}</td></tr>"
        )
    head = _head(
        ("seq", "feed time (UTC)", "instrument", "side", "price", "size", "notional", "fee",
         "order", "fill"),
        numeric={0, 4, 5, 6, 7},
    )  # fmt: skip
    return (
        f"<section><h2>Fills <small>{len(rows):,}, in journal order</small></h2>"
        f"<div class='scroll'><table id='fills'>{head}<tbody>{''.join(rows)}</tbody></table>"
        "</div></section>"
    )


def _footer(data: ReportData) -> str:
    try:
        version = importlib.metadata.version("tradeactors")
    except importlib.metadata.PackageNotFoundError:
        version = "(not installed)"
    made = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<footer>Written by tradeactors {escape(version)} on {made} from "
        f"{escape(str(data.data_dir))}. Amounts are the journal's exact decimals; the chart "
        "marks open legs at their book's mid, as the runtime does.</footer>"
    )
