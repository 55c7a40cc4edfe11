"""A ladder's rungs as jobs of any backend (``JobBackend``: the local pool, or a Ray cluster).

A ladder does not put all its rungs in the queue at once: that would put one visitor's eight
trainings ahead of everyone who pressed Train a moment later. It keeps ``parallel`` of them in
the pool (the room the pool had when the ladder started, at least one); each finished rung lets
the next one in, so other visitors' jobs interleave. Stop stops the rungs in the pool and starts no
more. Rungs run smallest first: points appear on the chart from the cheap end.

No Streamlit, no TensorFlow: the page (``bertviz_ui.ladder``) and the command line (``cli.ladder``)
both climb through this.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bertviz_core.errors import UserError
from bertviz_core.jobs.backend import JobBackend
from bertviz_core.jobs.protocol import DONE, FAILED, FINISHED, STOPPED, Job, JobRequest, JobSnapshot
from bertviz_core.ladder import LadderPlan, Rung

WAITING = "waiting"  # not in the pool yet
MAX_PARALLEL = 4


@dataclass(frozen=True)
class RungState:
    index: int
    rung: Rung
    state: str  # WAITING, or the job's: queued, running, done, failed, stopped
    snapshot: JobSnapshot | None  # the job's, once it was submitted
    error: str | None  # why it has no result (refused, failed, stopped)


@dataclass(frozen=True)
class LadderSnapshot:
    rungs: tuple[RungState, ...]
    stop_requested: bool

    @property
    def is_over(self) -> bool:
        return all(rung.state in FINISHED for rung in self.rungs)

    @property
    def done(self) -> list[RungState]:
        return [rung for rung in self.rungs if rung.state == DONE]

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for rung in self.rungs:
            found[rung.state] = found.get(rung.state, 0) + 1
        return found


class LadderRun:
    """Climb ``plan``: ``request_for(index, rung)`` makes each rung's request when its turn comes
    (and may raise ``UserError``: that rung fails with the sentence), ``on_finished(index, job)`` is
    called in the pool's thread when one ends (to keep its model), before the next is let in; with
    ``job`` None for a rung the pool refused."""

    def __init__(
        self,
        backend: JobBackend,
        plan: LadderPlan,
        request_for: Callable[[int, Rung], JobRequest],
        on_finished: Callable[[int, Job | None], None] | None = None,
        parallel: int = 1,
    ) -> None:
        self.backend, self.plan = backend, plan
        self.request_for, self.on_finished = request_for, on_finished
        self.parallel = max(1, min(parallel, MAX_PARALLEL))
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._errors: dict[int, tuple[str, str]] = {}  # a rung that never became a job: state, why
        self._next = 0
        self._stop_requested = False

    @staticmethod
    def room(backend: JobBackend) -> int:
        """How many rungs may run side by side now: the pool's free workers, at least one."""
        status = backend.status()
        return max(1, min(MAX_PARALLEL, status.max_workers - status.busy - status.queued))

    def start(self) -> LadderRun:
        for _ in range(self.parallel):
            self._submit_next()
        return self

    def stop(self) -> None:
        """Stop the rungs in the pool (a running one keeps its best epoch) and start no more."""
        with self._lock:
            self._stop_requested = True
            jobs = list(self._jobs.values())
            for index in range(self._next, len(self.plan.rungs)):
                self._errors[index] = (STOPPED, "Stopped before it started.")
            self._next = len(self.plan.rungs)
        for job in jobs:
            job.stop()

    def snapshot(self) -> LadderSnapshot:
        with self._lock:
            jobs, errors, stop = dict(self._jobs), dict(self._errors), self._stop_requested
        rungs = []
        for index, rung in enumerate(self.plan.rungs):
            job = jobs.get(index)
            snapshot = job.snapshot() if job is not None else None
            if snapshot is not None:
                state, error = snapshot.state, snapshot.error
            elif index in errors:
                state, error = errors[index]
            else:
                state, error = WAITING, None
            rungs.append(RungState(index, rung, state, snapshot, error))
        return LadderSnapshot(tuple(rungs), stop)

    def wait(self, timeout: float | None = None) -> LadderSnapshot:
        """Block until every rung has ended (the command line), or ``timeout`` seconds passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        snapshot = self.snapshot()
        while not snapshot.is_over and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.2)
            snapshot = self.snapshot()
        return snapshot

    # --- inside ----------------------------------------------------------------------------------------
    def _submit_next(self) -> None:
        while True:
            with self._lock:
                if self._stop_requested or self._next >= len(self.plan.rungs):
                    return
                index = self._next
                self._next += 1
            try:
                job = self.backend.submit(self.request_for(index, self.plan.rungs[index]))
            except UserError as error:
                with self._lock:
                    self._errors[index] = (FAILED, str(error))
                if self.on_finished is not None:
                    self.on_finished(index, None)  # whatever ``request_for`` prepared can go
                continue  # this rung cannot run; the next may
            with self._lock:
                self._jobs[index] = job
            job.add_done_callback(lambda ended, index=index: self._ended(index, ended))
            return

    def _ended(self, index: int, job: Job) -> None:
        if self.on_finished is not None:
            self.on_finished(index, job)
        # What follows, not from here: a pool may finish a job while holding its own lock, and
        # submitting or stopping a job takes it.
        # A rung stopped by Stop, or by the pool (its visitor left, a time limit, the server
        # closing): the rest would only be stopped in turn.
        follow = self.stop if job.state == STOPPED else self._submit_next
        threading.Thread(target=follow, name="ladder-next", daemon=True).start()
