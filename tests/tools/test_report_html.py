"""The report's chart keeps a long run's shape in a small page; its tables print exact decimals."""

from __future__ import annotations

import re
from decimal import Decimal

from tools.report import PnlPoint
from tools.report_html import LEFT, RIGHT, WIDTH, chart, exact_text


def test_a_long_run_is_thinned_per_pixel_column_but_keeps_its_lowest_and_highest_points() -> None:
    count = 20_000
    points = [
        PnlPoint(
            ts_ns=1_000_000_000 * i,
            seq=i,
            realized=Decimal(i % 7),
            unrealized=Decimal(-50) if i == 12_345 else Decimal(80) if i == 777 else Decimal(0),
            fees=Decimal("0.001") * i,
        )
        for i in range(count)
    ]

    svg = chart(points)

    (unrealized,) = re.findall(r'data-series="unrealized" d="([^"]+)"', svg)
    ys = [float(y) for y in re.findall(r"V(-?[0-9.]+)", unrealized)]
    assert len(ys) <= 4 * (WIDTH - LEFT - RIGHT) + 1  # first, low, high, last per column
    assert len(ys) < count // 4
    flat = max(set(ys), key=ys.count)
    assert min(ys) < flat < max(ys)  # the +80 and the -50 spikes, one point each, survive
    assert len(svg) < 120_000  # bounded by the chart's width, whatever the run's length


def test_amounts_are_the_exact_decimal_in_plain_notation() -> None:
    assert exact_text(Decimal("1E+2")) == "100"
    assert exact_text(Decimal("0E-8")) == "0.00000000"
    assert exact_text(Decimal("-0.12345678901234567890123456789012")) == (
        "-0.12345678901234567890123456789012"
    )
