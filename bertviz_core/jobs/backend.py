"""What every job backend offers and does the same way.

``JobBackend`` is the interface a page holds (``bertviz_ui.jobs.pool``): the local pool of worker
processes (``local``) and the Ray cluster (``ray_backend``) both implement it by extending
``BackendBase``, which owns what they share: the refusal of a job that could never fit, the submit
bookkeeping (the handle, the job log, the queue's estimates), which visitors have left for long
enough to lose their jobs, which jobs are over their time limit, and the places in line.

Both backends put interactive jobs first and the rest in order of arrival, and estimate each
queued job's wait from what the running jobs have left and what the jobs ahead are expected to
take, over the backend's slots; a running job's own last word on its remaining seconds wins over
its expected length.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psutil

from bertviz_core.errors import MemoryGuardError
from bertviz_core.jobs.protocol import Batch, Job, JobRequest, WarmUp
from bertviz_core.text import MIB

TICK_SECONDS = 0.25  # a dispatcher's loop: messages, stops and admissions are this fresh
OWNER_GRACE_SECONDS = 5.0  # a visitor gone this long (a closed tab, not a blip) loses their jobs
STOP_GRACE_SECONDS = 60.0  # a stopping job finishes its batch and keeps its best epoch; then it is ended
SHUTTING_DOWN = "The app is shutting down; try again in a moment."


@dataclass(frozen=True)
class PoolStatus:
    """A backend at a glance, for the page's queue line and for the benchmarks."""

    workers: int
    busy: int
    queued: int
    max_workers: int
    budget_mb: int
    server_mb: float
    workers_mb: float


class JobBackend(Protocol):
    """What pages and the command line use, whichever backend runs the jobs."""

    def submit(self, request: JobRequest) -> Job:
        """Queue a job, or raise ``MemoryGuardError`` at once when it could never run here."""
        ...

    def prewarm(self, runtime_mb: int, ahead: WarmUp | None = None) -> None:
        """Get a worker ready ahead of a likely job (or do nothing, where that cannot help)."""
        ...

    def status(self) -> PoolStatus: ...

    def budget_mb(self) -> int: ...

    def shutdown(self, timeout: float = 10.0) -> None: ...


def queue_order(jobs: list[Job]) -> list[Job]:
    """Interactive jobs first, then in order of arrival (``sorted`` is stable)."""
    return sorted(jobs, key=lambda job: not job.request.interactive)


def seconds_left(job: Job) -> float:
    """A running job's remaining seconds: its own last word (a ``Batch`` event's estimate), or what
    its request expected minus the time it has run."""
    for event in reversed(job.events):
        if isinstance(event, Batch) and event.remaining_seconds is not None:
            return max(0.0, float(event.remaining_seconds))
    elapsed = time.time() - (job.started or time.time())
    return max(0.0, job.request.expected_seconds - elapsed)


def estimate_waits(running: list[Job], queued: list[Job], slots: int) -> None:
    """Set each running job's seconds left and each queued job's place and seconds until it starts
    (``queued`` in queue order), over ``slots`` jobs at once."""
    free_at = []
    for job in running:
        left = seconds_left(job)
        job.set_wait(left)
        free_at.append(left)
    free_at += [0.0] * max(0, slots - len(free_at))
    free_at.sort()
    for place, job in enumerate(queued, start=1):
        start = free_at.pop(0) if free_at else 0.0
        job.mark_queued(place, start)
        free_at.append(start + job.request.expected_seconds)
        free_at.sort()


class JobLog:
    """Optional JSON lines, one per job event (``BERTVIZ_JOBS_LOG``): for operators and benchmarks.

    Only ids, kinds, states, times and sizes: never a visitor's data, and no sentence beyond the
    job's own error sentence.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()

    def write(self, event: str, job: Job, **fields) -> None:
        if self.path is None:
            return
        line = {
            "time": round(time.time(), 3),
            "event": event,
            "job": job.id,
            "kind": job.request.kind,
            **fields,
        }
        with self._lock, contextlib.suppress(OSError), self.path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")

    def finished(self, job: Job) -> None:
        """A done callback: it reads the job's own fields (its snapshot is still settling)."""
        result = job.result or {}
        stopped = bool(result.get("stopped") or result.get("metrics", {}).get("stopped_by_user"))
        seconds = round((job.finished or time.time()) - (job.started or job.submitted), 2)
        self.write("finished", job, state=job.state, error=job.error, seconds=seconds, stopped=stopped)


class BackendBase:
    """The part of a backend that does not depend on where jobs run.

    A subclass provides ``_refusal`` (why a request could never run, or None), ``_enqueue`` (take
    the new job, under the lock), ``_on_stop`` (a visitor pressed Stop) and ``_wake`` (its
    dispatcher should look now); its dispatcher calls ``_owners_gone`` and ``_over_time_limit`` once
    a second and stops what they name in its own way.
    """

    def __init__(self, owner_alive: Callable[[str], bool] | None, log_path: str | Path | None) -> None:
        self.owner_alive = owner_alive
        self._lock = threading.Lock()
        self._log = JobLog(log_path)
        self._closed = False
        self._owner_gone_since: dict[str, float] = {}
        self._server = psutil.Process()

    # --- what a subclass provides --------------------------------------------------------------------
    def _refusal(self, request: JobRequest) -> str | None:
        raise NotImplementedError

    def _enqueue(self, job: Job) -> None:
        raise NotImplementedError

    def _on_stop(self, job: Job) -> None:
        raise NotImplementedError

    def _wake(self) -> None:
        raise NotImplementedError

    # --- shared ------------------------------------------------------------------------------------
    def submit(self, request: JobRequest) -> Job:
        """Queue a job; it starts as soon as a worker and the memory for it are free.

        Raises ``MemoryGuardError`` at once when the job could not run even on an idle server.
        """
        refusal = self._refusal(request)
        if refusal:
            raise MemoryGuardError(refusal)
        job = Job(request, on_stop=self._on_stop)
        job.add_done_callback(self._log.finished)
        with self._lock:
            if self._closed:
                raise MemoryGuardError(SHUTTING_DOWN)
            self._enqueue(job)
            self._log.write("queued", job, place=job.place_in_line, memory_mb=request.memory_mb)
        self._wake()
        return job

    def _server_mb(self) -> float:
        try:
            return self._server.memory_info().rss / MIB
        except psutil.Error:
            return 0.0

    def _owners_gone(self, now: float, jobs: Iterable[Job]) -> list[Job]:
        """Of ``jobs`` (those not over), the ones whose visitor has had no tab connected for
        ``OWNER_GRACE_SECONDS``: a closed tab, not a reconnect's blip."""
        if self.owner_alive is None:
            return []
        jobs = list(jobs)
        owners = {job.request.owner for job in jobs} - {""}
        gone: set[str] = set()
        for owner in owners:
            if self.owner_alive(owner):
                self._owner_gone_since.pop(owner, None)
            elif now - self._owner_gone_since.setdefault(owner, now) >= OWNER_GRACE_SECONDS:
                gone.add(owner)
        for owner in set(self._owner_gone_since) - owners:
            del self._owner_gone_since[owner]
        return [job for job in jobs if job.request.owner in gone]

    @staticmethod
    def _over_time_limit(jobs: Iterable[Job]) -> list[Job]:
        """Of ``jobs``, those that have run longer than their request allows (the clock starts when
        the worker begins the job, not when one is being started for it)."""
        now = time.time()
        return [
            job
            for job in jobs
            if job.started is not None
            and not job.stop_requested
            and now - job.started > job.request.time_limit_seconds
        ]
