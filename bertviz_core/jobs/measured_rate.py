"""The server's matrix-product rate for predicted training times, measured again when the load moves.

One rate serves every visitor of a server (``bertviz_ui.timing`` keeps one ``MeasuredRate``). It is
measured by a short job (``requests.machine_rate_request``) the first time a page needs it, and again
when it has grown stale: at least ``REFRESH_SECONDS`` old and the machine's 1-minute load average
(runnable processes) has moved by ``LOAD_CHANGE`` or more since. Other processes arriving or leaving
change what a training gets of the CPU, so a rate measured on a busy machine is wrong once it is
quiet (4.9 times too slow in one run) and the other way round. While a new measurement runs the old
rate is still given, so a prediction never disappears; a failed one is tried again after
``RETRY_SECONDS``.

A measurement whose worker got less than ``STARVED_SHARE`` of its cores (``cpu_share``: workers
run at SCHED_IDLE, so a burst of other work can starve them for a moment) measured that moment,
not the machine: in a busy test run, one such rate predicted 35 times the epochs that followed. It
is measured again at once; after ``STARVED_TAKEN`` starved measurements in a row the fastest of
them is taken (the machine is then busy for good, and trainings are starved as well).
Thread-safe: a server's sessions are threads.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from bertviz_core.errors import UserError
from bertviz_core.jobs.protocol import DONE, Job

REFRESH_SECONDS = 60.0
LOAD_CHANGE = 0.75
RETRY_SECONDS = 120.0
STARVED_SHARE = 0.3
STARVED_TAKEN = 3


def is_stale(age_seconds: float, load_then: float, load_now: float) -> bool:
    """Whether a rate measured ``age_seconds`` ago at load ``load_then`` should be measured again."""
    return age_seconds >= REFRESH_SECONDS and abs(load_now - load_then) >= LOAD_CHANGE


class MeasuredRate:
    """The latest measured rate in FLOP/s, and the measurement under way.

    ``submit`` starts a measurement job (and may raise ``UserError``, e.g. the pool refuses it);
    ``clock`` and ``load`` are ``time.monotonic`` and the 1-minute load average unless a test
    gives its own.
    """

    def __init__(
        self,
        submit: Callable[[], Job],
        clock: Callable[[], float] = time.monotonic,
        load: Callable[[], float] = lambda: os.getloadavg()[0],
    ) -> None:
        self._submit, self._clock, self._load = submit, clock, load
        self._lock = threading.Lock()
        self._job: Job | None = None
        self.rate: float | None = None
        self.error: str | None = None
        self._measured_at = 0.0
        self._load_then = 0.0
        self._failed_at: float | None = None
        self._starved: list[float] = []  # rates of the starved measurements in a row

    def get(self, start: bool = True) -> float | None:
        """The rate, or None before the first measurement has ended. With ``start``, a measurement
        is started when there is no rate yet or it is stale (and none is under way)."""
        with self._lock:
            self._collect()
            if start and self._job is None and self._due():
                try:
                    self._job = self._submit()
                except UserError as error:
                    self._failed(str(error))
            return self.rate

    def job(self) -> Job | None:
        """The measurement under way, if any."""
        with self._lock:
            return self._job

    def _due(self) -> bool:
        now = self._clock()
        if self._failed_at is not None and now - self._failed_at < RETRY_SECONDS:
            return False
        if self._starved:
            return True
        if self.rate is None:
            return True
        return is_stale(now - self._measured_at, self._load_then, self._load())

    def _collect(self) -> None:
        """A measurement that has ended: its rate kept, or why it failed."""
        if self._job is None:
            return
        snapshot = self._job.snapshot()
        if not snapshot.is_over:
            return
        self._job = None
        result = snapshot.result or {}
        if snapshot.state == DONE and result.get("flops_per_second", 0) > 0:
            rate = float(result["flops_per_second"])
            if float(result.get("cpu_share", 1.0)) < STARVED_SHARE:
                self._starved.append(rate)
                if len(self._starved) < STARVED_TAKEN:
                    return
                rate = max(self._starved)
            self.rate, self.error, self._failed_at = rate, None, None
            self._starved = []
            self._measured_at = self._clock()
            self._load_then = float(result.get("load_average", self._load()))
        else:
            self._failed(snapshot.error or "the measurement was stopped")

    def _failed(self, error: str) -> None:
        self.error, self._failed_at = error.rstrip("."), self._clock()
