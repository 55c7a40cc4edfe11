"""The benchmark's peer: the reference training run through Hugging Face transformers on PyTorch.

Optional and for the benchmark only (``pip install -r requirements-peer.txt``); nothing else in
the app imports it. The peer is the same model as ours, as far as transformers' BERT allows: the
same sizes, the same rows tokenised by the same code, the same batch, optimiser and learning
rate, and ``samples_per_second`` by the same definition (``figures.TRAIN_THROUGHPUT_DEFINITION``).

Each side runs in a fresh child process (``python -m benchmarks.peer ours|peer``), and
``compare`` alternates them, so neither inherits the other's thread pools or warm caches, and a
drifting host affects both about equally: only the ratios of one run mean anything.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from benchmarks import figures
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.errors import UserError

PEER_REQUIREMENTS = "requirements-peer.txt"
PEER_PACKAGES = ("torch", "transformers")
# keras-bert's get_model default, which the app's classifier keeps.
DROPOUT_RATE = 0.1


class PeerMissingError(UserError):
    """PyTorch or transformers is not installed, so there is no peer to run."""


def missing_peer_packages() -> list[str]:
    """The peer's packages that cannot be imported here (none: the peer can run)."""
    return [name for name in PEER_PACKAGES if importlib.util.find_spec(name) is None]


def require_peer() -> None:
    missing = missing_peer_packages()
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise PeerMissingError(
            f"The Hugging Face peer needs {' and '.join(missing)}, which {verb} not installed; "
            f"install the optional benchmark packages with `pip install -r {PEER_REQUIREMENTS}`."
        )


def bert_config_kwargs(config: ModelConfig, classes: int) -> dict:
    """``transformers.BertConfig`` keyword arguments for the model keras-bert builds from ``config``.

    keras-bert drops out after the embeddings and after each attention and feed-forward block
    (``hidden_dropout_prob``), but never on the attention probabilities, so that dropout is 0; its
    GELU is the tanh approximation (``gelu_new`` in transformers).
    """
    return {
        "vocab_size": config.vocab,
        "hidden_size": config.embed_dim,
        "num_hidden_layers": config.layers,
        "num_attention_heads": config.heads,
        "intermediate_size": config.ff_dim,
        "max_position_embeddings": config.pos_num,
        "type_vocab_size": 2,
        "hidden_act": "gelu_new",
        "hidden_dropout_prob": DROPOUT_RATE,
        "attention_probs_dropout_prob": 0.0,
        "num_labels": classes,
        "pad_token_id": 0,
    }


def extra_peer_parameters(config: ModelConfig) -> int:
    """Parameters the peer has and our classifier has not: transformers' pooler (a d x d Dense
    with tanh on [CLS]), which keras-bert only builds for its NSP head. Everything else (embeddings,
    blocks, the d x classes head) has the same shapes."""
    return config.embed_dim * config.embed_dim + config.embed_dim


def reference_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train and validation ids and labels of the reference run, tokenised as ``train_classifier`` does."""
    from bertviz_core.data.tokens import encode_split

    dataset = figures.synthetic_dataset(figures.REFERENCE_ROWS)
    config = figures.REFERENCE_CONFIG
    split = encode_split(dataset, config.vocab, config.seq_len, 0.1, 0)
    return split.train.token_ids, split.train_labels, split.validation.token_ids, split.validation_labels


def peer_training_figures(epochs: int, seed: int = 0) -> dict:
    """Train the peer on the reference run; samples per second as ``figures.training_figures``."""
    require_peer()
    import torch
    import transformers
    from transformers import BertConfig, BertForSequenceClassification

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(seed)
    train_ids, train_labels, val_ids, val_labels = reference_split()
    config = figures.REFERENCE_CONFIG
    model = BertForSequenceClassification(BertConfig(**bert_config_kwargs(config, figures.REFERENCE_CLASSES)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    ids = torch.from_numpy(train_ids.astype(np.int64))
    labels = torch.from_numpy(train_labels.astype(np.int64))
    segments = torch.zeros_like(ids)
    generator = torch.Generator().manual_seed(seed)
    records = []
    for epoch in range(1, epochs + 1):
        model.train()
        started = time.perf_counter()
        losses = []
        for batch in torch.randperm(len(ids), generator=generator).split(figures.REFERENCE_BATCH):
            batch_ids = ids[batch]
            output = model(
                input_ids=batch_ids,
                token_type_ids=segments[batch],
                attention_mask=(batch_ids != 0).long(),
                labels=labels[batch],
            )
            optimizer.zero_grad(set_to_none=True)
            output.loss.backward()
            optimizer.step()
            losses.append(output.loss.detach())
        train_seconds = time.perf_counter() - started
        records.append({
            "epoch": epoch,
            "loss": float(torch.stack(losses).mean()),
            "seconds": train_seconds,
            "samples_per_second": len(ids) / train_seconds,
        })  # fmt: skip
    model.eval()
    with torch.no_grad():
        val = torch.from_numpy(val_ids.astype(np.int64))
        logits = model(
            input_ids=val, token_type_ids=torch.zeros_like(val), attention_mask=(val != 0).long()
        ).logits
    steady = records[1:] or records
    return {
        "side": "peer",
        "train_samples_per_second": statistics.median(record["samples_per_second"] for record in steady),
        "train_first_epoch_seconds": records[0]["seconds"],
        "train_val_accuracy": float((logits.argmax(dim=1).numpy() == val_labels).mean()),
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }


def our_training_figures(epochs: int) -> dict:
    """Our reference run (``figures.training_figures``) and, right after it, the matmul peak (MFU)
    and the same step's matrix products alone (the MFU that free element-wise work would give)."""
    results = {"side": "ours", **figures.training_figures(epochs)}
    results["matmul_gflops"] = figures.matmul_gflops(seconds=2.0)
    results["train_mfu"] = _mfu(results, results)
    bound = figures.step_matmul_gflops(figures.REFERENCE_CONFIG, figures.REFERENCE_BATCH, seconds=2.0)
    results["train_matmul_only_mfu"] = bound / results["matmul_gflops"]
    return results


def _run_side(side: str, epochs: int) -> dict:
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks.peer", side, "--epochs", str(epochs)],
        cwd=figures.REPO_ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if finished.returncode != 0:
        raise RuntimeError(f"the {side} benchmark run failed: {finished.stderr.strip()[-1500:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def _mfu(side: dict, ours: dict) -> float:
    """``side``'s samples per second at our FLOPs per sample, against our round's matmul peak."""
    return side["train_samples_per_second"] * ours["train_flops_per_sample"] / 1e9 / ours["matmul_gflops"]


def compare(rounds: int = 3, epochs: int = 4) -> dict:
    """``rounds`` of ours and the peer's, alternated (who goes first swaps each round), with ratios."""
    require_peer()
    load_at_start = os.getloadavg()[0]
    pairs = []
    for index in range(rounds):
        order = ("ours", "peer") if index % 2 == 0 else ("peer", "ours")
        pairs.append({side: _run_side(side, epochs) for side in order})
    ours = [pair["ours"]["train_samples_per_second"] for pair in pairs]
    peer = [pair["peer"]["train_samples_per_second"] for pair in pairs]
    ratios = [mine / theirs for mine, theirs in zip(ours, peer, strict=True)]
    return {
        "rounds": rounds,
        "epochs": epochs,
        "ours_samples_per_second": ours,
        "peer_samples_per_second": peer,
        "ratios": ratios,
        "ours_median": statistics.median(ours),
        "peer_median": statistics.median(peer),
        "ratio_median": statistics.median(ratios),
        "train_mfu": [pair["ours"]["train_mfu"] for pair in pairs],
        # The peer's samples at our arithmetic's FLOPs per sample (its pooler adds 0.06 %), against
        # the matmul peak measured in the same round: how close PyTorch gets on this CPU.
        "peer_train_mfu": [_mfu(pair["peer"], pair["ours"]) for pair in pairs],
        "train_matmul_only_mfu": [pair["ours"]["train_matmul_only_mfu"] for pair in pairs],
        "ours_first_epoch_seconds": [pair["ours"]["train_first_epoch_seconds"] for pair in pairs],
        "peer_first_epoch_seconds": [pair["peer"]["train_first_epoch_seconds"] for pair in pairs],
        "ours_val_accuracy": [pair["ours"]["train_val_accuracy"] for pair in pairs],
        "peer_val_accuracy": [pair["peer"]["train_val_accuracy"] for pair in pairs],
        "ours_parameters": pairs[0]["ours"]["train_parameters"],
        "peer_parameters": pairs[0]["peer"]["parameters"],
        "peer_extra_parameters_expected": extra_peer_parameters(figures.REFERENCE_CONFIG),
        "peer_threads": pairs[0]["peer"]["threads"],
        "peer_versions": pairs[0]["peer"]["versions"],
        "train_samples_per_second_definition": figures.TRAIN_THROUGHPUT_DEFINITION,
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.peer", description="One side of the peer benchmark; prints one JSON line."
    )
    parser.add_argument("side", choices=("ours", "peer"))
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    results = our_training_figures(args.epochs) if args.side == "ours" else peer_training_figures(args.epochs)
    print(json.dumps({key: value for key, value in results.items() if not _is_nan(value)}))
    return 0


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


if __name__ == "__main__":
    sys.exit(main())
