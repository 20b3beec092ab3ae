"""Polymarket credentials: the signing key and the CLOB API key, from the environment or a
file only its owner can read; never in a log, a repr or an error message.

The environment: ``POLYMARKET_PRIVATE_KEY``, ``POLYMARKET_API_KEY``,
``POLYMARKET_API_SECRET``, ``POLYMARKET_API_PASSPHRASE`` and optionally
``POLYMARKET_FUNDER`` (the proxy wallet that holds the funds). A file holds the same names
as ``NAME=value`` lines (``#`` comments allowed); one that its group or others may read is
refused, as ssh refuses such a key.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

import attrs

NAMES = {
    "private_key": "POLYMARKET_PRIVATE_KEY",
    "api_key": "POLYMARKET_API_KEY",
    "api_secret": "POLYMARKET_API_SECRET",
    "api_passphrase": "POLYMARKET_API_PASSPHRASE",
}
FUNDER = "POLYMARKET_FUNDER"


class CredentialsError(Exception):
    """Raised by ``load`` when credentials are missing or kept where others can read them;
    the message names the variable or file, never a value."""


@attrs.frozen(kw_only=True)
class PolymarketCredentials:
    private_key: str = attrs.field(repr=False)
    api_key: str = attrs.field(repr=False)
    api_secret: str = attrs.field(repr=False)
    api_passphrase: str = attrs.field(repr=False)
    funder: str | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never be written anywhere (a test checks the logs for them)."""
        return (self.private_key, self.api_key, self.api_secret, self.api_passphrase)


def load(path: Path | None = None, env: Mapping[str, str] | None = None) -> PolymarketCredentials:
    """From the file ``path`` if given, else from the environment."""
    values = read_file(path) if path is not None else dict(os.environ if env is None else env)
    where = f"the file {path}" if path is not None else "the environment"
    missing = [name for name in NAMES.values() if not values.get(name)]
    if missing:
        raise CredentialsError(f"{where} does not set {', '.join(missing)}")
    return PolymarketCredentials(
        **{field: values[name] for field, name in NAMES.items()},
        funder=values.get(FUNDER) or None,
    )


def read_file(path: Path) -> dict[str, str]:
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise CredentialsError(
            f"cannot read the credentials file {path}: {error.strerror}"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"the credentials file {path} is readable by others (mode {stat.S_IMODE(mode):o}); "
            f"make it readable by its owner alone: chmod 600 {path}"
        )
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.partition("=")
        if not equals:
            raise CredentialsError(f"{path} line {number}: expected NAME=value")
        values[name.strip()] = value.strip()
    return values
