"""``python -m bertviz_core ladder``: how small can it be on your data, from a terminal.

Trains the ladder's sizes (``ladder.plan_ladder``) as jobs of the same pool the app uses (worker
processes here, or a Ray cluster with ``BERTVIZ_JOBS=ray``), each saved in a folder of ``--out``
with its TensorFlow Lite int8 and fp16 files, and writes ``ladder.json`` there (the ``--json``
object).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

from bertviz_core.arithmetic.config import ModelConfig, training_default_config
from bertviz_core.budget import training_budget_mb
from bertviz_core.cli.starts import START_HELP, add_hub_cache_option, open_start
from bertviz_core.cli.train import _read_rows, add_training_options, num
from bertviz_core.data.rows import split_sizes
from bertviz_core.errors import UserError
from bertviz_core.fields import MODEL_FIELD, TRAINING_FIELDS
from bertviz_core.jobs.protocol import DONE, JobRequest
from bertviz_core.ladder import (
    MIN_RUNGS,
    ladder_report,
    most_new_sizes,
    plan_ladder,
    rung_result,
    smallest_within,
)
from bertviz_core.settings import FINE_TUNING_RATE, FROZEN_EPOCHS, FROZEN_PATIENCE, FROZEN_RATE, TrainSettings
from bertviz_core.text import format_bytes, format_duration

LADDER_FILE = "ladder.json"
DEFAULT_BUDGET_MINUTES = 5.0


def register(subparsers: argparse._SubParsersAction) -> None:
    ladder = subparsers.add_parser(
        "ladder",
        help="train a row of model sizes on a CSV file and see how small the model can be",
        description="Train 2-8 keras-bert classifiers from tens of thousands of parameters to the largest a time "
        "budget allows (plus a pretrained start's head only and fine-tuning, given --checkpoint), each on the "
        "same split and seed, convert each to TensorFlow Lite (int8 and fp16) and measure it; every size is "
        "saved in a folder of --out, and ladder.json holds the figures. The training options are the new "
        f"models'; the checkpoint's fine-tuning takes a learning rate of {FINE_TUNING_RATE:g}, and its head only "
        f"{FROZEN_RATE:g} for up to {FROZEN_EPOCHS} epochs with patience {FROZEN_PATIENCE}.",
    )
    ladder.add_argument("csv", metavar="CSV", help="a CSV file with a text column and a label column")
    ladder.add_argument(
        "--out", required=True, metavar="DIR", help="folder to save the sizes and ladder.json in"
    )
    ladder.add_argument("--budget-minutes", type=float, default=DEFAULT_BUDGET_MINUTES, metavar="M",
                        help=f"training time the ladder may plan for (default {DEFAULT_BUDGET_MINUTES:g})")  # fmt: skip
    ladder.add_argument("--sizes", type=int, metavar="N", help=f"train the N smallest new models, {MIN_RUNGS} to "
                        f"{most_new_sizes(False)} ({most_new_sizes(True)} with --checkpoint; default: as many as the budget holds)")  # fmt: skip
    ladder.add_argument("--text-column", metavar="C", help="column of texts (guessed when not given)")
    ladder.add_argument("--label-column", metavar="C", help="column of labels (guessed when not given)")
    defaults = training_default_config()
    for name in ("vocab", "seq_len"):
        field = MODEL_FIELD[name]
        ladder.add_argument(field.option, type=int, default=getattr(defaults, name), metavar="N",
                            help=f"{field.label} of every size (default {getattr(defaults, name)})")  # fmt: skip
    ladder.add_argument("--checkpoint", metavar="PATH_OR_ID", help=f"{START_HELP}: its head only and its "
                        "fine-tuning join the ladder")  # fmt: skip
    add_hub_cache_option(ladder)
    add_training_options(ladder, leave_out=("encoder",))  # each size says how it trains
    ladder.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ladder.set_defaults(handler=run_ladder)


def run_ladder(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {args.out} is a file; give a folder to save the sizes in.")
    if not 0 < args.budget_minutes <= 24 * 60:
        raise UserError(
            f"--budget-minutes must be above 0 and at most a day's {24 * 60:,}, not {args.budget_minutes:g}."
        )
    most_sizes = most_new_sizes(bool(args.checkpoint))
    if args.sizes is not None and not MIN_RUNGS <= args.sizes <= most_sizes:
        raise UserError(f"--sizes must be from {MIN_RUNGS} to {most_sizes}"
                        + (" with --checkpoint" if args.checkpoint else "") + f", not {args.sizes}.")  # fmt: skip
    settings = TrainSettings(
        **{field.name: getattr(args, field.name) for field in TRAINING_FIELDS if field.name != "encoder"}
    )
    base = training_default_config().with_changes(
        vocab=args.vocab, seq_len=args.seq_len, pos_num=args.seq_len
    )
    rows, notes = _read_rows(args)
    with tempfile.TemporaryDirectory(prefix="bertviz-checkpoint-") as scratch:
        checkpoint = open_start(args.checkpoint, scratch, args.hub_cache) if args.checkpoint else None
        return _climb(args, out, rows.dataset, base, settings, checkpoint, notes)


def _climb(args, out: Path, dataset, base: ModelConfig, settings: TrainSettings, checkpoint, notes) -> int:
    from bertviz_core.jobs import make_pool
    from bertviz_core.jobs.ladder_run import LadderRun
    from bertviz_core.jobs.requests import ladder_rung_request, machine_rate_request

    pool = make_pool()
    try:
        rate = _machine_rate(pool, machine_rate_request())
        pretrained = None
        if checkpoint is not None:
            pretrained = (checkpoint.name, checkpoint.model_config(args.seq_len), checkpoint.gelu)
        train_rows, validation_rows = split_sizes(dataset.label_ids, settings.val_share, settings.seed)
        plan = plan_ladder(
            base, len(dataset.class_names), train_rows, validation_rows, settings, args.budget_minutes * 60,
            rate, training_budget_mb(beside_server=True), pretrained, most_sizes=args.sizes,
        )  # fmt: skip
        _say(
            f"Ladder on {len(dataset.texts):,} rows ({train_rows:,} training, {validation_rows:,} validation), "
            f"classes {', '.join(dataset.class_names)}: {plan.sentence()}",
            *notes,
            *plan.notes,
            *(f"  {rung.name}: {rung.parameters:,} parameters, about {format_duration(rung.predicted_seconds)}"
              for rung in plan.rungs),
        )  # fmt: skip
        out.mkdir(parents=True, exist_ok=True)
        start_from = (checkpoint.folder, checkpoint.name) if checkpoint is not None else None

        def request_for(index: int, rung) -> JobRequest:
            folder = out / f"{index + 1:02d}-{_slug(rung.name)}"
            return ladder_rung_request(dataset, rung, folder, checkpoint=start_from)

        def finished(index: int, job) -> None:
            rung = plan.rungs[index]
            if job is None:  # refused by the pool: ladder.json's "failed" says why
                return
            if job.state == DONE:
                accuracy = job.result["metrics"]["val_accuracy"]
                int8 = job.result["quantized"]
                _say(
                    f"{rung.name}: validation accuracy {num(accuracy)}, int8 {num(int8['int8_val_accuracy'])} "
                    f"in {format_bytes(int8['int8_bytes'])} (predicted {format_bytes(rung.parameters)}); "
                    f"{job.result['seconds']:,.0f} s (predicted {rung.predicted_seconds:,.0f} s)"
                )
            else:
                _say(f"{rung.name}: {job.error or job.state}")

        climb = LadderRun(pool, plan, request_for, finished, parallel=LadderRun.room(pool)).start()
        try:
            snapshot = climb.wait()
        except KeyboardInterrupt:
            climb.stop()
            climb.wait(30)
            raise
    finally:
        pool.shutdown()
    runs, metrics = [], None
    for state in snapshot.done:
        result = state.snapshot.result
        metrics = result["metrics"]
        runs.append(rung_result(state.rung, result, result["folder"]))
    report = {**ladder_report(runs, metrics), "plan": [rung.to_dict() for rung in plan.rungs],
              "failed": [{"name": s.rung.name, "error": s.error} for s in snapshot.rungs if s.state != DONE]}  # fmt: skip
    (out / LADDER_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(report))
    else:
        _print_table(report, out)
    return 0 if runs else 1


def _machine_rate(pool, request: JobRequest) -> float:
    """This machine's matrix-product rate, measured by a worker (as the app measures it)."""
    job = pool.submit(request)
    snapshot = job.wait(request.time_limit_seconds)
    if snapshot.state != DONE or snapshot.result is None:
        raise UserError(
            f"This machine's speed could not be measured ({snapshot.error or snapshot.state}); try again."
        )
    return float(snapshot.result["flops_per_second"])


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:60] or "rung"


def _say(*lines: str) -> None:
    print(*lines, sep="\n", file=sys.stderr, flush=True)


def _print_table(report: dict, out: Path) -> None:
    front = set(report["pareto"])
    print(f"{'size':<32} {'params':>11} {'val acc':>7} {'F1':>6} {'int8 acc':>8} {'fp32 file':>10} "
          f"{'int8 file':>10} {'ms/text':>8}")  # fmt: skip
    for index, run in enumerate(report["runs"]):
        mark = "*" if index in front else " "
        print(
            f"{mark}{run['name'][:31]:<31} {run['params']:>11,} {num(run['val_accuracy']):>7} {run['macro_f1']:>6.3f} "
            f"{num(run['int8_val_accuracy']):>8} {format_bytes(run['model_bytes']):>10} "
            f"{format_bytes(run['int8_bytes']):>10} {run['predict_ms_per_text']:>8.2f}"
        )
    if report["tfidf_baseline"]:
        print(f"TF-IDF + logistic regression: {num(report['tfidf_baseline']['val_accuracy'])}")
    if report["majority_baseline"]:
        majority = report["majority_baseline"]
        print(f"Always '{majority['class']}': {num(majority['val_accuracy'])}")
    for failure in report["failed"]:
        print(f"{failure['name']}: {failure['error']}")
    best = smallest_within(report)
    if best is not None:
        print(f"Smallest within a point of the best: {best['name']} ({best['params']:,} parameters).")
    print(
        f"* on the Pareto front (no smaller size is as accurate). Saved every size and {LADDER_FILE} in {out}."
    )
