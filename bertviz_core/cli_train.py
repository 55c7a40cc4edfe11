"""``python -m bertviz_core train`` and ``predict``: a small keras-bert classifier from a terminal."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

from bertviz_core import data
from bertviz_core.bundle import BUNDLE_FILES, load_bundle, save_bundle
from bertviz_core.classifier import ClassifierBundle, check_training_fits, predict_proba
from bertviz_core.config import ModelConfig
from bertviz_core.errors import UserError
from bertviz_core.training import TrainSettings, train_classifier

# Small on purpose (Google's BERT-Tiny shape with a short sequence): it trains in minutes on a laptop.
TRAIN_MODEL_DEFAULTS = {
    "vocab": 5000,
    "seq_len": 64,
    "embed_dim": 128,
    "heads": 2,
    "layers": 2,
    "ff_dim": 512,
}


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = TrainSettings()
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
    model = train.add_argument_group("model (keras-bert get_model; the position count equals --seq-len)")
    model.add_argument("--vocab", type=int, default=TRAIN_MODEL_DEFAULTS["vocab"], metavar="N",
                       help="vocabulary size, special tokens included (token_num)")  # fmt: skip
    model.add_argument("--seq-len", type=int, default=TRAIN_MODEL_DEFAULTS["seq_len"], metavar="N",
                       help="tokens per text, [CLS] and [SEP] included (seq_len)")  # fmt: skip
    model.add_argument("--embed-dim", type=int, default=TRAIN_MODEL_DEFAULTS["embed_dim"], metavar="N",
                       help="embedding dimension (embed_dim)")  # fmt: skip
    model.add_argument("--heads", type=int, default=TRAIN_MODEL_DEFAULTS["heads"], metavar="N",
                       help="attention heads (head_num)")  # fmt: skip
    model.add_argument("--layers", type=int, default=TRAIN_MODEL_DEFAULTS["layers"], metavar="N",
                       help="encoder blocks (transformer_num)")  # fmt: skip
    model.add_argument("--ff-dim", type=int, default=TRAIN_MODEL_DEFAULTS["ff_dim"], metavar="N",
                       help="feed-forward width (feed_forward_dim)")  # fmt: skip
    fit = train.add_argument_group("training")
    fit.add_argument("--epochs", type=int, default=defaults.epochs, metavar="N")
    fit.add_argument("--batch-size", type=int, default=defaults.batch_size, metavar="N")
    fit.add_argument("--learning-rate", type=float, default=defaults.learning_rate, metavar="F")
    fit.add_argument("--val-split", type=float, default=defaults.val_share, metavar="F",
                     help="share of rows kept for validation (stratified)")  # fmt: skip
    fit.add_argument("--patience", type=int, default=defaults.patience, metavar="N",
                     help="epochs without a lower validation loss before stopping")  # fmt: skip
    fit.add_argument("--seed", type=int, default=defaults.seed, metavar="N")
    fit.add_argument("--max-rows", type=int, default=data.MAX_ROWS, metavar="N",
                     help="larger tables are sampled down to this many rows (stratified)")  # fmt: skip
    train.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    train.set_defaults(handler=run_train)

    predict = subparsers.add_parser(
        "predict",
        help="classify texts with a model saved by 'train'",
        description="Load a folder or zip written by 'train' (or exported by the app) and classify texts.",
    )
    predict.add_argument("model", metavar="DIR_OR_ZIP", help="the folder 'train --out' wrote, or its zip")
    predict.add_argument("texts", metavar="TEXT", nargs="+", help="texts to classify")
    predict.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    predict.set_defaults(handler=run_predict)


def _quiet_tensorflow() -> None:
    # tf-keras warns about legacy .h5 files and keras-bert's shared initialiser; neither is news here.
    warnings.filterwarnings("ignore", module="tf_keras")
    warnings.filterwarnings("ignore", module="keras_bert")
    # tf.get_logger() is this logger; setting it here does not import TensorFlow before it is needed.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def _read_dataset(args: argparse.Namespace) -> tuple[data.Dataset, str, str]:
    path = Path(args.csv)
    if not path.is_file():
        raise UserError(f"There is no file {args.csv}; give the path of a CSV file.")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UserError(f"{args.csv} cannot be read ({error.strerror}); check its permissions.") from None
    table = data.read_csv_bytes(raw, path.name)
    text_column, label_column = args.text_column, args.label_column
    if text_column is None or label_column is None:
        guessed_text, guessed_label = data.guess_columns(table.frame)
        # A column the user named is never guessed for the other role.
        text_column = text_column or (guessed_text if guessed_text != label_column else guessed_label)
        label_column = label_column or (guessed_label if guessed_label != text_column else guessed_text)
    if args.max_rows < 1:
        raise UserError(f"--max-rows must be at least 1, not {args.max_rows}.")
    dataset = data.prepare_dataset(
        table.frame, text_column, label_column, max_rows=args.max_rows, seed=args.seed
    )
    return dataset, text_column, label_column


class _StderrProgress:
    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_epoch_end(self, record: dict) -> None:
        print(
            f"epoch {record['epoch']}/{self.epochs}  loss {_num(record['loss'])}  accuracy "
            f"{_num(record['accuracy'])}  val_loss {_num(record['val_loss'])}  val_accuracy "
            f"{_num(record['val_accuracy'])}  {record['seconds']:.1f} s  {record['samples_per_second']:,.0f} samples/s",
            file=sys.stderr,
            flush=True,
        )


def _num(value: float | None) -> str:
    return "nan" if value is None else f"{value:.4f}"


def run_train(args: argparse.Namespace) -> int:
    config = ModelConfig(
        vocab=args.vocab,
        seq_len=args.seq_len,
        pos_num=args.seq_len,
        embed_dim=args.embed_dim,
        heads=args.heads,
        layers=args.layers,
        ff_dim=args.ff_dim,
        encoder_only=True,
    )
    settings = TrainSettings(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        val_share=args.val_split,
        seed=args.seed,
        patience=args.patience,
    )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {args.out} is a file; give a folder to save the model in.")
    dataset, text_column, label_column = _read_dataset(args)
    check_training_fits(config, len(dataset.class_names), settings.batch_size)  # before any progress line
    if not args.json:
        print(
            f"Training on {len(dataset.texts):,} rows: text '{text_column}', label '{label_column}', "
            f"classes {', '.join(dataset.class_names)}.",
            *dataset.notes,
            sep="\n",
            file=sys.stderr,
            flush=True,
        )
    _quiet_tensorflow()
    bundle = train_classifier(
        dataset, config, settings, None if args.json else _StderrProgress(settings.epochs)
    )
    save_bundle(bundle, out)
    report = train_report(bundle, out, text_column, label_column, dataset.notes)
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
    print(
        f"Trained on {report['train_samples']:,} texts and validated on {report['val_samples']:,}; "
        f"best epoch {report['best_epoch']} of {len(history)}"
        + (" (stopped early: the validation loss stopped falling)." if report["stopped_early"] else ".")
    )
    print(
        f"Validation accuracy {report['val_accuracy']:.3f}, macro F1 {report['macro_f1']:.3f}; always answering "
        f"'{report['majority_class']}' would score {report['majority_baseline']:.3f}."
    )
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


def run_predict(args: argparse.Namespace) -> int:
    _quiet_tensorflow()
    bundle = load_bundle(args.model)
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
