"""The default job backend: a small pool of worker processes on this machine, bounded and queued.

- Bounded: at most ``max_workers`` jobs run at once (one per worker process, sized from the CPU
  count), and a job starts only when the memory it needs fits beside what the server and the
  other workers hold, within the budget (``memory.memory_budget_mb``). A job that could never fit
  is refused at once in one sentence; every other job waits its turn.
- Queued: short interactive jobs (a prediction, a build to look at) first, then in order of
  arrival; each queued job knows its place in line and an estimate of its wait.
- Started on demand, ended when idle: a worker imports TensorFlow for its first job and stays for
  ``idle_seconds`` after its last one, then exits, so its memory goes back to the system.
- Isolated: one job per process, so a worker the kernel kills (out of memory) fails that job with
  a sentence and nothing else; a job whose owner has left (a closed tab) is stopped.

One dispatcher thread owns the workers: it reads their messages, starts and retires them and
admits queued jobs. Pages only submit, read snapshots and stop.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

import psutil

from bertviz_core.arithmetic.training_memory import TF_SHARED_LIBRARIES_MB
from bertviz_core.errors import MemoryGuardError
from bertviz_core.jobs.processes import EXIT_GRACE_SECONDS, WorkerProcess
from bertviz_core.jobs.protocol import (
    DONE,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    STOPPED,
    Job,
    JobRequest,
    WarmUp,
)
from bertviz_core.jobs.queueing import (
    OWNER_GRACE_SECONDS,
    STOP_GRACE_SECONDS,
    TICK_SECONDS,
    JobLog,
    estimate_waits,
    queue_order,
)
from bertviz_core.text import MIB


@dataclass(frozen=True)
class PoolStatus:
    """The pool at a glance, for the page's queue line and for the benchmarks."""

    workers: int
    busy: int
    queued: int
    max_workers: int
    budget_mb: int
    server_mb: float
    workers_mb: float


def default_max_workers() -> int:
    """One worker per CPU core: TensorFlow already spreads one job over the cores it is given, and
    more jobs at once than cores only makes each slower."""
    return max(1, os.cpu_count() or 1)


class LocalPool:
    """Worker processes on this machine. Thread-safe; one per server (``bertviz_ui.jobs.pool``)."""

    def __init__(
        self,
        *,
        budget_mb: Callable[[], int] | int | None = None,
        max_workers: int | None = None,
        idle_seconds: float = 20.0,
        owner_alive: Callable[[str], bool] | None = None,
        environment: dict[str, str] | None = None,
        log_path: str | Path | None = None,
    ) -> None:
        from bertviz_core.budget import memory_budget_mb

        self._budget = budget_mb if budget_mb is not None else memory_budget_mb
        self.max_workers = max_workers or default_max_workers()
        self.idle_seconds = idle_seconds
        self.owner_alive = owner_alive
        self._environment = {**os.environ, **(environment or {}), "TF_USE_LEGACY_KERAS": "1"}
        self._lock = threading.Lock()
        self._queue: list[Job] = []
        self._workers: list[WorkerProcess] = []
        self._owner_gone_since: dict[str, float] = {}
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._closed = False
        self._server = psutil.Process()
        self._log = JobLog(log_path)
        self._dispatcher = threading.Thread(target=self._dispatch, name="job-dispatcher", daemon=True)
        self._dispatcher.start()

    # --- what pages call ------------------------------------------------------------------------
    def budget_mb(self) -> int:
        return int(self._budget() if callable(self._budget) else self._budget)

    def submit(self, request: JobRequest) -> Job:
        """Queue a job; it starts as soon as a worker and the memory for it are free.

        Raises ``MemoryGuardError`` at once when the job could not fit even on an idle server.
        """
        budget, server = self.budget_mb(), self._server_mb()
        if server + request.memory_mb > budget:
            raise MemoryGuardError(
                f"This job would need about {request.memory_mb:,} MB beside the server's {server:,.0f} MB, "
                f"more than the {budget:,} MB this app may use, so it cannot run here; make the model or "
                "the batch smaller."
            )
        job = Job(request, on_stop=self._stop)
        job.add_done_callback(self._log.finished)
        with self._lock:
            if self._closed:
                raise MemoryGuardError("The app is shutting down; try again in a moment.")
            self._queue = queue_order([*self._queue, job])
            self._estimate_waits()
            self._log.write("queued", job, place=job.place_in_line, memory_mb=request.memory_mb)
        self._wake()
        return job

    def prewarm(self, runtime_mb: int, ahead: WarmUp | None = None) -> None:
        """Get a worker ready ahead of a likely job (a visitor on the training page will likely train).

        Without ``ahead``: start a worker that imports TensorFlow now, when no worker is idle and
        ``runtime_mb`` fits beside the rest. With it: have an idle worker (or a new one, on the same
        terms with ``ahead.memory_mb``) do that work, unless a worker already holds its affinity (that
        worker's idle time then starts again: its visitor is still here). Queued jobs take the idle
        workers first, so then only a new worker beside them warms up, when there is room for it (a
        warm-up on the worker a job is about to take is skipped by the worker, and the page's first
        render queues its rate measurement just before it asks for the warm-up).
        """
        with self._lock:
            if self._closed:
                return
            now = time.monotonic()
            if ahead is not None:
                holder = next(
                    (w for w in self._workers if w.holds(ahead.affinity) and w.exit_sent is None), None
                )
                if holder is not None:
                    if holder.job is None:
                        holder.idle_since = now
                    return
            idle_workers = [w for w in self._workers if w.job is None and w.exit_sent is None]
            idle = idle_workers[0] if idle_workers else None
            if ahead is None and idle is not None:
                return
            if ahead is not None and self._queue:
                started_for_queue = max(0, len(self._queue) - len(idle_workers))
                if len(self._workers) + started_for_queue >= self.max_workers:
                    return
                idle = None
            worker = idle
            if worker is None:
                need = runtime_mb if ahead is None else max(runtime_mb, ahead.memory_mb)
                if len(self._workers) >= self.max_workers or not self._fits(need):
                    return
                worker = WorkerProcess.start(self._environment)
                self._workers.append(worker)
            if ahead is None:
                worker.send(("warm",))
            else:
                worker.send(("warm", ahead.inputs))
                worker.warming, worker.idle_since = ahead.affinity, now
        self._wake()

    def status(self) -> PoolStatus:
        with self._lock:
            return PoolStatus(
                workers=len(self._workers),
                busy=sum(worker.job is not None for worker in self._workers),
                queued=len(self._queue),
                max_workers=self.max_workers,
                budget_mb=self.budget_mb(),
                server_mb=self._server_mb(),
                workers_mb=self._held_mb() - self._server_mb(),
            )

    def kept(self) -> dict[int, list[str]]:
        """By worker pid, the affinities of the traced models each says it keeps (tests, benchmarks)."""
        with self._lock:
            return {worker.pid: list(worker.affinities) for worker in self._workers}

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [worker.pid for worker in self._workers]

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every job, end every worker and the dispatcher (tests, and the server's exit)."""
        with self._lock:
            self._closed = True
            for job in self._queue:
                job.finish(STOPPED, error="The app is shutting down.")
            self._queue.clear()
        self._wake()
        self._dispatcher.join(timeout)
        with self._lock:
            for worker in self._workers:
                if worker.job is not None:
                    worker.job.finish(STOPPED, error="The app is shutting down.")
                worker.end()
            self._workers.clear()

    # --- stopping --------------------------------------------------------------------------------
    def _stop(self, job: Job) -> None:
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
                job.finish(STOPPED, error="Stopped before it started.")
                self._estimate_waits()
                return
            for worker in self._workers:
                if worker.job is job and worker.stop_sent is None:
                    worker.send(("stop", job.id))
                    worker.stop_sent = time.monotonic()
        self._wake()

    # --- the dispatcher ---------------------------------------------------------------------------
    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # already woken (a full buffer), or closing
            self._wake_writer.send(b"x")

    def _dispatch(self) -> None:
        last_slow_tick = 0.0
        while True:
            with self._lock:
                if self._closed:
                    return
                connections = [worker.connection for worker in self._workers]
            ready = wait([*connections, self._wake_reader], timeout=TICK_SECONDS)
            if self._wake_reader in ready:
                try:
                    while self._wake_reader.recv(4096):
                        pass
                except (BlockingIOError, OSError):
                    pass
            with self._lock:
                for worker in list(self._workers):
                    if worker.connection in ready:
                        self._read(worker)
                now = time.monotonic()
                if now - last_slow_tick >= 1.0:
                    last_slow_tick = now
                    self._measure()
                    self._check_owners(now)
                    self._check_time_limits(now)
                self._reap(now)
                self._admit()
                self._estimate_waits()

    def _read(self, worker: WorkerProcess) -> None:
        try:
            while worker.connection.poll():
                self._handle(worker, worker.connection.recv())
        except (EOFError, OSError):
            pass  # the process ended; _reap fails its job

    def _handle(self, worker: WorkerProcess, message: tuple) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
            if worker.job is not None:
                job = worker.job
                worker.send(("run", job.id, job.request.kind, job.request.inputs))
        elif kind == "holds":  # what it keeps now, after a warm-up or a job
            worker.affinities, worker.warming = list(message[1]), ""
        elif kind == "event" and worker.job is not None and worker.job.id == message[1]:
            worker.job.add_event(message[2])
        elif kind in ("done", "failed") and worker.job is not None and worker.job.id == message[1]:
            job = worker.job
            worker.job, worker.stop_sent, worker.idle_since = None, None, time.monotonic()
            if kind == "done":  # also a training stopped by request: it keeps its best epoch
                job.finish(DONE, result=message[2])
            else:
                job.finish(STOPPED if job.stop_requested else FAILED, error=message[2])

    def _reap(self, now: float) -> None:
        """Fail the jobs of workers that died, kill those that would not stop, retire idle ones."""
        for worker in list(self._workers):
            code = worker.process.poll()
            if code is not None:
                if worker.job is not None:
                    self._fail_dead_worker(worker, code)
                worker.connection.close()
                self._workers.remove(worker)
            elif worker.job is not None and worker.stop_sent and now - worker.stop_sent > STOP_GRACE_SECONDS:
                worker.job.finish(STOPPED, error="The job did not stop in time, so its worker was ended.")
                worker.job = None
                worker.end(wait_seconds=0)
            elif (
                worker.job is None
                and worker.exit_sent is None
                and now - worker.idle_since >= self.idle_seconds
            ):
                worker.send(("exit",))
                worker.exit_sent = now
            elif worker.exit_sent is not None and now - worker.exit_sent > EXIT_GRACE_SECONDS:
                worker.end(wait_seconds=0)

    def _fail_dead_worker(self, worker: WorkerProcess, code: int) -> None:
        job = worker.job
        worker.job = None
        if job.stop_requested:
            job.finish(STOPPED, error="Stopped.")
            return
        how = f"was killed (signal {-code})" if code < 0 else f"ended with exit code {code}"
        job.finish(
            FAILED,
            error=f"The worker process running this job {how}, most likely because it ran out of memory; "
            "try a smaller model or batch, or try again when fewer people are training.",
        )

    def _check_owners(self, now: float) -> None:
        if self.owner_alive is None:
            return
        owners = {job.request.owner for job in self._queue} | {
            worker.job.request.owner for worker in self._workers if worker.job is not None
        }
        for owner in owners - {""}:
            if self.owner_alive(owner):
                self._owner_gone_since.pop(owner, None)
                continue
            gone_since = self._owner_gone_since.setdefault(owner, now)
            if now - gone_since < OWNER_GRACE_SECONDS:
                continue
            for job in [job for job in self._queue if job.request.owner == owner]:
                self._queue.remove(job)
                job.finish(STOPPED, error="Its visitor left before it started.")
            for worker in self._workers:
                if worker.job is not None and worker.job.request.owner == owner and worker.stop_sent is None:
                    worker.job.stop_requested = True
                    worker.send(("stop", worker.job.id))
                    worker.stop_sent = now
        for owner in set(self._owner_gone_since) - owners:
            del self._owner_gone_since[owner]

    def _check_time_limits(self, now: float) -> None:
        for worker in self._workers:
            job = worker.job
            if job is None or job.started is None or worker.stop_sent is not None:
                continue
            if time.time() - job.started > job.request.time_limit_seconds:
                job.stop_requested = True
                worker.send(("stop", job.id))
                worker.stop_sent = now

    # --- admission ------------------------------------------------------------------------------
    def _measure(self) -> None:
        for worker in self._workers:
            worker.measure()

    def _server_mb(self) -> float:
        try:
            return self._server.memory_info().rss / MIB
        except psutil.Error:
            return 0.0

    def _held_mb(self, replacing: WorkerProcess | None = None, adding_mb: float = 0) -> float:
        """What the server and the workers hold (plus a job of ``adding_mb`` about to start), with
        TensorFlow's shared library pages counted once, as the kernel holds them, however many
        workers map them. A busy worker counts at its job's estimate while it holds less;
        ``replacing`` (the idle worker the new job will take) is left out."""
        held, shared = self._server_mb(), 0.0
        for worker in self._workers:
            if worker is replacing:
                continue
            estimate = worker.job.request.memory_mb - TF_SHARED_LIBRARIES_MB if worker.job is not None else 0
            held += max(worker.resident_mb - worker.shared_mb, estimate)
            shared = max(shared, worker.shared_mb, TF_SHARED_LIBRARIES_MB if worker.job is not None else 0)
        if adding_mb:
            held += adding_mb - TF_SHARED_LIBRARIES_MB
            shared = max(shared, TF_SHARED_LIBRARIES_MB)
        return held + shared

    def _fits(self, need_mb: float, replacing: WorkerProcess | None = None) -> bool:
        return self._held_mb(replacing, adding_mb=need_mb) <= self.budget_mb()

    def _admit(self) -> None:
        """Start queued jobs in order while a slot and the memory are free (the first that does
        not fit waits, and so does everyone behind it: places in line stay true)."""
        while self._queue and not self._closed:
            busy = [
                worker for worker in self._workers if worker.job is not None or worker.exit_sent is not None
            ]
            if len(busy) >= self.max_workers:
                return
            job = self._queue[0]
            idle_workers = [w for w in self._workers if w.job is None and w.exit_sent is None]
            # One that holds what the job needs (a traced model of its shape), else any idle one.
            idle = next((w for w in idle_workers if w.holds(job.request.affinity)), None) or next(
                iter(idle_workers), None
            )
            if not self._fits(job.request.memory_mb, replacing=idle):
                spare = [w for w in self._workers if w.job is None and w.exit_sent is None and w is not idle]
                if spare:  # an idle worker holds memory the job needs: let it go
                    spare[0].send(("exit",))
                    spare[0].exit_sent = time.monotonic()
                return
            self._queue.pop(0)
            worker = idle or WorkerProcess.start(self._environment)
            if idle is None:
                self._workers.append(worker)
            worker.job, worker.stop_sent = job, None
            job.mark_running()
            self._log.write(
                "started",
                job,
                pid=worker.pid,
                warm=idle is not None,
                held_mb=round(self._held_mb()),
                kept=worker.holds(job.request.affinity),
            )
            if worker.ready:
                worker.send(("run", job.id, job.request.kind, job.request.inputs))

    def _estimate_waits(self) -> None:
        running = [worker.job for worker in self._workers if worker.job is not None]
        estimate_waits(running, self._queue, self.max_workers)


__all__ = ["DONE", "FAILED", "FINISHED", "QUEUED", "RUNNING", "STOPPED", "LocalPool", "PoolStatus"]
