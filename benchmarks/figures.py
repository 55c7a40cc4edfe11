"""The app's speeds measured against this machine's own limits, in one run (``python -m benchmarks``).

Figures are ratios within one run where possible (arithmetic against a real build, training
FLOP/s against TensorFlow's own matrix-product peak), because shared machines are noisy.
The explorer is measured in a fresh child process, as a cold app would start.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import layer_rows, total_params
from bertviz_core.model.machine_rate import flop_rate, measure_machine_rate
from bertviz_core.text import MIB

REPO_ROOT = Path(__file__).resolve().parents[1]

# The reference training run of the performance issue.
REFERENCE_CONFIG = ModelConfig(
    vocab=5000, seq_len=64, pos_num=64, embed_dim=128, heads=2, layers=2, ff_dim=512
)
REFERENCE_BATCH = 32
REFERENCE_ROWS = 2048
REFERENCE_CLASSES = 2


class PeakMemory:
    """Samples this process's resident memory in a thread; ``peak_mb`` is the highest seen."""

    def __init__(self, interval_seconds: float = 0.05) -> None:
        self._process = psutil.Process()
        self._interval = interval_seconds
        self._stop = threading.Event()
        self.peak_bytes = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / MIB


def arithmetic_seconds(config: ModelConfig, repeats: int = 200) -> float:
    """Median time of the full per-layer breakdown plus totals, with the cache cleared each time."""
    times = []
    for _ in range(repeats):
        layer_rows.cache_clear()
        started = time.perf_counter()
        rows = layer_rows(config)
        total_params(config)
        costs.memory(config)
        costs.compute(config)
        times.append(time.perf_counter() - started)
        assert rows
    return statistics.median(times)


def real_build_seconds(config: ModelConfig) -> float:
    """Seconds ``get_model`` takes for this configuration, in a fresh process (``size --verify``)."""
    from bertviz_core.cli import model_arguments

    command = [sys.executable, "-m", "bertviz_core", "size", *model_arguments(config), "--verify", "--json"]
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=REPO_ROOT
    )
    if finished.returncode not in (0, 1):
        raise RuntimeError(f"the real build failed: {finished.stderr.strip()[-1500:]}")
    report = json.loads(finished.stdout)
    if not report.get("verify", {}).get("matches"):
        raise RuntimeError(f"the real model differs from the arithmetic: {report.get('verify')}")
    return float(report["verify"]["build_seconds"])


# The app's side of the benchmark, run in a fresh interpreter from the repository root, from start
# to the explorer's first complete run, then moves.
EXPLORER_PROBE = "benchmarks.explorer_probe"


def explorer_timings(moves: int) -> dict:
    # Not psutil's create_time: it is built on the boot time in whole seconds, so it can be
    # up to a second early, which once added almost a second to the first render.
    finished = subprocess.run(
        [sys.executable, "-m", EXPLORER_PROBE, str(moves), repr(time.time())],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if finished.returncode != 0:
        raise RuntimeError(f"the explorer probe failed: {finished.stderr.strip()[-1500:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def matmul_gflops(seconds: float) -> float:
    """The product's own measure of this machine (``model.machine_rate``: TensorFlow's fp32
    1024 x 1024 matrix product), in GFLOP/s: the peak the MFU is held against, and the rate the app's
    predicted training times divide by."""
    return measure_machine_rate(seconds=seconds) / 1e9


def step_matmul_shapes(config: ModelConfig, batch: int) -> list[tuple[tuple, tuple, bool, bool]]:
    """The matrix products of one training step of the encoder, as (a, b, transpose_a, transpose_b).

    Per block: the four d × d projections, the two feed-forward products and the two per-head
    attention products (scores, weighted sum), each forward, then its two gradients (input and
    weight, or both operands). The classifier head, d × classes, is left out: it is tiny.
    """
    s, d, f = config.seq_len, config.embed_dim, config.ff_dim
    rows, per_head, groups = batch * s, d // config.heads, batch * config.heads

    def trio(m: int, k: int, n: int) -> list:  # x (m × k) · w (k × n), then dx = dy·wᵀ and dw = xᵀ·dy
        return [((m, k), (k, n), False, False), ((m, n), (k, n), False, True), ((m, k), (m, n), True, False)]

    block = trio(rows, d, d) * 4 + trio(rows, d, f) + trio(rows, f, d)
    attention = [
        ((groups, s, per_head), (groups, s, per_head), False, True),  # scores q·kᵀ and their gradients
        ((groups, s, s), (groups, s, per_head), False, False),
        ((groups, s, s), (groups, s, per_head), True, False),
    ]
    return (block + attention * 2) * config.layers


def matmul_flops(a: tuple, b: tuple, transpose_a: bool, transpose_b: bool) -> int:
    m, k = (a[-1], a[-2]) if transpose_a else (a[-2], a[-1])
    n = b[-2] if transpose_b else b[-1]
    return 2 * m * k * n * (a[0] if len(a) == 3 else 1)


def step_matmul_gflops(config: ModelConfig, batch: int, seconds: float = 2.0) -> float:
    """GFLOP/s of one training step's matrix products alone, with its shapes and nothing else.

    The bound training could reach at this shape if every element-wise operation (GELU, layer
    norms, softmax, dropout, Adam) were free. Each product has operands of its own, so none is
    shared or folded away, and TensorFlow runs them with its usual threads.
    """
    from bertviz_core.model import runtime

    tf = runtime.tensorflow()
    shapes = step_matmul_shapes(config, batch)
    operands = [(tf.random.normal(a), tf.random.normal(b), ta, tb) for a, b, ta, tb in shapes]
    step = tf.function(
        lambda: tf.add_n([tf.reduce_sum(tf.matmul(a, b, transpose_a=ta, transpose_b=tb)[..., :1, :1])
                          for a, b, ta, tb in operands])
    )  # fmt: skip
    return flop_rate(step, sum(matmul_flops(*shape) for shape in shapes), seconds) / 1e9


def synthetic_rows(rows: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Two classes told apart by their words, with shared filler, so the model has work to do."""
    rng = np.random.default_rng(seed)
    filler = [f"word{i}" for i in range(3000)]
    cues = {"positive": [f"good{i}" for i in range(200)], "negative": [f"bad{i}" for i in range(200)]}
    texts, labels = [], []
    for index in range(rows):
        label = "positive" if index % 2 else "negative"
        words = list(rng.choice(filler, size=int(rng.integers(30, 70))))
        for position in rng.integers(0, len(words), size=4):
            words[position] = str(rng.choice(cues[label]))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def synthetic_dataset(rows: int, seed: int = 0):
    """``synthetic_rows`` as the ``Dataset`` training takes (classes sorted by name)."""
    from bertviz_core.data.rows import Dataset

    texts, labels = synthetic_rows(rows, seed)
    class_names = tuple(sorted(set(labels)))
    return Dataset(
        texts=tuple(texts), labels=tuple(labels), class_names=class_names,
        label_ids=np.array([class_names.index(label) for label in labels], dtype=np.int64), notes=(),
    )  # fmt: skip


@dataclass
class _EpochRecorder:
    records: list

    def on_epoch_end(self, epoch_record: dict) -> None:
        self.records.append(dict(epoch_record))


# What train_samples_per_second means, printed with the figures.
TRAIN_THROUGHPUT_DEFINITION = (
    "training rows / seconds of one epoch's training batches (validation excluded), "
    "median over the epochs after the first (tracing)"
)


def training_figures(epochs: int) -> dict:
    """Train the reference configuration; figures from the epochs after the first (tracing)."""
    from bertviz_core.model.training import train_classifier
    from bertviz_core.settings import TrainSettings

    dataset = synthetic_dataset(REFERENCE_ROWS)
    settings = TrainSettings(
        epochs=epochs, batch_size=REFERENCE_BATCH, learning_rate=1e-3, val_share=0.1, seed=0, patience=epochs
    )
    recorder = _EpochRecorder(records=[])
    started = time.perf_counter()
    with PeakMemory() as peak:
        result = train_classifier(dataset, REFERENCE_CONFIG, settings, recorder)
    total_seconds = time.perf_counter() - started
    steady = recorder.records[1:] or recorder.records
    samples_per_second = statistics.median(record["samples_per_second"] for record in steady)
    flops_per_sample = costs.compute(REFERENCE_CONFIG, classes=REFERENCE_CLASSES).training
    return {
        "train_samples_per_second": samples_per_second,
        "train_samples_per_second_definition": TRAIN_THROUGHPUT_DEFINITION,
        "train_first_epoch_samples_per_second": recorder.records[0]["samples_per_second"],
        "train_first_epoch_seconds": recorder.records[0]["seconds"],
        "train_total_seconds": total_seconds,  # train_classifier end to end: tokenising, building, epochs
        "train_flops_per_sample": flops_per_sample,
        "train_val_accuracy": result.metrics["val_accuracy"],
        "peak_rss_mb": peak.peak_mb,
        "train_epochs": len(recorder.records),
        "train_parameters": result.metrics["parameters"],
    }


def run(quick: bool = False, training_only: bool = False) -> dict:
    """Every figure of the benchmark; ``quick`` keeps it under a minute for CI.

    ``training_only``: only the training figures and the matrix-product peak they are held against.
    """
    started = time.perf_counter()
    base = ModelConfig()
    results: dict = {"quick": quick, "cpu_count": os.cpu_count(), "python": sys.version.split()[0]}
    results["load_average_at_start"] = os.getloadavg()[0]

    if not training_only:
        results["arithmetic_seconds"] = arithmetic_seconds(base, repeats=50 if quick else 500)
        results["real_build_seconds"] = real_build_seconds(base)
        results["arithmetic_speedup"] = results["real_build_seconds"] / results["arithmetic_seconds"]

        explorer = explorer_timings(moves=8 if quick else 40)
        results["explorer_first_render_seconds"] = explorer["first_render_seconds"]
        results["explorer_rerun_ms_p50"] = statistics.median(explorer["rerun_ms"])
        results["explorer_rerun_ms_max"] = max(explorer["rerun_ms"])
        results["explorer_peak_rss_mb"] = explorer["peak_rss_mb"]
        results["explorer_imports_tensorflow"] = explorer["imported_tensorflow"]

    results.update(training_figures(epochs=2 if quick else 4))
    results["matmul_gflops"] = matmul_gflops(seconds=1.0 if quick else 3.0)
    achieved = results["train_samples_per_second"] * results["train_flops_per_sample"] / 1e9
    results["train_achieved_gflops"] = achieved
    results["train_mfu"] = achieved / results["matmul_gflops"]
    # The same step's matrix products alone: how far the shapes themselves let training go.
    bound = step_matmul_gflops(REFERENCE_CONFIG, REFERENCE_BATCH, seconds=1.0 if quick else 3.0)
    results["train_matmul_only_gflops"] = bound
    results["train_matmul_only_mfu"] = bound / results["matmul_gflops"]
    results["train_share_of_matmul_only"] = achieved / bound
    results["load_average_at_end"] = os.getloadavg()[0]
    results["total_seconds"] = time.perf_counter() - started
    return results
