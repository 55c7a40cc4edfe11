"""Training a classifier: split, vocabulary, encode, fit with early stopping, evaluate.

The page and the CLI follow a run through a small progress protocol: any object with any of

- ``on_epoch_end(epoch_record: dict)``: after each completed epoch (see ``EPOCH_KEYS``);
- ``on_batch_end(epoch, batch, batches_per_epoch)``: after each training batch, counting from 1;
- ``should_stop() -> bool``: polled after every batch; True ends the run, keeping the best
  completed epoch so far;
- ``on_encoding(texts_done, texts)``: training the head only, while the frozen encoder reads the
  texts once before the first epoch (at most once a second).

An epoch record's ``samples_per_second`` is training rows / seconds of the epoch's training
batches (the validation pass after them excluded); ``seconds`` is the whole epoch, validation
included. The first epoch also holds the tracing of the training step.

Each call has its own model (built, or lent by a ``prepared.Shelf``): two jobs in one process can
train at the same time.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.budget import check_training_fits
from bertviz_core.data.rows import Dataset
from bertviz_core.data.tokens import encode_split
from bertviz_core.errors import ConfigError, TrainingError, VocabularyError
from bertviz_core.evaluation import evaluate, tfidf_baseline
from bertviz_core.mistakes import ValidationPredictions
from bertviz_core.model import runtime
from bertviz_core.model.checkpoint import CheckpointFiles
from bertviz_core.model.classifier import ClassifierBundle, batched_probabilities
from bertviz_core.model.distributed import DistributedTraining
from bertviz_core.model.head_only import FrozenEncoder, Head
from bertviz_core.model.prepared import Lender, PreparedClassifier, Shape, batches
from bertviz_core.settings import TrainSettings

# What every epoch record holds (``epoch`` counts from 1).
EPOCH_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds", "samples_per_second")

KERAS_EPSILON = 1e-7  # tf.keras.backend.epsilon()
WARM_UP_SHARE = 0.1  # of the planned steps, over which the learning rate rises to its setting


def learning_rate_at(step: int, total_steps: int, peak: float) -> float:
    """The learning rate of training step ``step`` (from 0) of ``total_steps`` planned: a linear
    warm-up to ``peak`` over the first ``WARM_UP_SHARE`` of them, then a cosine decay towards 0 at
    the last (BERT's recipe warms up and decays too). Measured on 3,726 fortunes of five topics, with
    the average-pooling head and the best epoch by accuracy, seeds 0-2, validation accuracy: a
    constant 5e-4 0.627 / 0.628 / 0.642, this schedule 0.632 / 0.635 / 0.662 at 5e-4 and 0.636 /
    0.648 / 0.658 at 1e-3 (the default now), against TF-IDF's 0.643 / 0.664 / 0.640."""
    warm = max(1, round(WARM_UP_SHARE * total_steps))
    if step < warm:
        return peak * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total_steps - warm))
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


class TrainingProgress(Protocol):
    """The progress protocol; every method is optional (see the module docstring)."""

    def on_epoch_end(self, epoch_record: dict) -> None: ...

    def on_batch_end(self, epoch: int, batch: int, batches_per_epoch: int) -> None: ...

    def should_stop(self) -> bool: ...

    def on_encoding(self, texts_done: int, texts: int) -> None: ...


@functools.cache
def _progress_callback_class() -> type:
    # A class, not a model, so caching it is safe; it needs tf.keras, which is imported lazily.
    tf = runtime.tensorflow()

    class ProgressCallback(tf.keras.callbacks.Callback):
        """Epoch records, early stopping with the best epoch's weights (see ``better``), user stops."""

        def __init__(
            self,
            progress: Any,
            batches_per_epoch: int,
            train_samples: int,
            patience: int,
            validate: Callable[[], tuple[float, float]],
            learning_rate: float,
            epochs: int,
        ):
            super().__init__()
            self.learning_rate, self.total_steps = learning_rate, epochs * batches_per_epoch
            self.progress = progress
            self.validate = validate
            self.batches_per_epoch = batches_per_epoch
            self.train_samples = train_samples
            self.patience = patience
            self.history: list[dict] = []
            self.best_val_loss = math.inf
            self.best_val_accuracy = -math.inf
            self.best_weights: list[np.ndarray] | None = None
            self.best_epoch = 0
            self.epochs_without_improvement = 0
            self.stopped_by_user = False
            self.stopped_early = False
            self.diverged = False
            # Batch logs are not read here: telling Keras so spares a tensor-to-NumPy copy per batch.
            self._supports_tf_logs = True

        def _call(self, name: str, *args: Any) -> Any:
            method = getattr(self.progress, name, None)
            return method(*args) if callable(method) else None

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch_index = epoch
            self.epoch_started = time.perf_counter()
            self.train_seconds = 0.0
            self.batches_done = 0

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            step = self.epoch_index * self.batches_per_epoch + batch
            self.model.optimizer.learning_rate = learning_rate_at(step, self.total_steps, self.learning_rate)

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.batches_done = batch + 1
            if self.batches_done == self.batches_per_epoch:
                # Training time only: the validation pass after it is not in samples_per_second.
                self.train_seconds = time.perf_counter() - self.epoch_started
            self._call("on_batch_end", len(self.history) + 1, self.batches_done, self.batches_per_epoch)
            if self._call("should_stop"):
                self.stopped_by_user = True
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if self.batches_done < self.batches_per_epoch:
                return  # stopped part-way: the epoch's numbers would describe a different thing
            logs = logs or {}
            values = {key: float(logs.get(key, math.nan)) for key in ("loss", "accuracy")}
            values["val_loss"], values["val_accuracy"] = self.validate()
            record = {
                "epoch": len(self.history) + 1,
                # None rather than NaN: the history goes into JSON, which has no NaN.
                **{key: (value if math.isfinite(value) else None) for key, value in values.items()},
                "seconds": round(time.perf_counter() - self.epoch_started, 4),
                "samples_per_second": round(self.train_samples / max(self.train_seconds, 1e-9), 2),
            }
            self.history.append(record)
            if record["loss"] is None or record["val_loss"] is None:
                self.diverged = True
                self.model.stop_training = True
            elif self.better(record):
                self.best_val_accuracy, self.best_val_loss = record["val_accuracy"], record["val_loss"]
                self.best_weights = _copy_weights(self.model, self.best_weights)
                self.best_epoch = record["epoch"]
                self.epochs_without_improvement = 0
            else:
                self.epochs_without_improvement += 1
                if self.epochs_without_improvement >= self.patience:
                    self.stopped_early = True
                    self.model.stop_training = True
            self._call("on_epoch_end", dict(record))

        def better(self, record: dict) -> bool:
            """A higher validation accuracy, or the same with a lower validation loss.

            Not the loss alone: trained from scratch on a few thousand texts, the model grows
            over-confident on the texts it gets wrong, so the validation loss rises from the second
            or third epoch while the accuracy still climbs for several. Measured on 3,726 fortunes of
            five topics (seed 0), keeping the lowest loss stopped at epoch 4 and kept epoch 2, 0.562
            accurate; keeping the best accuracy, 0.600 (epoch 6 of 8).
            """
            return (record["val_accuracy"], -record["val_loss"]) > (
                self.best_val_accuracy,
                -self.best_val_loss,
            )

    return ProgressCallback


def _copy_weights(model: Any, kept: list[np.ndarray] | None) -> list[np.ndarray]:
    """NumPy copies of ``model``'s weights (safe from later updates), written into ``kept``, an earlier
    epoch's copy, when there is one: a new list beside the old one would hold the weights twice for a
    moment, which for all-MiniLM-L6-v2 was the 85 MB that made the run's peak."""
    if kept is None:
        return model.get_weights()
    for array, weight in zip(kept, model.weights, strict=True):
        array[...] = weight.numpy()  # one variable's temporary at a time
    return kept


# Speed of the training step, measured on the reference model (benchmarks.figures.REFERENCE_CONFIG, batch 32)
# on 2 AMD EPYC vCPUs (AVX2 and FMA; no AVX-512, so no bf16), each variant in its own process,
# alternated, samples per second after the first epoch:
# - XLA (``jit_compile=True``): 295-307 against 309-357 for the plain graph, and its first epoch
#   10-15 s longer (compilation). XLA fuses the element-wise work but its own matrix products
#   reach 0.52-0.58 of TensorFlow's 1024 x 1024 rate at these shapes, against 0.8 for the plain
#   graph's oneDNN products (tried: XLA's oneDNN, XNNPACK and YNNPACK dot options; none better).
# - Several batches per graph call (``steps_per_execution`` 4, 8, 16): within the noise (280-340
#   for every value), since the progress callback already leaves batch logs on the device.
# - Keras' fused legacy Adam and XLA auto-clustering of element-wise operations only: no gain.
# - The feed-forward GELU (get_model's feed_forward_activation), alternated in one process against
#   keras-bert's own eight-op form, outputs within 3e-7: ``tf.nn.gelu(approximate=True)`` 1.00 x
#   (grappler's remapper cannot fuse it: keras-position-wise-feed-forward reshapes between MatMul
#   and BiasAdd, and training keeps the pre-activation for the gradient); x * sigmoid(2z) 1.00 x;
#   the GELU alone as an XLA function 0.86 x. TF_NUM_INTEROP_THREADS=1 against 2: within the noise.
# So the step runs as a plain TensorFlow graph (prepared.PreparedClassifier), with keras-bert's own GELU.


def _validator(
    prepared: PreparedClassifier, token_ids: np.ndarray, labels: np.ndarray
) -> tuple[Callable[[], tuple[float, float]], Callable[[np.ndarray], np.ndarray]]:
    """``validate() -> (loss, accuracy)`` on the validation split, and ``probabilities(token_ids)``.

    Outside ``model.fit`` on purpose: the prepared forward pass (traced once for any batch), in
    batches of ``PREDICT_BATCH``, whose figures the epoch records and the final evaluation share.
    """
    forward = prepared.forward
    classes = prepared.shape.classes

    def probabilities(ids: np.ndarray) -> np.ndarray:
        return batched_probabilities(forward, ids, classes)

    def validate() -> tuple[float, float]:
        return _loss_and_accuracy(probabilities(token_ids), labels)

    return validate, probabilities


def _loss_and_accuracy(predicted: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Cross-entropy (with Keras' clipping of probabilities) and accuracy of ``predicted`` rows."""
    picked = predicted[np.arange(len(labels)), labels]
    loss = -np.log(np.clip(picked, KERAS_EPSILON, 1 - KERAS_EPSILON)).mean()
    return float(loss), float((predicted.argmax(axis=1) == labels).mean())


@dataclass(frozen=True)
class _Fitted:
    """What either way of training leaves: the classifier with its best epoch's weights, the epochs'
    records (the callback), the validation probabilities, and the time it took."""

    model: Any
    progress: Any  # the progress callback: history, best epoch, how it stopped
    probabilities: np.ndarray
    seconds: float
    trained_parameters: int
    encoding_seconds: float | None = None  # head only: the encoder's one pass over the texts


def _kept_best(progress: Any, model: Any) -> None:
    """After ``fit``: the best epoch's weights back in ``model``, or one sentence why there are none."""
    if progress.best_weights is None:
        if progress.diverged:
            raise TrainingError(
                "The loss became infinite or NaN in the first epoch; lower the learning rate."
            )
        raise TrainingError(
            "Training was stopped before the first epoch finished, so there is no model to keep; "
            "let it run at least one epoch."
        )
    model.set_weights(progress.best_weights)


def _fine_tune(
    config: ModelConfig,
    class_names: tuple[str, ...],
    settings: TrainSettings,
    callbacks: Any,
    checkpoint: CheckpointFiles | None,
    distributed: DistributedTraining | None,
    models: Lender | None,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
) -> _Fitted:
    """Every layer trained: the classifier fitted on the token ids."""
    tf = runtime.tensorflow()
    shape = Shape.of(config, len(class_names), settings.seed)
    if models is not None and checkpoint is None and distributed is None:
        prepared = models.get(shape, settings.learning_rate)
    else:
        # Multi-worker: variables created and compiled in the strategy's scope are mirrored on every worker.
        with distributed.scope() if distributed is not None else contextlib.nullcontext():
            prepared = PreparedClassifier(shape, settings.learning_rate, checkpoint=checkpoint)
    model = prepared.model
    batches_per_epoch = math.ceil(len(train[1]) / settings.batch_size)
    validate, probabilities_of = _validator(prepared, *validation)
    train_batches = batches(tf, *train, settings.batch_size, shuffle_seed=settings.seed)
    if distributed is not None:
        validate = distributed.agreed(validate)  # every worker takes the same early-stopping decisions
        train_batches = distributed.shard(train_batches)
    progress = _progress_callback_class()(
        callbacks, batches_per_epoch, len(train[1]), settings.patience, validate, settings.learning_rate,
        settings.epochs,
    )  # fmt: skip
    started = time.perf_counter()
    model.fit(train_batches, epochs=settings.epochs, callbacks=[progress], verbose=0)
    seconds = time.perf_counter() - started
    _kept_best(progress, model)
    trained = int(sum(np.prod(weight.shape) for weight in model.trainable_weights))
    return _Fitted(model, progress, probabilities_of(validation[0]), seconds, trained)


# The encoder's pass over the texts reports its progress at most this often (progress.on_encoding).
ENCODING_UPDATES_PER_SECOND = 1


def _train_head(
    config: ModelConfig,
    class_names: tuple[str, ...],
    settings: TrainSettings,
    callbacks: Any,
    checkpoint: CheckpointFiles,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
) -> _Fitted:
    """The head only (``head_only``): the encoder reads every text once, then the head trains on the
    vectors with the same epochs, schedule, early stopping and records as fine-tuning."""
    encoder = FrozenEncoder(config, len(class_names), settings.seed, checkpoint)
    # From here, as fine-tuning's training_seconds starts after the model is built.
    reading = time.perf_counter()
    total, last_report = len(train[0]) + len(validation[0]), [0.0]

    def after_batch(done_before: int) -> Callable[[int], bool]:
        def report(done: int) -> bool:
            now = time.monotonic()
            if now - last_report[0] >= 1 / ENCODING_UPDATES_PER_SECOND or done_before + done == total:
                last_report[0] = now
                _call(callbacks, "on_encoding", done_before + done, total)
            return bool(_call(callbacks, "should_stop"))

        return report

    train_vectors = encoder.vectors(train[0], after_batch(0))
    validation_vectors = None
    if train_vectors is not None:
        validation_vectors = encoder.vectors(validation[0], after_batch(len(train[0])))
    if validation_vectors is None:
        raise TrainingError(
            "Training was stopped while the encoder was still reading the texts, so there is no model to keep; "
            "let it run at least one epoch."
        )
    encoding_seconds = time.perf_counter() - reading
    head = Head(encoder.model, settings.learning_rate)
    labels = validation[1]

    def validate() -> tuple[float, float]:
        return _loss_and_accuracy(head.probabilities(validation_vectors), labels)

    progress = _progress_callback_class()(
        callbacks, math.ceil(len(train[1]) / settings.batch_size), len(train[1]), settings.patience, validate,
        settings.learning_rate, settings.epochs,
    )  # fmt: skip
    head.model.fit(
        head.batches(train_vectors, train[1], settings.batch_size, settings.seed),
        epochs=settings.epochs,
        callbacks=[progress],
        verbose=0,
    )
    _kept_best(progress, head.model)  # the head's weights are the classifier's Classifier layer
    return _Fitted(
        encoder.model,
        progress,
        head.probabilities(validation_vectors),
        time.perf_counter() - reading,
        int(head.model.count_params()),
        encoding_seconds,
    )


def _call(callbacks: Any, name: str, *args: Any) -> Any:
    method = getattr(callbacks, name, None)
    return method(*args) if callable(method) else None


def train_classifier(
    dataset: Dataset,
    config: ModelConfig,
    settings: TrainSettings | None = None,
    callbacks: TrainingProgress | Any | None = None,
    checkpoint: CheckpointFiles | None = None,
    distributed: DistributedTraining | None = None,
    models: Lender | None = None,
) -> ClassifierBundle:
    """Train keras-bert's encoder plus a softmax head on ``dataset``.

    From scratch, the vocabulary comes from the training split only, so validation measures unseen
    texts honestly. From a ``checkpoint``, the model is the checkpoint's at ``config.seq_len`` and
    the vocabulary is the checkpoint's own. Raises TrainingError (one sentence) for anything the
    user can change.

    ``distributed``: this process's part of a multi-worker run (``distributed.start``, called before
    any TensorFlow operation); ``settings.batch_size`` is then the global batch, split between the
    workers, and only the chief reports progress (see ``model.distributed``).

    ``models``: where a new model comes from when the run starts from scratch on one process; a
    ``prepared.Lender`` may hand over a kept, already traced model of the same shape, reset to what
    a new one would be. Without it, and from a checkpoint or distributed, the model is built here.

    ``settings.encoder`` ``FROZEN`` (a checkpoint only) keeps the encoder as it is and trains the head on
    its text vectors (``head_only``); the epochs' records, the metrics and the saved classifier are those
    of fine-tuning, plus ``encoding_seconds``, the encoder's one pass over the texts.
    """
    settings = settings or TrainSettings()
    config = config.with_changes(encoder_only=True)
    if checkpoint is not None:
        try:
            config = checkpoint.model_config(config.seq_len)
        except ConfigError as error:
            raise TrainingError(str(error)) from None
    class_names = tuple(dataset.class_names)
    if len(class_names) < 2:
        raise TrainingError(
            f"The labels hold only one class ({class_names[0] if class_names else 'none'}); "
            "a classifier needs at least two."
        )
    if not settings.trains_encoder and checkpoint is None:
        raise TrainingError(
            "Training the head only needs a pretrained encoder, and a new model's has learnt nothing yet; "
            "start from a checkpoint or fine-tune every layer."
        )
    if not settings.trains_encoder and distributed is not None:
        raise TrainingError("Training the head only runs on one process; train it without the other workers.")
    check_training_fits(config, len(class_names), settings.batch_size, encoder=settings.encoder)
    if distributed is not None:  # multi-worker: see model/distributed.py
        distributed.check_batch(settings.batch_size)
        callbacks = distributed.progress(callbacks)
    try:
        split = encode_split(
            dataset,
            config.vocab,
            config.seq_len,
            settings.val_share,
            settings.seed,
            checkpoint.vocabulary if checkpoint is not None else None,
        )
    except VocabularyError as error:
        raise TrainingError(str(error)) from None
    vocabulary, train_encoded, val_encoded = split.vocabulary, split.train, split.validation
    train_labels, val_labels = split.train_labels, split.validation_labels
    train_idx = split.train_indices

    # A bag-of-words model on exactly the model's split: what the encoder has to beat to be worth it.
    # Before the model exists, so its memory (up to 450 MB for 20,000 texts of all-different words)
    # is not added to training's peak.
    tfidf = tfidf_baseline(
        [dataset.texts[i] for i in split.train_indices],
        train_labels,
        [dataset.texts[i] for i in split.validation_indices],
        val_labels,
        class_names,
    )
    if settings.trains_encoder:
        fitted = _fine_tune(
            config, class_names, settings, callbacks, checkpoint, distributed, models,
            (train_encoded.token_ids, train_labels), (val_encoded.token_ids, val_labels),
        )  # fmt: skip
    else:
        fitted = _train_head(
            config, class_names, settings, callbacks, checkpoint,
            (train_encoded.token_ids, train_labels), (val_encoded.token_ids, val_labels),
        )  # fmt: skip
    model, progress, probabilities = fitted.model, fitted.progress, fitted.probabilities
    metrics = {
        "classes": list(class_names),
        **evaluate(val_labels, probabilities.argmax(axis=1), class_names, train_labels),
        "tfidf_baseline": tfidf["tfidf_baseline"],
        "tfidf_macro_f1": tfidf["tfidf_macro_f1"],
        "tfidf_predictions": tfidf["tfidf_predictions"],
        "history": progress.history,
        "best_epoch": progress.best_epoch,
        "best_val_loss": progress.best_val_loss,
        "best_val_accuracy": progress.best_val_accuracy,
        "stopped_early": progress.stopped_early,
        "stopped_by_user": progress.stopped_by_user,
        "diverged": progress.diverged,
        "start": {"from": "scratch"}
        if checkpoint is None
        else {"from": "checkpoint", "name": checkpoint.name, "gelu": checkpoint.gelu},
        "train_samples": int(len(train_idx)),
        "parameters": int(model.count_params()),
        "trained_parameters": fitted.trained_parameters,
        "training_seconds": round(fitted.seconds, 3),
        "bf16": runtime.bf16_in_use(),  # oneDNN's bfloat16, when the deployment asked for it
        "tokens": {
            "vocabulary_size": len(vocabulary),
            "train": train_encoded.stats(),
            "validation": val_encoded.stats(),
            # Per training text, [CLS] and [SEP] included: the page's histogram against seq_len.
            "token_lengths": train_encoded.token_lengths.tolist(),
        },
    }
    if fitted.encoding_seconds is not None:
        # Head only: the encoder's one reading of every text, before the epochs (in training_seconds).
        metrics["encoding_seconds"] = round(fitted.encoding_seconds, 3)
    if distributed is not None:
        metrics["distributed"] = distributed.summary(
            int(model.optimizer.iterations.numpy()), settings.batch_size
        )
    return ClassifierBundle(
        model=model,
        vocabulary=vocabulary,
        class_names=class_names,
        config=config,
        settings=settings.to_dict(),
        metrics=metrics,
        validation=ValidationPredictions(
            tuple(dataset.texts[i] for i in split.validation_indices), val_labels, probabilities, class_names
        ).to_dict(),
    )
