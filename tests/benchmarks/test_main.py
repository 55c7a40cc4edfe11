"""``python -m benchmarks --quick --json`` as CI runs it: every figure there and sane.

No speed is asserted here (the machine is shared; targets are the bench's own report): only that
each figure exists, is a finite positive number of the right kind, and that the explorer stayed
free of TensorFlow.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

POSITIVE_FIGURES = (
    "arithmetic_seconds",
    "real_build_seconds",
    "arithmetic_speedup",
    "explorer_first_render_seconds",
    "explorer_rerun_ms_p50",
    "explorer_peak_rss_mb",
    "train_samples_per_second",
    "train_flops_per_sample",
    "matmul_gflops",
    "train_achieved_gflops",
    "train_mfu",
    "train_matmul_only_gflops",
    "train_matmul_only_mfu",
    "train_share_of_matmul_only",
    "peak_rss_mb",
)


@pytest.fixture(scope="module")
def report(repo_root) -> dict:
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json"],
        cwd=repo_root, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-2000:]
    return json.loads(finished.stdout.strip().splitlines()[-1])


def test_every_figure_is_a_finite_positive_number(report):
    for key in POSITIVE_FIGURES:
        value = report.get(key)
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value) and value > 0, (key, value)


def test_figures_agree_with_each_other(report):
    assert report["quick"] is True
    # The reference run's cost by arithmetic (costs.compute(..., classes=2).training).
    assert report["train_flops_per_sample"] == 163_579_392
    assert report["train_mfu"] > 0  # no upper bound: the rate and the training are measured apart
    achieved = report["train_samples_per_second"] * report["train_flops_per_sample"] / 1e9
    assert report["train_achieved_gflops"] == pytest.approx(achieved, rel=1e-6)
    assert report["train_mfu"] == pytest.approx(achieved / report["matmul_gflops"], rel=1e-6)
    assert report["train_matmul_only_mfu"] == pytest.approx(
        report["train_matmul_only_gflops"] / report["matmul_gflops"], rel=1e-6
    )
    assert report["train_share_of_matmul_only"] == pytest.approx(
        achieved / report["train_matmul_only_gflops"], rel=1e-6
    )
    assert report["arithmetic_speedup"] == pytest.approx(
        report["real_build_seconds"] / report["arithmetic_seconds"], rel=1e-6
    )
    assert report["explorer_rerun_ms_max"] >= report["explorer_rerun_ms_p50"]
    # Resident memory of a process that imported TensorFlow is hundreds of MB, never a few.
    assert report["peak_rss_mb"] > 100


def test_the_explorer_never_imports_tensorflow(report):
    assert report["explorer_imports_tensorflow"] is False
