"""The same jobs on Ray (``BERTVIZ_JOBS=ray``), for when one machine is not enough.

Pages see what ``LocalPool`` gives them: ``submit`` a ``JobRequest``, follow the ``Job`` handle,
``stop`` it. Underneath, each job is one Ray task running the same ``tasks.TASKS[kind]`` as a local
worker, and Ray's scheduler does the admission: a task asks for one CPU (half a CPU for short
interactive jobs) and the job's ``memory_mb`` as Ray's ``memory`` resource, and starts when a
machine of the cluster has both free.

Progress and stops cross to the cluster through a mailbox actor (``ray_cluster``), which the
pool's dispatcher thread reads four times a second. A stop before the task started cancels it
(``ray.cancel``); a stop while it runs is seen by ``should_stop()``, so a training keeps its best
epoch; a job that ignores it is cancelled by force after a grace period.

Not like the local pool: places in line and waits are estimates (Ray decides the order, and does
not put interactive jobs first); Ray keeps its worker processes, with TensorFlow loaded, for later
jobs instead of ending them when idle; ``prewarm`` does nothing; a trained model's folder is written
on the machine that trained it, so pages that read it back (predictions, the zip download) need a
folder shared by every machine when the cluster has more than one.
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertviz_core.budget import SERVER_RESERVE_MB, memory_budget_mb
from bertviz_core.errors import UserError
from bertviz_core.jobs.backend import (
    STOP_GRACE_SECONDS,
    TICK_SECONDS,
    BackendBase,
    PoolStatus,
    estimate_waits,
    queue_order,
)
from bertviz_core.jobs.protocol import DONE, FAILED, FINISHED, STOPPED, Job, JobRequest, WarmUp
from bertviz_core.jobs.worker import DEFAULT_TASKS
from bertviz_core.text import MIB

try:
    import ray
    from ray import exceptions as ray_errors
except ImportError:  # an optional dependency: say how to get it instead of a traceback
    raise UserError(
        "BERTVIZ_JOBS=ray needs Ray, which is not installed; run pip install -r requirements-ray.txt "
        "or unset BERTVIZ_JOBS."
    ) from None

from bertviz_core.jobs.ray_cluster import (  # noqa: E402  (after Ray, whose absence is a sentence)
    CALL_TIMEOUT_SECONDS,
    RAY_PROCESSES_MB,
    MailboxActor,
    run_remote,
    start_or_join,
)

INTERACTIVE_CPUS = 0.5  # a prediction or a build to look at: two share a core rather than wait for one
REFRESH_SECONDS = 2.0  # how often the pool reads the cluster's size (CPUs, memory) for status()
INIT_TIMEOUT_SECONDS = 180.0

LOST_WORKER = (
    "The worker running this job was lost (its process ended, most likely because it ran out of "
    "memory, or its machine left the cluster); try a smaller model or batch, or try again."
)
OUT_OF_MEMORY = (
    "The worker running this job was lost: its machine ran out of memory, so Ray ended it; try a "
    "smaller model or batch, or try again when fewer people are training."
)


# --- in the web process -------------------------------------------------------------------------
def _over(job: Job) -> bool:
    return job.state in FINISHED


@dataclass
class _Entry:
    """A submitted job and its Ray task, until the task's outcome is in (also after the job was
    finished by a stop, so that the mailbox keeps its stop flag until the task can no longer start)."""

    job: Job
    ref: Any  # ray.ObjectRef
    started: bool = False
    pid: int | None = None
    node: str | None = None
    stop_sent: float | None = None  # time.monotonic() of a stop request to the running task


class RayPool(BackendBase):
    """Jobs as Ray tasks, on Ray on this machine (``address=None``) or a cluster. Thread-safe.

    One dispatcher thread owns the Ray side: it starts or joins Ray, reads the mailbox, finishes
    jobs whose tasks ended, and stops those of visitors who left or over their time limit. It starts
    Ray itself because it lives as long as the pool: Ray's processes are set to die with the thread
    that started them (``PR_SET_PDEATHSIG``), and a Streamlit script thread, which builds the pool,
    ends after each run. Pages only submit, read snapshots and stop. ``owner_alive`` and
    ``stop_grace_seconds`` may be changed on a running pool.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        owner_alive: Callable[[str], bool] | None = None,
        num_cpus: int | None = None,
        budget_mb: int | None = None,
        stop_grace_seconds: float = STOP_GRACE_SECONDS,
        log_path: str | Path | None = None,
        tasks_module: str = DEFAULT_TASKS,
    ) -> None:
        """``num_cpus`` and ``budget_mb`` (the memory Ray may hand to jobs) apply only when Ray is
        started here (no address); a cluster's machines declare their own (``ray start --num-cpus
        --memory``). ``budget_mb`` defaults to the app's memory budget minus the server's reserve and
        Ray's own processes. ``tasks_module`` names what the tasks run (``jobs.worker``)."""
        super().__init__(owner_alive, log_path)
        self.address = address
        self.stop_grace_seconds = stop_grace_seconds
        self.max_workers = 1
        self._num_cpus = num_cpus
        self._local_budget_mb = budget_mb
        self._tasks_module = tasks_module
        self._entries: dict[str, _Entry] = {}
        self._stops: list[tuple[Job, str]] = []
        self._woken = threading.Event()
        self._started_ray = False
        self._mailbox: Any = None
        self._node_budget_mb = 0
        self._cpus_used = 0.0
        self._memory_reserved_mb = 0.0
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._dispatcher = threading.Thread(target=self._run, name="ray-job-dispatcher", daemon=True)
        self._dispatcher.start()
        if not self._ready.wait(INIT_TIMEOUT_SECONDS):
            self._closed = True
            raise UserError(
                f"Ray did not start within {INIT_TIMEOUT_SECONDS:.0f} seconds; see the server log."
            )
        if self._start_error is not None:
            raise self._start_error

    # --- what pages call ------------------------------------------------------------------------
    def budget_mb(self) -> int:
        """The most memory one job may ask for: the ``memory`` resource of the largest machine."""
        return self._node_budget_mb

    def _refusal(self, request: JobRequest) -> str | None:
        budget = self.budget_mb()
        if request.memory_mb <= budget:
            return None
        return (
            f"This job would need about {request.memory_mb:,} MB, more than the {budget:,} MB the "
            "largest machine of the Ray cluster offers, so it cannot run there; make the model or the "
            "batch smaller."
        )

    def _enqueue(self, job: Job) -> None:
        """Hand the job to Ray, which starts it when a machine has a CPU and its memory free."""
        request = job.request
        ref = run_remote.options(
            num_cpus=INTERACTIVE_CPUS if request.interactive else 1,
            memory=int(request.memory_mb) * MIB,
            max_retries=0,  # a job that killed its worker (out of memory) would only do it again
            name=f"bertviz-{request.kind}",
        ).remote(self._mailbox, job.id, request.kind, request.inputs, self._tasks_module)
        self._entries[job.id] = _Entry(job, ref)
        self._estimate_waits()

    def _wake(self) -> None:
        self._woken.set()

    def prewarm(self, runtime_mb: int, ahead: WarmUp | None = None) -> None:
        """Nothing: Ray picks the worker for each task, so a warm-up task would load TensorFlow (or
        trace ``ahead``'s model) in a worker the next job may not get, and hold a CPU meanwhile. Ray
        keeps its workers (with TensorFlow loaded, and the traced models ``tasks.SHELF`` keeps)
        after a job, so only the first job on each worker pays for the import."""

    def status(self) -> PoolStatus:
        """Slots are the cluster's CPUs; busy ones are those Ray has handed out (to this pool or to
        others sharing the cluster); workers' memory is what Ray has reserved for running tasks."""
        with self._lock:
            live = [entry for entry in self._entries.values() if not _over(entry.job)]
            running = sum(entry.started for entry in live)
        return PoolStatus(
            workers=self.max_workers,
            busy=min(self.max_workers, max(running, math.ceil(self._cpus_used - 1e-6))),
            queued=len(live) - running,
            max_workers=self.max_workers,
            budget_mb=self.budget_mb(),
            server_mb=self._server_mb(),
            workers_mb=self._memory_reserved_mb,
        )

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every job, end the dispatcher, and Ray itself when this pool started or joined it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake()
        self._dispatcher.join(timeout)
        with self._lock:  # the dispatcher did not get to them (a Ray call hung): at least the handles end
            for entry in self._entries.values():
                entry.job.finish(STOPPED, error="The app is shutting down.")

    # --- stopping --------------------------------------------------------------------------------
    def _on_stop(self, job: Job) -> None:
        with self._lock:
            self._stops.append((job, "Stopped before it started."))
        self._wake()

    def _stop(self, entry: _Entry, now: float, before_start: str) -> None:
        """Cancel a job that has not started (finishing it with ``before_start``), or ask a running
        one to stop between two batches."""
        if _over(entry.job) or entry.stop_sent is not None:
            return
        running = ray.get(self._mailbox.request_stop.remote(entry.job.id), timeout=CALL_TIMEOUT_SECONDS)
        if running:
            entry.stop_sent = now
            return
        ray.cancel(entry.ref)  # a task still waiting for its machine is dropped; late ones see the flag
        entry.job.finish(STOPPED, error=before_start)

    # --- the dispatcher ---------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._connect()
        except BaseException as error:  # handed to __init__, which raises it in the caller's thread
            self._start_error = error
            if self._started_ray:
                with contextlib.suppress(Exception):
                    ray.shutdown()
            self._ready.set()
            return
        self._ready.set()
        try:
            self._dispatch()
        finally:
            self._disconnect()

    def _connect(self) -> None:
        if not ray.is_initialized():  # else someone in this process did (a notebook, a test): theirs is used
            budget = self._local_budget_mb
            if budget is None:
                budget = memory_budget_mb() - SERVER_RESERVE_MB - RAY_PROCESSES_MB
            start_or_join(self.address, num_cpus=self._num_cpus, budget_mb=budget)
            self._started_ray = True
        # No CPU, so that it never takes a job's place; restarted (empty) if its process dies.
        self._mailbox = MailboxActor.options(num_cpus=0, max_restarts=-1, max_task_retries=-1).remote()
        ray.get(self._mailbox.drain.remote([]), timeout=INIT_TIMEOUT_SECONDS)
        self._refresh_cluster()

    def _disconnect(self) -> None:
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            entry.job.finish(STOPPED, error="The app is shutting down.")
            with contextlib.suppress(Exception):
                ray.cancel(entry.ref, force=entry.started)
        with contextlib.suppress(Exception):
            ray.kill(self._mailbox)
        if self._started_ray:
            ray.shutdown()

    def _dispatch(self) -> None:
        last_slow_tick = last_refresh = 0.0
        while True:
            self._woken.wait(TICK_SECONDS)
            self._woken.clear()
            with self._lock:
                if self._closed:
                    return
                stops, self._stops = self._stops, []
            now = time.monotonic()
            try:
                for job, before_start in stops:
                    with self._lock:
                        entry = self._entries.get(job.id)
                    if entry is not None:
                        self._stop(entry, now, before_start)
                self._collect()
                if now - last_slow_tick >= 1.0:
                    last_slow_tick = now
                    self._check_owners(now)
                    self._check_time_limits(now)
                if now - last_refresh >= REFRESH_SECONDS:
                    last_refresh = now
                    self._refresh_cluster()
            except ray_errors.RayError as error:  # the cluster is busy or a node went away: next tick
                print(f"ray job pool: {type(error).__name__}: {error}", file=sys.stderr)
            except Exception:  # a bug here must not end the dispatcher, and every job with it
                traceback.print_exc(file=sys.stderr)
            with self._lock:
                self._estimate_waits()

    def _collect(self) -> None:
        """Starts and events from the mailbox, and the outcomes of the tasks that ended: a task waits
        until the mailbox has its last events before it returns, so the mailbox is read after the
        ended tasks are known, and each job gets its start, then its events, then its outcome. Ended jobs are
        finished before newly started ones are marked running, so a page never sees more running
        jobs than there are CPUs."""
        with self._lock:
            entries = list(self._entries.values())
        ended: set[str] = set()
        if entries:
            refs = [entry.ref for entry in entries]
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
            ended = {ref.hex() for ref in ready}
        entries.sort(key=lambda entry: entry.ref.hex() not in ended)
        forget = [entry.job.id for entry in entries if entry.ref.hex() in ended]
        started, events = ray.get(self._mailbox.drain.remote(forget), timeout=CALL_TIMEOUT_SECONDS)
        for entry in entries:
            where = started.get(entry.job.id)
            if where is not None:
                entry.started, entry.pid, entry.node = True, where.get("pid"), where.get("node")
                if not _over(entry.job):
                    entry.job.mark_started()
                    self._log.write("started", entry.job, pid=entry.pid, node=entry.node)
            for event in events.get(entry.job.id, ()):
                entry.job.add_event(event)
            if entry.ref.hex() in ended:
                self._finish(entry)
                with self._lock:
                    self._entries.pop(entry.job.id, None)
        self._check_forced_stops(time.monotonic())

    def _finish(self, entry: _Entry) -> None:
        job = entry.job
        try:
            outcome, payload = ray.get(entry.ref, timeout=CALL_TIMEOUT_SECONDS)
        except ray_errors.TaskCancelledError:
            job.finish(STOPPED, error="Stopped before it started." if not entry.started else "Stopped.")
            return
        except ray_errors.RayError as error:
            if job.stop_requested:
                job.finish(STOPPED, error="Stopped.")
            elif isinstance(error, ray_errors.OutOfMemoryError):
                job.finish(FAILED, error=OUT_OF_MEMORY)
            elif isinstance(
                error, ray_errors.WorkerCrashedError | ray_errors.NodeDiedError | ray_errors.ObjectLostError
            ):
                job.finish(FAILED, error=LOST_WORKER)
            else:  # the task could not run at all (its environment, its code): the log says why
                print(f"ray job pool: job {job.id} ({job.request.kind}): {error}", file=sys.stderr)
                job.finish(
                    FAILED,
                    error=f"The {job.request.kind} job could not run on the Ray cluster "
                    f"({type(error).__name__}); try again, and report it if it happens again.",
                )
            return
        if outcome == "done":  # also a training stopped by request: it keeps its best epoch
            job.finish(DONE, result=payload)
        elif outcome == "skipped":
            job.finish(STOPPED, error="Stopped before it started.")
        else:
            job.finish(STOPPED if job.stop_requested else FAILED, error=payload)

    def _check_forced_stops(self, now: float) -> None:
        """A running job asked to stop that is still running after the grace is cancelled by force
        (its worker process is killed)."""
        with self._lock:
            late = [
                entry
                for entry in self._entries.values()
                if entry.stop_sent is not None
                and now - entry.stop_sent > self.stop_grace_seconds
                and not _over(entry.job)
            ]
        for entry in late:
            ray.cancel(entry.ref, force=True)
            entry.job.finish(STOPPED, error="The job did not stop in time, so its worker was ended.")

    def _check_owners(self, now: float) -> None:
        with self._lock:
            live = {entry.job: entry for entry in self._entries.values() if not _over(entry.job)}
        for job in self._owners_gone(now, live):
            job.stop_requested = True
            self._stop(live[job], now, "Its visitor left before it started.")

    def _check_time_limits(self, now: float) -> None:
        with self._lock:
            running = {entry.job: entry for entry in self._entries.values() if entry.started}
        for job in self._over_time_limit(running):
            job.stop_requested = True
            self._stop(running[job], now, "Stopped before it started.")

    def _refresh_cluster(self) -> None:
        """The cluster's size for ``status()`` and ``submit()``: read here, never from a page's thread."""
        total, available = ray.cluster_resources(), ray.available_resources()
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        self.max_workers = max(1, int(total.get("CPU", 1)))
        self._cpus_used = max(0.0, total.get("CPU", 0.0) - available.get("CPU", 0.0))
        self._memory_reserved_mb = max(0.0, total.get("memory", 0.0) - available.get("memory", 0.0)) / MIB
        self._node_budget_mb = int(
            max((node["Resources"].get("memory", 0) for node in nodes), default=0) // MIB
        )

    def _estimate_waits(self) -> None:
        """Estimates only: Ray picks the order, and does not put interactive jobs first."""
        live = [entry.job for entry in self._entries.values() if not _over(entry.job)]
        running = [job for job in live if job.started is not None]
        queued = queue_order([job for job in live if job.started is None])
        estimate_waits(running, queued, self.max_workers)


__all__ = ["RayPool"]
