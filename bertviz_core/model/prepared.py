"""A compiled classifier ready to train, and the few a process keeps for the next training of the
same shape.

Most of a small training's first epoch is one-time work: keras-bert's ``get_model`` (autograph
converts its layers' code), compiling, and tf-keras tracing the training step and the validation
pass. A worker that trains the same shape again (a room on the default settings, a visitor's second
run with another learning rate or more epochs) takes a kept model instead and resets it: its
initial weights, Adam's state and every dropout generator's state are put back, so the run is the
one a new model would have given (``tests/model/test_prepared.py`` compares the two histories).

A kept model is lent to one training at a time (``Shelf.lending``) and comes back only when that
training and its saving succeeded, so two trainings in one process never share one and a failed
run leaves nothing half-trained behind.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.costs import classifier_params
from bertviz_core.model import runtime
from bertviz_core.model.classifier import TOKEN_DTYPE, build_classifier, traced_forward

KEEP_MB = 64  # a kept model also holds a copy of its initial weights: only small ones are kept
# Models a worker keeps: one, the last it trained or traced. Measured on six tiny trainings in a row,
# a worker's resident memory was the same keeping none or one, and 33 MB more keeping two.
SHELF_KEEP = 1


@dataclass(frozen=True)
class Shape:
    """What a compiled classifier is fixed to: its encoder, its classes and the seed of its initial
    weights. The batch size, learning rate and epochs may change between the trainings that reuse it
    (the traced step takes any batch; the rate is Adam's variable)."""

    config: ModelConfig
    classes: int
    seed: int

    @classmethod
    def of(cls, config: ModelConfig, classes: int, seed: int) -> Shape:
        return cls(config.with_changes(encoder_only=True), int(classes), int(seed))

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Shape:
        """From a warm-up's inputs, ``{"config": {...}, "classes": n, "seed": s, ...}``."""
        return cls.of(ModelConfig.from_mapping(values["config"]), values["classes"], values["seed"])

    @property
    def parameters(self) -> int:
        """The classifier's parameters, by the arithmetic."""
        return classifier_params(self.config, self.classes)

    @property
    def keepable(self) -> bool:
        """Small enough to keep: with its copy of the initial weights, 8 bytes a parameter."""
        return self.parameters * 4 <= KEEP_MB * 2**20

    def affinity(self) -> str:
        """A job's and a worker's name for this shape (``jobs.protocol.JobRequest.affinity``)."""
        return "classifier " + json.dumps([self.config.to_dict(), self.classes, self.seed], sort_keys=True)


def batches(
    tf: Any, token_ids: np.ndarray, labels: np.ndarray, batch_size: int, shuffle_seed: int | None
) -> Any:
    """The training pipeline: ``(inputs, labels)`` batches, reshuffled each epoch when seeded."""
    inputs = {"Input-Token": token_ids, "Input-Segment": np.zeros_like(token_ids)}
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels.astype(np.int32)))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(labels), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


class PreparedClassifier:
    """keras-bert's classifier for ``shape``, compiled with Adam, with a forward pass (dropout off)
    traced once for any number of texts.

    Dropout generators are started at once, in a fixed order, rather than while the first step is
    traced: their seeds then follow from ``shape.seed`` alone, and their starting states can be put
    back by ``reset``.
    """

    def __init__(self, shape: Shape, learning_rate: float, checkpoint: Any = None) -> None:
        tf = runtime.tensorflow()
        self.shape = shape
        self.model = build_classifier(shape.config, shape.classes, seed=shape.seed, checkpoint=checkpoint)
        self.model.compile(
            optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(),
            metrics=["accuracy"],
            jit_compile=False,  # measured slower here: see model.training
        )
        self._generators = _start_dropout_generators(self.model)
        self.forward = traced_forward(self.model, shape.config.seq_len)
        self.keepable = checkpoint is None and shape.keepable
        self._initial = self._state() if self.keepable else None

    def _state(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return self.model.get_weights(), [generator.state.numpy() for generator in self._generators]

    def reset(self, learning_rate: float) -> None:
        """Back to the state just after ``__init__``, with ``learning_rate`` (a kept model only)."""
        if self._initial is None:
            raise ValueError("Only a keepable model keeps its initial state.")
        tf = runtime.tensorflow()
        tf.keras.utils.set_random_seed(self.shape.seed)  # as building did: the data pipeline's seed
        weights, generator_states = self._initial
        self.model.set_weights(weights)
        for generator, state in zip(self._generators, generator_states, strict=True):
            generator.state.assign(state)
        optimizer = self.model.optimizer
        for variable in optimizer.variables:  # the step count and Adam's moments
            variable.assign(tf.zeros_like(variable))
        optimizer.learning_rate = learning_rate
        self.model.stop_training = False

    def trace(self, batch_size: int) -> None:
        """Trace the training step and the forward pass now, on one batch of padding, then reset:
        a worker does this while a visitor is still choosing settings."""
        tf = runtime.tensorflow()
        learning_rate = float(self.model.optimizer.learning_rate.numpy())
        token_ids = np.zeros((batch_size, self.shape.config.seq_len), dtype=TOKEN_DTYPE)
        labels = np.zeros(batch_size, dtype=np.int32)
        self.model.fit(batches(tf, token_ids, labels, batch_size, shuffle_seed=None), epochs=1, verbose=0)
        self.forward({"Input-Token": token_ids[:1], "Input-Segment": token_ids[:1]})
        self.reset(learning_rate)

    def traces(self) -> int:
        """How many times the training step has been traced (tests: a reused model traces none)."""
        function = self.model.train_function
        return 0 if function is None else int(function.experimental_get_tracing_count())


def _start_dropout_generators(model: Any) -> list[Any]:
    """Every dropout layer's ``tf.random.Generator``, created now in layer order (keras' random
    generator makes it lazily, on first use)."""
    generators = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        random = getattr(layer, "_random_generator", None)
        if random is None or not hasattr(random, "_maybe_init"):
            continue
        random._maybe_init()
        generator = getattr(random, "_generator", None)
        if generator is not None:
            generators.append(generator)
    return generators


class Shelf:
    """The compiled classifiers one process keeps (at most ``keep``, newest first), by shape."""

    def __init__(self, keep: int = SHELF_KEEP) -> None:
        self.keep = keep
        self._kept: OrderedDict[Shape, PreparedClassifier] = OrderedDict()
        self._lock = threading.Lock()

    def holds(self, shape: Shape) -> bool:
        with self._lock:
            return shape in self._kept

    def shapes(self) -> list[Shape]:
        with self._lock:
            return list(self._kept)

    def _take(self, shape: Shape) -> PreparedClassifier | None:
        with self._lock:
            return self._kept.pop(shape, None)

    def put(self, prepared: PreparedClassifier) -> None:
        if not prepared.keepable:
            return
        with self._lock:
            self._kept[prepared.shape] = prepared
            self._kept.move_to_end(prepared.shape, last=False)
            while len(self._kept) > self.keep:
                self._kept.popitem()

    def warm(self, shape: Shape, batch_size: int, learning_rate: float) -> None:
        """Build and trace ``shape`` ahead of a training, unless it is already kept."""
        if self.holds(shape):
            return
        prepared = PreparedClassifier(shape, learning_rate)
        prepared.trace(batch_size)
        self.put(prepared)

    @contextlib.contextmanager
    def lending(self) -> Iterator[Lender]:
        """A ``Lender`` for one training; what it lent comes back when the block ends without an error."""
        lender = Lender(self)
        yield lender
        if lender.lent is not None:
            self.put(lender.lent)


class Lender:
    """Hands a training its compiled classifier: a kept one of the same shape, reset, or a new one."""

    def __init__(self, shelf: Shelf) -> None:
        self.shelf = shelf
        self.lent: PreparedClassifier | None = None
        self.reused = False

    def get(self, shape: Shape, learning_rate: float) -> PreparedClassifier:
        prepared = self.shelf._take(shape)
        self.reused = prepared is not None
        if prepared is None:
            prepared = PreparedClassifier(shape, learning_rate)
        else:
            prepared.reset(learning_rate)
        self.lent = prepared
        return prepared
