"""FairQueue without sockets: clients served in turn, each bounded."""

from __future__ import annotations

import threading

import pytest

from bridges.zmq_fair_queue import FairQueue

pytestmark = pytest.mark.timeout(10)


def test_clients_are_served_in_turn_whatever_one_of_them_queued() -> None:
    queue: FairQueue[str] = FairQueue(per_client=100)
    for number in range(5):
        assert queue.put(b"flood", f"f{number}")
    assert queue.put(b"calm", "c0")
    taken = [queue.get() for _ in range(6)]
    assert [item for _, item in taken if item] == ["f0", "c0", "f1", "f2", "f3", "f4"]


def test_a_client_past_its_bound_is_refused_until_one_of_its_requests_is_done() -> None:
    queue: FairQueue[int] = FairQueue(per_client=2)
    assert queue.put(b"a", 1)
    assert queue.put(b"a", 2)
    assert not queue.put(b"a", 3)
    assert queue.put(b"b", 1)  # another client is not held to a's bound
    assert queue.get() == (b"a", 1)
    assert not queue.put(b"a", 3)  # taken is not answered: still counted
    queue.done(b"a")
    assert queue.put(b"a", 3)
    assert queue.pending(b"a") == 2


def test_close_wakes_every_waiting_worker_with_none() -> None:
    queue: FairQueue[int] = FairQueue(per_client=1)
    results: list[object] = []
    workers = [threading.Thread(target=lambda: results.append(queue.get())) for _ in range(3)]
    for worker in workers:
        worker.start()
    queue.close()
    for worker in workers:
        worker.join(timeout=5)
    assert results == [None, None, None]
