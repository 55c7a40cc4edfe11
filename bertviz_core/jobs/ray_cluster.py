"""Ray itself for the Ray backend: starting or joining it, the task that runs a job, its mailbox.

Where the code comes from on the workers: with no address, Ray starts on this machine and its
workers import ``bertviz_core`` from this checkout (``PYTHONPATH`` in the runtime environment: Ray
itself only adds the driver's current directory, which is not always the repository). With an
address (``ray://head:10001`` from outside the cluster, or ``auto`` on one of its machines), the
package is uploaded as a ``py_modules`` entry of the runtime environment, so every machine runs
the web server's version; its machines need ``requirements-ray.txt`` installed with the same
Python. Either way ``TF_USE_LEGACY_KERAS=1`` is in the workers' environment before TensorFlow is
imported.

Progress and stop requests cross the process boundary through one small actor per pool, the
*mailbox* (no CPU): a running task sends it each event as it is emitted, without waiting, and a
thread beside the job asks it five times a second whether to stop, so ``should_stop()`` is a flag
read between two batches. Inside a task, waits on the mailbox go through futures, never
``ray.get``: Ray lends the CPU of a task blocked in ``ray.get`` to another task, which would let
more jobs run at once than there are CPUs.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from typing import Any

import ray
from ray import exceptions as ray_errors

from bertviz_core.errors import UserError
from bertviz_core.jobs.processes import PACKAGE_ROOT
from bertviz_core.jobs.worker import lower_priority, run_task
from bertviz_core.text import MIB

EXCHANGE_SECONDS = 0.2  # how often a running task asks whether it should stop
CALL_TIMEOUT_SECONDS = 10.0  # a mailbox call slower than this is skipped for this tick
# Ray on this machine (no address) runs its own processes beside the web server: the GCS, the
# raylet, the runtime-environment agents, a log monitor and an idle worker held 710 MB resident
# together on a 2-core machine (Ray 2.60, dashboard off). They come out of the app's memory budget,
# like the server's own reserve, before Ray may hand memory to jobs.
RAY_PROCESSES_MB = 700
# Jobs pass rows and results, never tensors: a small object store is plenty, where Ray's default
# would reserve 30 % of the machine's memory for it.
LOCAL_OBJECT_STORE_MB = 256


def start_or_join(address: str | None, *, num_cpus: int | None, budget_mb: int) -> None:
    """Start Ray on this machine (``address`` None), with ``budget_mb`` for jobs, or join a cluster."""
    environment = {"TF_USE_LEGACY_KERAS": "1"}
    if address is None:
        python_path = [str(PACKAGE_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        try:
            ray.init(
                # "local": a new Ray of our own, even when ``ray start`` left a cluster (or
                # RAY_ADDRESS) on this machine, which plain ray.init() would join instead.
                address="local",
                num_cpus=num_cpus,
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE_MB * MIB,
                _memory=max(0, int(budget_mb)) * MIB,
                runtime_env={"env_vars": {**environment, "PYTHONPATH": os.pathsep.join(python_path)}},
            )
        except Exception as error:  # no room in /dev/shm or /tmp, ports taken, ...
            raise UserError(
                f"Ray could not start on this machine ({type(error).__name__}: {error}); see the server "
                "log, or unset BERTVIZ_JOBS to use local worker processes."
            ) from error
        return
    try:
        ray.init(
            address=address,
            runtime_env={
                "env_vars": environment,
                "py_modules": [str(PACKAGE_ROOT / "bertviz_core")],
                "excludes": ["__pycache__/", "*.pyc"],
            },
        )
    except Exception as error:  # a wrong address, an unreachable head, a version mismatch
        raise UserError(
            f"Could not join the Ray cluster at {address} ({type(error).__name__}); check "
            "BERTVIZ_RAY_ADDRESS (and, for a cluster with Ray's token authentication, RAY_AUTH_MODE=token "
            "and its token in RAY_AUTH_TOKEN), or unset it to run Ray on this machine."
        ) from error


class Mailbox:
    """One actor per pool, between the running tasks and the web process.

    Only ids, events and flags pass through it. Calls from one process run in the order it made them,
    so a task's events arrive in the order it emitted them; and calls run one at a time, so ``start``
    and ``request_stop`` for the same job cannot cross: a job stopped before it started never runs,
    even when its cancel comes too late.
    """

    def __init__(self) -> None:
        self._events: dict[str, list[Any]] = {}
        self._started: dict[str, dict] = {}
        self._running: set[str] = set()
        self._stop: set[str] = set()

    def start(self, job_id: str, where: dict) -> bool:
        """A task is about to run the job: True to go ahead, False when it was stopped already."""
        if job_id in self._stop:
            return False
        self._running.add(job_id)
        self._started[job_id] = where
        return True

    def emit(self, job_id: str, event: Any) -> None:
        self._events.setdefault(job_id, []).append(event)

    def should_stop(self, job_id: str) -> bool:
        return job_id in self._stop

    def request_stop(self, job_id: str) -> bool:
        """Ask the job to stop; True when it is already running (else it will never start)."""
        self._stop.add(job_id)
        return job_id in self._running

    def drain(self, forget: list[str]) -> tuple[dict[str, dict], dict[str, list[dict]]]:
        """What happened since the last call (jobs started, events), and forget finished jobs."""
        for job_id in forget:
            self._stop.discard(job_id)
            self._running.discard(job_id)
        started, events = self._started, self._events
        self._started, self._events = {}, {}
        return started, events


def _call(method: Any, *args: Any) -> Any:
    """An actor call from inside a task, waited for through a future. ``ray.get`` would tell Ray that
    the task is blocked, and Ray lends a blocked task's CPU to another task meanwhile: measured, four
    one-CPU tasks polling an actor that way ran at once on two CPUs, so admission would not hold."""
    return method.remote(*args).future().result(timeout=CALL_TIMEOUT_SECONDS)


# What such a call raises when the mailbox is gone or slow (a future's timeout is TimeoutError).
_CALL_ERRORS = (ray_errors.RayError, TimeoutError)


class _RemoteProgress:
    """The ``progress`` a task gets on a Ray worker; neither method waits for the network.

    ``emit`` sends the event to the mailbox at once without waiting for it (calls from one process
    run in order, so events stay in order); ``should_stop`` reads a flag that a thread beside the
    job fetches from the mailbox every ``EXCHANGE_SECONDS``, so a training loop can ask it between
    every two batches for free.
    """

    def __init__(self, mailbox: Any, job_id: str) -> None:
        self._mailbox, self._job_id = mailbox, job_id
        self._last_event: Any = None  # the ObjectRef of the last emit
        self._stop = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="job-stop-poll", daemon=True)
        self._thread.start()

    def emit(self, event: Any) -> None:
        self._last_event = self._mailbox.emit.remote(self._job_id, event)

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        """Wait until the mailbox has every event, so that they all arrive before the outcome."""
        self._closed.set()
        self._thread.join()
        if self._last_event is not None:
            with contextlib.suppress(*_CALL_ERRORS):
                self._last_event.future().result(timeout=CALL_TIMEOUT_SECONDS)

    def _poll(self) -> None:
        while not self._closed.wait(EXCHANGE_SECONDS):
            with contextlib.suppress(*_CALL_ERRORS):  # the mailbox restarts: ask again next time
                if _call(self._mailbox.should_stop, self._job_id):
                    self._stop.set()
                    return


def _run_job(
    mailbox: Any, job_id: str, kind: str, inputs: dict[str, Any], tasks_module: str
) -> tuple[str, Any]:
    """One job, as a Ray task: announce the start, run the task of ``tasks_module`` (``jobs.worker``),
    see its last events delivered."""
    # Below other work on the machine (with Ray on the web server's machine: below the server), like
    # a local worker; every thread of the process, since Ray reuses its workers.
    lower_priority()
    where = {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id()}
    if not _call(mailbox.start, job_id, where):
        return "skipped", None
    progress = _RemoteProgress(mailbox, job_id)
    try:
        return run_task(kind, inputs, progress, importlib.import_module(tasks_module).TASKS)
    finally:
        progress.close()


run_remote = ray.remote(_run_job)
MailboxActor = ray.remote(Mailbox)
