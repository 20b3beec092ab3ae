"""Polymarket's Gamma API on 127.0.0.1, for tests: ``GET /markets?slug=`` answers a JSON array
of markets in the documented shape (``clobTokenIds`` and ``outcomes`` as JSON-encoded
strings, ``endDate`` in ISO 8601)."""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SHUTDOWN_POLL_S = 0.02
"""How often a local HTTP server's loop looks for ``shutdown()``: the standard library's
0.5 s made every test that stops one wait half a second."""


def gamma_market(slug: str, tokens: tuple[str, str], end_s: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(int(_digest(slug)[:8], 16)),
        "slug": slug,
        "question": f"Bitcoin Up or Down? ({slug})",
        "conditionId": f"0x{_digest(slug)}",
        "clobTokenIds": json.dumps(list(tokens)),
        "outcomes": json.dumps(["Up", "Down"]),
        "endDate": datetime.fromtimestamp(end_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "active": True,
        "closed": False,
        **extra,
    }


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@contextmanager
def gamma_server(markets: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """The base URL of a server answering from ``markets`` (slug → market, or raw bytes to
    send as the body), and the slugs asked for, in order."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlparse(self.path)
            slug = urllib.parse.parse_qs(url.query).get("slug", [""])[0]
            asked.append(slug)
            if url.path != "/markets":
                self.send_error(404)
                return
            found = markets.get(slug)
            body = (
                found
                if isinstance(found, bytes)
                else json.dumps([found] if found is not None else []).encode()
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
