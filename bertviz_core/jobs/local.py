"""The default job backend: a small pool of worker processes on this machine, bounded and queued.

- Bounded: at most ``max_workers`` jobs run at once (one per worker process, sized from the CPU
  count), and a job starts only when the memory it needs fits beside what the server and the
  other workers hold, within the budget (``budget.memory_budget_mb``). A job that could never fit
  is refused at once in one sentence; every other job waits its turn.
- Queued: short interactive jobs (a prediction, a build to look at) first, then in order of
  arrival; each queued job knows its place in line and an estimate of its wait.
- Started on demand, ended when idle: a worker imports TensorFlow for its first job and stays for
  ``idle_seconds`` after its last job or warm-up, then exits, so its memory goes back to the system.
- Isolated: one job per process, so a worker the kernel kills (out of memory) fails that job with
  a sentence and nothing else; a job whose owner has left (a closed tab) is stopped.

A job's clock (its time limit) starts when its worker begins it, not when a worker is being
started for it; a stop asked before that is kept until the job has begun or ended: a job whose
worker has not had it yet simply never runs, and the worker itself skips a job stopped while
it was on its way.

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
from multiprocessing.connection import wait
from pathlib import Path

from bertviz_core.arithmetic.training_memory import TF_SHARED_LIBRARIES_MB
from bertviz_core.jobs.backend import (
    STOP_GRACE_SECONDS,
    TICK_SECONDS,
    BackendBase,
    PoolStatus,
    estimate_waits,
    queue_order,
)
from bertviz_core.jobs.processes import EXIT_GRACE_SECONDS, WorkerProcess
from bertviz_core.jobs.protocol import DONE, FAILED, STOPPED, Job, WarmUp
from bertviz_core.jobs.worker import DEFAULT_TASKS

BEFORE_IT_STARTED = "Stopped before it started."
SHUT_DOWN = "The app is shutting down."
# A warm-up (TensorFlow's import, a small model traced) takes seconds; one still going after this is
# stuck, and its worker is let go like an idle one.
WARM_UP_LIMIT_SECONDS = 300.0


def default_max_workers() -> int:
    """One worker per CPU core: TensorFlow already spreads one job over the cores it is given, and
    more jobs at once than cores only makes each slower."""
    return max(1, os.cpu_count() or 1)


class LocalPool(BackendBase):
    """Worker processes on this machine. Thread-safe; one per server (``bertviz_ui.jobs.pool``).

    ``tasks_module`` names what workers import for their work (``jobs.worker``); tests give their
    own, with stand-in jobs or a slow start."""

    def __init__(
        self,
        *,
        budget_mb: Callable[[], int] | int | None = None,
        max_workers: int | None = None,
        idle_seconds: float = 20.0,
        owner_alive: Callable[[str], bool] | None = None,
        environment: dict[str, str] | None = None,
        log_path: str | Path | None = None,
        tasks_module: str = DEFAULT_TASKS,
    ) -> None:
        from bertviz_core.budget import memory_budget_mb

        super().__init__(owner_alive, log_path)
        self._budget = budget_mb if budget_mb is not None else memory_budget_mb
        self.max_workers = max_workers or default_max_workers()
        self.idle_seconds = idle_seconds
        self._environment = {**os.environ, **(environment or {}), "TF_USE_LEGACY_KERAS": "1"}
        self._tasks_module = tasks_module
        self._queue: list[Job] = []
        self._workers: list[WorkerProcess] = []
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._dispatcher = threading.Thread(target=self._dispatch, name="job-dispatcher", daemon=True)
        self._dispatcher.start()

    # --- what pages call ------------------------------------------------------------------------
    def budget_mb(self) -> int:
        return int(self._budget() if callable(self._budget) else self._budget)

    def prewarm(self, runtime_mb: int, ahead: WarmUp | None = None) -> None:
        """Get a worker ready ahead of a likely job (a visitor on the training page will likely train).

        Without ``ahead``: start a worker that imports TensorFlow now, when no worker is available
        and ``runtime_mb`` fits beside the rest. With it: have an available worker (or a new one, on
        the same terms with ``ahead.memory_mb``) do that work, unless a worker already holds its
        affinity (that worker's idle time then starts again: its visitor is still here). Queued jobs
        take the available workers first, so then only a new worker beside them warms up, when there
        is room for it (a warm-up on the worker a job is about to take is skipped by the worker, and
        the page's first render queues its rate measurement just before it asks for the warm-up).
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
            available = [worker for worker in self._workers if worker.available]
            worker = available[0] if available else None
            if ahead is None and worker is not None:
                return
            if ahead is not None and self._queue:
                started_for_queue = max(0, len(self._queue) - len(available))
                if len(self._workers) + started_for_queue >= self.max_workers:
                    return
                worker = None
            if worker is None:
                need = runtime_mb if ahead is None else max(runtime_mb, ahead.memory_mb)
                if len(self._workers) >= self.max_workers or not self._fits(need):
                    return
                worker = self._start_worker()
            if ahead is None:
                worker.warm(None)
            else:
                worker.warm(ahead.inputs, ahead.affinity)
            worker.idle_since = now
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

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every job, end every worker and the dispatcher (tests, and the server's exit)."""
        with self._lock:
            self._closed = True
            for job in self._queue:
                job.finish(STOPPED, error=SHUT_DOWN)
            self._queue.clear()
        self._wake()
        self._dispatcher.join(timeout)
        with self._lock:
            for worker in self._workers:
                if worker.job is not None:
                    worker.job.finish(STOPPED, error=SHUT_DOWN)
                worker.end()
            self._workers.clear()

    # --- BackendBase ------------------------------------------------------------------------------
    def _refusal(self, request) -> str | None:
        budget, server = self.budget_mb(), self._server_mb()
        if server + request.memory_mb <= budget:
            return None
        return (
            f"This job would need about {request.memory_mb:,} MB beside the server's {server:,.0f} MB, "
            f"more than the {budget:,} MB this app may use, so it cannot run here; make the model or "
            "the batch smaller."
        )

    def _enqueue(self, job: Job) -> None:
        self._queue = queue_order([*self._queue, job])
        self._estimate_waits()

    def _on_stop(self, job: Job) -> None:
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
                job.finish(STOPPED, error=BEFORE_IT_STARTED)
                self._estimate_waits()
                return
            worker = next((w for w in self._workers if w.job is job), None)
            if worker is not None:
                self._stop_on(worker, BEFORE_IT_STARTED)
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # already woken (a full buffer), or closing
            self._wake_writer.send(b"x")

    # --- stopping --------------------------------------------------------------------------------
    def _stop_on(self, worker: WorkerProcess, before_start: str) -> None:
        """Stop ``worker``'s job: one the worker never had does not run (finished with
        ``before_start``); otherwise the worker is told, once, and remembers it if the job has not
        begun yet."""
        job = worker.job
        if not worker.run_sent:
            job.finish(STOPPED, error=before_start)
            worker.release()
        elif worker.stop_sent is None:
            worker.send(("stop", job.id))
            worker.stop_sent = time.monotonic()

    # --- the dispatcher ---------------------------------------------------------------------------
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
                    for worker in self._workers:
                        worker.measure()
                    self._check_owners(now)
                    self._check_time_limits()
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
        kind, job = message[0], worker.job
        if kind == "ready":
            worker.ready = True
            if job is not None:
                worker.send_job()
        elif kind == "holds":  # what it keeps now, after a warm-up or a job
            worker.affinities, worker.warming, worker.warming_affinity = list(message[1]), False, ""
            if job is None:
                worker.idle_since = time.monotonic()
        elif job is None or job.id != message[1]:
            return  # about a job this worker no longer has (ended by force meanwhile)
        elif kind == "started":
            job.mark_started()
            self._log.write("started", job, pid=worker.pid)
        elif kind == "event":
            job.add_event(message[2])
        elif kind == "skipped":
            job.finish(STOPPED, error=BEFORE_IT_STARTED)
            worker.release()
        elif kind in ("done", "failed"):
            worker.release()
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
                worker.idle
                and now - worker.idle_since >= self.idle_seconds
                or worker.available
                and worker.warming
                and now - worker.idle_since >= WARM_UP_LIMIT_SECONDS
            ):
                worker.tell_to_exit(now)
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
        held = {worker.job: worker for worker in self._workers if worker.job is not None}
        for job in self._owners_gone(now, [*self._queue, *held]):
            if job in self._queue:
                self._queue.remove(job)
                job.finish(STOPPED, error="Its visitor left before it started.")
            else:
                job.stop_requested = True
                self._stop_on(held[job], "Its visitor left before it started.")

    def _check_time_limits(self) -> None:
        held = {worker.job: worker for worker in self._workers if worker.job is not None}
        for job in self._over_time_limit(held):
            job.stop_requested = True
            self._stop_on(held[job], BEFORE_IT_STARTED)

    # --- admission ------------------------------------------------------------------------------
    def _start_worker(self) -> WorkerProcess:
        worker = WorkerProcess.start(self._environment, self._tasks_module)
        self._workers.append(worker)
        return worker

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
            busy = [worker for worker in self._workers if not worker.available]
            if len(busy) >= self.max_workers:
                return
            job = self._queue[0]
            available = [worker for worker in self._workers if worker.available]
            # One that holds what the job needs (a traced model of its shape), else any available one.
            worker = next((w for w in available if w.holds(job.request.affinity)), None) or next(
                iter(available), None
            )
            if not self._fits(job.request.memory_mb, replacing=worker):
                spare = [w for w in available if w is not worker]
                if spare:  # an available worker holds memory the job needs: let it go
                    spare[0].tell_to_exit(time.monotonic())
                return
            self._queue.pop(0)
            warm = worker is not None
            kept = warm and worker.holds(job.request.affinity)
            worker = worker or self._start_worker()
            job.mark_admitted()
            worker.give(job)
            self._log.write(
                "admitted", job, pid=worker.pid, warm=warm, held_mb=round(self._held_mb()), kept=kept
            )

    def _estimate_waits(self) -> None:
        running = [worker.job for worker in self._workers if worker.job is not None]
        estimate_waits(running, self._queue, self.max_workers)


__all__ = ["LocalPool"]
