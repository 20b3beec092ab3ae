"""The benchmark suite: every bench, repeated, each figure beside its floor, in RESULTS.md.

The machine is shared and noisy, so one run of one bench says little. The suite runs the
floors (``bench.floors``) and every bench ``--repeats`` times, in turns, in this process;
pools or ranks each figure's runs; divides it by its floor measured in the same suite run;
and says for each of the issue's speed targets whether it is met. The results file also
records the machine, the versions and the command, so a later run can be compared with it.

    python -m bench [--quick] [--repeats 3] [--only NAME ...] [--out bench/RESULTS.md]

``tradeactors bench`` takes the same options (``add_arguments``, ``run``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import importlib
import importlib.metadata
import io
import json
import os
import platform
import shlex
import sqlite3
import subprocess
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import pykka
import structlog
import zmq

from bench.figures import Figure, Kind, Statistic, bad_side, nearest_rank, shown, times
from tools.logging_setup import configure_logging
from tools.progress import Progress

FLOORS = "floors"
BENCHES = (
    "replay",
    "fill_path",
    "broker_fills",
    "broker",
    "journal_store",
    "journal",
    "restart",
    "lookup",
    "zmq_commands",
)
"""In the order they run (after the floors) and appear in the results."""
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = (
    Path(__file__).resolve().with_name("RESULTS.md")
    if (REPO / "setup.cfg").exists()
    else Path("RESULTS.md").resolve()
)
"""``bench/RESULTS.md`` in a source checkout; installed, the working directory's."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The suite's options, for ``python -m bench`` and a ``tradeactors bench`` subcommand."""
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes: the whole suite in about 3 minutes"
    )
    parser.add_argument(
        "--repeats", type=_positive, default=3, help="runs of each bench (default 3)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=BENCHES,
        metavar="NAME",
        help=f"run only these benches (the floors always run): {', '.join(BENCHES)}",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"results file (default {DEFAULT_OUT})"
    )


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def main(argv: list[str] | None = None, *, prog: str = "python -m bench") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the suite as ``args`` says and write the results file; 1 if a bench failed."""
    names = [FLOORS, *(args.only or BENCHES)]
    command = _command(args)
    started = time.time()
    progress = Progress("bench", total=args.repeats * len(names), unit="runs")
    runs: list[_Run] = []
    interrupted = False
    saved = structlog.get_config()
    with (
        tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp,
        open(Path(tmp) / "log.jsonl", "w+", encoding="utf-8") as log,
    ):
        # The runtime's own default level: warnings are rendered (and cost what they
        # cost), into a file, and counted per bench.
        configure_logging("warning", stream=log)
        try:
            for repeat in range(args.repeats):
                for name in names:
                    progress.update(len(runs), what=f"{name} (repeat {repeat + 1}/{args.repeats})")
                    runs.append(_run_one(name, repeat, args, log))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            structlog.configure(**saved)
    suite_s = time.time() - started
    report = _report(
        runs, args=args, command=command, started=started, suite_s=suite_s, names=names
    )
    if interrupted:
        report = report.replace("\n\n", "\n\n**Interrupted: the figures are partial.**\n\n", 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    failed = [f"{run.bench} (repeat {run.repeat + 1})" for run in runs if run.error]
    progress.finish(
        f"{len(runs)} runs of {len(names) - 1} benches and the floors in {suite_s:.0f} s"
        + (", interrupted" if interrupted else "")
        + (f", {len(failed)} FAILED: {', '.join(failed)}" if failed else ", none failed")
        + f"; wrote {args.out}"
    )
    if interrupted:
        return 130
    return 1 if failed else 0


# Running.


@attrs.frozen
class _Run:
    """One bench, once."""

    bench: str
    repeat: int
    seconds: float
    figures: list[Figure]
    logged: Counter[str]
    """Log lines at warning and above, by level and event."""
    error: str = ""


def _run_one(name: str, repeat: int, args: argparse.Namespace, log: io.TextIOBase) -> _Run:
    """Import the bench, run its ``figures`` with its prints captured, stop what it left."""
    log.seek(0, os.SEEK_END)
    log_from = log.tell()
    printed = io.StringIO()
    started = time.perf_counter()
    figures: list[Figure] = []
    error = ""
    try:
        module = importlib.import_module(f"bench.{name}")
        measure: Callable[[bool], list[Figure]] = module.figures
        with contextlib.redirect_stdout(printed):
            figures = measure(args.quick)
    except Exception as failure:
        tail = "\n".join(printed.getvalue().splitlines()[-20:])
        error = "".join(traceback.format_exception(failure)) + (
            f"\nits last output:\n{tail}" if tail else ""
        )
    finally:
        pykka.ActorRegistry.stop_all()
        gc.collect()
    seconds = time.perf_counter() - started
    return _Run(name, repeat, seconds, figures, _logged(log, log_from), error)


def _logged(log: io.TextIOBase, offset: int) -> Counter[str]:
    log.flush()
    log.seek(offset)
    counts: Counter[str] = Counter()
    for line in log.read().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            counts["(not JSON) " + line[:60]] += 1
            continue
        counts[f"{entry.get('level', '?')} {entry.get('event', '?')}"] += 1
    return counts


def _command(args: argparse.Namespace) -> str:
    """The command line that runs the suite as ``args`` say."""
    words = ["python", "-m", "bench"]
    if args.quick:
        words.append("--quick")
    words += ["--repeats", str(args.repeats)]
    if args.only:
        words += ["--only", *args.only]
    out = Path(args.out).resolve()
    if out != DEFAULT_OUT:
        words += ["--out", str(args.out)]
    return shlex.join(words)


# Aggregating.


@attrs.frozen
class _Row:
    """One figure over every run of its bench."""

    bench: str
    figure: Figure
    """The last run's (its name, unit, floor, target and note)."""
    samples: tuple[float, ...]
    runs: int

    @property
    def median(self) -> float:
        return nearest_rank(self.samples, 0.5)

    @property
    def bad(self) -> float:
        return bad_side(self.figure.kind, self.samples)


def _rows(runs: Sequence[_Run]) -> list[_Row]:
    """Each figure's samples pooled over its runs, in first-seen order."""
    pooled: dict[tuple[str, str], list[Figure]] = {}
    for run in runs:
        for figure in run.figures:
            pooled.setdefault((run.bench, figure.name), []).append(figure)
    return [
        _Row(
            bench=bench,
            figure=figures[-1],
            samples=tuple(sample for figure in figures for sample in figure.samples),
            runs=len(figures),
        )
        for (bench, _name), figures in pooled.items()
    ]


def _floor_of(row: _Row, rows: Sequence[_Row]) -> _Row | None:
    """The figure ``row`` is divided by: its bench's own floor, else the suite's."""
    for bench in (row.bench, FLOORS):
        for candidate in rows:
            if candidate.bench == bench and candidate.figure.name == row.figure.floor:
                return candidate
    return None


def _ratio(row: _Row, floor: _Row) -> float:
    """Median over the floor's median; a duration of N items over the floor's time for N."""
    if row.figure.kind.is_time == floor.figure.kind.is_time:
        return row.median / floor.median
    if row.figure.kind.is_time and row.figure.items:
        return row.median / (row.figure.items / floor.median)
    raise ValueError(f"{row.figure.name}: cannot divide by {floor.figure.name}")


def _judged(row: _Row, ratio: float | None) -> tuple[str, str]:
    """(what the target is judged on, with the value; the verdict)."""
    target = row.figure.target
    assert target is not None
    if target.statistic is Statistic.RATIO:
        value = ratio
        measured = "—" if ratio is None else f"ratio {ratio:.4g}x"
    else:
        value = row.median if target.statistic is Statistic.MEDIAN else row.bad
        label = "median" if target.statistic is Statistic.MEDIAN else _bad_label(row.figure.kind)
        measured = f"{label} {shown(row.figure, value)}"
    if target.not_judged:
        return measured, f"not judged: {target.not_judged}"
    if value is None:
        return measured, "not judged: no floor"
    return measured, "**met**" if target.met(value) else "**NOT met**"


def _bad_label(kind: Kind) -> str:
    return "p1" if kind is Kind.RATE else "p99"


# Writing.


def _report(
    runs: Sequence[_Run],
    *,
    args: argparse.Namespace,
    command: str,
    started: float,
    suite_s: float,
    names: Sequence[str],
) -> str:
    rows = _rows(runs)
    when = datetime.datetime.fromtimestamp(started, tz=datetime.UTC)
    sizes = (
        "quick sizes (`--quick`): smaller runs, so a target that names a size larger than "
        "was measured is listed, not judged"
        if args.quick
        else "full sizes"
    )
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{command}`, started {when:%Y-%m-%d %H:%M} UTC; the suite took "
        f"{suite_s:,.0f} s. {sizes.capitalize()}.",
        "",
        *_machine(),
        *_versions(),
        *_how_to_read(args.repeats),
        *_targets(rows),
    ]
    for name in names:
        lines += _section(name, rows, [run for run in runs if run.bench == name])
    failures = [run for run in runs if run.error]
    if failures:
        lines += ["## Failures", ""]
        for run in failures:
            lines += [f"### {run.bench}, repeat {run.repeat + 1}", "", "```", run.error, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return [line(header), line(["---"] * len(header)), *(line(cells) for cells in body), ""]


def _machine() -> list[str]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "-"
    return [
        "## Machine",
        "",
        *_table(
            ("", ""),
            [
                ("platform", platform.platform()),
                ("CPU", cpu),
                ("cores", f"{os.cpu_count()} ({usable} usable by this process)"),
                ("memory", memory),
                ("load average when written", load),
            ],
        ),
    ]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _versions() -> list[str]:
    return [
        "## Versions",
        "",
        *_table(
            ("", ""),
            [
                ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
                ("pykka", _version("pykka")),
                ("pyzmq", f"{zmq.__version__} (libzmq {zmq.zmq_version()})"),
                ("SQLite library", f"{sqlite3.sqlite_version} (Python's sqlite3 module)"),
                ("attrs", _version("attrs")),
                ("cattrs", _version("cattrs")),
                ("structlog", _version("structlog")),
                ("tradeactors", f"{_version('tradeactors')}, {_commit()}"),
            ],
        ),
    ]


def _commit() -> str:
    """The checkout's commit, and whether it had uncommitted changes (read-only git)."""

    def git(*words: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO), *words], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    return f"commit {commit}" + (" with uncommitted changes" if dirty else "")


def _how_to_read(repeats: int) -> list[str]:
    return [
        "## How to read it",
        "",
        f"- Every bench ran {repeats} time{'s' if repeats != 1 else ''}, in turns with the "
        "floors (the floors, then each bench, then again), in one process; each run starts "
        "fresh actors and files.",
        "- **Latency** figures (many samples a run): the samples of every run are pooled; "
        "*median* and *p99* are nearest-rank percentiles of the pool; *n* counts samples.",
        "- **Throughput** figures (one value a run) and **durations** (a restart, a "
        "recovery, a startup; one value a run unless the bench repeats it): *median* over "
        "the runs, and *p99 from the bad side*: p1 of a rate, p99 of a time, which with "
        "under 100 values is the worst run; *n* counts the values.",
        "- **ratio**: the figure's median over its floor's median, both from this suite run. "
        "A floor is one of the four in `bench.floors` (bare queue handoff, bare pykka actor, "
        "bare pyzmq echo, bare SQLite inserts) or a bench's own like-for-like floor (marked "
        "*bench floor*), which is in turn divided by one of the four. For times a ratio "
        "above 1 is slower than the floor; for rates a ratio below 1 is fewer a second. A "
        "duration of N items against a rate floor is divided by the time the floor takes "
        "for N.",
        "- **Targets** are the issue's. One that names a percentile is judged on it; one "
        "that does not (throughput, restart, recovery) on the median, with the worst run "
        "beside it; a ratio target on the ratio of medians.",
        "- Notes are the last run's.",
        "",
    ]


def _targets(rows: Sequence[_Row]) -> list[str]:
    body = []
    for row in rows:
        target = row.figure.target
        if target is None:
            continue
        floor = _floor_of(row, rows)
        ratio = None if floor is None else _ratio(row, floor)
        measured, verdict = _judged(row, ratio)
        limit = (
            times(target.limit)
            if target.statistic is Statistic.RATIO
            else shown(row.figure, target.limit)
        )
        limit = ("≤ " if target.at_most else "≥ ") + limit
        body.append((target.text, f"{row.bench}: {row.figure.name}", measured, limit, verdict))
    if not body:
        return []
    return [
        "## Targets",
        "",
        *_table(("target", "figure", "measured", "limit", "verdict"), body),
    ]


def _section(name: str, rows: Sequence[_Row], runs: Sequence[_Run]) -> list[str]:
    mine = [row for row in rows if row.bench == name]
    seconds = ", ".join(f"{run.seconds:.1f}" for run in runs)
    title = "Floors (`bench.floors`)" if name == FLOORS else f"`bench.{name}`"
    lines = [f"## {title}", "", f"Runs took {seconds} s.", ""]
    body = []
    for row in mine:
        floor = _floor_of(row, rows)
        ratio = None if floor is None else _ratio(row, floor)
        verdict = "" if row.figure.target is None else _judged(row, ratio)[1]
        body.append(
            (
                row.figure.name,
                f"{len(row.samples):,}",
                shown(row.figure, row.median),
                shown(row.figure, row.bad),
                "itself" if floor is row else (row.figure.floor if floor else "missing"),
                "—" if ratio is None else times(ratio),
                verdict,
            )
        )
    if body:
        lines += _table(
            ("figure", "n", "median", "p99, bad side", "floor", "ratio", "target"), body
        )
    notes = [f"- {row.figure.name}: {row.figure.note}" for row in mine if row.figure.note]
    if notes:
        lines += ["Notes:", "", *notes, ""]
    logged: Counter[str] = Counter()
    for run in runs:
        logged.update(run.logged)
    if logged:
        top = ", ".join(f"{event} ({count:,})" for event, count in logged.most_common(8))
        lines += [f"Log lines at warning and above, over all runs: {top}.", ""]
    return lines
