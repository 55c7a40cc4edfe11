"""``python -m bertviz_core train`` and ``predict``: a small keras-bert classifier from a terminal."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

from bertviz_core.arithmetic.config import ModelConfig, training_default_config
from bertviz_core.budget import check_training_fits
from bertviz_core.cli import add_model_options
from bertviz_core.cli.starts import START_HELP, add_hub_cache_option, open_start
from bertviz_core.data.limits import MAX_ROWS
from bertviz_core.data.rows import TrainingRows, training_rows
from bertviz_core.data.table import Table, read_csv_bytes
from bertviz_core.errors import UserError
from bertviz_core.fields import MODEL_FIELD, MODEL_FIELDS, TRAINING_FIELD, TRAINING_FIELDS
from bertviz_core.model.bundle import BUNDLE_FILES, QUANTIZED_FILES, load_bundle, save_bundle
from bertviz_core.model.checkpoint import CheckpointFiles, started_from
from bertviz_core.model.classifier import ClassifierBundle, predict_proba
from bertviz_core.model.distributed import TF_CONFIG, DistributedTraining, read_tf_config
from bertviz_core.model.training import train_classifier
from bertviz_core.settings import TrainSettings


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train",
        help="train a small keras-bert classifier on a CSV file",
        description="Train keras-bert's encoder with a softmax head on a CSV of texts and labels, "
        "then save model.h5, vocab.txt, labels.json, config.json and metrics.json to --out.",
    )
    train.add_argument("csv", metavar="CSV", help="a CSV file with a text column and a label column")
    train.add_argument("--out", required=True, metavar="DIR", help="folder to save the trained model in")
    train.add_argument("--text-column", metavar="C", help="column of texts (guessed when not given)")
    train.add_argument("--label-column", metavar="C", help="column of labels (guessed when not given)")
    defaults = training_default_config()
    add_model_options(
        train.add_argument_group("model (keras-bert get_model; the position count equals --seq-len)"),
        {
            field.name: getattr(defaults, field.name)
            for field in MODEL_FIELDS
            if field.train_default is not None
        },
        given_only=True,
    )
    start = train.add_argument_group("start from a pretrained BERT")
    start.add_argument(
        "--checkpoint", metavar="PATH_OR_ID",
        help=f"{START_HELP}; the model is the checkpoint's, only --seq-len may be given (default: "
        f"{defaults.seq_len}, or the checkpoint's positions when it knows fewer)",
    )  # fmt: skip
    add_hub_cache_option(start)
    fit = train.add_argument_group("training")
    add_training_options(fit)
    train.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    train.add_argument(
        "--distributed", action="store_true",
        help="train one model with the other workers named in TF_CONFIG (MultiWorkerMirroredStrategy); "
        "run the same command on every worker, --batch-size being the global batch; only the chief "
        "(task 0) writes --out",
    )  # fmt: skip
    train.set_defaults(handler=run_train)

    predict = subparsers.add_parser(
        "predict",
        help="classify texts with a model saved by 'train'",
        description="Load a folder or zip written by 'train' (or exported by the app) and classify texts.",
    )
    predict.add_argument("model", metavar="DIR_OR_ZIP", help="the folder 'train --out' wrote, or its zip")
    predict.add_argument("texts", metavar="TEXT", nargs="+", help="texts to classify")
    predict.add_argument("--quantized", choices=tuple(QUANTIZED_FILES), default=None,
                         help="run the TensorFlow Lite model of that precision the folder holds ('ladder' writes "
                         "them); a quantised export (the app's int8 zip) is run as it is")  # fmt: skip
    predict.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    predict.set_defaults(handler=run_predict)


def add_training_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, leave_out: tuple[str, ...] = ()
) -> None:
    """One option per training setting (``fields.TRAINING_FIELDS``) but those in ``leave_out``, and
    ``--max-rows``."""
    for field in TRAINING_FIELDS:
        if field.name in leave_out:
            continue
        if field.choices:
            parser.add_argument(field.option, dest=field.name, choices=field.choices, default=field.default,
                                help=f"{field.help} Default: {field.default}.")  # fmt: skip
            continue
        parser.add_argument(
            field.option, dest=field.name, type=int if field.whole else float, default=field.default,
            metavar="N" if field.whole else "F", help=field.help,
        )  # fmt: skip
    parser.add_argument("--max-rows", type=int, default=MAX_ROWS, metavar="N",
                        help="larger tables are sampled down to this many rows (stratified, with --seed)")  # fmt: skip


def quiet_tensorflow() -> None:
    # tf-keras warns about legacy .h5 files and keras-bert's shared initialiser; neither is news here.
    warnings.filterwarnings("ignore", module="tf_keras")
    warnings.filterwarnings("ignore", module="keras_bert")
    # tf.get_logger() is this logger; setting it here does not import TensorFlow before it is needed.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def read_table(args: argparse.Namespace, texts_only: bool = False) -> Table:
    """The CSV file ``args.csv`` read as ``train`` and ``pretrain`` read it (``--max-rows`` checked);
    ``texts_only``: one column of texts is a whole table (pretraining needs no labels)."""
    path = Path(args.csv)
    if not path.is_file():
        raise UserError(f"There is no file {args.csv}; give the path of a CSV file.")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UserError(f"{args.csv} cannot be read ({error.strerror}); check its permissions.") from None
    if args.max_rows < 1:
        raise UserError(f"--max-rows must be at least 1, not {args.max_rows}.")
    return read_csv_bytes(raw, path.name, texts_only=texts_only)


def _read_rows(args: argparse.Namespace) -> tuple[TrainingRows, tuple[str, ...]]:
    """The training rows, and every note on the way: the file's (delimiter, skipped rows) and the rows'."""
    table = read_table(args)
    rows = training_rows(table, args.text_column, args.label_column, max_rows=args.max_rows, seed=args.seed)
    return rows, (*table.notes, *rows.dataset.notes)


class _StderrProgress:
    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_epoch_end(self, record: dict) -> None:
        print(
            f"epoch {record['epoch']}/{self.epochs}  loss {num(record['loss'])}  accuracy "
            f"{num(record['accuracy'])}  val_loss {num(record['val_loss'])}  val_accuracy "
            f"{num(record['val_accuracy'])}  {record['seconds']:.1f} s  {record['samples_per_second']:,.0f} samples/s",
            file=sys.stderr,
            flush=True,
        )


def num(value: float | None) -> str:
    return "nan" if value is None else f"{value:.4f}"


def run_train(args: argparse.Namespace) -> int:
    defaults = training_default_config()
    given = {
        field.name: getattr(args, field.name) for field in MODEL_FIELDS if field.train_default is not None
    }
    values = {name: getattr(defaults, name) if value is None else value for name, value in given.items()}
    settings = TrainSettings(**{field.name: getattr(args, field.name) for field in TRAINING_FIELDS})
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {args.out} is a file; give a folder to save the model in.")
    if not settings.trains_encoder and not args.checkpoint:
        raise UserError(
            f"{TRAINING_FIELD['encoder'].option} {settings.encoder} trains the head on a pretrained encoder; give "
            "--checkpoint, or fine-tune a new model's every layer."
        )
    if not settings.trains_encoder and getattr(args, "distributed", False):
        raise UserError(
            f"{TRAINING_FIELD['encoder'].option} {settings.encoder} trains on one process; leave out --distributed."
        )
    distributed = _start_distributed(settings) if getattr(args, "distributed", False) else None
    if args.checkpoint:
        fixed = [
            MODEL_FIELD[name].option
            for name, value in given.items()
            if value is not None and name != "seq_len"
        ]
        if fixed:
            raise UserError(
                f"{fixed[0]} cannot be given with --checkpoint: the model's size is the checkpoint's "
                "(bert_config.json); only --seq-len may change."
            )
        with tempfile.TemporaryDirectory(prefix="bertviz-checkpoint-") as folder:
            checkpoint = open_start(args.checkpoint, folder, args.hub_cache)
            seq_len = given["seq_len"] or checkpoint.default_seq_len(values["seq_len"])
            config = checkpoint.model_config(seq_len)
            return _train_and_save(args, config, settings, out, checkpoint, distributed)
    config = ModelConfig(**values, pos_num=values["seq_len"], encoder_only=True)
    return _train_and_save(args, config, settings, out, None, distributed)


def _start_distributed(settings: TrainSettings) -> DistributedTraining:
    """``--distributed``: TF_CONFIG checked, then the strategy started before any other TensorFlow work."""
    from bertviz_core.model import distributed

    setup = read_tf_config(os.environ.get(TF_CONFIG))
    setup.check_batch(settings.batch_size)  # before the strategy, which waits for the other workers
    quiet_tensorflow()
    return distributed.start(setup)


def _train_and_save(
    args: argparse.Namespace,
    config: ModelConfig,
    settings: TrainSettings,
    out: Path,
    checkpoint: CheckpointFiles | None,
    distributed: DistributedTraining | None = None,
) -> int:
    rows, notes = _read_rows(args)
    dataset, text_column, label_column = rows.dataset, rows.text_column, rows.label_column
    # before any progress line
    check_training_fits(config, len(dataset.class_names), settings.batch_size, encoder=settings.encoder)
    chief = distributed is None or distributed.setup.is_chief
    if not args.json and chief:
        print(
            f"Training on {len(dataset.texts):,} rows: text '{text_column}', label '{label_column}', "
            f"classes {', '.join(dataset.class_names)}.",
            *notes,
            sep="\n",
            file=sys.stderr,
            flush=True,
        )
    quiet_tensorflow()
    bundle = train_classifier(
        dataset,
        config,
        settings,
        None if args.json else _StderrProgress(settings.epochs),
        checkpoint=checkpoint,
        distributed=distributed,
    )
    if distributed is None:
        save_bundle(bundle, out)
    else:
        with distributed.output_folder(out) as folder:  # the chief's is out, the others' a scratch folder
            save_bundle(bundle, folder)
        distributed.barrier()
    report = train_report(bundle, out, text_column, label_column, notes)
    if not chief:
        report["out"] = None  # nothing of this worker's is kept
        if not args.json:
            print(
                f"Worker {distributed.setup.rank} of {distributed.setup.workers} finished; the chief saved the model.",
                file=sys.stderr,
            )
            return 0
    if args.json:
        print(json.dumps(report))
    else:
        print_train_summary(report)
    return 0


def train_report(
    bundle: ClassifierBundle, out: Path, text_column: str, label_column: str, notes: tuple[str, ...] = ()
) -> dict:
    """The ``train --json`` object: the metrics without per-text token lengths, plus where it went."""
    metrics = dict(bundle.metrics)
    tokens = {key: value for key, value in metrics.pop("tokens", {}).items() if key != "token_lengths"}
    return {
        **metrics,
        "tokens": tokens,
        "config": bundle.config.to_dict(),
        "settings": dict(bundle.settings),
        "columns": {"text": text_column, "label": label_column},
        "notes": list(notes),
        "out": str(out),
    }


def print_train_summary(report: dict) -> None:
    history = report["history"]
    if started_from(report):
        print(f"Started from the checkpoint {started_from(report)}.")
    if report.get("encoding_seconds") is not None:
        print(
            f"Trained the head only ({report['trained_parameters']:,} of {report['parameters']:,} parameters): "
            f"the frozen encoder read the texts once in {report['encoding_seconds']:,.1f} s."
        )
    print(
        f"Trained on {report['train_samples']:,} texts and validated on {report['val_samples']:,}; "
        f"best epoch {report['best_epoch']} of {len(history)}"
        + (" (stopped early: the validation accuracy stopped rising)." if report["stopped_early"] else ".")
    )
    print(
        f"Validation accuracy {report['val_accuracy']:.3f}, macro F1 {report['macro_f1']:.3f}; always answering "
        f"'{report['majority_class']}' would score {report['majority_baseline']:.3f}."
    )
    print(_tfidf_comparison(report))
    width = max(len(row["class"]) for row in report["per_class"])
    print(f"\n{'class':<{width}}  precision  recall     f1  support")
    for row in report["per_class"]:
        print(
            f"{row['class']:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}  {row['support']:7,}"
        )
    print("\nConfusion matrix (rows: true class, columns: predicted):")
    for name, row in zip(report["classes"], report["confusion_matrix"], strict=True):
        print(f"{name:<{width}}  " + " ".join(f"{count:6,}" for count in row))
    tokens = report["tokens"]
    train_tokens, val_tokens = tokens.get("train", {}), tokens.get("validation", {})
    print(
        f"\nVocabulary {tokens.get('vocabulary_size', 0):,} tokens; words outside it ([UNK]): "
        f"{train_tokens.get('unknown_share', 0):.1%} in training, {val_tokens.get('unknown_share', 0):.1%} in "
        f"validation; texts longer than {report['config']['seq_len']} tokens (cut): "
        f"{train_tokens.get('truncated', 0) + val_tokens.get('truncated', 0):,}."
    )
    print(f"Saved {', '.join(BUNDLE_FILES)} to {report['out']}.")


def _tfidf_comparison(report: dict) -> str:
    if report.get("tfidf_baseline") is None:
        return (
            "TF-IDF + logistic regression baseline: not measured, no training text holds a word of two "
            "letters or more."
        )
    return (
        f"Model vs TF-IDF + logistic regression on the same texts: accuracy {report['val_accuracy']:.3f} vs "
        f"{report['tfidf_baseline']:.3f}, macro F1 {report['macro_f1']:.3f} vs {report['tfidf_macro_f1']:.3f}."
    )


def run_predict(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    bundle = load_bundle(args.model, precision=args.quantized)
    probabilities = predict_proba(bundle, args.texts)
    rows = []
    for text, row in zip(args.texts, probabilities, strict=True):
        best = int(row.argmax())
        rows.append(
            {
                "text": text,
                "label": bundle.class_names[best],
                "probabilities": {name: float(p) for name, p in zip(bundle.class_names, row, strict=True)},
            }
        )
    if args.json:
        print(json.dumps({"classes": list(bundle.class_names), "predictions": rows}))
    else:
        for row in rows:
            shown = "  ".join(f"{name} {p:.3f}" for name, p in row["probabilities"].items())
            print(f"{row['label']}\t{shown}\t{row['text']}")
    return 0
