"""The size ladder: how small a model can be on your data, answered by training many sizes.

The explorer says what each size costs; the ladder trains a row of sizes on the visitor's texts,
from a few tens of thousands of parameters to the largest a time budget allows (plus the pretrained
start, head only and fine-tuned, when the visitor has one), each on the same split and seed, and puts
accuracy against size. This module plans a ladder (which rungs, how long, how much memory, or one
sentence saying why not) and reads what the rungs measured (the Pareto front, the ``--json``
object). No TensorFlow and no Streamlit: the rungs are training jobs (``jobs.ladder_run``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.bert_config import TANH_GELU
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.training_memory import TF_BASELINE_MB, training_job_mb
from bertviz_core.errors import UserError
from bertviz_core.fields import FINE_TUNE, FROZEN
from bertviz_core.settings import SCRATCH, TrainSettings, suggested_settings
from bertviz_core.text import MIB, format_duration
from bertviz_core.timing import predict_encoding_seconds, predict_epoch_seconds

# The shapes the ladder climbs, (layers, width, heads, feed-forward): from a one-block model 8 wide
# (about 41,000 parameters with the training page's 5,000-word vocabulary, most of them the word
# table) to BERT-base's blocks. Each step costs two to four times the last to train, so a budget
# buys the longest row that fits and most of it goes on the top rung. Heads are width / 64 from 128
# up (Google's small BERTs), and 1-2 below.
FAMILY = (
    (1, 8, 1, 16),
    (1, 16, 2, 32),
    (1, 32, 2, 64),
    (2, 64, 2, 128),
    (2, 128, 2, 512),
    (4, 256, 4, 1024),
    (6, 384, 6, 1536),
    (8, 512, 8, 2048),
    (12, 768, 12, 3072),
)
MIN_RUNGS, MAX_RUNGS = 2, 8

# What a rung costs besides its epochs, measured on this project's 2-vCPU machine: building (or
# resetting) the model and saving it, about 3 s; the first epoch traces the training step and took
# about one warm epoch more. Each TensorFlow Lite conversion (model.quantize) grows with the graph's
# blocks more than with the weights: 4.2 s for one block of 41,000 parameters, 13.6 s for four blocks
# of 4.5 million, 22 s for all-MiniLM-L6-v2's six blocks of 22.4 million.
RUNG_START_SECONDS = 3.0
CONVERSION_SECONDS = 1.3
CONVERSION_SECONDS_PER_LAYER = 2.9
CONVERSION_SECONDS_PER_PARAMETER = 0.15e-6
CONVERSIONS = 2  # int8 and fp16
# A conversion's peak resident memory, with the model loaded: the converter's machinery, then copies
# of the graph and its weights (the frozen constants, the MLIR module, the quantised tensors, the
# flatbuffer). Measured peaks of a process that loads a saved classifier and converts it: 895 MB for
# one block of 41,000 parameters, 1,406 MB for four blocks of 17 MB of weights, 2,283 MB for
# all-MiniLM-L6-v2's six blocks of 85 MB (TensorFlow's own 630 MB included, TF_BASELINE_MB counts 700);
# and of a whole rung (the head only trained on all-MiniLM-L6-v2, then converted, in one process, as a
# worker runs it): 2,592 MB, the training's leftovers beside the conversion. This says 903, 1,456 and
# 2,682 MB.
CONVERSION_MB = 100
CONVERSION_MB_PER_LAYER = 100
CONVERSION_WEIGHT_COPIES = 15


@dataclass(frozen=True)
class Rung:
    """One size on the ladder: what it trains and what it is predicted to cost."""

    name: str
    config: ModelConfig
    encoder: str  # FINE_TUNE, or FROZEN (the head only, on the pretrained encoder)
    pretrained: bool
    parameters: int  # the encoder plus the head, as keras-bert's count_params() says
    predicted_seconds: float
    memory_mb: int
    settings: TrainSettings = TrainSettings()  # how it trains (settings.suggested_settings)

    def predicted_bytes(self) -> dict[str, int]:
        """The weights' bytes in fp32, fp16 and int8, as the explorer counts them."""
        return {precision: self.parameters * size for precision, size in costs.BYTES_PER_VALUE.items()}

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "config": self.config.to_dict(),
            "encoder": self.encoder,
            "pretrained": self.pretrained,
            "params": self.parameters,
            "predicted_seconds": round(self.predicted_seconds, 1),
            "memory_mb": self.memory_mb,
            "predicted_bytes": self.predicted_bytes(),
            "settings": self.settings.to_dict(),
        }


@dataclass(frozen=True)
class LadderPlan:
    rungs: tuple[Rung, ...]
    budget_seconds: float
    notes: tuple[str, ...] = field(default=())  # what was left out, and why

    @property
    def predicted_seconds(self) -> float:
        """One rung after another: what the budget is compared with."""
        return sum(rung.predicted_seconds for rung in self.rungs)

    @property
    def memory_mb(self) -> int:
        """The largest rung's worker; rungs that run at the same time each have their own."""
        return max(rung.memory_mb for rung in self.rungs)

    def sentence(self) -> str:
        smallest, largest = self.rungs[0], max(self.rungs, key=lambda rung: rung.parameters)
        return (
            f"{len(self.rungs)} sizes from {smallest.parameters:,} to {largest.parameters:,} parameters, about "
            f"{format_duration(self.predicted_seconds)} of training one after another (early stopping may end "
            f"sooner), each worker needing up to {self.memory_mb:,} MB."
        )


def family_config(base: ModelConfig, shape: tuple[int, int, int, int]) -> ModelConfig:
    """``base`` (its vocabulary and sequence length) with the family's layers, width, heads and feed-forward."""
    layers, width, heads, feed_forward = shape
    return base.with_changes(
        layers=layers,
        embed_dim=width,
        heads=heads,
        ff_dim=feed_forward,
        pos_num=base.seq_len,
        encoder_only=True,
    )


def rung_memory_mb(config: ModelConfig, classes: int, batch_size: int, encoder: str = FINE_TUNE) -> int:
    """A rung's worker: its training, or its conversions to TensorFlow Lite, whichever needs more."""
    weights_mb = costs.classifier_params(config, classes) * costs.BYTES_PER_VALUE["fp32"] / MIB
    converting = (
        TF_BASELINE_MB + CONVERSION_MB + CONVERSION_MB_PER_LAYER * config.layers
        + math.ceil(CONVERSION_WEIGHT_COPIES * weights_mb)
    )  # fmt: skip
    return max(training_job_mb(config, classes, batch_size, encoder), converting)


def rung_seconds(
    config: ModelConfig,
    classes: int,
    train_rows: int,
    validation_rows: int,
    settings: TrainSettings,
    machine_rate: float,
    encoder: str = FINE_TUNE,
    gelu: str = TANH_GELU,
) -> float:
    """Predicted seconds of one rung: start, every planned epoch (the first twice, for its tracing),
    the encoder's one reading when it is frozen, and the two conversions."""
    epoch = predict_epoch_seconds(
        config, classes, settings.batch_size, train_rows, machine_rate, validation_rows, encoder, gelu
    ).seconds
    seconds = RUNG_START_SECONDS + (settings.epochs + 1) * epoch
    if encoder == FROZEN:
        seconds += predict_encoding_seconds(config, train_rows + validation_rows, machine_rate, gelu).seconds
    parameters = costs.classifier_params(config, classes)
    conversion = (
        CONVERSION_SECONDS + CONVERSION_SECONDS_PER_LAYER * config.layers
        + CONVERSION_SECONDS_PER_PARAMETER * parameters
    )  # fmt: skip
    return seconds + CONVERSIONS * conversion


def _rung(name, config, classes, rows, settings, rate, way, gelu) -> Rung:
    encoder = FROZEN if way == FROZEN else FINE_TUNE
    memory = rung_memory_mb(config, classes, settings.batch_size, encoder)
    return Rung(
        name=name,
        config=config,
        encoder=encoder,
        pretrained=way != SCRATCH,
        parameters=costs.classifier_params(config, classes),
        predicted_seconds=rung_seconds(config, classes, *rows, settings, rate, encoder, gelu),
        memory_mb=memory,
        settings=settings,
    )


def most_new_sizes(pretrained: bool) -> int:
    """How many new models a ladder may hold unthinned: ``MAX_RUNGS``, less the pretrained start's
    head only and fine-tuning when it has one."""
    return MAX_RUNGS - (2 if pretrained else 0)


def plan_ladder(
    base: ModelConfig,
    classes: int,
    train_rows: int,
    validation_rows: int,
    settings: TrainSettings,
    budget_seconds: float,
    machine_rate: float,
    memory_budget_mb: int,
    pretrained: tuple[str, ModelConfig, str] | None = None,
    visitors_way: str = SCRATCH,
    most_sizes: int | None = None,
) -> LadderPlan:
    """The ladder for ``budget_seconds``: the longest row of ``FAMILY`` sizes (at ``base``'s vocabulary
    and sequence length) that fits beside the pretrained rungs, thinned to ``MAX_RUNGS`` keeping the
    smallest and the largest; plus, given ``pretrained`` (its name, ``model_config`` and GELU), its
    head only and its fine-tuning. Each way of training takes ``settings`` as they are when it is the
    visitor's own (``visitors_way``: ``SCRATCH``, ``FINE_TUNE`` or ``FROZEN``), with its suggested
    learning rate otherwise (``settings.suggested_settings``): one rate for a new model and a
    pretrained one would ruin either. A size whose worker would need more than ``memory_budget_mb``
    is not offered. ``most_sizes`` caps the new models at the smallest that many of ``FAMILY``.
    Raises ``UserError`` in one sentence when fewer than ``MIN_RUNGS`` sizes fit."""
    most_new = most_new_sizes(pretrained is not None)
    if most_sizes is not None and not MIN_RUNGS <= most_sizes <= most_new:
        raise UserError(
            f"A ladder trains from {MIN_RUNGS} to {most_new} new sizes"
            + (" beside a pretrained start" if pretrained is not None else "")
            + f", not {most_sizes}."
        )
    rows = (train_rows, validation_rows)
    family = []
    for shape in FAMILY[:most_sizes]:
        config = family_config(base, shape)
        rung = _rung(
            f"L{shape[0]} H{shape[1]} A{shape[2]} F{shape[3]}", config, classes, rows,
            suggested_settings(settings, SCRATCH, visitors_way), machine_rate, SCRATCH, TANH_GELU,
        )  # fmt: skip
        if rung.memory_mb > memory_budget_mb:
            break  # the family only grows from here
        family.append(rung)
    extra: list[Rung] = []
    notes: list[str] = []
    if pretrained is not None:
        name, config, gelu = pretrained
        for encoder, how in ((FROZEN, "head only"), (FINE_TUNE, "fine-tuned")):
            rung = _rung(f"{name}, {how}", config, classes, rows, suggested_settings(settings, encoder, visitors_way),
                         machine_rate, encoder, gelu)  # fmt: skip
            if rung.memory_mb > memory_budget_mb:
                notes.append(
                    f"{name} {how} is left out: its worker would need about {rung.memory_mb:,} MB (training, then "
                    f"the TensorFlow Lite conversions), more than the {memory_budget_mb:,} MB this app allows."
                )
            else:
                extra.append(rung)
    while True:
        room = budget_seconds - sum(rung.predicted_seconds for rung in extra)
        fitting = _longest_prefix(family, room)
        if len(fitting) >= MIN_RUNGS or not extra:
            break
        dropped = max(extra, key=lambda rung: rung.predicted_seconds)
        extra.remove(dropped)
        notes.append(
            f"{dropped.name} is left out: it would take about {format_duration(dropped.predicted_seconds)}, "
            "more than the budget leaves beside the smaller sizes."
        )
    if len(fitting) + len(extra) < MIN_RUNGS:
        if len(family) < MIN_RUNGS:
            raise UserError(
                "Not even the two smallest sizes fit in the memory this app allows; lower the batch size or "
                "the sequence length."
            )
        need = family[0].predicted_seconds + family[1].predicted_seconds
        raise UserError(
            f"A budget of {format_duration(budget_seconds)} is too small for two sizes on this data (the two "
            f"smallest take about {format_duration(need)}); give the ladder at least {format_duration(need)}."
        )
    if len(fitting) < len(family):
        following = family[len(fitting)]
        notes.append(
            f"Larger sizes are left out: the next, {following.name}, would take about "
            f"{format_duration(following.predicted_seconds)}, more than the budget leaves."
        )
    elif most_sizes is not None and len(family) == most_sizes < len(FAMILY):
        notes.append(f"Larger sizes are left out: you asked for the {most_sizes} smallest.")
    elif len(family) < len(FAMILY):
        following = _rung(
            "",
            family_config(base, FAMILY[len(family)]),
            classes,
            rows,
            settings,
            machine_rate,
            SCRATCH,
            TANH_GELU,
        )
        notes.append(
            f"Larger sizes are left out: the next would need about {following.memory_mb:,} MB, more than the "
            f"{memory_budget_mb:,} MB this app allows."
        )
    return LadderPlan(tuple(_thinned(fitting, MAX_RUNGS - len(extra)) + extra), budget_seconds, tuple(notes))


def _longest_prefix(rungs: list[Rung], seconds: float) -> list[Rung]:
    total, kept = 0.0, []
    for rung in rungs:
        total += rung.predicted_seconds
        if total > seconds:
            break
        kept.append(rung)
    return kept


def _thinned(rungs: list[Rung], most: int) -> list[Rung]:
    """At most ``most`` of ``rungs``, evenly spread, the first and the last kept."""
    if len(rungs) <= most:
        return rungs
    if most == 1:
        return rungs[-1:]
    step = (len(rungs) - 1) / (most - 1)
    return [rungs[round(index * step)] for index in range(most)]


def pareto_front(sizes: Sequence[float], scores: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats: none is at most as large and at least as good
    with one of the two strictly. Ties (same size and score) are all kept. In size order."""
    front = []
    for index, (size, score) in enumerate(zip(sizes, scores, strict=True)):
        beaten = any(
            other_size <= size and other_score >= score and (other_size < size or other_score > score)
            for other_size, other_score in zip(sizes, scores, strict=True)
        )
        if not beaten:
            front.append(index)
    return sorted(front, key=lambda index: (sizes[index], -scores[index]))


# What each run of the ``--json`` object holds (issue contract), besides its name, start and folder.
RUN_KEYS = (
    "config", "params", "val_accuracy", "macro_f1", "seconds", "predict_ms_per_text", "model_bytes",
    "int8_bytes", "int8_val_accuracy", "fp16_bytes",
)  # fmt: skip


def rung_result(rung: Rung, result: dict, folder: str | None) -> dict:
    """One finished rung (its job's ``result``: ``tasks.ladder_rung``'s) as the ``--json`` object
    lists it: ``RUN_KEYS`` and the rest of what was measured (fp16's accuracy, the quantised models'
    speed, the training's own seconds, the predicted bytes and seconds)."""
    metrics = result["metrics"]
    return {
        "name": rung.name,
        "encoder": rung.encoder,
        "pretrained": rung.pretrained,
        "config": rung.config.to_dict(),
        "params": int(metrics["parameters"]),
        "val_accuracy": metrics["val_accuracy"],
        "macro_f1": metrics["macro_f1"],
        "seconds": result["seconds"],  # the whole rung, as predicted_seconds: training, saving, converting
        "training_seconds": metrics["training_seconds"],
        "best_epoch": metrics.get("best_epoch"),
        "predicted_seconds": round(rung.predicted_seconds, 1),
        "predicted_bytes": rung.predicted_bytes(),
        **result["quantized"],
        "folder": folder,
    }


def ladder_report(runs: list[dict], metrics: dict | None) -> dict:
    """The ``ladder --json`` object: ``runs`` (finished rungs, smallest first), the baselines every
    rung shares (one split and seed: ``metrics`` is any rung's) and ``pareto``, the indices of the
    runs on the front of validation accuracy against parameters."""
    runs = sorted(runs, key=lambda run: (run["params"], run["name"]))
    metrics = metrics or {}
    return {
        "runs": runs,
        "tfidf_baseline": (
            None
            if metrics.get("tfidf_baseline") is None
            else {"val_accuracy": metrics["tfidf_baseline"], "macro_f1": metrics.get("tfidf_macro_f1")}
        ),
        "majority_baseline": (
            None
            if metrics.get("majority_baseline") is None
            else {"val_accuracy": metrics["majority_baseline"], "class": metrics.get("majority_class")}
        ),
        "pareto": pareto_front([run["params"] for run in runs], [run["val_accuracy"] for run in runs]),
    }


def smallest_within(report: dict, points: float = 0.01) -> dict | None:
    """The smallest run whose validation accuracy is within ``points`` of the best run's: the answer
    to "how small can it be" (None without runs)."""
    runs = report["runs"]
    if not runs:
        return None
    best = max(run["val_accuracy"] for run in runs)
    return min((run for run in runs if run["val_accuracy"] >= best - points), key=lambda run: run["params"])
