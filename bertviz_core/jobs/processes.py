"""One local worker process, as the pool holds it: started, talked to, measured and ended.

A worker is ``python -m bertviz_core.jobs.worker FD TASKS_MODULE`` with one end of a socket pair
on file descriptor ``FD`` (multiprocessing's ``Connection`` on both ends).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import psutil

from bertviz_core.jobs.protocol import Job
from bertviz_core.text import MIB

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding bertviz_core/
EXIT_GRACE_SECONDS = 5.0  # an idle worker told to exit that is still there after this is ended


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    connection: Connection
    ready: bool = False  # it said so: it reads its messages now
    job: Job | None = None
    run_sent: bool = False  # the job went to the worker (after it said it was ready)
    warming: bool = False  # a warm-up went to it and it has not answered yet
    idle_since: float = field(default_factory=time.monotonic)
    stop_sent: float | None = None
    exit_sent: float | None = None
    resident_mb: float = 0.0  # resident set, shared library pages included
    shared_mb: float = 0.0  # of which file-backed pages other processes may map too (TensorFlow's libraries)
    # The affinities of the traced models it keeps (model.prepared.Shelf), newest first, as it last
    # said (its "holds" message), and the one a warm-up sent to it is making.
    affinities: list[str] = field(default_factory=list)
    warming_affinity: str = ""

    def holds(self, affinity: str) -> bool:
        return bool(affinity) and affinity in (self.warming_affinity, *self.affinities)

    @property
    def available(self) -> bool:
        """It may take a job: none now, and not on its way out."""
        return self.job is None and self.exit_sent is None

    @property
    def idle(self) -> bool:
        """Doing nothing at all: no job and no warm-up (a warm-up may take longer than the idle limit)."""
        return self.available and not self.warming

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(cls, environment: dict[str, str], tasks_module: str) -> WorkerProcess:
        ours, theirs = socket.socketpair()
        process = subprocess.Popen(
            [sys.executable, "-m", "bertviz_core.jobs.worker", str(theirs.fileno()), tasks_module],
            pass_fds=[theirs.fileno()],
            cwd=PACKAGE_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        return cls(process=process, connection=Connection(ours.detach()))

    def send(self, message: tuple) -> None:
        with contextlib.suppress(OSError, ValueError):  # the worker is gone: the pool's reaper sees it
            self.connection.send(message)

    def give(self, job: Job) -> None:
        """Hand ``job`` to this worker: sent now if it is ready, else when it says it is."""
        self.job, self.stop_sent, self.run_sent = job, None, False
        if self.ready:
            self.send_job()

    def send_job(self) -> None:
        job = self.job
        self.send(("run", job.id, job.request.kind, job.request.inputs))
        self.run_sent = True

    def release(self) -> None:
        """The job is over (or never began): the worker is free from now."""
        self.job, self.stop_sent, self.run_sent, self.idle_since = None, None, False, time.monotonic()

    def warm(self, inputs: dict | None, affinity: str = "") -> None:
        self.send(("warm",) if inputs is None else ("warm", inputs))
        self.warming, self.warming_affinity = True, affinity

    def tell_to_exit(self, now: float) -> None:
        self.send(("exit",))
        self.exit_sent = now

    def measure(self) -> None:
        try:
            info = psutil.Process(self.pid).memory_full_info()
            self.resident_mb, self.shared_mb = info.rss / MIB, (info.rss - info.uss) / MIB
        except psutil.Error:
            self.resident_mb = self.shared_mb = 0.0

    def end(self, wait_seconds: float = EXIT_GRACE_SECONDS) -> None:
        """Terminate, and kill if it is still there after ``wait_seconds``."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(wait_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
