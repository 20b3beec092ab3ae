"""``tradeactors run --config FILE``: the file's settings, the command line's flags on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridges.feed_codec import write_feed
from tools.cli import build_parser, command_flags, main
from tools.feedgen import generate_feed
from tools.run_config import RunConfigError, expand, flags_from

pytestmark = pytest.mark.timeout(60)

RUN_FLAGS = command_flags(build_parser(), "run")


def parsed(tmp_path: Path, text: str, *argv: str) -> object:
    config = tmp_path / "run.toml"
    config.write_text(text, encoding="utf-8")
    return build_parser().parse_args(expand(["run", "--config", str(config), *argv], RUN_FLAGS))


def test_the_files_settings_become_the_runs_and_a_flag_given_again_wins(tmp_path: Path) -> None:
    text = """
data_dir = "from-file"
speed = 0
quiet = true

[venue]
name = "polymarket"
assets = ["111", "222"]
ws_url = "ws://127.0.0.1:9"

[risk]
max_order_size = "100"
max_open_orders = 4

[endpoints]
commands = "tcp://127.0.0.1:7001"
zmq = false
metrics = true

[journal]
durability = "full"
"""
    args = parsed(tmp_path, text, "--data-dir", "from-flag")

    assert args.data_dir == "from-flag"  # type: ignore[attr-defined]
    assert args.speed == 0.0  # type: ignore[attr-defined]
    assert args.quiet is True  # type: ignore[attr-defined]
    assert (args.venue, args.assets) == ("polymarket", "111,222")  # type: ignore[attr-defined]
    assert args.max_order_size == "100"  # type: ignore[attr-defined]
    assert args.max_open_orders == "4"  # type: ignore[attr-defined]
    assert args.commands_endpoint == "tcp://127.0.0.1:7001"  # type: ignore[attr-defined]
    assert args.no_zmq is True  # type: ignore[attr-defined]
    assert args.no_metrics is False  # type: ignore[attr-defined]
    assert args.durability == "full"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"dat_dir": "x"}, "unknown key 'dat_dir'"),
        ({"venue": {"nmae": "sim"}}, "[venue] nmae: unknown key (known: name, feed"),
        ({"venue": "sim"}, "[venue] must be a table"),
        ({"risk": {"max_position": 0.5}}, 'write money as a string ("0.5")'),
        ({"quiet": "yes"}, "quiet: must be true or false"),
        ({"speed": True}, "speed: must be a value"),
        ({"venue": {"assets": [1, 2]}}, "a list holds strings"),
    ],
)
def test_a_setting_the_runtime_does_not_know_is_a_clear_error(
    document: dict[str, object], message: str
) -> None:
    with pytest.raises(RunConfigError) as raised:
        flags_from(document, where="run.toml")

    assert message in str(raised.value)


def test_a_config_run_replays_its_feed_and_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "feed.jsonl"
    write_feed(generate_feed(seed=3, markets=1, updates_per_market=20), feed)
    config = tmp_path / "run.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\nspeed = 0\nquiet = true\n'
        f'[venue]\nfeed = "{feed}"\n[endpoints]\nzmq = false\nmetrics = false\n',
        encoding="utf-8",
    )

    assert main(["run", "--config", str(config)]) == 0
    assert "feed records replayed" in capsys.readouterr().out

    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "tradeactors: bad config: cannot read" in capsys.readouterr().out
    config.write_text("speed = = 0", encoding="utf-8")
    assert main(["run", "--config", str(config)]) == 2
    assert "is not TOML" in capsys.readouterr().out
    config.write_text('[risk]\nmax_position = "ten"\n', encoding="utf-8")
    assert main(["run", "--config", str(config), "--no-zmq", "--no-metrics"]) == 2
    assert "max_position must be a number" in capsys.readouterr().out
