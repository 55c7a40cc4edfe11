"""A text classifier on keras-bert's encoder, where the seed notebook stopped.

The notebook put ``Dense(...)`` on the pretraining model's ``model.output``, which is a list (MLM
and NSP), and failed. Here the encoder comes from ``get_model(training=False, trainable=True)``,
which returns ``(inputs, output)``; keras-bert's own ``Extract`` layer takes the [CLS] position and
one softmax ``Dense`` layer named ``Classifier`` turns it into class probabilities. No Lambda
layer, so a saved model holds configuration and weights, never Python code.

Also here: the memory guard for training, the evaluation (plain NumPy) and prediction.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bertviz_core import costs, tf_runtime
from bertviz_core.config import ModelConfig
from bertviz_core.errors import UserError
from bertviz_core.tokens import Vocabulary, encode_texts

# Measured on 2 cores with tf-keras 2.21 (peak resident memory of a whole training run):
# - a training process holds about 800 MB before the model: TensorFlow and keras-bert (600 MB,
#   FIELD_NOTES), tf.data, traced functions and allocator slack;
# - per parameter, Adam's 16 bytes plus 4 for the copy of the best epoch's weights;
# - activations: 2.6 times the textbook count (costs.activation_values), because TensorFlow also
#   keeps dropout masks, GELU and layer-norm temporaries and the per-head reshapes. Fitted on
#   batches of 8, 32 and 64 (4 blocks, d 256, S 128): estimate within 5% of the measured peak.
TRAINING_RUNTIME_MB = 800
STATE_BYTES_PER_PARAM = costs.ADAM_BYTES_PER_PARAM + 4
ACTIVATION_FACTOR = 2.6
MIB = 1024 * 1024
PREDICT_BATCH = 64  # forward passes only: small batches keep their memory peak below training's


class TrainingError(UserError):
    """Training cannot start or cannot finish; ``str(error)`` is one sentence for the user."""


# --- the model ----------------------------------------------------------------------------------
def classifier_config(config: ModelConfig) -> ModelConfig:
    """The configuration a classifier is built from: keras-bert's encoder without pretraining heads."""
    return config.with_changes(encoder_only=True)


def build_classifier(config: ModelConfig, num_classes: int, seed: int = 0):
    """keras-bert's encoder, its [CLS] vector, and a softmax over ``num_classes`` (a tf.keras Model).

    Seeds Python, NumPy and TensorFlow so that the same seed gives the same initial weights.
    """
    if num_classes < 2:
        raise TrainingError(
            f"A classifier needs at least two classes, not {num_classes}; check the label column."
        )
    tf = tf_runtime.tensorflow()
    keras_bert = tf_runtime.keras_bert()
    tf.keras.utils.set_random_seed(seed)
    kwargs = config.get_model_kwargs()
    kwargs.update(training=False, trainable=True)  # trainable defaults to False when training=False
    with _seeded_dropout(tf):
        inputs, encoded = keras_bert.get_model(**kwargs)
    cls_vector = keras_bert.layers.Extract(index=0, name="Extract")(encoded)
    probabilities = tf.keras.layers.Dense(num_classes, activation="softmax", name="Classifier")(cls_vector)
    return tf.keras.Model(inputs=inputs, outputs=probabilities, name="bert_classifier")


_dropout_switch_lock = threading.Lock()


@contextlib.contextmanager
def _seeded_dropout(tf: Any) -> Iterator[None]:
    """Dropout layers built inside draw their masks from a seeded ``tf.random.Generator``.

    The masks then depend on the seed alone, however the training step is compiled: under XLA
    (``jit_compile``), Keras' default random op keeps a state that ``set_random_seed`` does not
    reset, so the same seed would train differently each time. The switch is read only while a
    layer is constructed, so it is turned back off at once (under a lock: sessions are threads).
    """
    experimental = tf.keras.backend.experimental
    with _dropout_switch_lock:
        was_enabled = experimental.is_tf_random_generator_enabled()
        experimental.enable_tf_random_generator()
        try:
            yield
        finally:
            if not was_enabled:
                experimental.disable_tf_random_generator()


# --- memory guard -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingMemory:
    """Training memory on top of TensorFlow, by arithmetic (stated so the page can show it).

    ``state_bytes``: 20 bytes per parameter (weights, gradients and Adam's two moments in fp32,
    plus the best epoch's copy). ``activation_bytes``: per encoder block, batch × S × (12·d + 2·F)
    × 4 bytes plus batch × A × S² × 2 × 4 bytes for the attention scores and their softmax
    (``costs.activation_values``), times ``ACTIVATION_FACTOR`` for what TensorFlow keeps besides.
    """

    parameters: int
    state_bytes: int
    activation_bytes: int

    @property
    def total_mb(self) -> int:
        return int((self.state_bytes + self.activation_bytes) / MIB) + 1


def estimate_training_memory(config: ModelConfig, num_classes: int, batch_size: int) -> TrainingMemory:
    encoder = classifier_config(config)
    parameters = costs.classifier_params(encoder, num_classes)
    return TrainingMemory(
        parameters=parameters,
        state_bytes=parameters * STATE_BYTES_PER_PARAM,
        activation_bytes=int(costs.memory(encoder, batch_size).activation_bytes * ACTIVATION_FACTOR),
    )


def training_budget_mb() -> int:
    """Memory a training run may take on top of TensorFlow: the app's budget minus the runtime.

    ``BERTVIZ_MEMORY_BUDGET_MB`` (default 2000) sets the whole budget, so training gets 1200 MB.
    """
    from bertviz_core.real_model import memory_budget_mb

    return max(0, memory_budget_mb() - TRAINING_RUNTIME_MB)


def check_training_fits(
    config: ModelConfig, num_classes: int, batch_size: int, budget_mb: int | None = None
) -> TrainingMemory:
    """Raise TrainingError with a sentence when training would not fit in the memory budget."""
    budget = training_budget_mb() if budget_mb is None else budget_mb
    need = estimate_training_memory(config, num_classes, batch_size)
    if need.total_mb > budget:
        raise TrainingError(
            f"Training this model would need about {need.total_mb:,} MB ({need.parameters:,} parameters "
            f"with Adam plus activations for a batch of {batch_size}), more than the {budget:,} MB allowed; "
            "lower the batch size, sequence length, vocabulary, width or layer count."
        )
    return need


# --- a trained classifier -----------------------------------------------------------------------
@dataclass(frozen=True)
class ClassifierBundle:
    """Everything a prediction needs, and what was learnt about the training run.

    ``settings`` are ``TrainSettings.to_dict()``; ``metrics`` is JSON-ready (evaluation, history,
    token statistics), as saved in ``metrics.json``.
    """

    model: Any  # tf.keras.Model; each training and each load has its own
    vocabulary: Vocabulary
    class_names: tuple[str, ...]
    config: ModelConfig
    settings: dict
    metrics: dict


def predict_encoded(model: Any, token_ids: np.ndarray, segment_ids: np.ndarray) -> np.ndarray:
    """Class probabilities for encoded texts, in batches (dropout off)."""
    outputs = []
    for start in range(0, len(token_ids), PREDICT_BATCH):
        stop = start + PREDICT_BATCH
        batch = {"Input-Token": token_ids[start:stop], "Input-Segment": segment_ids[start:stop]}
        outputs.append(np.asarray(model(batch, training=False)))
    if not outputs:
        return np.zeros((0, int(model.output_shape[-1])), dtype=np.float32)
    return np.concatenate(outputs)


def predict_proba(bundle: ClassifierBundle, texts: Sequence[str]) -> np.ndarray:
    """Probabilities, shape (texts, classes), columns in ``bundle.class_names`` order."""
    if isinstance(texts, str):
        texts = [texts]
    encoded = encode_texts(bundle.vocabulary, list(texts), bundle.config.seq_len)
    return predict_encoded(bundle.model, encoded.token_ids, encoded.segment_ids)


def predict_labels(bundle: ClassifierBundle, texts: Sequence[str]) -> list[str]:
    probabilities = predict_proba(bundle, texts)
    return [bundle.class_names[index] for index in probabilities.argmax(axis=1)]


# --- evaluation (plain NumPy) -------------------------------------------------------------------
def confusion_matrix(true_ids: np.ndarray, predicted_ids: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts; rows are the true class, columns the predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true_ids, dtype=np.int64), np.asarray(predicted_ids, dtype=np.int64)), 1)
    return matrix


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # A class never predicted (or never present) scores 0, as scikit-learn does by default.
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def evaluate(
    true_ids: np.ndarray, predicted_ids: np.ndarray, class_names: Sequence[str], train_label_ids: np.ndarray
) -> dict:
    """Accuracy, macro F1, per-class scores, confusion matrix and the majority-class baseline.

    The baseline always predicts the most frequent class of the training split (the lowest id on a
    tie): a model that does not beat it has learnt nothing from the texts.
    """
    num_classes = len(class_names)
    matrix = confusion_matrix(true_ids, predicted_ids, num_classes)
    true_positive = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = _ratio(true_positive, predicted)
    recall = _ratio(true_positive, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    total = int(matrix.sum())
    majority = int(np.bincount(np.asarray(train_label_ids, dtype=np.int64), minlength=num_classes).argmax())
    return {
        "val_accuracy": float(true_positive.sum() / total) if total else 0.0,
        "macro_f1": float(f1.mean()) if num_classes else 0.0,
        "majority_baseline": float(support[majority] / total) if total else 0.0,
        "majority_class": class_names[majority],
        "per_class": [
            {
                "class": name,
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        ],
        "confusion_matrix": matrix.tolist(),
        "val_samples": total,
    }
