"""The one place TensorFlow is imported.

keras-bert 0.89.0 only works with Keras 2, which TensorFlow 2.21 provides through the tf-keras
package when ``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow's first import in the process.
Importing lazily also keeps the explorer free of TensorFlow's 3 s and 600 MB start-up cost.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from types import ModuleType

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# TensorFlow's C++ start-up chatter on a CPU machine. absl prints it before any log level applies,
# so the first import runs with file descriptor 2 captured and these lines dropped; anything else
# it printed is passed on.
_START_UP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations are on|"
    r"Could not find cuda drivers|failed call to cuInit|cuda_platform|TF-TRT Warning|"
    r"Created TensorFlow Lite XNNPACK delegate|"
    # Printed once per process at the first training step, on CPUs with AVX-512 too, before oneDNN falls
    # back to Eigen for int32 operations (the token ids' embedding lookups): nothing for anyone to do.
    r"oneDNN supports DT_INT32 only on platforms with AVX-512"
)
_import_lock = threading.Lock()


def filter_native_stderr() -> None:
    """For the rest of this process (a worker's): what native code writes to file descriptor 2 passes
    through a thread that drops the known chatter above, whenever TensorFlow prints it; Python's own
    ``sys.stderr`` (tracebacks) writes to the real descriptor directly."""
    try:
        sys.stderr.flush()
        real = os.dup(2)
        read_end, write_end = os.pipe()
    except (OSError, ValueError):  # no real stderr: nothing to filter
        return
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = open(real, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115

    def pump() -> None:
        with open(read_end, "rb") as source:
            for line in source:
                if not _START_UP_NOISE.search(line.decode("utf-8", "replace")):
                    os.write(real, line)

    pumping = threading.Thread(target=pump, name="native-stderr-filter", daemon=True)
    pumping.start()

    def drain() -> None:  # at exit, what is still in the pipe is passed on before the process ends
        os.dup2(real, 2)  # the pipe's last writer closes: the pump reads to its end
        pumping.join(timeout=1.0)

    atexit.register(drain)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """File descriptor 2 captured while inside, and passed on without the known start-up chatter."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some embedded hosts): nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True)
                if not _START_UP_NOISE.search(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))


# Opt-in: oneDNN's automatic bfloat16 (TensorFlow's graph rewrite runs matrix products and most
# element-wise work in bf16, keeps the weights and the softmax in fp32) on CPUs with AVX-512 BF16 or
# AMX. Fine-tuning all-MiniLM-L6-v2 on this stop's host: 1.44x the samples per second of fp32, the same
# validation accuracy (benchmarks.minilm_peer, docs/performance.md). Off by default: every figure the
# tests hold against keras-bert is fp32.
BF16_SETTING = "BERTVIZ_BF16"
_BF16_FLAGS = re.compile(r"\b(avx512_bf16|amx_bf16)\b")


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 instructions (Linux's /proc/cpuinfo; elsewhere, no)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            return bool(_BF16_FLAGS.search(cpuinfo.read()))
    except OSError:
        return False


def bf16_in_use() -> bool:
    """``BERTVIZ_BF16=on`` and a CPU that has bf16 instructions (asked for elsewhere, it is ignored)."""
    return os.environ.get(BF16_SETTING, "").strip().lower() in {"1", "on", "true", "yes"} and cpu_has_bf16()


def tensorflow() -> ModuleType:
    """Import and return TensorFlow with Keras 2 as ``tf.keras``."""
    with _import_lock:
        if "tensorflow" in sys.modules:
            import tensorflow as tf
        else:
            with quiet_native_stderr():
                import tensorflow as tf

                tf.config.list_physical_devices()  # the CUDA probe prints here, not at import

    if bf16_in_use():
        tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
    # keras-bert shares one unseeded initializer between layers; the warning is about that, not us.
    warnings.filterwarnings("ignore", message="The initializer .* is unseeded")
    _quiet_per_model_tracing(tf)

    # keras-bert re-registers the module as "tensorflow.keras", so look at where it lives.
    keras_home = f"{tf.keras.__name__} {getattr(tf.keras, '__file__', '')}"
    if "tf_keras" not in keras_home:
        raise RuntimeError(
            "TensorFlow was imported before TF_USE_LEGACY_KERAS=1 was set, so tf.keras is Keras 3 "
            "and keras-bert cannot build; import bertviz_core before TensorFlow."
        )
    return tf


# TensorFlow counts traces by a function's code, not by the function: each new model's training
# step (and our forward pass, prepared.PreparedClassifier) is a new function of the same code, so a
# worker that trains a few models in a row hears "5 out of the last 5 calls ... triggered
# tf.function retracing" although every model traced its own functions once
# (tests/model/test_prepared.py counts them; a kept model traces nothing again). Only that false
# alarm, for those per-model functions, is dropped; any other retracing warning still shows.
_PER_MODEL_TRACING = re.compile(
    r"calls to <function (Model\.make_(train|test|predict)_function|PreparedClassifier\.|traced_forward\.)"
    r".* triggered tf\.function retracing"
)


class _PerModelTracing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _PER_MODEL_TRACING.search(record.getMessage())


def _quiet_per_model_tracing(tf: ModuleType) -> None:
    logger = tf.get_logger()
    if not any(isinstance(known, _PerModelTracing) for known in logger.filters):
        logger.addFilter(_PerModelTracing())


def keras_bert() -> ModuleType:
    tensorflow()
    import keras_bert

    return keras_bert
