"""The probe jobs, in a worker whose warm-up lasts until the test opens a gate: ``inputs["gate"]``,
a file the warm-up waits for (as TensorFlow's import and a model's tracing take their time on a
busy machine); afterwards the worker holds the warm-up's ``affinity``."""

from __future__ import annotations

import time
from pathlib import Path

from tests.jobs.probe_tasks import TASKS  # noqa: F401

GATE_TIMEOUT_SECONDS = 120.0
_held: list[str] = []


def warm_up(inputs: dict | None) -> None:
    if inputs is None:
        return
    deadline = time.monotonic() + GATE_TIMEOUT_SECONDS
    while not Path(inputs["gate"]).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    _held[:] = [inputs["affinity"]]


def holds() -> list[str]:
    return list(_held)
