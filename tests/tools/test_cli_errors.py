"""Mistakes a newcomer makes, each one clear line and an exit status, never a traceback;
through the console script, as typed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)


def tradeactors(*argv: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "tradeactors"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "tools.main"]
    return subprocess.run(
        [*command, *argv], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("argv", "status", "says"),
    [
        (["run", "--feed", "/no/such.jsonl", "--no-zmq", "--no-metrics"], 2,
         "cannot read the feed /no/such.jsonl: No such file or directory"),
        (["run", "--log-level", "verbose"], 2, "'verbose' is not one of debug, info"),
        (["status", "--endpoint", "127.0.0.1:41550"], 2, "names no transport"),
        (["run", "--commands-endpoint", "localhost:1"], 2, "names no transport"),
        (["status", "--endpoint", "tcp://127.0.0.1:9", "--timeout", "0.2"], 3,
         "no answer from tcp://127.0.0.1:9 in 0.2 s"),
    ],
)  # fmt: skip
def test_a_mistake_is_one_clear_line(
    argv: list[str], status: int, says: str, tmp_path: Path
) -> None:
    done = tradeactors(*argv, *(["--data-dir", str(tmp_path)] if argv[0] == "run" else []))

    assert done.returncode == status, done.stdout + done.stderr
    assert says in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_public_key_as_client_key_and_json_errors(tmp_path: Path) -> None:
    assert tradeactors("keygen", str(tmp_path)).returncode == 0
    public = str(tmp_path / "server.key")

    wrong_key = tradeactors("status", "--server-key", public, "--client-key", public)
    scripted = tradeactors("status", "--endpoint", "tcp://127.0.0.1:9", "--timeout", "0.2",
                           "--json")  # fmt: skip

    assert wrong_key.returncode == 2
    assert "holds a public key only" in wrong_key.stdout
    assert "Traceback" not in wrong_key.stdout + wrong_key.stderr
    assert scripted.returncode == 3
    assert json.loads(scripted.stdout)["error"]["code"] == "no_answer"


def test_client_commands_wait_two_seconds_by_default() -> None:
    done = tradeactors("status", "--help")

    assert "(default: 2.0)" in done.stdout
    assert "(default: tcp://127.0.0.1:41550)" in done.stdout
