"""TensorFlow work out of the web process: jobs run in worker processes, bounded, queued, stoppable.

``protocol`` (a request, its events, and the handle a page follows), ``backend`` (the interface
every backend offers, and what they share), ``local`` (the default backend: a pool of worker
processes on this machine), ``ray_backend`` (the same jobs on a Ray cluster), ``worker`` (a worker
process's loop), ``tasks`` (what a worker does, by kind) and ``requests`` (the app's jobs, sized). The web process
only submits plain data and reads plain results; it never imports TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from bertviz_core.errors import UserError
from bertviz_core.jobs.backend import JobBackend


def make_pool(owner_alive: Callable[[str], bool] | None = None) -> JobBackend:
    """The job backend this deployment asks for, from the environment.

    ``BERTVIZ_JOBS=local`` (the default): worker processes on this machine; ``BERTVIZ_WORKERS``
    caps how many run at once (default: one per CPU core), ``BERTVIZ_WORKER_IDLE_SECONDS`` is how
    long an idle worker stays (default 20). ``BERTVIZ_JOBS=ray``: a Ray cluster at
    ``BERTVIZ_RAY_ADDRESS``, or Ray on this machine when it is not set. ``BERTVIZ_JOBS_LOG``: a
    file that receives one JSON line per job event.
    """
    backend = os.environ.get("BERTVIZ_JOBS", "local").strip().lower() or "local"
    if backend == "local":
        from bertviz_core.jobs.local import LocalPool

        return LocalPool(
            owner_alive=owner_alive,
            max_workers=_whole_number("BERTVIZ_WORKERS"),
            idle_seconds=_whole_number("BERTVIZ_WORKER_IDLE_SECONDS") or 20,
            log_path=os.environ.get("BERTVIZ_JOBS_LOG") or None,
        )
    if backend == "ray":
        from bertviz_core.jobs.ray_backend import RayPool

        return RayPool(
            address=os.environ.get("BERTVIZ_RAY_ADDRESS") or None,
            owner_alive=owner_alive,
            log_path=os.environ.get("BERTVIZ_JOBS_LOG") or None,
        )
    raise UserError(f"BERTVIZ_JOBS is {backend!r}; set it to 'local' or 'ray'.")


def _whole_number(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and int(raw) > 0):
        raise UserError(f"{name} is {raw[:20]!r}; set it to a whole number above 0.")
    return int(raw)
