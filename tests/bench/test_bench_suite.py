"""The benchmark suite, on a tiny configuration: the results file says where, with what, and
how every figure compares with its floor."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import structlog

from bench import fill_path, floors, suite

pytestmark = pytest.mark.timeout(30)

VERSIONS = ("Python", "pykka", "pyzmq", "SQLite library", "attrs", "cattrs", "structlog")


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    """The floors and the fill path in a fraction of their quick sizes."""
    monkeypatch.setattr(floors, "QUICK", (200, 2_000, 5_000))
    monkeypatch.setattr(fill_path, "QUICK", ("--fills", "300", "--latency-samples", "50"))


def rows_of(text: str, heading: str) -> dict[str, list[str]]:
    """The figure rows of one section's table, by figure name."""
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line[2:-2].split(" | ") for line in section.splitlines() if line.startswith("|")]
    return {cells[0]: cells for cells in rows[2:]}


@pytest.mark.usefixtures("tiny")
def test_a_tiny_run_writes_the_machine_the_versions_and_a_ratio_for_every_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logging_before = structlog.get_config()
    out = tmp_path / "RESULTS.md"
    argv = ["--quick", "--repeats", "2", "--only", "fill_path", "--out", str(out)]

    assert suite.main(argv) == 0
    assert structlog.get_config() == logging_before  # the suite's log file is its own
    progress = capsys.readouterr().err  # not a terminal: one summary line
    assert progress == (
        f"bench: 4 runs of 1 benches and the floors in {progress.split(' in ')[1].split()[0]} s,"
        f" none failed; wrote {out}\n"
    )

    text = out.read_text(encoding="utf-8")
    assert f"`python -m bench --quick --repeats 2 --only fill_path --out {out}`" in text
    machine = rows_of(text, "Machine")
    assert {"platform", "CPU", "cores", "memory"} <= machine.keys()
    assert machine["CPU"][1] not in ("", "unknown")
    versions = rows_of(text, "Versions")
    assert set(VERSIONS) <= versions.keys()
    assert "libzmq" in versions["pyzmq"][1]
    floor_rows = rows_of(text, "Floors (`bench.floors`)")
    assert {
        floors.QUEUE_LATENCY,
        floors.QUEUE_RATE,
        floors.PYKKA_LATENCY,
        floors.PYKKA_RATE,
        floors.ZMQ_LATENCY,
        floors.ZMQ_RATE,
        floors.SQLITE_RATE,
    } == floor_rows.keys()
    bench_rows = rows_of(text, "`bench.fill_path`")
    paths = (fill_path.FLOOR_ONE, fill_path.FLOOR_SIX, fill_path.FILL_PATH)
    expected = {f"{path}, {how}" for path in paths for how in ("one at a time", "all in flight")}
    assert expected == bench_rows.keys()
    for name, cells in {**floor_rows, **bench_rows}.items():
        _name, n, _median, _bad, _floor, ratio, _target = cells
        assert re.fullmatch(r"[0-9][0-9,.e+-]*x", ratio), (name, ratio)
        assert int(n.replace(",", "")) >= 2, (name, n)  # both repeats' samples pooled
    assert bench_rows[f"{fill_path.FILL_PATH}, all in flight"][1] == "2"
    assert "| missing |" not in text
