"""What a job is, seen from the web process: a request, its events, the handle that follows it, and
the interface every backend offers.

A ``JobRequest`` is plain data (kind, inputs, the memory it may take, who asked). A backend
(``JobBackend``: the local pool, or Ray) answers with a ``Job``: the one object a page holds, safe to
read from any thread. Its ``snapshot()`` says where the job is (queued with a place in line,
running with its progress events, or finished with a result or a sentence), and ``stop()`` ends
it, keeping what it has (a training keeps its best epoch).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

QUEUED, RUNNING, DONE, FAILED, STOPPED = "queued", "running", "done", "failed", "stopped"
FINISHED = frozenset({DONE, FAILED, STOPPED})

# The kinds of work a worker knows (``tasks.TASKS``).
TRAIN, BUILD, PREDICT, EXPLAIN = "train", "build", "predict", "explain"
PRETRAIN = "pretrain"  # masked words and next sentences on a data set's texts (model.pretraining)
MEASURE_RATE = "measure_rate"  # this machine's matrix-product rate (timing)
LADDER_RUNG = "ladder_rung"  # a training, then its TensorFlow Lite conversions measured (ladder)


# --- what a running job reports ---------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    """What the job is doing before its first batch (loading, building, tracing)."""

    text: str


@dataclass(frozen=True)
class Batch:
    """A training's place within its epochs, and its own estimate of the seconds left."""

    epoch: int
    batch: int
    batches: int
    remaining_seconds: float | None = None

    def share_done(self, epochs: int) -> float:
        return min(1.0, ((self.epoch - 1) * self.batches + self.batch) / max(1, epochs * self.batches))


@dataclass(frozen=True)
class Epoch:
    """A finished epoch: its record as ``model.training`` (or ``model.pretraining``) keeps it."""

    record: dict


Event = Stage | Batch | Epoch


@dataclass(frozen=True)
class JobRequest:
    """One piece of TensorFlow work.

    ``inputs`` is plain data (text, numbers, lists, dicts). ``memory_mb`` is the peak resident memory
    of a worker process running it, TensorFlow included (``memory.job_memory_mb``). ``owner`` is who
    may see it (a browser session); when the owner is gone, the job is stopped. ``interactive`` jobs
    (a prediction, a build to look at) are short and go ahead of trainings in the queue.
    ``expected_seconds`` is what the queue's estimates use until the job reports its own progress.
    ``affinity`` names what a worker may already hold for it (a traced model of its shape,
    ``model.prepared``): the pool gives the job to such a worker when one is idle.
    """

    kind: str
    inputs: dict[str, Any]
    memory_mb: int
    owner: str = ""
    interactive: bool = False
    time_limit_seconds: float = 3600.0
    expected_seconds: float = 60.0
    affinity: str = ""


@dataclass(frozen=True)
class WarmUp:
    """Work a worker may do ahead of a likely job, while the visitor still chooses: ``inputs`` for
    the worker's ``("warm", inputs)`` (``jobs.worker``), the job's ``memory_mb``, and the ``affinity``
    the worker has afterwards."""

    inputs: dict[str, Any]
    memory_mb: int
    affinity: str


@dataclass(frozen=True)
class JobSnapshot:
    """A job as it stands: read this, never the job's fields, from a page."""

    id: str
    kind: str
    state: str
    place_in_line: int  # 1 for the next to start; 0 when not queued
    wait_seconds: float | None  # the estimate until it starts (queued) or ends (running)
    events: tuple[Any, ...]  # progress the worker reported, in order (``Event``s, or a task's own)
    result: dict | None
    error: str | None
    submitted: float
    started: float | None
    finished: float | None

    @property
    def is_over(self) -> bool:
        return self.state in FINISHED

    def epochs(self) -> list[dict]:
        """The records of the epochs finished so far, in order."""
        return [event.record for event in self.events if isinstance(event, Epoch)]

    def last_batch(self) -> Batch | None:
        return next((event for event in reversed(self.events) if isinstance(event, Batch)), None)

    def stage(self) -> str | None:
        return next((event.text for event in reversed(self.events) if isinstance(event, Stage)), None)


@dataclass(eq=False)  # a handle: equal only to itself, and usable as a key
class Job:
    """The handle a pool gives for a request. The pool updates it; everyone else reads snapshots."""

    request: JobRequest
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = QUEUED
    events: list[Any] = field(default_factory=list)
    result: dict | None = None
    error: str | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    stop_requested: bool = False
    place_in_line: int = 0
    wait_seconds: float | None = None
    # Set by the pool: how to ask it to stop this job.
    on_stop: Callable[[Job], None] | None = field(default=None, repr=False)
    _done_callbacks: list[Callable[[Job], None]] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _finished_event: threading.Event = field(default_factory=threading.Event, repr=False)
    _settling: bool = field(default=False, repr=False)  # finished, its done callbacks still running

    def snapshot(self) -> JobSnapshot:
        """Where the job stands. A finished job shows as over only once its done callbacks have run
        (its model stored, say), so a page that sees it over also finds what it left."""
        with self._lock:
            return JobSnapshot(
                id=self.id,
                kind=self.request.kind,
                state=RUNNING if self._settling else self.state,
                place_in_line=self.place_in_line,
                wait_seconds=self.wait_seconds,
                events=tuple(self.events),
                result=self.result,
                error=self.error,
                submitted=self.submitted,
                started=self.started,
                finished=None if self._settling else self.finished,
            )

    def stop(self) -> None:
        """Stop: a queued job never starts; a running one ends as soon as it can, keeping what it has."""
        with self._lock:
            if self.state in FINISHED or self.stop_requested:
                return
            self.stop_requested = True
        if self.on_stop is not None:
            self.on_stop(self)

    def add_done_callback(self, callback: Callable[[Job], None]) -> None:
        """Call ``callback(job)`` once the job has finished (at once if it has): in the pool's thread,
        so it must be quick and must not raise. It reads the job's own ``state``, ``result`` and
        ``error``: its snapshot says "running" until every callback has run."""
        with self._lock:
            if self.state not in FINISHED:
                self._done_callbacks.append(callback)
                return
        callback(self)

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        """Block until the job has finished (or ``timeout`` seconds passed); the snapshot then."""
        self._finished_event.wait(timeout)
        return self.snapshot()

    # --- for the pool -----------------------------------------------------------------------------
    def add_event(self, event: Any) -> None:
        """Keep every event but a batch event that another one follows: only the latest batch matters,
        and a long training would otherwise pile up thousands of them."""
        with self._lock:
            if isinstance(event, Batch) and self.events and isinstance(self.events[-1], Batch):
                self.events[-1] = event
            else:
                self.events.append(event)

    def mark_admitted(self) -> None:
        """Out of the queue: a worker is (being) given the job. Its clock starts with ``mark_started``."""
        with self._lock:
            self.state, self.place_in_line = RUNNING, 0

    def mark_started(self) -> None:
        """The worker has begun the job: from now on its time limit counts."""
        with self._lock:
            self.state, self.place_in_line = RUNNING, 0
            self.started = self.started or time.time()

    def mark_queued(self, place: int, wait_seconds: float | None) -> None:
        with self._lock:
            self.place_in_line, self.wait_seconds = place, wait_seconds

    def set_wait(self, wait_seconds: float | None) -> None:
        with self._lock:
            self.wait_seconds = wait_seconds

    def finish(self, state: str, result: dict | None = None, error: str | None = None) -> None:
        with self._lock:
            if self.state in FINISHED:
                return
            self.state, self.result, self.error = state, result, error
            self.finished, self.place_in_line, self.wait_seconds = time.time(), 0, None
            callbacks, self._done_callbacks, self._settling = self._done_callbacks, [], True
        try:
            for callback in callbacks:
                callback(self)
        finally:
            with self._lock:
                self._settling = False
            self._finished_event.set()
