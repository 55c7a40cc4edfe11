"""The jobs the app submits, built from its own objects: what each needs in memory and in time.

Plain data goes in (rows as lists of strings, configurations as dicts), so a request crosses to a
worker process, or to a Ray cluster, without any object of the web process.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.training_memory import (
    TF_BASELINE_MB,
    estimated_build_mb,
    explanation_job_mb,
    prediction_job_mb,
    pretraining_job_mb,
    training_job_mb,
)
from bertviz_core.data.rows import Dataset
from bertviz_core.jobs.protocol import (
    BUILD,
    EXPLAIN,
    LADDER_RUNG,
    MEASURE_RATE,
    PREDICT,
    PRETRAIN,
    TRAIN,
    JobRequest,
    WarmUp,
)
from bertviz_core.ladder import Rung
from bertviz_core.model.prepared import Shape
from bertviz_core.settings import TrainSettings
from bertviz_core.timing import MEASURE_SECONDS, TENSORFLOW_IMPORT_SECONDS, predict_build_seconds

# For estimates of a job's length before it reports its own pace: training's measured rate on the
# benchmark's reference model on 2 cores (README: about 45 GFLOP/s achieved), rounded down, and the
# seconds a fresh worker needs before its first batch (TensorFlow's import, the model, tracing).
TRAINING_GFLOPS = 35.0
START_SECONDS = 15.0


def expected_training_seconds(config: ModelConfig, classes: int, rows: int, settings: TrainSettings) -> float:
    """The queue's first guess; training the head only is one forward pass over the texts (a third of a
    training step's products) and epochs of the head, whose products are negligible."""
    compute = costs.compute(config.with_changes(encoder_only=True), classes=classes)
    if not settings.trains_encoder:
        return START_SECONDS + rows * compute.forward / (TRAINING_GFLOPS * 1e9)
    return START_SECONDS + settings.epochs * rows * compute.training / (TRAINING_GFLOPS * 1e9)


def training_request(
    dataset: Dataset,
    config: ModelConfig,
    settings: TrainSettings,
    folder: Path,
    owner: str = "",
    checkpoint: tuple[Path, str] | None = None,
) -> JobRequest:
    """``checkpoint``: the folder and name of an unpacked checkpoint to start from (``config`` is then
    its ``model_config``)."""
    classes = len(dataset.class_names)
    expected = expected_training_seconds(config, classes, len(dataset.texts), settings)
    return JobRequest(
        kind=TRAIN,
        inputs={
            "texts": list(dataset.texts),
            "labels": list(dataset.labels),
            "class_names": list(dataset.class_names),
            "label_ids": [int(label) for label in dataset.label_ids],
            "config": config.to_dict(),
            "settings": settings.to_dict(),
            "folder": str(folder),
            "checkpoint": {"folder": str(checkpoint[0]), "name": checkpoint[1]} if checkpoint else None,
        },
        memory_mb=training_job_mb(config, classes, settings.batch_size, settings.encoder),
        owner=owner,
        time_limit_seconds=max(1800.0, 4 * expected),
        expected_seconds=expected,
        affinity="" if checkpoint else Shape.of(config, classes, settings.seed).affinity(),
    )


def ladder_rung_request(
    dataset: Dataset,
    rung: Rung,
    folder: Path,
    owner: str = "",
    checkpoint: tuple[Path, str] | None = None,
    keep: tuple[str, ...] = ("int8", "fp16"),
) -> JobRequest:
    """One size of a ladder (``tasks.ladder_rung``): ``rung``'s model trained with its settings, saved in
    ``folder``, converted and measured; ``checkpoint`` for a pretrained rung; ``keep``: the quantised
    files left on disk."""
    request = training_request(
        dataset, rung.config, rung.settings, folder, owner, checkpoint if rung.pretrained else None
    )
    request.inputs["keep"] = list(keep)
    return dataclasses.replace(
        request,
        kind=LADDER_RUNG,
        memory_mb=rung.memory_mb,
        expected_seconds=rung.predicted_seconds,
        time_limit_seconds=max(1800.0, 4 * rung.predicted_seconds),
    )


def training_warm_up(config: ModelConfig, classes: int, settings: TrainSettings) -> WarmUp | None:
    """What a worker may build and trace ahead of training ``config`` from scratch on ``classes``
    classes with ``settings`` (``model.prepared``), or None for a model too big to keep."""
    shape = Shape.of(config, classes, settings.seed)
    if not shape.keepable:
        return None
    return WarmUp(
        inputs={
            "config": shape.config.to_dict(),
            "classes": shape.classes,
            "seed": shape.seed,
            "batch_size": settings.batch_size,
            "learning_rate": settings.learning_rate,
        },
        memory_mb=training_job_mb(config, classes, settings.batch_size),
        affinity=shape.affinity(),
    )


def expected_pretraining_seconds(config: ModelConfig, rows: int, settings: TrainSettings) -> float:
    """As ``expected_training_seconds``, for the pretraining model (its MLM head is a d × V product
    at every position). Measured on the training page's default model and the reviews sample: 47 s
    for 5 epochs where this says 110 s, the same margin as the classifier's estimate."""
    flops = costs.compute(config.with_changes(encoder_only=False)).training
    return START_SECONDS + settings.epochs * rows * flops / (TRAINING_GFLOPS * 1e9)


def pretraining_request(
    texts: list[str], config: ModelConfig, settings: TrainSettings, folder: Path, owner: str = ""
) -> JobRequest:
    """Pretrain on ``texts`` (``tasks.pretrain``) and save the checkpoint in ``folder``."""
    expected = expected_pretraining_seconds(config, len(texts), settings)
    return JobRequest(
        kind=PRETRAIN,
        inputs={
            "texts": [str(text) for text in texts],
            "config": config.with_changes(encoder_only=False).to_dict(),
            "settings": settings.to_dict(),
            "folder": str(folder),
        },
        memory_mb=pretraining_job_mb(config, settings.batch_size),
        owner=owner,
        time_limit_seconds=max(1800.0, 4 * expected),
        expected_seconds=expected,
    )


def prediction_request(
    folder: Path, texts: list[str], config: ModelConfig, classes: int, owner: str = ""
) -> JobRequest:
    return JobRequest(
        kind=PREDICT,
        inputs={"folder": str(folder), "texts": list(texts)},
        memory_mb=prediction_job_mb(config, classes),
        owner=owner,
        interactive=True,
        time_limit_seconds=300.0,
        expected_seconds=5.0,
    )


def explanation_request(
    folder: Path, text: str, config: ModelConfig, classes: int, owner: str = ""
) -> JobRequest:
    """Attention and attributions for one text (``model.inspect.explain``)."""
    return JobRequest(
        kind=EXPLAIN,
        inputs={"folder": str(folder), "text": text},
        memory_mb=explanation_job_mb(config, classes),
        owner=owner,
        interactive=True,
        time_limit_seconds=300.0,
        expected_seconds=10.0,
    )


def build_request(config: ModelConfig, owner: str = "") -> JobRequest:
    return JobRequest(
        kind=BUILD,
        inputs={"config": config.to_dict()},
        memory_mb=estimated_build_mb(config),
        owner=owner,
        interactive=True,
        time_limit_seconds=300.0,
        expected_seconds=TENSORFLOW_IMPORT_SECONDS + predict_build_seconds(config),
    )


def machine_rate_request(seconds: float | None = None) -> JobRequest:
    """Measure this machine's matrix-product rate (``tasks.measure_rate``), for the whole server: no
    owner, since every visitor's predictions share it."""
    return JobRequest(
        kind=MEASURE_RATE,
        inputs={"seconds": MEASURE_SECONDS if seconds is None else float(seconds)},
        memory_mb=TF_BASELINE_MB + 50,  # TensorFlow and three 4 MB matrices
        interactive=True,
        time_limit_seconds=120.0,
        expected_seconds=10.0,
    )
