"""The premise, measured: does starting from a pretrained BERT beat a bag of words on a real corpus?

Usage, from the repository root::

    python -m benchmarks.premise CORPUS.csv                       # every run, sequence length 64
    python -m benchmarks.premise CORPUS.csv --seq-len 64 128      # the pretrained runs at both lengths
    python -m benchmarks.premise CORPUS.csv --json runs.json      # keep the reports (and go on where it stopped)
    python -m benchmarks.premise --fortunes /usr/share/games/fortunes --write CORPUS.csv   # make a corpus

Each run trains in a fresh process through the command line (``python -m bertviz_core train``, the app's
own training code) on the same CSV with the same split and seed, and reports validation accuracy, macro F1,
seconds per epoch, peak resident memory (the child's ``VmHWM``) and epochs:

- scratch: a new model with the command line's defaults;
- TF-IDF + logistic regression: the baseline every run measures on its own split (``tfidf_baseline``);
- head only: all-MiniLM-L6-v2's encoder frozen, its softmax head trained (``--encoder frozen``);
- fine-tuned: all-MiniLM-L6-v2, every layer trained.

The corpus is not shipped. ``--fortunes`` writes one from Debian's ``fortunes`` files (``apt-get install
fortunes fortunes-min``): one text per fortune of at most ``MAX_CHARS`` characters, labelled by its file.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.memory_calibration import CHILD, REPO_ROOT, minilm_folder

TOPICS = ("science", "literature", "politics", "food", "love")
MAX_CHARS = 600
SEED = 0
# Room for the measurement itself: the guard's budget is what is being measured.
BUDGET_MB = 6000


@dataclass(frozen=True)
class Run:
    """One training through the command line: a name, and the options after ``train CSV --out DIR``."""

    name: str
    options: tuple[str, ...]
    seq_len: int = 64
    notes: str = ""
    extra: dict = field(default_factory=dict)


def runs_for(seq_lens: list[int], fine_tune_rate: str, head_rate: str, fine_tune_epochs: int,
             head_epochs: int, batch: int) -> list[Run]:  # fmt: skip
    """The scratch run (the command line's defaults), then head only and fine-tuned at each length."""
    minilm = str(minilm_folder())
    runs = [Run("scratch (CLI defaults)", ())]
    for seq_len in seq_lens:
        length = ("--seq-len", str(seq_len))
        runs.append(Run(
            f"MiniLM head only, seq {seq_len}", ("--checkpoint", minilm, "--encoder", "frozen", *length,
            "--learning-rate", head_rate, "--epochs", str(head_epochs), "--patience", "5", "--batch-size", str(batch)),
            seq_len, f"lr {head_rate}, up to {head_epochs} epochs, patience 5, batch {batch}",
        ))  # fmt: skip
        runs.append(Run(
            f"MiniLM fine-tuned, seq {seq_len}", ("--checkpoint", minilm, *length, "--learning-rate", fine_tune_rate,
            "--epochs", str(fine_tune_epochs), "--batch-size", str(batch)),
            seq_len, f"lr {fine_tune_rate} (warm-up then cosine), up to {fine_tune_epochs} epochs, batch {batch}",
        ))  # fmt: skip
    return runs


def train(csv_path: Path, run: Run, seed: int = SEED) -> dict:
    """``run`` in a fresh process: its ``train --json`` report, its peak memory and its wall time."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-c", CHILD, "train", str(csv_path), "--out", folder, "--json",
                   "--seed", str(seed), *run.options]  # fmt: skip
        environment = {**os.environ, "BERTVIZ_MEMORY_BUDGET_MB": str(BUDGET_MB)}
        started = time.perf_counter()
        child = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
                               errors="replace", check=False)  # fmt: skip
        seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"{run.name} failed ({child.returncode}): {child.stderr[-2000:]}")
    peaks = [line.split()[1] for line in child.stderr.splitlines() if line.startswith("PEAK_KB ")]
    report = json.loads(child.stdout)
    return {"run": asdict(run), "report": report, "peak_mb": int(peaks[-1]) / 1024, "wall_seconds": seconds,
            "load_average": os.getloadavg()[0]}  # fmt: skip


def row_of(result: dict) -> dict:
    """The table's figures for one run."""
    report = result["report"]
    history = report["history"]
    warm = [record["seconds"] for record in history[1:]] or [history[0]["seconds"]]
    return {
        "name": result["run"]["name"],
        "accuracy": report["val_accuracy"],
        "macro_f1": report["macro_f1"],
        "seconds_per_epoch": statistics.median(warm),
        "encoding_seconds": report.get("encoding_seconds"),
        "peak_mb": result["peak_mb"],
        "epochs": f"{report['best_epoch']} of {len(history)}",
        "notes": result["run"]["notes"],
    }


def tfidf_row(results: list[dict]) -> dict:
    """The baseline, which every run measured on the same split: checked to agree."""
    figures = {(r["report"]["tfidf_baseline"], r["report"]["tfidf_macro_f1"]) for r in results}
    if len(figures) != 1:
        raise RuntimeError(f"the runs measured different TF-IDF baselines ({figures}): their splits differ")
    accuracy, macro_f1 = figures.pop()
    return {"name": "TF-IDF + logistic regression", "accuracy": accuracy, "macro_f1": macro_f1,
            "seconds_per_epoch": None, "encoding_seconds": None, "peak_mb": None, "epochs": "",
            "notes": "the run's own tfidf_baseline"}  # fmt: skip


def markdown(rows: list[dict], tfidf: dict) -> str:
    lines = [
        "| run | accuracy | macro F1 | vs TF-IDF | s / epoch | peak RSS MB | best epoch |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in [tfidf, *rows]:
        seconds = "" if row["seconds_per_epoch"] is None else f"{row['seconds_per_epoch']:,.1f}"
        if row["encoding_seconds"] is not None:
            seconds = f"{seconds} (+ {row['encoding_seconds']:,.0f} s reading)"
        gap = "" if row is tfidf else f"{100 * (row['accuracy'] - tfidf['accuracy']):+.1f} pt"
        peak = "" if row["peak_mb"] is None else f"{row['peak_mb']:,.0f}"
        lines.append(f"| {row['name']} | {row['accuracy']:.3f} | {row['macro_f1']:.3f} | {gap} | {seconds} | "
                     f"{peak} | {row['epochs']} |")  # fmt: skip
    return "\n".join(lines)


def write_fortunes(folder: Path, out: Path, topics: tuple[str, ...] = TOPICS) -> int:
    """A CSV of Debian's fortunes of ``topics``: one row per fortune of at most ``MAX_CHARS`` characters."""
    rows = []
    for topic in topics:
        text = (folder / topic).read_text(encoding="utf-8", errors="replace")
        fortunes = (chunk.strip().strip("%").strip() for chunk in text.split("\n%\n"))
        rows += [(fortune, topic) for fortune in fortunes if fortune and len(fortune) <= MAX_CHARS]
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.premise", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("csv", nargs="?", type=Path, help="a CSV of texts and labels (the corpus)")
    parser.add_argument("--seq-len", type=int, nargs="+", default=[64], help="the pretrained runs' lengths")
    parser.add_argument("--only", nargs="*", help="names of runs to do (default: all not in --json yet)")
    parser.add_argument("--fine-tune-rate", default="5e-5")
    parser.add_argument("--fine-tune-epochs", type=int, default=4)
    parser.add_argument("--head-rate", default="1e-2")
    parser.add_argument("--head-epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--seed", type=int, default=SEED, help="the split's, the sample's and the weights' seed"
    )
    parser.add_argument("--json", type=Path, help="keep every run's report here; runs already in it are kept")
    parser.add_argument("--fortunes", type=Path, help="with --write: Debian's fortunes folder")
    parser.add_argument("--write", type=Path, help="with --fortunes: the CSV to write")
    options = parser.parse_args()
    if options.fortunes:
        print(f"{write_fortunes(options.fortunes, options.write):,} fortunes written to {options.write}")
        return
    if options.csv is None:
        parser.error("give the corpus CSV")
    results = json.loads(options.json.read_text()) if options.json and options.json.exists() else []
    done = {result["run"]["name"] for result in results}
    runs = runs_for(options.seq_len, options.fine_tune_rate, options.head_rate, options.fine_tune_epochs,
                    options.head_epochs, options.batch_size)  # fmt: skip
    for run in runs:
        if run.name in done or (options.only and run.name not in options.only):
            continue
        results.append(train(options.csv, run, options.seed))
        row = row_of(results[-1])
        print(f"{run.name}: accuracy {row['accuracy']:.3f}, macro F1 {row['macro_f1']:.3f}, "
              f"{row['seconds_per_epoch']:.1f} s/epoch, {row['peak_mb']:,.0f} MB, best epoch {row['epochs']}, "
              f"load {results[-1]['load_average']:.1f}", file=sys.stderr, flush=True)  # fmt: skip
        if options.json:
            options.json.write_text(json.dumps(results, indent=1))
    print(markdown([row_of(result) for result in results], tfidf_row(results)))


if __name__ == "__main__":
    main()
