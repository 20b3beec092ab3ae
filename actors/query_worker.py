"""A worker thread for paced broker queries, so the actor that wants them never blocks.

Broker queries are slow and, under the rate limit, wait their turn for seconds. An actor
that made them in its handler would stop answering (and could not even be stopped) for
that long. The reconciler hands each job to this worker instead and gets the answer back
as a message. Stopping the worker wakes it from any wait at once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import attrs
import structlog

from actors.broker import BrokerError
from actors.query_pacer import QueryPacer

_log = structlog.get_logger("tradeactors", actor="query_worker")

Job = Callable[[QueryPacer], Any]
"""Runs queries through the pacer it is given; returns the answer."""


@attrs.frozen(kw_only=True, slots=True)
class JobDone:
    """The answer to job ``job_id``; ``context`` is what the submitter attached to it."""

    job_id: int
    context: Any
    answer: Any


@attrs.frozen(kw_only=True, slots=True)
class JobFailed:
    """Job ``job_id`` failed at the broker: nothing may be concluded from it."""

    job_id: int
    context: Any
    error: BrokerError


class _StoppedError(Exception):
    """The worker was stopped while a job waited."""


class QueryWorker:
    """Runs submitted jobs one at a time, paced, and hands each result to ``deliver``."""

    def __init__(self, pacer: QueryPacer, deliver: Callable[[object], None]) -> None:
        self.pacer = pacer
        self.deliver = deliver
        self._stop = threading.Event()
        self.pacer.sleep = self._sleep
        self._jobs: queue.Queue[tuple[int, Any, Job] | None] = queue.Queue()
        self._next_id = 0
        self._thread = threading.Thread(target=self._run, name="broker-queries", daemon=True)
        self._thread.start()

    def submit(self, job: Job, context: Any) -> int:
        """Queue ``job``; its ``JobDone`` or ``JobFailed`` carries ``context`` back."""
        self._next_id += 1
        self._jobs.put((self._next_id, context, job))
        return self._next_id

    @property
    def backlog(self) -> int:
        return self._jobs.qsize()

    def stop(self) -> None:
        """Wake any wait and end the thread; queued jobs are dropped."""
        self._stop.set()
        self._jobs.put(None)
        self._thread.join(timeout=5)

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _StoppedError

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._jobs.get()
            if item is None:
                return
            job_id, context, job = item
            try:
                answer = job(self.pacer)
            except _StoppedError:
                return
            except BrokerError as error:
                self.deliver(JobFailed(job_id=job_id, context=context, error=error))
                continue
            except Exception as error:  # a bug in a job must not end the worker
                _log.exception("query_job_crashed", job_id=job_id)
                failure = BrokerError(f"query job crashed: {type(error).__name__}: {error}")
                self.deliver(JobFailed(job_id=job_id, context=context, error=failure))
                continue
            self.deliver(JobDone(job_id=job_id, context=context, answer=answer))
