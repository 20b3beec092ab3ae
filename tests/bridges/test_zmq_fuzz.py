"""The hostile-frame fuzz (``bench.zmq_fuzz``) against the real server, briefly: every frame
answered with a known code, the edge and the core never restarted (issue 14, done-when).
``python -m bench.zmq_fuzz`` is the long run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.zmq_fuzz import FuzzClient, FuzzServer, fuzz

pytestmark = pytest.mark.timeout(120)


def test_hostile_frames_each_get_a_known_answer_and_nothing_restarts(tmp_path: Path) -> None:
    server = FuzzServer(tmp_path)
    client = FuzzClient(server.endpoint)
    try:
        fuzz(client, frames=300, random_seed=14)
        assert client.sent == 300
        assert server.restarts() == (1, 0)  # core generation 1, no edge restart
        assert client.client.request("ping")["pong"] is True
        assert {"bad_request", "bad_json", "bad_args", "frame_too_large"} <= set(client.codes)
    finally:
        client.close()
        server.close()
