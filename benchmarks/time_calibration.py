"""Calibrate and check ``bertviz_core.timing``: predicted against measured seconds per epoch.

    python -m benchmarks.time_calibration [--epochs 3] [--out runs.json]   measure every configuration
    python -m benchmarks.time_calibration --fit runs.json                  fit the four constants
    python -m benchmarks.time_calibration --table runs.json                the table, with today's constants
    python -m benchmarks.time_calibration --burners 2 --out busy.json      the same beside two CPU-bound processes

For each configuration (width, layers, feed-forward, sequence length, batch size and rows all
vary), in one process: a real training through ``model.training.train_classifier`` on synthetic
two-class texts, with this machine's matrix-product rate (the product's own
``model.machine_rate.measure_machine_rate``) measured before the first epoch and after each one
(outside the epoch's own seconds). Each epoch after the
first (which also traces the training step) is predicted with the mean of the rates measured just
before and just after it; the table gives the medians over those epochs. The load average is
printed with each line: the machine is shared, and only same-run ratios mean much.

The "minilm" configurations start from all-MiniLM-L6-v2 (``benchmarks.memory_calibration.minilm_folder``):
fine-tuning every layer, and training the head only (``FROZEN``), whose encoder's one reading of the
texts is predicted by ``timing.predict_encoding_seconds`` with the rates measured just before and after it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmarks.figures import synthetic_dataset
from benchmarks.memory_calibration import minilm_folder
from bertviz_core import timing
from bertviz_core.arithmetic.bert_config import ERF_GELU, TANH_GELU
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.fields import FINE_TUNE, FROZEN
from bertviz_core.model.machine_rate import measure_machine_rate

# (name, model, batch size, rows): rows are all the texts; 10 % go to validation.
CONFIGURATIONS = [
    ("reference", dict(vocab=5000, seq_len=64, embed_dim=128, heads=2, layers=2, ff_dim=512), 32, 768),
    ("tiny", dict(vocab=2000, seq_len=32, embed_dim=32, heads=1, layers=1, ff_dim=64), 16, 768),
    ("wide", dict(vocab=5000, seq_len=64, embed_dim=256, heads=4, layers=2, ff_dim=1024), 32, 384),
    ("deep", dict(vocab=3000, seq_len=64, embed_dim=128, heads=2, layers=6, ff_dim=512), 32, 384),
    ("long", dict(vocab=3000, seq_len=128, embed_dim=128, heads=2, layers=2, ff_dim=512), 16, 384),
    ("big-ff", dict(vocab=3000, seq_len=64, embed_dim=64, heads=2, layers=2, ff_dim=2048), 64, 768),
    ("notebook", dict(vocab=1000, seq_len=36, embed_dim=6, heads=1, layers=12, ff_dim=3072), 32, 384),
    ("batch-128", dict(vocab=5000, seq_len=32, embed_dim=128, heads=2, layers=2, ff_dim=512), 128, 1536),
    ("batch-8", dict(vocab=2000, seq_len=64, embed_dim=64, heads=2, layers=2, ff_dim=256), 8, 384),
    ("big-vocab", dict(vocab=20000, seq_len=32, embed_dim=128, heads=2, layers=1, ff_dim=512), 32, 768),
]
_MINILM = dict(vocab=30522, embed_dim=384, heads=12, layers=6, ff_dim=1536)
# (name, model, batch size, rows, encoder): all-MiniLM-L6-v2, every layer or the head only.
MINILM_CONFIGURATIONS = [
    ("minilm 64", dict(_MINILM, seq_len=64), 32, 384, FINE_TUNE),
    ("minilm 128", dict(_MINILM, seq_len=128), 16, 192, FINE_TUNE),
    ("minilm head 64", dict(_MINILM, seq_len=64), 32, 1536, FROZEN),
    ("minilm head 128", dict(_MINILM, seq_len=128), 32, 768, FROZEN),
]
HEAD_EPOCHS = 12  # a head's epochs take a fraction of a second: several, for a median
VAL_SHARE = 0.1
MEASURE_SECONDS = 1.5  # the rate around each epoch
LOWEST_INVERSE_EFFICIENCY_LOG = 0.0  # the fit keeps the efficiency at most 1


def _config(model: dict) -> ModelConfig:
    return ModelConfig(pos_num=max(512, model["seq_len"]), **model)


class _Records:
    """Epoch records, and the machine's rate measured after each epoch: the epoch's ``seconds`` stop
    before this callback and the next epoch's start after it, so the measurement is in neither, and
    every epoch is bracketed by a measurement just before and just after it."""

    def __init__(self, rate_before: float) -> None:
        self.history: list[dict] = []
        self.rates = [rate_before]
        self._cpu = time.process_time()

    def on_epoch_end(self, record: dict) -> None:
        # The CPU seconds this process got in the epoch (both cores busy: about twice its seconds).
        cpu = time.process_time() - self._cpu
        self.history.append({"epoch": record["epoch"], "seconds": record["seconds"], "cpu_seconds": cpu})
        self.rates.append(measure_machine_rate(seconds=MEASURE_SECONDS))
        self._cpu = time.process_time()


def measure(name: str, model: dict, batch: int, rows: int, epochs: int, encoder: str | None = None) -> dict:
    """One training; ``encoder`` given: from all-MiniLM-L6-v2, every layer or the head only."""
    import tempfile

    from bertviz_core.model.checkpoint import open_checkpoint
    from bertviz_core.model.training import train_classifier
    from bertviz_core.settings import TrainSettings

    dataset = synthetic_dataset(rows, seed=1)
    names = dataset.class_names
    if encoder == FROZEN:
        epochs = HEAD_EPOCHS
    settings = TrainSettings(
        epochs=epochs, batch_size=batch, learning_rate=1e-3 if encoder != FINE_TUNE else 5e-5,
        val_share=VAL_SHARE, seed=0, patience=epochs, encoder=encoder or FINE_TUNE,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = None if encoder is None else open_checkpoint(minilm_folder(), folder)
        load_before = os.getloadavg()[0]
        records = _Records(measure_machine_rate(seconds=MEASURE_SECONDS))
        bundle = train_classifier(dataset, _config(model), settings, records, checkpoint=checkpoint)
    return {
        "name": name,
        "model": model,
        "batch_size": batch,
        "train_rows": bundle.metrics["train_samples"],
        "validation_rows": bundle.metrics["val_samples"],
        "classes": len(names),
        "encoder": encoder or FINE_TUNE,
        "gelu": TANH_GELU if checkpoint is None else checkpoint.gelu,
        # the head only: the encoder's reading, between rates[0] and rates[1]
        "encoding_seconds": bundle.metrics.get("encoding_seconds"),
        "history": records.history,
        # rates[i] was measured just before epoch i + 1 and rates[i + 1] just after it
        "rates": records.rates,
        "load_average": [load_before, os.getloadavg()[0]],
    }


def warm_epochs(run: dict) -> list[tuple[float, float]]:
    """(measured seconds, mean rate of the measurements just before and after) of each epoch after
    the first."""
    rates = run["rates"]
    return [(record["seconds"], (rates[index] + rates[index + 1]) / 2)
            for index, record in enumerate(run["history"]) if index > 0]  # fmt: skip


def ratios(run: dict) -> list[float]:
    """Predicted over measured, one per warm epoch, each with the rate measured around it."""
    return [prediction(run, rate).seconds / seconds for seconds, rate in warm_epochs(run)]


def prediction(run: dict, rate: float) -> timing.EpochPrediction:
    return timing.predict_epoch_seconds(
        _config(run["model"]), run["classes"], run["batch_size"], run["train_rows"], rate,
        validation_rows=run["validation_rows"], encoder=run.get("encoder", FINE_TUNE), gelu=_gelu(run),
    )  # fmt: skip


def _gelu(run: dict) -> str:
    """The run's GELU; runs recorded before it was kept trained new models, with the tanh one."""
    return run.get("gelu", TANH_GELU)


def encoding_ratio(run: dict) -> float | None:
    """The head only: predicted over measured seconds of the encoder's reading of every text."""
    if run.get("encoding_seconds") is None:
        return None
    rate = (run["rates"][0] + run["rates"][1]) / 2
    texts = run["train_rows"] + run["validation_rows"]
    prediction = timing.predict_encoding_seconds(_config(run["model"]), texts, rate, _gelu(run))
    return prediction.seconds / run["encoding_seconds"]


def table(runs: list[dict]) -> list[dict]:
    """One line per configuration: the median warm epoch's seconds, its prediction with the median
    rate, and the median of the per-epoch ratios."""
    lines = []
    for run in runs:
        warm = warm_epochs(run)
        measured = statistics.median(seconds for seconds, _ in warm)
        rate = statistics.median(rate for _, rate in warm)
        encoding = encoding_ratio(run)
        lines.append({
            "name": run["name"], "predicted": round(prediction(run, rate).seconds, 3), "measured": round(measured, 3),
            "ratio": round(statistics.median(ratios(run)), 3), "gflops": round(rate / 1e9, 1),
            "load": round(max(run["load_average"]), 2),
            "encoding": None if encoding is None else round(encoding, 3),
        })  # fmt: skip
    return lines


def print_table(runs: list[dict]) -> None:
    print(
        f"{'configuration':<16} {'predicted s':>11} {'measured s':>10} {'ratio':>6} {'GFLOP/s':>8} {'load':>5}"
        f" {'reading ratio':>13}"
    )
    for line in table(runs):
        reading = "" if line["encoding"] is None else f"{line['encoding']:.2f}"
        print(f"{line['name']:<16} {line['predicted']:>11.2f} {line['measured']:>10.2f} {line['ratio']:>6.2f} "
              f"{line['gflops']:>8.0f} {line['load']:>5.2f} {reading:>13}")  # fmt: skip


def fit(runs: list[dict]) -> dict:
    """The four constants, by least squares on log(predicted / measured) over every warm epoch (an
    over- and an under-prediction by the same factor weigh the same), all of them non-negative and
    the efficiency at most 1 (the model's products cannot beat the measured 1024 x 1024 rate)."""
    from scipy.optimize import least_squares

    matrix, names = [], []
    # The head only's epochs are another model (a few products and many small calls): checked, not fitted.
    runs = [run for run in runs if run.get("encoder", FINE_TUNE) == FINE_TUNE]
    for run in runs:  # one row per warm epoch: each term in FLOP-equivalents / (rate x measured seconds)
        work = timing.epoch_work(
            _config(run["model"]),
            run["classes"],
            run["batch_size"],
            run["train_rows"],
            run["validation_rows"],
        )
        share = timing.EXACT_GELU_SHARE if _gelu(run) == ERF_GELU else 1.0  # counted, not fitted
        for seconds, rate in warm_epochs(run):
            terms = (work.flops, work.hidden_values * share, work.calls, work.parameter_updates)
            matrix.append([term / (rate * seconds) for term in terms])
            names.append(run["name"])
    matrix = np.array(matrix)
    scale = np.median(matrix, axis=0)  # fit in units where every column is about 1
    lower = np.full(4, -40.0)
    lower[0] = np.log(scale[0]) + LOWEST_INVERSE_EFFICIENCY_LOG  # 1 / efficiency >= 1
    start = np.zeros(4)
    start[0] = lower[0] + 0.1
    solution = least_squares(
        lambda logs: np.log(matrix / scale @ np.exp(logs)), start, bounds=(lower, np.full(4, 40.0))
    )
    inverse_efficiency, hidden_value_cost, call_cost, parameter_cost = np.exp(solution.x) / scale
    ratios = matrix @ np.array([inverse_efficiency, hidden_value_cost, call_cost, parameter_cost])
    return {
        "EFFICIENCY": 1 / inverse_efficiency,
        "HIDDEN_VALUE_COST": hidden_value_cost,
        "CALL_COST": call_cost,
        "PARAMETER_COST": parameter_cost,
        "rms_log_ratio": float(np.sqrt(np.mean(np.log(ratios) ** 2))),
        "ratios": [[name, round(float(ratio), 3)] for name, ratio in zip(names, ratios, strict=True)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.time_calibration", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the raw measurements here (JSON)")
    parser.add_argument("--only", nargs="*", help="names of the configurations to run")
    parser.add_argument("--fit", type=Path, nargs="+", help="fit the constants on these measurements")
    parser.add_argument("--table", type=Path, nargs="+", help="print the table for these measurements")
    parser.add_argument(
        "--burners", type=int, default=0, metavar="N",
        help="run beside N CPU-bound processes (a busy machine), started a minute before the first run",
    )  # fmt: skip
    options = parser.parse_args()
    if options.fit:
        print(json.dumps(fit([run for path in options.fit for run in json.loads(path.read_text())])))
        return
    if options.table:
        for path in options.table:
            print(path)
            print_table(json.loads(path.read_text()))
        return
    # The MiniLM runs fine-tune beyond the default budget: the guard is not what is measured here.
    os.environ.setdefault("BERTVIZ_MEMORY_BUDGET_MB", "6000")
    with burning(options.burners):
        run_all(options)


@contextlib.contextmanager
def burning(count: int, settle_seconds: float = 60.0) -> Iterator[None]:
    """``count`` CPU-bound processes beside the measurements, given a minute to raise the 1-minute
    load average first (the app's rate is measured again when that has moved)."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        if burners:
            time.sleep(settle_seconds)
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def run_all(options: argparse.Namespace) -> None:
    runs, started = [], time.perf_counter()
    configurations = [(*line, None) for line in CONFIGURATIONS] + MINILM_CONFIGURATIONS
    for name, model, batch, rows, encoder in configurations:
        if options.only and name not in options.only:
            continue
        runs.append(measure(name, model, batch, rows, options.epochs, encoder))
        print(json.dumps({k: runs[-1][k] for k in ("name", "history", "rates", "load_average")}), flush=True)
        if options.out:
            options.out.write_text(json.dumps(runs, indent=1))
    print_table(runs)
    print(f"{time.perf_counter() - started:.0f} s in all; median ratio "
          f"{statistics.median(line['ratio'] for line in table(runs)):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
