"""Shared fixtures: every test leaves no actor running behind it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from actors.journal import JournalActor
from bridges.journal_memory import MemoryJournal


@pytest.fixture(autouse=True)
def _stop_all_actors() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def journal_stores() -> MemoryJournal:
    """A journal in memory, for tests that need one but not its file (nor a crash)."""
    return MemoryJournal()


@pytest.fixture
def journal(journal_stores: MemoryJournal) -> pykka.ActorRef[Any]:
    """A real JournalActor, on the in-memory journal ``journal_stores``."""
    return JournalActor.start(journal_stores.writer())
