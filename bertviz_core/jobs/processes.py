"""One local worker process, as the pool holds it: started, talked to, measured and ended.

A worker is ``python -m bertviz_core.jobs.worker FD`` with one end of a socket pair on file
descriptor ``FD`` (multiprocessing's ``Connection`` on both ends).
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
    ready: bool = False  # it said so: a job sent now starts at once
    job: Job | None = None
    idle_since: float = field(default_factory=time.monotonic)
    stop_sent: float | None = None
    exit_sent: float | None = None
    resident_mb: float = 0.0  # resident set, shared library pages included
    shared_mb: float = 0.0  # of which file-backed pages other processes may map too (TensorFlow's libraries)
    # The affinities of the traced models it keeps (model.prepared.Shelf), newest first, as it last
    # said (its "holds" message), and the one a warm-up sent to it is making.
    affinities: list[str] = field(default_factory=list)
    warming: str = ""

    def holds(self, affinity: str) -> bool:
        return bool(affinity) and affinity in (self.warming, *self.affinities)

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(cls, environment: dict[str, str]) -> WorkerProcess:
        ours, theirs = socket.socketpair()
        process = subprocess.Popen(
            [sys.executable, "-m", "bertviz_core.jobs.worker", str(theirs.fileno())],
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
