"""Shared fixtures: every test leaves no actor running behind it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors.journal import JournalActor
from bridges.journal_sqlite import SqliteJournalStore


@pytest.fixture(autouse=True)
def _stop_all_actors() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def journal(tmp_path: Path) -> pykka.ActorRef[Any]:
    """A real JournalActor on a real SQLite file."""
    return JournalActor.start(SqliteJournalStore(tmp_path / "journal.sqlite"))
