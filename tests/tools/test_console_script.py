"""The console script: a client command loads the client alone, never the runtime."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(60)

PROBE = """
import sys
from tools.main import main
status = main(["status", "--endpoint", "tcp://127.0.0.1:9", "--timeout", "0.2"])
runtime = ("supervisors.assembly.runtime", "actors.journal", "bridges.simulated_venue")
heavy = [m for m in runtime if m in sys.modules]
print(status, heavy)
"""


def test_a_client_command_imports_no_runtime() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )

    status, heavy = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert heavy == "[]", done.stdout + done.stderr
    assert status != "0"  # nobody answered: an error status, said on one line


def test_every_other_command_still_reaches_the_whole_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.main", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0
    assert "run" in done.stdout
    assert "export" in done.stdout
