"""A worker process: ``python -m bertviz_core.jobs.worker FD [TASKS_MODULE]``, started by the local pool.

It runs at a lower CPU priority than the web server, receives one job at a time over the
connection on file descriptor ``FD`` (a socket pair with the pool), reports progress and the
outcome over it, and exits when the pool says so or goes away. A stop request arrives on a reader
thread: for the running job it is seen between two batches; for a job not begun yet it is
remembered, and that job is then skipped.

``TASKS_MODULE`` (default ``bertviz_core.jobs.tasks``) provides ``TASKS`` (the work by kind),
``warm_up(inputs)`` and ``holds()``; a test passes its own to run stand-in jobs or slow starts.

Messages, pool to worker: ``("run", job_id, kind, inputs)``, ``("stop", job_id)``, ``("warm",)``
(import TensorFlow now, before a job arrives), ``("warm", inputs)`` (that, then build and trace the
model a training will likely need: ``tasks.warm_up``), ``("exit",)``.
Worker to pool: ``("ready", pid)``, ``("started", job_id)`` (the job begins now),
``("event", job_id, event)``, ``("done", job_id, result)``, ``("failed", job_id, sentence)``,
``("skipped", job_id)`` (stopped before it began), ``("holds", affinities)`` (after every warm-up
and job: the traced models it keeps). Both ends are this project's code; nothing a visitor sent is
ever unpickled here (their rows arrive as lists of strings inside ``inputs``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import queue
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from types import ModuleType
from typing import Any

from bertviz_core.errors import UserError
from bertviz_core.jobs.tasks import TASKS, Progress

DEFAULT_TASKS = "bertviz_core.jobs.tasks"

NICENESS = 10  # where SCHED_IDLE is not allowed: still below the web server


def lower_priority() -> None:
    """Every thread of this process runs only when the web server's processes do not need the CPU
    (Linux's SCHED_IDLE; else, or with ``BERTVIZ_WORKER_PRIORITY=nice``, niceness 10), so a room's
    training takes only the CPU time the web server leaves. Measured on 2 cores with two trainings
    running: the explorer's change-to-new-total took 305 ms p50 and 447 ms p95 with SCHED_IDLE (265 and
    373 idle), against 412 and 2,285 ms at niceness 10 and 394 and 1,407 ms at the server's own priority.

    SCHED_IDLE yields to every other process, not only the web server's: on a machine (or container)
    whose cores other programs keep busy, the workers get almost nothing. There
    ``BERTVIZ_WORKER_PRIORITY=normal`` keeps them at the server's priority (see docs/performance.md)."""
    mode = os.environ.get("BERTVIZ_WORKER_PRIORITY", "idle").strip().lower()
    if mode == "normal":
        return
    try:
        threads = [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]
    for thread in threads:
        if mode != "nice" and _set_idle(thread):
            continue
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, thread, max(os.getpriority(os.PRIO_PROCESS, thread), NICENESS))


def _set_idle(thread: int) -> bool:
    try:
        os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not allowed here
        return False
    return True


class _Progress:
    def __init__(self, connection: Connection, job_id: str, stop: threading.Event) -> None:
        self.connection, self.job_id, self.stop = connection, job_id, stop

    def emit(self, event: Any) -> None:
        self.connection.send(("event", self.job_id, event))

    def should_stop(self) -> bool:
        return self.stop.is_set()


def run_task(
    kind: str, inputs: dict[str, Any], progress: Progress, tasks: dict[str, Any] = TASKS
) -> tuple[str, Any]:
    """One job's outcome: ``("done", result)`` or ``("failed", sentence)``; a bug's traceback goes to
    stderr (the server log). Shared with the Ray backend, so a page reads the same sentences from both."""
    try:
        return "done", tasks[kind](inputs, progress)
    except UserError as error:
        return "failed", str(error)
    except MemoryError:
        return "failed", "The job ran out of memory; make the model or the batch smaller."
    except Exception as error:  # a bug: the visitor gets a sentence, the server log the traceback
        traceback.print_exc(file=sys.stderr)
        return "failed", (
            f"The {kind} job failed unexpectedly ({type(error).__name__}); try again, and report it "
            "if it happens again."
        )


class _Mailbox:
    """What the reader thread and the job loop share: the running job's stop flag, and stops for
    jobs that have not begun yet (a stop may overtake its job: the pool sends it as soon as a
    visitor asks, and the job may still wait behind a warm-up)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: tuple[str, threading.Event] | None = None
        self._stopped: set[str] = set()

    def stop(self, job_id: str) -> None:
        with self._lock:
            if self._running is not None and self._running[0] == job_id:
                self._running[1].set()
            else:
                self._stopped.add(job_id)

    def begin(self, job_id: str) -> threading.Event | None:
        """The stop flag of the job beginning now, or None when it was stopped before it began."""
        with self._lock:
            if job_id in self._stopped:
                self._stopped.discard(job_id)
                return None
            self._running = (job_id, threading.Event())
            return self._running[1]

    def end(self) -> None:
        with self._lock:
            self._running = None

    def stop_all(self) -> None:
        with self._lock:
            if self._running is not None:
                self._running[1].set()


def _read(connection: Connection, inbox: queue.Queue, mailbox: _Mailbox) -> None:
    """Reader thread: stop requests act at once, everything else waits its turn in ``inbox``."""
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):  # the pool went away: finish soon, then exit
            mailbox.stop_all()
            inbox.put(("exit",))
            return
        if message[0] == "stop":
            mailbox.stop(message[1])
        else:
            inbox.put(message)
            if message[0] == "exit":
                return


def _warm(tasks: ModuleType, inputs: dict[str, Any] | None) -> None:
    """``tasks.warm_up``; a failure costs the next job its head start, never the worker."""
    try:
        tasks.warm_up(inputs)
    except Exception:  # noqa: BLE001 - a bug: the server log gets it, the visitor nothing
        traceback.print_exc(file=sys.stderr)


def serve(connection: Connection, tasks_module: str = DEFAULT_TASKS) -> None:
    lower_priority()  # before any thread starts: they inherit it
    from bertviz_core.model.runtime import filter_native_stderr

    filter_native_stderr()  # TensorFlow's once-per-process notices stay out of the server's log
    tasks = importlib.import_module(tasks_module)
    inbox: queue.Queue = queue.Queue()
    mailbox = _Mailbox()
    threading.Thread(target=_read, args=(connection, inbox, mailbox), daemon=True).start()
    connection.send(("ready", os.getpid()))
    while True:
        message = inbox.get()
        if message[0] == "warm":  # a job will likely come: pay its one-time costs now
            # A newer warm-up or a job already waiting: import only, and skip to it.
            _warm(tasks, message[1] if len(message) > 1 and inbox.empty() else None)
            connection.send(("holds", tasks.holds()))
            continue
        if message[0] != "run":
            return
        _, job_id, kind, inputs = message
        stop = mailbox.begin(job_id)
        if stop is None:
            connection.send(("skipped", job_id))
            continue
        connection.send(("started", job_id))
        try:
            state, payload = run_task(kind, inputs, _Progress(connection, job_id, stop), tasks.TASKS)
        finally:
            mailbox.end()
        try:
            connection.send((state, job_id, payload))
            connection.send(("holds", tasks.holds()))
        except (OSError, ValueError):  # the pool is gone: nobody is waiting for the outcome
            return


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])), *(sys.argv[2:3] or [DEFAULT_TASKS]))
