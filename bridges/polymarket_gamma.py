"""Polymarket's public market metadata (the Gamma API): a market's tokens and end time by slug.

``GET {base}/markets?slug=SLUG`` answers a JSON array of markets. A market's
``clobTokenIds`` and ``outcomes`` are JSON arrays *encoded as strings* (``"[\\"123\\",
\\"456\\"]"``), paired by position; ``endDate`` is an ISO 8601 time; ``conditionId`` names the
market on the CLOB. A binary market's first token is its YES leg (``Yes``, ``Up``), the
second its NO leg.

A series of consecutive markets (seed 000: BTC up/down windows) is a slug template with
the window's start in Unix seconds, ``btc-updown-15m-{start}``, and the window's length:
the market of a moment is the window that holds it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

PUBLIC_GAMMA = "https://gamma-api.polymarket.com"
TIMEOUT_S = 10.0
MAX_BODY_BYTES = 8 * 1024 * 1024
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class GammaError(Exception):
    """Market metadata that could not be had, or is not what the API documents."""


@attrs.frozen(kw_only=True)
class GammaMarket:
    slug: str
    condition_id: str
    tokens: tuple[str, str]
    """YES first."""
    outcomes: tuple[str, str]
    end_ns: int


@attrs.frozen(kw_only=True)
class MarketSeries:
    """Consecutive markets: ``template`` with ``{start}``, windows of ``period_s`` seconds."""

    template: str = attrs.field()
    period_s: int = attrs.field()

    @template.validator
    def _has_start(self, _attribute: object, value: str) -> None:
        if "{start}" not in value:
            raise ValueError(f"a series template names the window's start: {{start}} in {value!r}")

    @period_s.validator
    def _positive(self, _attribute: object, value: int) -> None:
        if value <= 0:
            raise ValueError(f"a series period is a positive number of seconds, not {value}")

    def slug_at(self, now_ns: int, *, windows_ahead: int = 0) -> str:
        return self.template.format(start=self.start_at(now_ns, windows_ahead=windows_ahead))

    def start_at(self, now_ns: int, *, windows_ahead: int = 0) -> int:
        """The start (Unix seconds) of the window that holds ``now_ns``, or of a later one."""
        seconds = now_ns // 1_000_000_000
        return (seconds // self.period_s + windows_ahead) * self.period_s


Fetch = Callable[[str], bytes]


def http_get(url: str) -> bytes:
    """The body of a GET, refused when it is too big or not a 200."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            body: bytes = response.read(MAX_BODY_BYTES + 1)
    except (urllib.error.URLError, OSError) as error:
        raise GammaError(f"GET {url}: {error}") from error
    if len(body) > MAX_BODY_BYTES:
        raise GammaError(f"GET {url}: more than {MAX_BODY_BYTES} bytes")
    return body


class GammaClient:
    def __init__(self, base_url: str = PUBLIC_GAMMA, *, fetch: Fetch = http_get) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise GammaError(f"the Gamma API is an http(s) URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.fetch = fetch

    def market(self, slug: str) -> GammaMarket:
        url = f"{self.base_url}/markets?{urllib.parse.urlencode({'slug': slug})}"
        try:
            answer = json.loads(self.fetch(url), parse_float=str)
        except ValueError as error:
            raise GammaError(f"GET {url}: not JSON: {error}") from error
        if not isinstance(answer, list):
            raise GammaError(f"GET {url}: expected an array of markets")
        matching = [m for m in answer if isinstance(m, dict) and m.get("slug") == slug]
        if not matching:
            raise GammaError(f"no market with the slug {slug!r}")
        return _market(matching[0])


def _market(raw: dict[str, Any]) -> GammaMarket:
    slug = raw.get("slug")
    tokens = _string_array(raw, "clobTokenIds")
    outcomes = _string_array(raw, "outcomes")
    if len(tokens) != 2 or len(outcomes) != 2:
        raise GammaError(f"market {slug!r} is not binary: {len(tokens)} tokens")
    condition_id = raw.get("conditionId")
    if not isinstance(condition_id, str) or not condition_id:
        raise GammaError(f"market {slug!r} has no conditionId")
    end = raw.get("endDate")
    if not isinstance(end, str):
        raise GammaError(f"market {slug!r} has no endDate")
    try:
        moment = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError as error:
        raise GammaError(f"market {slug!r}: endDate {end!r} is not ISO 8601") from error
    if moment.tzinfo is None:
        raise GammaError(f"market {slug!r}: endDate {end!r} has no time zone")
    end_ns = (moment - EPOCH) // timedelta(microseconds=1) * 1_000
    return GammaMarket(
        slug=str(slug),
        condition_id=condition_id,
        tokens=(tokens[0], tokens[1]),
        outcomes=(outcomes[0], outcomes[1]),
        end_ns=end_ns,
    )


def _string_array(raw: dict[str, Any], key: str) -> list[str]:
    """A JSON array of strings, encoded as a string (as Gamma sends it) or not."""
    value = raw.get(key)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise GammaError(f"{key} is not a JSON array: {value[:80]!r}") from error
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise GammaError(f"{key} is not an array of strings")
    return value
