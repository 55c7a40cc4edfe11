"""The probe jobs, in a worker whose start takes ``START_SECONDS`` (as importing TensorFlow does
on a busy machine): importing this module is the worker's start-up, before it says it is ready."""

from __future__ import annotations

import time

from tests.jobs.probe_tasks import TASKS, holds, warm_up  # noqa: F401

START_SECONDS = 2.5
time.sleep(START_SECONDS)
