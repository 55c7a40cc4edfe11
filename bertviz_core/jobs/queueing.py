"""What every job backend does the same way: places in line, waits, the job log, the grace periods.

Both backends put interactive jobs first and the rest in order of arrival, and estimate each
queued job's wait from what the running jobs have left and what the jobs ahead are expected to
take, over the backend's slots; a running job's own last word on its remaining seconds wins over
its expected length.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path

from bertviz_core.jobs.protocol import Job

TICK_SECONDS = 0.25  # a dispatcher's loop: messages, stops and admissions are this fresh
OWNER_GRACE_SECONDS = 5.0  # a visitor gone this long (a closed tab, not a blip) loses their jobs
STOP_GRACE_SECONDS = 60.0  # a stopping job finishes its batch and keeps its best epoch; then it is ended


def queue_order(jobs: list[Job]) -> list[Job]:
    """Interactive jobs first, then in order of arrival (``sorted`` is stable)."""
    return sorted(jobs, key=lambda job: not job.request.interactive)


def seconds_left(job: Job) -> float:
    """A running job's remaining seconds: its own last word (``remaining_seconds`` in an event), or
    what its request expected minus the time it has run."""
    for event in reversed(job.events):
        if "remaining_seconds" in event:
            return max(0.0, float(event["remaining_seconds"]))
    elapsed = time.time() - (job.started or time.time())
    return max(0.0, job.request.expected_seconds - elapsed)


def estimate_waits(running: list[Job], queued: list[Job], slots: int) -> None:
    """Set each running job's seconds left and each queued job's place and seconds until it starts
    (``queued`` in queue order), over ``slots`` jobs at once."""
    free_at = []
    for job in running:
        left = seconds_left(job)
        job.set_wait(left)
        free_at.append(left)
    free_at += [0.0] * max(0, slots - len(free_at))
    free_at.sort()
    for place, job in enumerate(queued, start=1):
        start = free_at.pop(0) if free_at else 0.0
        job.mark_queued(place, start)
        free_at.append(start + job.request.expected_seconds)
        free_at.sort()


class JobLog:
    """Optional JSON lines, one per job event (``BERTVIZ_JOBS_LOG``): for operators and benchmarks.

    Only ids, kinds, states, times and sizes: never a visitor's data, and no sentence beyond the
    job's own error sentence.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()

    def write(self, event: str, job: Job, **fields) -> None:
        if self.path is None:
            return
        line = {
            "time": round(time.time(), 3),
            "event": event,
            "job": job.id,
            "kind": job.request.kind,
            **fields,
        }
        with self._lock, contextlib.suppress(OSError), self.path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")

    def finished(self, job: Job) -> None:
        snapshot = job.snapshot()
        result = snapshot.result or {}
        stopped = bool(result.get("stopped") or result.get("metrics", {}).get("stopped_by_user"))
        seconds = round((snapshot.finished or time.time()) - (snapshot.started or snapshot.submitted), 2)
        self.write(
            "finished", job, state=snapshot.state, error=snapshot.error, seconds=seconds, stopped=stopped
        )
