"""A throwaway PostgreSQL server for the tests, from the system's own packages.

``initdb`` and ``pg_ctl`` (Debian's ``/usr/lib/postgresql/*/bin``, else on the PATH) make a
cluster in a temporary directory, listening on 127.0.0.1 only, on a free port. It runs with
``fsync`` off: the tests kill clients, never the server, and must stay fast. initdb refuses
to run as root, so as root (CI) the server runs as the ``postgres`` user. Without the
binaries the tests that need a server are skipped, except where ``TRADEACTORS_NEED_POSTGRES``
is set (``.ci/run``): there a missing server is a failure, never a silent skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REQUIRED_ENV = "TRADEACTORS_NEED_POSTGRES"
_INITDB = ("-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
_SETTINGS = ("fsync=off", "full_page_writes=off", "max_connections=200")


class NoPostgresError(Exception):
    """No ``initdb`` on this machine: install the ``postgresql`` package."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    initdb = found[-1] if found else shutil.which("initdb")
    if initdb is None:
        raise NoPostgresError("no initdb found: apt-get install postgresql")
    return Path(initdb).parent


def _version(path: str) -> int:
    return int(Path(path).parent.parent.name.split(".")[0])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """A running server for the block; yields the URL of its ``postgres`` database."""
    bin_dir = _bin_dir()
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="tradeactors-pg-"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        postgres = pwd.getpwnam("postgres")
        os.chown(root, postgres.pw_uid, postgres.pw_gid)
    data, port = root / "data", _free_port()
    options = " ".join(
        [f"-p {port}", "-c listen_addresses=127.0.0.1", f"-k {root}"]
        + [f"-c {setting}" for setting in _SETTINGS]
    )
    initdb, pg_ctl = [*as_user, bin_dir / "initdb"], [*as_user, bin_dir / "pg_ctl", "-D", data]
    try:
        _run(*initdb, "-D", data, *_INITDB)
        _run(*pg_ctl, "-l", root / "log", "-o", options, "-w", "-t", "30", "start")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run(*pg_ctl, "-m", "immediate", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(*command: str | Path) -> None:
    subprocess.run(command, check=True, capture_output=True)
