"""A worker process: ``python -m bertviz_core.jobs.worker FD``, started by the local pool.

It runs at a lower CPU priority than the web server, receives one job at a time over the
connection on file descriptor ``FD`` (a socket pair with the pool), reports progress and the
outcome over it, and exits when the pool says so or goes away. A stop request for the running job
arrives on a reader thread and is seen by the job between two batches.

Messages, pool to worker: ``("run", job_id, kind, inputs)``, ``("stop", job_id)``, ``("warm",)``
(import TensorFlow now, before a job arrives), ``("warm", inputs)`` (that, then build and trace the
model a training will likely need: ``tasks.prepare``), ``("exit",)``.
Worker to pool: ``("ready", pid)``, ``("event", job_id, event)``, ``("done", job_id, result)``,
``("failed", job_id, sentence)``, ``("holds", affinities)`` (the traced models it keeps, after a
warm-up or a job: ``tasks.holds``). Both ends are this project's code; nothing a visitor sent is
ever unpickled here (their rows arrive as lists of strings inside ``inputs``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any

from bertviz_core.errors import UserError
from bertviz_core.jobs.tasks import TASKS, Progress, holds, prepare

NICENESS = 10  # where SCHED_IDLE is not allowed: still below the web server


def lower_priority() -> None:
    """Every thread of this process runs only when the web server's processes do not need the CPU
    (Linux's SCHED_IDLE; else, or with ``BERTVIZ_WORKER_PRIORITY=nice`` for a machine busy with other
    work, where idle workers could starve: niceness 10), so a room's training takes only the CPU time the
    web server leaves. Measured on 2 cores with two trainings running: the explorer's
    change-to-new-total took 305 ms p50 and 447 ms p95 with SCHED_IDLE (265 and 373 idle), against
    412 and 2,285 ms at niceness 10 and 394 and 1,407 ms at the server's own priority."""
    try:
        threads = [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]
    idle = os.environ.get("BERTVIZ_WORKER_PRIORITY", "idle").strip().lower() != "nice"
    for thread in threads:
        if idle and _set_idle(thread):
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

    def emit(self, event: dict) -> None:
        self.connection.send(("event", self.job_id, event))

    def should_stop(self) -> bool:
        return self.stop.is_set()


def run_task(kind: str, inputs: dict[str, Any], progress: Progress) -> tuple[str, Any]:
    """One job's outcome: ``("done", result)`` or ``("failed", sentence)``; a bug's traceback goes to
    stderr (the server log). Shared with the Ray backend, so a page reads the same sentences from both."""
    try:
        return "done", TASKS[kind](inputs, progress)
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


def _read(connection: Connection, inbox: queue.Queue, running: dict) -> None:
    """Reader thread: stop requests act at once, everything else waits its turn in ``inbox``."""
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):  # the pool went away: finish soon, then exit
            running["stop"].set()
            inbox.put(("exit",))
            return
        if message[0] == "stop":
            if running.get("job_id") == message[1]:
                running["stop"].set()
        else:
            inbox.put(message)
            if message[0] == "exit":
                return


def _warm_up() -> None:
    """The imports every training pays once per worker: TensorFlow with keras-bert, and the
    scikit-learn parts that score it (about 2 s, paid otherwise after the last epoch). A tiny
    warm-up training was measured as well: it took 7-9 s of CPU and saved the first real run only
    1-2 s, as tracing a visitor's model is per model, so it was not kept."""
    from bertviz_core.model import runtime

    runtime.keras_bert()
    import sklearn.feature_extraction.text  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.metrics  # noqa: F401


def _prepare(inputs: dict[str, Any]) -> None:
    """``tasks.prepare``; a failure costs the next job its head start, never the worker."""
    try:
        prepare(inputs)
    except Exception:  # noqa: BLE001 - a bug: the server log gets it, the visitor nothing
        traceback.print_exc(file=sys.stderr)


def serve(connection: Connection) -> None:
    lower_priority()  # before any thread starts: they inherit it
    inbox: queue.Queue = queue.Queue()
    running: dict = {"job_id": None, "stop": threading.Event()}
    threading.Thread(target=_read, args=(connection, inbox, running), daemon=True).start()
    connection.send(("ready", os.getpid()))
    while True:
        message = inbox.get()
        if message[0] == "warm":  # a job will likely come: pay the first job's one-time costs now
            _warm_up()
            if len(message) > 1 and inbox.empty():  # a newer warm-up or a job waiting: skip to it
                _prepare(message[1])
                connection.send(("holds", holds()))
            continue
        if message[0] != "run":
            return
        _, job_id, kind, inputs = message
        running["stop"] = threading.Event()
        running["job_id"] = job_id
        try:
            state, payload = run_task(kind, inputs, _Progress(connection, job_id, running["stop"]))
        finally:
            running["job_id"] = None
        outcome = (state, job_id, payload)
        try:
            connection.send(outcome)
            connection.send(("holds", holds()))
        except (OSError, ValueError):  # the pool is gone: nobody is waiting for the outcome
            return


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
