"""Every command line README.md shows is one the CLI takes; the cheap ones run for real,
through the installed console script, as a newcomer would type them."""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from bench import suite
from tools.cli import build_parser

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PLACEHOLDERS = {
    "FEED.jsonl.gz": "feed.jsonl.gz",
    "DAY.jsonl.gz": "day.jsonl.gz",
    "YES_TOKEN,NO_TOKEN": "111,222",
    "DIR": "keys",
    "run.toml": "run.toml",
}


def _blocks() -> list[str]:
    return re.findall(r"```(?:bash)?\n(.*?)```", README, flags=re.DOTALL)


def readme_commands() -> list[str]:
    """Each ``tradeactors`` command line of the README: in code blocks and in running text."""
    lines = [line for block in _blocks() for line in block.splitlines()]
    inline = re.findall(r"`(tradeactors [^`]+)`", README)
    commands = []
    for line in [*lines, *inline]:
        command = line.split("#", 1)[0].strip().removeprefix(".venv/bin/")
        if command.startswith("tradeactors "):
            for placeholder, value in PLACEHOLDERS.items():
                command = command.replace(placeholder, value)
            commands.append(command)
    return commands


COMMANDS = readme_commands()


def test_the_readme_shows_the_commands_a_newcomer_needs() -> None:
    firsts = {shlex.split(command)[1] for command in COMMANDS}
    assert {"run", "feedgen", "bench", "status", "watch", "record"} <= firsts


@pytest.mark.parametrize("command", COMMANDS)
def test_each_readme_command_line_is_one_the_cli_takes(command: str) -> None:
    argv = shlex.split(command)[1:]
    if argv[0] == "bench":
        parser = argparse.ArgumentParser(prog="tradeactors bench")
        suite.add_arguments(parser)
        parser.parse_args(argv[1:])
        return
    build_parser().parse_args(argv)  # exits 2 on an option it does not know


def test_each_readme_benchmark_module_exists() -> None:
    modules = re.findall(r"python -m (bench(?:\.\w+)?)", README)
    assert modules
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ".venv/bin/pip install -q -e '.[test]'" in README
    assert ".venv/bin/pip install -q -e '.[test]'" in ci
    readme_pytest = re.search(r"\.venv/bin/python -m pytest[^\n`]*", README)
    assert readme_pytest is not None
    assert readme_pytest.group(0).strip() in ci


def _console_script() -> list[str]:
    script = Path(sys.executable).parent / "tradeactors"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tools.cli"]


def test_the_readme_feedgen_and_help_lines_run_for_real(tmp_path: Path) -> None:
    (feedgen,) = [c for c in COMMANDS if c.startswith("tradeactors feedgen")]
    argv = shlex.split(feedgen)[1:]
    argv[argv.index("--out") + 1] = str(tmp_path / "feed.jsonl.gz")

    done = subprocess.run(
        [*_console_script(), *argv], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout
    assert (tmp_path / "feed.jsonl.gz").stat().st_size > 0
    bench_help = subprocess.run(
        [*_console_script(), "bench", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bench_help.returncode == 0
    assert "--quick" in bench_help.stdout


def test_version_help_defaults_and_an_owner_only_secret_key(tmp_path: Path) -> None:
    script = _console_script()

    version = subprocess.run([*script, "--version"], capture_output=True, text=True, check=False)
    run_help = subprocess.run(
        [*script, "run", "--help"], capture_output=True, text=True, check=False
    )
    keygen = subprocess.run(
        [*script, "keygen", str(tmp_path / "keys")], capture_output=True, check=False
    )

    assert version.returncode == 0
    assert re.fullmatch(r"tradeactors \d+\.\d+\.\d+\n", version.stdout)
    assert "(default: 30.0)" in run_help.stdout
    assert "(default: tradeactors-data)" in run_help.stdout
    assert keygen.returncode == 0
    assert (tmp_path / "keys" / "server.key_secret").stat().st_mode & 0o777 == 0o600
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
