"""``--strategy package.module:evaluate``: a user's function loads, or the run says in one
line why it cannot, from a flag or from a config file's ``[strategy]``."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridges.feed_codec import write_feed
from tools.cli import main
from tools.feedgen import generate_feed
from tools.strategy_loader import StrategySpecError, default_name, load_strategy

pytestmark = pytest.mark.timeout(60)

USER_MODULE = """
from actors.synthetic_arbitrage import SyntheticArbitrage

CALLS = []
_example = SyntheticArbitrage()
NOT_CALLABLE = 42


def evaluate(market, position):
    CALLS.append(market.market_id)
    return _example(market, position)
"""


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory holding user strategy modules, the command's current directory."""
    (tmp_path / "user_strategy_ok.py").write_text(USER_MODULE, encoding="utf-8")
    (tmp_path / "user_strategy_broken.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "user_strategy_imports.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for name in ("user_strategy_ok", "user_strategy_broken", "user_strategy_imports"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("evaluate", "is not package.module:function"),
        ("pkg.mod:", "is not package.module:function"),
        ("pkg mod:evaluate", "is not package.module:function"),
        ("no_such_strategy_pkg.mod:evaluate", "no module 'no_such_strategy_pkg'"),
        ("user_strategy_ok:missing", "has no attribute 'missing'"),
        ("user_strategy_ok:NOT_CALLABLE", "is a int, not a function"),
        ("actors.synthetic_arbitrage:SyntheticArbitrage", "is a class, not a function"),
        ("user_strategy_broken:evaluate", "RuntimeError: boom"),
        ("user_strategy_imports:evaluate", "ModuleNotFoundError"),
    ],
)
def test_a_spec_that_names_no_callable_is_a_clear_error(
    user_dir: Path, spec: str, message: str
) -> None:
    with pytest.raises(StrategySpecError) as raised:
        load_strategy(spec)

    assert message in str(raised.value)


def test_a_module_in_the_current_directory_loads_and_names_the_strategy(user_dir: Path) -> None:
    evaluate = load_strategy("user_strategy_ok:evaluate")

    assert evaluate.__module__ == "user_strategy_ok"
    assert default_name("my_strategies.momentum:evaluate") == "momentum"


def _strategies(data_dir: Path) -> set[str]:
    """The strategy names of the positions the run's journal created."""
    with sqlite3.connect(data_dir / "journal.sqlite") as db:
        rows = db.execute("select payload from events where kind = 'PositionCreated'")
        return {json.loads(payload)["strategy"] for (payload,) in rows}


def _feed(tmp_path: Path) -> Path:
    feed = tmp_path / "feed.jsonl"
    write_feed(generate_feed(seed=3, markets=1, updates_per_market=40), feed)
    return feed


def test_run_trades_with_the_users_function_and_a_bad_spec_is_one_line(
    user_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = _feed(user_dir)
    base = ["run", "--feed", str(feed), "--speed", "0", "--quiet", "--no-zmq", "--no-metrics"]

    assert main([*base, "--data-dir", "a", "--strategy", "user_strategy_ok:evaluate"]) == 0
    capsys.readouterr()
    assert sys.modules["user_strategy_ok"].CALLS  # type: ignore[attr-defined]
    assert _strategies(user_dir / "a") == {"user_strategy_ok"}

    assert main([*base, "--data-dir", "b", "--strategy", "user_strategy_ok:nope"]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "tradeactors: bad --strategy: module 'user_strategy_ok' has no attribute 'nope'"
    ]


def test_a_config_files_strategy_table_chooses_the_function_and_its_name(
    user_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = _feed(user_dir)
    config = user_dir / "run.toml"
    config.write_text(
        f'data_dir = "{user_dir / "data"}"\nspeed = 0\nquiet = true\n'
        f'[venue]\nfeed = "{feed}"\n[endpoints]\nzmq = false\nmetrics = false\n'
        '[strategy]\npath = "user_strategy_ok:evaluate"\nname = "mine"\n',
        encoding="utf-8",
    )

    assert main(["run", "--config", str(config)]) == 0
    capsys.readouterr()
    assert sys.modules["user_strategy_ok"].CALLS  # type: ignore[attr-defined]
    assert _strategies(user_dir / "data") == {"mine"}

    config.write_text('[strategy]\npath = "not a spec"\n', encoding="utf-8")
    assert main(["run", "--config", str(config), "--no-zmq", "--no-metrics"]) == 2
    assert "tradeactors: bad --strategy: 'not a spec'" in capsys.readouterr().out
