"""Stand-in jobs for tests of the job backends themselves: no TensorFlow, every timing chosen.

A backend runs them when given ``tasks_module="tests.jobs.probe_tasks"`` (``jobs.worker``): this
module offers what ``bertviz_core.jobs.tasks`` offers (``TASKS``, ``warm_up``, ``holds``), with a
``probe`` job added.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from bertviz_core.errors import JobError
from bertviz_core.jobs.tasks import TASKS as REAL_TASKS
from bertviz_core.jobs.tasks import holds, warm_up  # noqa: F401  (this module stands in for tasks)


@dataclass(frozen=True)
class Step:
    """A probe's progress: one more step done, by the process ``pid``."""

    step: int
    pid: int


def probe(inputs: dict[str, Any], progress) -> dict:
    """Reports ``steps`` events ``seconds`` apart (stopping early when asked), optionally holding
    ``hold_mb`` of memory, then fails with ``fail`` or ends the process abruptly (``crash``, as the
    kernel's out-of-memory killer would)."""
    held = bytearray(int(inputs.get("hold_mb", 0)) * 1024 * 1024)
    held[::4096] = b"x" * len(held[::4096])  # touch every page, so it is resident
    done = 0
    for step in range(int(inputs.get("steps", 1))):
        if progress.should_stop():
            break
        time.sleep(float(inputs.get("seconds", 0.0)))
        progress.emit(Step(step + 1, os.getpid()))
        done = step + 1
    for line in inputs.get("native_stderr", ()):  # as TensorFlow's C++ writes: straight to descriptor 2
        os.write(2, line.encode() + b"\n")
    if inputs.get("crash"):
        os._exit(9)
    if inputs.get("fail"):
        raise JobError(str(inputs["fail"]))
    return {"steps": done, "pid": os.getpid(), "stopped": progress.should_stop(), "held_mb": len(held) >> 20}


TASKS = {**REAL_TASKS, "probe": probe}
