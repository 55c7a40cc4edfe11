"""Seconds per training epoch on this machine, predicted from its measured matrix-product rate.

Matrix products alone do not predict small models: element-wise work grows with the activations,
not with the FLOPs, and every step pays a fixed cost (Python, Keras' callbacks, the graph call)
plus Adam's update of every parameter. The largest element-wise work is the feed-forward hidden
layer: keras-bert's GELU is about eight element-wise operations on the S × F values, forward and
backward, and its first product (d → F) writes F values for every d read, so a narrow model with a
wide feed-forward (the notebook's d 6, F 3072) is slow for its FLOPs. So an epoch is modelled as
four kinds of work, each in "FLOP-equivalents" divided by the machine's measured rate R
(TensorFlow's fp32 1024 × 1024 matrix product, in FLOP/s):

    seconds = [ FLOPs / EFFICIENCY                 matrix products (training steps + validation)
              + hidden values × HIDDEN_VALUE_COST  L × S × F per text (validation at a third)
              + calls × CALL_COST                  training steps and validation batches
              + steps × parameters × PARAMETER_COST ] / R      Adam's update, every step

Dividing everything by R carries the constants to a faster or slower machine in proportion, which
is the honest first guess; the constants, and the measurements they were fitted on, are below
(``benchmarks/time_calibration.py`` measures and fits them). Nothing here imports TensorFlow: the
rate is measured by ``model.machine_rate.measure_machine_rate`` in a worker process (``jobs.tasks``).

What is predicted is one epoch's ``seconds`` in ``model.training``'s epoch records: the training
batches plus the validation pass after them, once warm. The first epoch also traces the training
step and is slower (about twice on this machine's reference model): it is not predicted.

Training the head only (``FROZEN``, ``model.head_only``) is two things: the frozen encoder's one
forward pass over every text (``predict_encoding_seconds``: the forward share of the same four kinds
of work, in batches of ``ENCODE_BATCH``), then epochs of the head alone on the text vectors
(``predict_epoch_seconds(..., encoder=FROZEN)``: d × classes products, one validation call, Adam on
the head's parameters), which take a fraction of a second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.bert_config import ERF_GELU, TANH_GELU
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.training_memory import ENCODE_BATCH
from bertviz_core.fields import FINE_TUNE, FROZEN

# About 1.5 s of 1024 × 1024 products: long enough to settle, short enough to pass unnoticed.
MEASURE_SECONDS = 1.5
MEASURE_SIZE = 1024

# The validation pass runs forward only, in batches of model.classifier.PREDICT_BATCH (64); not
# imported from there, since that module needs TensorFlow.
VALIDATION_BATCH = 64
# A forward pass is a third of a training step's matrix products (costs.Compute.training), and its
# element-wise work is taken to be a third as well (no gradients).
FORWARD_SHARE = 1 / 3

# Fitted by benchmarks/time_calibration.py --fit on 40 warm epochs of 10 configurations (d 6-256, L 1-12,
# F 64-3,072, S 32-128, batch 8-128, 384-1,536 texts, vocabulary 1,000-20,000), two runs on a quiet
# 2-vCPU machine (load averages 1.1-2.1, 80-122 GFLOP/s measured around the epochs). Predicted /
# measured, median of the warm epochs, per configuration and run: 0.80 to 1.23, all 20 within
# 0.8-1.25 (tests/test_timing.py holds the table). Constants fitted on the first run alone predicted
# the second within 0.82-1.28. On a busy machine (load 3-15, two earlier runs) the 1024 x 1024
# product, which needs both cores at once, loses more to other processes than a training step does,
# and 9 of 20 configurations fell outside the band (0.65-2.33).
EFFICIENCY = 0.94  # share of the measured 1024 x 1024 rate the model's own matrix products reach
HIDDEN_VALUE_COST = 3090.0  # FLOP-equivalents per feed-forward hidden value of a training step
# An encoder with the exact GELU (a Hugging Face start, model.activations.GeluErf) does about two thirds
# of the element-wise operations per hidden value: 16 forward and backward (its gradient written out)
# against the 24 of keras-bert's tanh form and its autodiff. Counted, not fitted: with it, all-MiniLM-L6-v2
# fine-tuned in two quiet runs at sequence 64 and 128 is predicted 1.10-1.20 x its measured epochs (1.21-1.31
# without), and its encoder's reading 0.98 and 1.06 x, medians of three runs (tests/test_timing.py).
EXACT_GELU_SHARE = 16 / 24
CALL_COST = 6.8e8  # FLOP-equivalents per training step or validation batch (fixed overhead)
PARAMETER_COST = 690.0  # FLOP-equivalents per parameter per training step (Adam's update)
# A head-only epoch's steps are tiny (a d × classes product): what is left of a call is Keras' and the
# callback's fixed cost, which does not follow the matrix-product rate. Measured on all-MiniLM-L6-v2's
# vectors in three runs (45 and 23 calls an epoch, 0.03-0.1 s, at 48-170 GFLOP/s): 1.5e8 to 2.5e8.
HEAD_CALL_COST = 2.3e8


@dataclass(frozen=True)
class EpochPrediction:
    """One epoch's predicted seconds and what they are made of."""

    seconds: float
    train_rows: int
    validation_rows: int
    batch_size: int
    flops: int  # matrix products of the epoch: training steps and the validation pass
    flops_per_text: int  # one training text (forward + backward)
    machine_rate: float  # FLOP/s of the 1024 x 1024 product, measured
    efficiency: float
    parts: dict[str, float]  # seconds of each kind of work: products, element-wise, calls, optimizer

    def explanation(self) -> str:
        """One line: how the figure was worked out."""
        steps = math.ceil(self.train_rows / self.batch_size) if self.train_rows else 0
        other = self.parts["element-wise"] + self.parts["per call"] + self.parts["optimizer"]
        return (
            f"{self.flops_per_text / 1e6:,.1f} MFLOPs per training text × {self.train_rows:,} texts"
            + (
                f" (+ a forward pass over {self.validation_rows:,} validation texts)"
                if self.validation_rows
                else ""
            )
            + f" ÷ ({self.machine_rate / 1e9:,.0f} GFLOP/s measured × {self.efficiency:.2f} efficiency)"
            f" = {self.parts['matrix products']:,.1f} s of matrix products, + {other:,.1f} s of element-wise work,"
            f" Adam and the fixed cost of {steps:,} steps"
        )


def training_model(config: ModelConfig) -> ModelConfig:
    """The model a classifier trains: keras-bert's encoder without the pretraining heads."""
    return config.with_changes(encoder_only=True)


@dataclass(frozen=True)
class EpochWork:
    """How much of each kind of work one epoch holds (the terms of the model, before the constants)."""

    flops: int  # matrix products: training steps (3 x forward) and the validation pass (forward)
    hidden_values: float  # feed-forward hidden values (L x S x F per text), validation at FORWARD_SHARE
    calls: int  # training steps plus validation batches
    parameter_updates: int  # steps x parameters: Adam's update
    flops_per_text: int


def epoch_work(
    config: ModelConfig,
    classes: int,
    batch_size: int,
    rows: int,
    validation_rows: int = 0,
    encoder: str = FINE_TUNE,
) -> EpochWork:
    """The work of one epoch of ``rows`` training texts and ``validation_rows`` validation texts; with
    ``encoder`` ``FROZEN``, an epoch of the head alone on the texts' vectors."""
    if batch_size < 1 or rows < 0 or validation_rows < 0 or classes < 1:
        raise ValueError("batch_size and classes must be positive, rows not negative")
    model = training_model(config)
    steps = math.ceil(rows / batch_size)
    if encoder == FROZEN:
        head = model.embed_dim * classes + classes
        per_text = 2 * model.embed_dim * classes  # one d × classes product, forward
        return EpochWork(
            flops=rows * 3 * per_text + validation_rows * per_text,
            hidden_values=0.0,
            calls=steps + (1 if validation_rows else 0),  # the validation vectors go in one call
            parameter_updates=steps * head,
            flops_per_text=3 * per_text,
        )
    work = costs.compute(model, classes=classes)
    return EpochWork(
        flops=rows * work.training + validation_rows * work.forward,
        hidden_values=(rows + validation_rows * FORWARD_SHARE) * model.layers * model.seq_len * model.ff_dim,
        calls=steps + math.ceil(validation_rows / VALIDATION_BATCH),
        parameter_updates=steps * costs.classifier_params(model, classes),
        flops_per_text=work.training,
    )


def predict_epoch_seconds(
    config: ModelConfig,
    classes: int,
    batch_size: int,
    rows: int,
    machine_rate: float,
    validation_rows: int = 0,
    encoder: str = FINE_TUNE,
    gelu: str = TANH_GELU,
) -> EpochPrediction:
    """Seconds of one warm epoch: ``rows`` training texts in batches of ``batch_size``, then a
    forward pass over ``validation_rows`` texts, on a machine whose 1024 × 1024 fp32 product runs at
    ``machine_rate`` FLOP/s. Texts are padded or cut to ``config.seq_len``, so every text costs the
    same whatever its length. ``encoder`` ``FROZEN``: an epoch of the head only, on the vectors the
    encoder gave the texts once before (``predict_encoding_seconds``). ``gelu``: the encoder's
    (``CheckpointFiles.gelu``; a new model's is ``TANH_GELU``)."""
    if machine_rate <= 0:
        raise ValueError("machine_rate must be positive")
    work = epoch_work(config, classes, batch_size, rows, validation_rows, encoder)
    parts = {
        "matrix products": work.flops / EFFICIENCY / machine_rate,
        "element-wise": work.hidden_values * _hidden_value_cost(gelu) / machine_rate,
        "per call": work.calls * (HEAD_CALL_COST if encoder == FROZEN else CALL_COST) / machine_rate,
        "optimizer": work.parameter_updates * PARAMETER_COST / machine_rate,
    }
    return EpochPrediction(
        seconds=sum(parts.values()),
        train_rows=rows,
        validation_rows=validation_rows,
        batch_size=batch_size,
        flops=work.flops,
        flops_per_text=work.flops_per_text,
        machine_rate=machine_rate,
        efficiency=EFFICIENCY,
        parts=parts,
    )


@dataclass(frozen=True)
class EncodingPrediction:
    """The frozen encoder's one pass over the texts (training the head only), and its parts."""

    seconds: float
    texts: int
    flops: int
    machine_rate: float
    parts: dict[str, float]

    def explanation(self) -> str:
        """One line: how the figure was worked out."""
        other = self.parts["element-wise"] + self.parts["per call"]
        return (
            f"{self.flops / max(self.texts, 1) / 1e6:,.1f} MFLOPs per text (one forward pass) × {self.texts:,} texts "
            f"÷ ({self.machine_rate / 1e9:,.0f} GFLOP/s measured × {EFFICIENCY:.2f} efficiency) = "
            f"{self.parts['matrix products']:,.1f} s of matrix products, + {other:,.1f} s of element-wise work and "
            f"the fixed cost of {math.ceil(self.texts / ENCODE_BATCH):,} batches of {ENCODE_BATCH}"
        )


def predict_encoding_seconds(
    config: ModelConfig, texts: int, machine_rate: float, gelu: str = TANH_GELU
) -> EncodingPrediction:
    """Seconds the frozen encoder takes to read ``texts`` texts once (training the head only: the
    training and validation texts, before the first epoch): a forward pass, ``ENCODE_BATCH`` at a time;
    ``gelu`` as for ``predict_epoch_seconds``."""
    if machine_rate <= 0 or texts < 0:
        raise ValueError("machine_rate must be positive and texts not negative")
    model = training_model(config)
    flops = texts * costs.compute(model, classes=1).forward
    parts = {
        "matrix products": flops / EFFICIENCY / machine_rate,
        "element-wise": texts * FORWARD_SHARE * model.layers * model.seq_len * model.ff_dim
        * _hidden_value_cost(gelu) / machine_rate,
        "per call": math.ceil(texts / ENCODE_BATCH) * CALL_COST / machine_rate,
    }  # fmt: skip
    return EncodingPrediction(sum(parts.values()), texts, flops, machine_rate, parts)


def _hidden_value_cost(gelu: str) -> float:
    return HIDDEN_VALUE_COST * (EXACT_GELU_SHARE if gelu == ERF_GELU else 1.0)


def steady_epoch_seconds(history: list[dict]) -> tuple[float, list[int]] | None:
    """The measured seconds of a warm epoch: the median of the epochs after the first (which also
    traces the training step), and which epochs those were; None when only the first ran."""
    warm = [record for record in history[1:] if record.get("seconds")]
    if not warm:
        return None
    seconds = sorted(float(record["seconds"]) for record in warm)
    middle = len(seconds) // 2
    median = seconds[middle] if len(seconds) % 2 else (seconds[middle - 1] + seconds[middle]) / 2
    return median, [int(record["epoch"]) for record in warm]


# A real build (``model.real_model.verify``: keras-bert's get_model in a worker that has imported
# TensorFlow) is Python constructing each block's layers, then the weights' random initialisation.
# Measured on this project's 2-vCPU machine beside a training: 48 one-wide blocks (60,000 parameters)
# 9.7 s, 12 blocks of BERT-base (110 million) 4.5 s, 4 blocks of BERT-small 1.3 s, 2 of BERT-tiny 0.5 s:
# about 0.2 s a block, and 19 ns a parameter. A worker that has not imported TensorFlow yet pays
# ``TENSORFLOW_IMPORT_SECONDS`` first (3.2-4.4 s measured).
BUILD_SECONDS_PER_LAYER = 0.2
BUILD_SECONDS_PER_PARAMETER = 1.9e-8
TENSORFLOW_IMPORT_SECONDS = 4.0


def predict_build_seconds(config: ModelConfig) -> float:
    """Seconds of a real build of ``config`` in a worker that has TensorFlow loaded."""
    from bertviz_core.arithmetic.params import total_params

    return config.layers * BUILD_SECONDS_PER_LAYER + total_params(config) * BUILD_SECONDS_PER_PARAMETER
