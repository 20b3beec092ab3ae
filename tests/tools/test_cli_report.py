"""``tradeactors report``: the real console script writes the page, a real Chromium renders it;
``export`` and ``report`` show progress on a terminal and a summary on a pipe."""

from __future__ import annotations

import contextlib
import io
import os
import pty
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bridges.feed_codec import write_feed
from tools.cli import main
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(90)

CHROMIUM = Path("/usr/bin/chromium")
QUIET = ("--quiet", "--no-zmq", "--no-metrics")


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Decimal]]:
    """A short lockstep run stopped with one market settled and one still open, and the
    totals its positions table printed (rounded to 4 places there)."""
    root = tmp_path_factory.mktemp("report")
    feed = root / "feed.jsonl"
    write_feed(generate_feed(seed=4, markets=2, updates_per_market=60), feed)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        argv = ["run", "--feed", str(feed), "--speed", "0", "--records", "110"]
        assert main([*argv, "--data-dir", str(root / "d"), *QUIET]) == 0
    (total,) = [line for line in printed.getvalue().splitlines() if line.startswith("TOTAL")]
    realized, unrealized, fees, net = (Decimal(word) for word in total.split()[1:])
    return root / "d", {"realized": realized, "unrealized": unrealized, "fees": fees, "net": net}


def console_script() -> list[str]:
    script = Path(sys.executable).parent / "tradeactors"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tools.main"]


def tradeactors(*argv: str, stderr: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*console_script(), *argv],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=60,
        check=False,
    )


def rendered_dom(page: Path, profile: Path) -> str:
    """The page as a headless Chromium parsed and laid it out, with nothing to reach out to."""
    if not CHROMIUM.exists():
        pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install -y chromium)")
    done = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rows_of(dom: str, table_id: str) -> list[list[str]]:
    """The cell texts of each body row of one table."""
    table = re.search(rf"<table id=\"{table_id}\">(.*?)</table>", dom, re.DOTALL)
    assert table is not None, f"no table {table_id} in the rendered DOM"
    body = table.group(1).split("<tbody>", 1)[1]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL)
    ]


def test_the_report_page_renders_the_chart_and_exact_tables_in_a_real_browser(
    stopped_run: tuple[Path, dict[str, Decimal]], tmp_path: Path
) -> None:
    data_dir, printed = stopped_run
    done = tradeactors("report", "--data-dir", str(data_dir), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    page = tmp_path / "out" / "index.html"
    assert f"wrote {page}" in done.stdout
    assert "\r" not in done.stderr  # piped: no progress line, one summary
    assert re.fullmatch(
        r"report: [0-9,]+ journal records, \d+ fills, .* in [0-9.]+ s\n", done.stderr
    )
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"?(https?:)?//", html)  # self-contained

    dom = rendered_dom(page, tmp_path / "profile")

    svg = re.search(r'<svg id="pnl-chart".*?</svg>', dom, re.DOTALL)
    assert svg is not None
    series = re.findall(r'data-series="(\w+)" d="M[0-9.,HV]+"', svg.group(0))
    assert sorted(series) == ["net", "realized", "unrealized"]
    markets = {row[0]: row for row in rows_of(dom, "markets")}
    assert markets.keys() == {"btc-up-0001", "btc-up-0002", "TOTAL"}
    assert [markets["btc-up-0001"][1], markets["btc-up-0002"][1]] == ["SETTLED", "OPEN"]
    total = markets["TOTAL"]
    exact = dict(
        zip(("realized", "unrealized", "fees", "net"), map(Decimal, total[7:11]), strict=True)
    )
    for name, value in exact.items():  # the page's exact figure, the run's rounded one
        assert value.quantize(Decimal("0.0001")) == printed[name], name
    assert exact["net"] == exact["realized"] + exact["unrealized"] - exact["fees"]
    assert exact["unrealized"] != 0
    fills, orders = rows_of(dom, "fills"), rows_of(dom, "orders")
    assert fills
    assert len({row[-1] for row in fills}) == len(fills)  # each fill once
    assert sum(Decimal(row[7]) for row in fills) == exact["fees"]  # a fee digit for digit
    assert len(orders) == int(total[3])
    assert "max (lockstep)" in dom  # the run's parameters, from runs.jsonl
    assert "synthetic_arbitrage" in dom


def test_no_journal_is_a_clear_refusal(tmp_path: Path) -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["report", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path)])

    assert status == 3
    assert "no journal at" in printed.getvalue()
    assert not (tmp_path / "index.html").exists()


def on_a_terminal(*argv: str) -> tuple[int, str, str]:
    """Run the console script with stderr on a pseudo-terminal: (status, stdout, terminal)."""
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [*console_script(), *argv], stdout=subprocess.PIPE, stderr=slave, text=True
        )
        os.close(slave)
        seen = b""
        with contextlib.suppress(OSError):  # EIO once the child closed the terminal
            while chunk := os.read(master, 4096):
                seen += chunk
        stdout, _ = process.communicate(timeout=60)
    finally:
        os.close(master)
    return process.returncode, stdout, seen.decode()


def test_export_rewrites_one_progress_line_on_a_terminal_then_leaves_the_summary(
    stopped_run: tuple[Path, dict[str, Decimal]], tmp_path: Path
) -> None:
    out = tmp_path / "fills.csv"

    status, stdout, terminal = on_a_terminal(
        "export", "fills", "--data-dir", str(stopped_run[0]), "--out", str(out)
    )

    assert status == 0, stdout + terminal
    assert "fills from" in stdout  # stdout stays the command's own
    lines = terminal.replace("\r\n", "\n").split("\n")
    assert lines[1:] == [""]  # one line on the terminal, redrawn in place
    drawn = lines[0].split("\r")[1:]
    assert len(drawn) >= 2  # a progress line at least, and the summary drawn over it
    assert re.fullmatch(r"export fills: \[[#.]{20}\] [0-9,]+/[0-9,]+ journal records .*", drawn[0])
    assert re.fullmatch(
        r"export fills: [0-9,]+ journal records read in [0-9.]+ s\x1b\[K", drawn[-1]
    )
