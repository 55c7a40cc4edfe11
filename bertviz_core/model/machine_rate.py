"""This machine's fp32 matrix-product rate through TensorFlow, in FLOP/s.

``bertviz_core.timing`` divides an epoch's work by it to predict seconds per epoch; the worker task
``jobs.tasks.measure_rate`` measures it per server (``jobs.measured_rate`` says when again). Imports TensorFlow (through ``runtime``),
so it runs in a worker process, never in the web server's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bertviz_core.model import runtime
from bertviz_core.timing import MEASURE_SECONDS, MEASURE_SIZE


def measure_machine_rate(seconds: float = MEASURE_SECONDS, size: int = MEASURE_SIZE) -> float:
    """FLOP/s of TensorFlow's ``size`` × ``size`` fp32 matrix product, repeated for ``seconds``."""
    tf = runtime.tensorflow()
    left = tf.random.normal((size, size), dtype=tf.float32)
    right = tf.random.normal((size, size), dtype=tf.float32)
    product = tf.function(lambda: tf.matmul(left, right))
    return flop_rate(product, 2 * size**3, seconds)


def flop_rate(step: Callable, flops_per_call: int, seconds: float) -> float:
    """FLOP/s of calling ``step`` (a ``tf.function`` doing ``flops_per_call``) again and again for
    ``seconds``. The first call traces and warms up, so it is not counted; ``.numpy()`` waits for
    each result, so no call is still running when the clock stops."""
    step().numpy()
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        step().numpy()
        runs += 1
    return flops_per_call * runs / (time.perf_counter() - started)
