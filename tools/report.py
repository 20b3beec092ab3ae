"""``tradeactors report``: a stopped run's journal as one self-contained HTML page.

The journal is read once, the way ``export`` reads it (under the data dir's lock, through
``CommittedFold`` from the first record, so a lockstep step a crash left open is not
counted), and the fold is watched as it goes: each fill, settlement and book change gives
a point of PnL over feed time. Unrealized PnL marks each leg at its book's mid, as the
position actors do (``PositionBook.set_marks`` on the books rebuilt from the journaled
market data). Every amount in the tables is the exact Decimal; only the chart's pixels
are floats. The page (``report_html``) needs no network: inline CSS and an inline SVG.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import attrs

from actors.exact_decimal import EXACT
from actors.journal_store import JournalRecord, JournalStore, JournalStoreError
from actors.market import empty_books
from actors.order_book import OrderBook
from actors.order_state import Order
from actors.position_accounting import PositionBook
from actors.runtime_state import RuntimeState
from bridges.data_dir_lock import DataDirError
from messages.fills import Fill
from messages.journal import FillApplied, OrderCreated, PositionSettlement
from messages.market_data import BookSnapshot, MarketSnapshot, PriceChange
from messages.markets import MarketOpened, MarketResolved
from messages.positions import PositionSnapshot
from supervisors.assembly.recovery import CommittedFold
from supervisors.assembly.runtime_config import JOURNAL_FILE
from tools.export import EXIT_DATA_DIR, NoJournalError, counted, stopped_journal
from tools.progress import Progress
from tools.report_html import render
from tools.run_record import read_runs

PAGE = "index.html"
ZERO = Decimal(0)


@attrs.frozen(kw_only=True)
class PnlPoint:
    """The whole run's PnL at one feed time, after the journal's record ``seq``."""

    ts_ns: int
    seq: int
    realized: Decimal
    unrealized: Decimal
    fees: Decimal

    @property
    def net(self) -> Decimal:
        return EXACT.subtract(EXACT.add(self.realized, self.unrealized), self.fees)


@attrs.frozen(kw_only=True)
class FillRow:
    seq: int
    fill: Fill


@attrs.frozen(kw_only=True)
class MarketRow:
    """One market's result: its position (if it traded) and what its orders did."""

    market_id: str
    instruments: tuple[str, ...]
    payout: Decimal
    opened_ts_ns: int | None
    resolved_ts_ns: int | None
    closed: bool
    winner: str | None
    position: PositionSnapshot | None
    orders: int
    fills: int
    bought: Decimal
    sold: Decimal


@attrs.frozen(kw_only=True)
class ReportData:
    """Everything the page shows."""

    data_dir: Path
    records: int
    steps: int
    points: tuple[PnlPoint, ...]
    markets: tuple[MarketRow, ...]
    fills: tuple[FillRow, ...]
    orders: tuple[Order, ...]
    runs: tuple[dict[str, Any], ...]
    risk_limits: dict[str, str] | None
    open_step_left_out: int

    @property
    def final(self) -> PnlPoint:
        return (
            self.points[-1]
            if self.points
            else PnlPoint(ts_ns=0, seq=0, realized=ZERO, unrealized=ZERO, fees=ZERO)
        )


def add_report_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report", help="a stopped run's PnL, markets, fills and orders as an HTML page"
    )
    report.add_argument("--data-dir", default="tradeactors-data", help="the runtime's data dir")
    report.add_argument("--out", required=True, help=f"directory to write {PAGE} into")
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    data_dir = Path(args.data_dir)
    progress = Progress("report", unit="journal records")
    try:
        with stopped_journal(data_dir) as store:
            data = read_report(store, data_dir, progress)
    except NoJournalError as error:
        out.write(f"tradeactors: {error}; nothing to report\n")
        return EXIT_DATA_DIR
    except (DataDirError, JournalStoreError) as error:
        out.write(f"tradeactors: {error}\n")
        return EXIT_DATA_DIR
    progress.update(what="writing the page")
    page = Path(args.out) / PAGE
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(render(data), encoding="utf-8")
    progress.finish(
        f"{data.records:,} journal records, {len(data.fills):,} fills, {len(data.orders):,} "
        f"orders, {len(data.markets):,} markets in {progress.elapsed_s:.1f} s"
    )
    out.write(f"wrote {page} (net PnL {data.final.net:f} from {data_dir / JOURNAL_FILE})\n")
    return 0


def read_report(
    store: JournalStore, data_dir: Path, progress: Progress | None = None
) -> ReportData:
    """One pass over the journal, folded as recovery folds it, watched as it folds."""
    timeline = _Timeline(RuntimeState())
    fold = CommittedFold(timeline.state, on_fold=timeline.folded)
    records = 0
    for record in counted(store, progress):
        fold.add(record)
        records += 1
    state = timeline.state
    limits = state.risk_limits
    return ReportData(
        data_dir=data_dir.resolve(),
        records=records,
        steps=state.committed_step + 1,
        points=tuple(timeline.points),
        markets=tuple(timeline.market_rows()),
        fills=tuple(timeline.fills),
        orders=tuple(timeline.orders.values()),
        runs=tuple(read_runs(data_dir)),
        risk_limits=None
        if limits is None
        else {k: str(v) for k, v in attrs.asdict(limits).items() if v is not None},
        open_step_left_out=len(fold.open_step),
    )


class _Timeline:
    """Watches the fold: the PnL after each change, the fills, every order ever created."""

    def __init__(self, state: RuntimeState) -> None:
        self.state = state
        self.points: list[PnlPoint] = []
        self.fills: list[FillRow] = []
        self.orders: dict[str, Order] = {}
        self.opened: dict[str, int] = {}
        self.resolved: dict[str, int] = {}
        self.books: dict[str, dict[str, OrderBook]] = {}
        self.clock = 0
        self.parts: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
        self.totals = (ZERO, ZERO, ZERO)

    def folded(self, record: JournalRecord, event: Any) -> None:
        ts_event = getattr(event, "ts_event", None)
        if isinstance(ts_event, int) and ts_event > self.clock:
            self.clock = ts_event
        if isinstance(event, BookSnapshot | PriceChange):
            self._book(record.seq, event)
        elif isinstance(event, FillApplied | PositionSettlement):
            self._touch(record.stream.removeprefix("position:"), record.seq)
        elif isinstance(event, Fill):
            self.fills.append(FillRow(seq=record.seq, fill=event))
        elif isinstance(event, OrderCreated):
            self.orders[event.order_id] = self.state.orders[event.order_id]
        elif isinstance(event, MarketOpened):
            self.opened.setdefault(event.definition.market_id, event.ts_event)
        elif isinstance(event, MarketResolved):
            self.resolved.setdefault(event.market_id, event.ts_event)

    def _book(self, seq: int, data: BookSnapshot | PriceChange) -> None:
        market = self.state.markets.get(data.market_id)
        if market is None:
            return
        books = self.books.setdefault(data.market_id, empty_books(market.definition))
        book = books.get(data.security_id)
        if book is None:
            return
        changed = (
            book.apply_snapshot(data) if isinstance(data, BookSnapshot) else book.apply_change(data)
        )
        position = self.state.positions.get(market.position_id or "")
        if changed and position is not None:
            position.set_marks(
                MarketSnapshot(
                    ts_event=data.ts_event,
                    market_id=data.market_id,
                    version=0,
                    books=tuple(b.view() for b in books.values()),
                )
            )
            self._touch(position.position_id, seq)

    def _touch(self, position_id: str, seq: int) -> None:
        """Replace one position's share of the totals with its share now."""
        book = self.state.positions.get(position_id)
        if book is None:
            return
        now = _pnl(book)
        before = self.parts.get(position_id, (ZERO, ZERO, ZERO))
        if now == before:
            return
        self.parts[position_id] = now
        self.totals = tuple(  # type: ignore[assignment]
            EXACT.add(EXACT.subtract(total, old), new)
            for total, old, new in zip(self.totals, before, now, strict=True)
        )
        self._point(seq)

    def _point(self, seq: int) -> None:
        realized, unrealized, fees = self.totals
        point = PnlPoint(
            ts_ns=self.clock, seq=seq, realized=realized, unrealized=unrealized, fees=fees
        )
        if self.points and self.points[-1].ts_ns == point.ts_ns:
            self.points[-1] = point
        else:
            self.points.append(point)

    def market_rows(self) -> list[MarketRow]:
        orders: dict[str, int] = {}
        for order in self.orders.values():
            orders[order.market_id] = orders.get(order.market_id, 0) + 1
        fills: dict[str, list[Fill]] = {}
        for row in self.fills:
            fills.setdefault(row.fill.market_id, []).append(row.fill)
        rows = []
        for market_id, market in self.state.markets.items():
            definition = market.definition
            mine = fills.get(market_id, [])
            book = self.state.positions.get(market.position_id or "")
            rows.append(
                MarketRow(
                    market_id=market_id,
                    instruments=definition.security_ids,
                    payout=definition.payout,
                    opened_ts_ns=self.opened.get(market_id),
                    resolved_ts_ns=self.resolved.get(market_id),
                    closed=market.closed,
                    winner=market.winning_security_id,
                    position=book.snapshot() if book is not None else None,
                    orders=orders.get(market_id, 0),
                    fills=len(mine),
                    bought=_exact_sum(f.size for f in mine if f.signed_size > 0),
                    sold=_exact_sum(f.size for f in mine if f.signed_size < 0),
                )
            )
        return rows


def _exact_sum(values: Iterable[Decimal]) -> Decimal:
    total = ZERO
    for value in values:
        total = EXACT.add(total, value)
    return total


def _pnl(book: PositionBook) -> tuple[Decimal, Decimal, Decimal]:
    snapshot = book.snapshot()
    return snapshot.realized_pnl, snapshot.unrealized_pnl, snapshot.fees
