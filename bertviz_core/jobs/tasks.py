"""The work a worker process does, by kind: each task takes plain inputs and returns plain data.

A task reports through ``progress`` (``emit`` a ``protocol`` event: ``Stage``, ``Batch``,
``Epoch``; ``should_stop`` polled between batches) and raises ``UserError`` with one sentence for
anything a visitor can change. TensorFlow is imported inside the tasks that need it. A worker also
asks this module to ``warm_up`` ahead of a likely job, and what it ``holds`` afterwards.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bertviz_core.errors import JobError
from bertviz_core.jobs.protocol import (
    BUILD,
    EXPLAIN,
    LADDER_RUNG,
    MEASURE_RATE,
    PREDICT,
    PRETRAIN,
    TRAIN,
    Batch,
    Epoch,
    Stage,
)
from bertviz_core.model.prepared import Shape, Shelf


class Progress(Protocol):
    def emit(self, event: Any) -> None: ...

    def should_stop(self) -> bool: ...


UPDATES_PER_SECOND = 4  # batch events at most; more would slow the training loop down


class _TrainingReporter:
    """``model.training``'s progress protocol, turned into events; batch events also say how many
    seconds the planned epochs would still take at the pace so far (early stopping may end sooner)."""

    def __init__(self, progress: Progress, epochs: int) -> None:
        self.progress, self.epochs = progress, epochs
        self.last_batch_event = 0.0
        self.started: float | None = None
        # The head only: the pace of the encoder's reading counts the loading before it (a cautious estimate).
        self.encoding_started = time.monotonic()

    def on_batch_end(self, epoch: int, batch: int, batches_per_epoch: int) -> None:
        now = time.monotonic()
        self.started = self.started or now
        if now - self.last_batch_event < 1 / UPDATES_PER_SECOND and batch != batches_per_epoch:
            return
        self.last_batch_event = now
        done = (epoch - 1) * batches_per_epoch + batch
        left = self.epochs * batches_per_epoch - done
        remaining = (now - self.started) / max(done - 1, 1) * left
        self.progress.emit(Batch(epoch, batch, batches_per_epoch, round(remaining, 1)))

    def on_epoch_end(self, record: dict) -> None:
        self.progress.emit(Epoch(dict(record)))

    def on_encoding(self, done: int, total: int) -> None:
        """Training the head only: the frozen encoder reads every text once before the first epoch."""
        left = (time.monotonic() - self.encoding_started) / max(done, 1) * (total - done)
        self.progress.emit(
            Stage(
                f"The frozen encoder is reading the texts once: {done:,} of {total:,}, about {left:,.0f} s left..."
            )
        )

    def should_stop(self) -> bool:
        return self.progress.should_stop()


def train(inputs: dict[str, Any], progress: Progress) -> dict:
    """Train a classifier on the rows given and save its bundle in ``inputs["folder"]``.

    Inputs: ``texts``, ``labels``, ``class_names``, ``label_ids`` (the training rows), ``config`` and
    ``settings`` (as dicts), ``folder``, and ``checkpoint`` (``{"folder", "name"}`` of an unpacked
    checkpoint to start from, or None). Result: the metrics and the folder.
    """
    return _train(inputs, progress)


def ladder_rung(inputs: dict[str, Any], progress: Progress) -> dict:
    """One size of a ladder (``ladder``): ``train``, then the saved classifier converted to TensorFlow
    Lite and measured (``model.quantize``): the files of the precisions in ``inputs["keep"]`` (default
    both) stay beside ``model.h5``. Result: ``train``'s, plus ``quantized``
    (``QuantizationReport.to_dict()``) and ``seconds``, the whole rung's."""

    started = time.perf_counter()

    def measure(bundle: Any, folder: Path) -> dict:
        from bertviz_core.model.quantize import PRECISIONS, quantize

        progress.emit(
            Stage("Converting the trained model to TensorFlow Lite (int8, then fp16) and timing it...")
        )
        report = quantize(bundle, folder, keep=inputs.get("keep", PRECISIONS))
        return {"quantized": report.to_dict(), "seconds": round(time.perf_counter() - started, 3)}

    return _train(inputs, progress, measure)


def _train(inputs: dict[str, Any], progress: Progress, then: Any = None) -> dict:
    """``train``; ``then(bundle, folder)``, given, runs on the saved classifier while its model is
    still at hand, and what it returns joins the result."""
    from bertviz_core.arithmetic.config import ModelConfig
    from bertviz_core.data.rows import Dataset
    from bertviz_core.model.bundle import save_bundle
    from bertviz_core.model.training import train_classifier
    from bertviz_core.settings import TrainSettings

    dataset = Dataset(
        texts=tuple(inputs["texts"]),
        labels=tuple(inputs["labels"]),
        class_names=tuple(inputs["class_names"]),
        label_ids=np.asarray(inputs["label_ids"], dtype=np.int64),
        notes=(),
    )
    config = ModelConfig.from_mapping(inputs["config"])
    settings = TrainSettings.from_mapping(inputs["settings"])
    checkpoint = None
    if inputs.get("checkpoint"):
        from bertviz_core.model.checkpoint import read_checkpoint

        checkpoint = read_checkpoint(inputs["checkpoint"]["folder"], inputs["checkpoint"]["name"])
    if checkpoint is None and SHELF.holds(Shape.of(config, len(dataset.class_names), settings.seed)):
        stage = "Resetting the model this worker has already built and traced..."
    elif not settings.trains_encoder:
        stage = "Loading the checkpoint, whose encoder will read every text once..."
    else:
        stage = f"{'Loading the checkpoint' if checkpoint else 'Building the model'} and tracing the training step..."
    progress.emit(Stage(stage))
    reporter = _TrainingReporter(progress, settings.epochs)
    with SHELF.lending() as lender:  # the model goes back on the shelf once it is saved
        bundle = train_classifier(dataset, config, settings, reporter, checkpoint=checkpoint, models=lender)
        folder = save_bundle(bundle, inputs["folder"])
        more = then(bundle, folder) if then is not None else {}
    return {"metrics": bundle.metrics, "folder": str(folder), **more}


# The traced classifiers this process keeps for the next training of the same shape (no TensorFlow
# until one is built).
SHELF = Shelf()


def warm_up(inputs: dict[str, Any] | None) -> None:
    """What a worker does ahead of a likely job: the imports every training pays once per worker
    (TensorFlow with keras-bert, and the scikit-learn parts that score it, about 2 s otherwise paid
    after the last epoch), then, given ``inputs`` (``requests.training_warm_up``'s), build and trace
    the classifier that training will likely need and keep it for it. A tiny warm-up training was
    measured as well: it took 7-9 s of CPU and saved the first real run only 1-2 s, as tracing a
    visitor's model is per model, so it was not kept."""
    from bertviz_core.model import runtime

    runtime.keras_bert()
    import sklearn.feature_extraction.text  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.metrics  # noqa: F401

    if inputs is None:
        return
    shape = Shape.from_mapping(inputs)
    if shape.keepable:
        SHELF.warm(shape, int(inputs["batch_size"]), float(inputs["learning_rate"]))


def holds() -> list[str]:
    """The affinities of the traced models this process keeps (``jobs.protocol.JobRequest.affinity``)."""
    return [shape.affinity() for shape in SHELF.shapes()]


def pretrain(inputs: dict[str, Any], progress: Progress) -> dict:
    """Pretrain keras-bert's model on ``inputs["texts"]`` (masked words and next sentences) and save it
    as a checkpoint in Google's layout in ``inputs["folder"]``.

    Inputs: ``texts``, ``config`` and ``settings`` (as dicts), ``folder``. Events as ``train``'s (stage,
    batch, epoch; an epoch record holds ``model.pretraining.EPOCH_KEYS``). Result:
    ``PretrainResult.summary()`` (history, settings, config, texts, parameters, ...) and the folder.
    """
    from bertviz_core.arithmetic.config import ModelConfig
    from bertviz_core.model.pretraining import pretrain as pretrain_model
    from bertviz_core.model.pretraining import save_pretrained
    from bertviz_core.settings import TrainSettings

    config = ModelConfig.from_mapping(inputs["config"])
    settings = TrainSettings.from_mapping(inputs["settings"])
    progress.emit(Stage("Building the model and tracing the pretraining step..."))
    reporter = _TrainingReporter(progress, settings.epochs)
    result = pretrain_model(list(inputs["texts"]), config, settings, reporter)
    folder = save_pretrained(result, inputs["folder"])
    return {**result.summary(), "folder": str(folder)}


def build(inputs: dict[str, Any], progress: Progress) -> dict:
    """Build keras-bert's model for ``inputs["config"]`` and compare it with the arithmetic
    (``size --verify --json``'s object)."""
    from bertviz_core.arithmetic.config import ModelConfig
    from bertviz_core.arithmetic.costs import size_report
    from bertviz_core.model import real_model

    config = ModelConfig.from_mapping(inputs["config"])
    return {**size_report(config), "verify": real_model.verify(config)}


# A worker keeps the last few classifiers it loaded: a visitor typing sentence after sentence into
# the same model pays for loading it once.
_LOADED: OrderedDict[tuple[str, float], Any] = OrderedDict()
_LOADED_KEEP = 2
_loaded_lock = threading.Lock()


def _loaded(folder: Path) -> Any:
    """The classifier saved in ``folder``, from this worker's few kept ones when it is there."""
    from bertviz_core.model.bundle import MODEL_FILE, load_bundle

    try:
        key = (str(folder), (folder / MODEL_FILE).stat().st_mtime)
    except OSError:
        raise JobError(
            "The trained model's files are gone (it expired or was replaced); train it again."
        ) from None
    with _loaded_lock:
        bundle = _LOADED.get(key)
        if bundle is None:
            bundle = load_bundle(folder)
            _LOADED[key] = bundle
            while len(_LOADED) > _LOADED_KEEP:
                _LOADED.popitem(last=False)
        _LOADED.move_to_end(key)
    return bundle


def predict(inputs: dict[str, Any], progress: Progress) -> dict:
    """Class probabilities of ``inputs["texts"]`` from the classifier saved in ``inputs["folder"]``."""
    from bertviz_core.model.classifier import predict_proba

    bundle = _loaded(Path(inputs["folder"]))
    probabilities = predict_proba(bundle, list(inputs["texts"]))
    return {"probabilities": probabilities.tolist(), "class_names": list(bundle.class_names)}


def explain(inputs: dict[str, Any], progress: Progress) -> dict:
    """Attention and attributions for ``inputs["text"]`` (``Explanation.to_dict()``) and the
    seconds each took."""
    from bertviz_core.model.inspect import explain as look_inside

    bundle = _loaded(Path(inputs["folder"]))
    started = time.perf_counter()
    result = look_inside(bundle, str(inputs["text"])).to_dict()
    return {**result, "seconds": round(time.perf_counter() - started, 3)}


def measure_rate(inputs: dict[str, Any], progress: Progress) -> dict:
    """This machine's fp32 matrix-product rate (``model.machine_rate.measure_machine_rate``), for the
    predicted training times; ``inputs["seconds"]`` of products. Result: ``flops_per_second``, the
    load average at the end (the machine may be shared) and ``cpu_share``, the share of its cores
    the process got meanwhile."""
    from bertviz_core.model.machine_rate import measure_machine_rate
    from bertviz_core.timing import MEASURE_SECONDS

    cpu, wall = time.process_time(), time.perf_counter()
    rate = measure_machine_rate(seconds=float(inputs.get("seconds", MEASURE_SECONDS)))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    # The share of this process's cores it got while measuring: a worker that other processes
    # starved of the CPU (it runs at SCHED_IDLE) measured a moment, not the machine.
    share = (time.process_time() - cpu) / max(1e-9, (time.perf_counter() - wall) * cores)
    return {"flops_per_second": rate, "load_average": os.getloadavg()[0], "cpu_share": share}


TASKS = {
    TRAIN: train,
    PRETRAIN: pretrain,
    BUILD: build,
    PREDICT: predict,
    EXPLAIN: explain,
    MEASURE_RATE: measure_rate,
    LADDER_RUNG: ladder_rung,
}
