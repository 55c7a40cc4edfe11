"""``python -m bertviz_core pretrain``: masked words and next sentences on a CSV's texts, saved as a
checkpoint in Google's layout that ``train --checkpoint`` (and keras-bert's loader) starts from."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from bertviz_core.arithmetic.config import ModelConfig, training_default_config
from bertviz_core.budget import check_pretraining_fits
from bertviz_core.cli import add_model_options
from bertviz_core.cli.train import num, quiet_tensorflow, read_table
from bertviz_core.data.columns import guess_columns
from bertviz_core.data.guards import refuse_too_much_text
from bertviz_core.data.limits import MAX_ROWS
from bertviz_core.data.table import Table
from bertviz_core.errors import DataError, UserError
from bertviz_core.fields import MODEL_FIELDS, TRAINING_FIELD
from bertviz_core.model.checkpoint import NEEDED
from bertviz_core.model.pretraining import (
    DEFAULT_EPOCHS,
    DEFAULT_LEARNING_RATE,
    LEARNING_RATE_HELP,
    PRETRAINING_FILE,
    pretrain,
    save_pretrained,
)
from bertviz_core.settings import TrainSettings
from bertviz_core.text import plural, short

# The training settings pretraining uses (no validation share, no patience: nothing is held out).
SETTINGS = ("epochs", "batch_size", "learning_rate", "seed")
# Where pretraining's default or meaning differs from a classifier's (the page uses the same).
PRETRAINING_DEFAULTS = {"epochs": DEFAULT_EPOCHS, "learning_rate": DEFAULT_LEARNING_RATE}
PRETRAINING_HELP = {"learning_rate": LEARNING_RATE_HELP}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pretrain",
        help="pretrain keras-bert's model on a CSV's texts and save a BERT checkpoint",
        description="Pretrain keras-bert's get_model(training=True) with masked words and next sentences "
        "on one column of texts (labels are not needed), then save bert_config.json, bert_model.ckpt.* and "
        "vocab.txt (Google's checkpoint layout) and pretraining.json to --out.",
    )
    parser.add_argument(
        "csv",
        metavar="CSV",
        help="a CSV file with a header row and a column of texts (a column alone will do)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to save the checkpoint in")
    parser.add_argument("--text-column", metavar="C", help="column of texts (guessed when not given)")
    defaults = training_default_config()
    add_model_options(
        parser.add_argument_group("model (keras-bert get_model; the position count equals --seq-len)"),
        {
            field.name: getattr(defaults, field.name)
            for field in MODEL_FIELDS
            if field.train_default is not None
        },
    )
    fit = parser.add_argument_group("pretraining")
    for name in SETTINGS:
        field = TRAINING_FIELD[name]
        default = PRETRAINING_DEFAULTS.get(name, field.default)
        text = PRETRAINING_HELP.get(name, field.help.replace("; early stopping may end sooner", ""))
        fit.add_argument(field.option, dest=field.name, type=int if field.whole else float, default=default,
                         metavar="N" if field.whole else "F", help=f"{text.rstrip('.')}; default {default:g}.")  # fmt: skip
    fit.add_argument("--max-rows", type=int, default=MAX_ROWS, metavar="N",
                     help="larger tables are sampled down to this many rows (with --seed)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(handler=run_pretrain)


def text_rows(
    table: Table, text_column: str | None = None, max_rows: int = MAX_ROWS, seed: int = 0
) -> tuple[list[str], str, list[str]]:
    """The non-empty texts of one column (given, or guessed as for training: the longest free text),
    sampled down to ``max_rows`` with ``seed``; the column's name; notes on how the file was read and
    what was dropped or sampled.
    No other column is read, so a label column may be anything, or wrong."""
    frame = table.frame
    if text_column is None:
        text_column = frame.columns[0] if frame.shape[1] == 1 else guess_columns(frame)[0]
    elif text_column not in frame.columns:
        raise DataError(
            f"There is no column named '{short(text_column)}' for the text: choose one of the table's columns."
        )
    column = frame[text_column]
    if isinstance(column, pd.DataFrame):  # repeated column names: the first, as for training
        column = column.iloc[:, 0]
    texts = [text.strip() for text in column.where(column.notna(), "").astype(str)]
    kept = [text for text in texts if text]
    notes = list(table.notes)
    if len(kept) < len(texts):
        notes.append(f"Dropped {plural(len(texts) - len(kept), 'row')} without text.")
    if not kept:
        raise DataError(f"The column '{short(text_column)}' holds no text: choose the column of texts.")
    if len(kept) > max_rows:
        chosen = np.sort(np.random.default_rng(seed).choice(len(kept), size=max_rows, replace=False))
        notes.append(f"Sampled {max_rows:,} of {len(kept):,} rows.")
        kept = [kept[index] for index in chosen]
    refuse_too_much_text(kept, text_column)
    return kept, str(text_column), notes


def _read_texts(args: argparse.Namespace) -> tuple[list[str], str, list[str]]:
    return text_rows(read_table(args, texts_only=True), args.text_column, args.max_rows, args.seed)


class _StderrProgress:
    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_epoch_end(self, record: dict) -> None:
        print(
            f"epoch {record['epoch']}/{self.epochs}  loss {num(record['loss'])}  mlm_loss "
            f"{num(record['mlm_loss'])}  mlm_accuracy {num(record['mlm_accuracy'])}  nsp_accuracy "
            f"{num(record['nsp_accuracy'])}  {record['seconds']:.1f} s",
            file=sys.stderr,
            flush=True,
        )


def run_pretrain(args: argparse.Namespace) -> int:
    values = {
        field.name: getattr(args, field.name) for field in MODEL_FIELDS if field.train_default is not None
    }
    config = ModelConfig(**values, pos_num=args.seq_len)
    settings = TrainSettings(**{name: getattr(args, name) for name in SETTINGS})
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {args.out} is a file; give a folder to save the checkpoint in.")
    texts, column, notes = _read_texts(args)
    check_pretraining_fits(config, settings.batch_size)  # before any progress line
    if not args.json:
        print(
            f"Pretraining on {len(texts):,} texts of column '{column}'.",
            *notes,
            sep="\n",
            file=sys.stderr,
            flush=True,
        )
    quiet_tensorflow()
    result = pretrain(texts, config, settings, None if args.json else _StderrProgress(settings.epochs))
    save_pretrained(result, out)
    report = {**result.summary(), "column": column, "notes": notes, "out": str(out)}
    if args.json:
        print(json.dumps(report))
        return 0
    first, last = result.history[0], result.history[-1]
    print(
        f"Pretrained {report['parameters']:,} parameters on {result.texts:,} texts for {len(result.history)} "
        f"epochs in {result.seconds:.0f} s; masked words guessed right: {_share(first['mlm_accuracy'])} after "
        f"the first epoch, {_share(last['mlm_accuracy'])} after the last."
    )
    print(f"Saved {', '.join(NEEDED)} and {PRETRAINING_FILE} to {out}.")
    print(f"Fine-tune from it: python -m bertviz_core train CSV --out DIR --checkpoint {out}")
    return 0


def _share(value: float | None) -> str:
    return "nan" if value is None else f"{value:.1%}"
