"""Training the head only: a pretrained encoder kept as it is (feature extraction), and the softmax
head trained on what it makes of each text.

With the encoder frozen, every epoch would run the same texts through the same encoder again, for
the same vectors. So the encoder reads each training and validation text once, in inference mode
(no dropout), through the classifier's own layers up to ``Pooling`` (the average of the token
vectors, padding left out), and only the ``Classifier`` layer trains, on those vectors: an epoch then
takes seconds where fine-tuning MiniLM takes minutes. The head model shares the classifier's
``Classifier`` layer, so training it trains the classifier's own head: the result is the whole
classifier (encoder and head), saved, predicted with, explained and exported as a fine-tuned one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bertviz_core.arithmetic.training_memory import ENCODE_BATCH
from bertviz_core.model import runtime
from bertviz_core.model.classifier import TOKEN_DTYPE, build_classifier, traced_forward


class FrozenEncoder:
    """The classifier built from a checkpoint, and the vector its encoder gives each text."""

    def __init__(self, config: Any, classes: int, seed: int, checkpoint: Any) -> None:
        tf = runtime.tensorflow()
        self.model = build_classifier(config, classes, seed=seed, checkpoint=checkpoint)
        pooled = tf.keras.Model(self.model.inputs, self.model.get_layer("Pooling").output)
        self._vectors = traced_forward(pooled, config.seq_len)

    def vectors(
        self, token_ids: np.ndarray, after_batch: Callable[[int], bool] | None = None
    ) -> np.ndarray | None:
        """One vector per text, ``ENCODE_BATCH`` texts at a time; ``after_batch(texts done)`` is called
        after each batch and may return True to stop (the result is then None)."""
        parts = []
        for start in range(0, len(token_ids), ENCODE_BATCH):
            batch = np.asarray(token_ids[start : start + ENCODE_BATCH], dtype=TOKEN_DTYPE)
            parts.append(
                np.asarray(self._vectors({"Input-Token": batch, "Input-Segment": np.zeros_like(batch)}))
            )
            if after_batch is not None and after_batch(start + len(batch)):
                return None
        width = int(self.model.get_layer("Pooling").output_shape[-1])
        return np.concatenate(parts) if parts else np.zeros((0, width), dtype=np.float32)


class Head:
    """The classifier's ``Classifier`` layer as a model of its own, on the text vectors, compiled with
    Adam as fine-tuning is; its weights are the classifier's."""

    def __init__(self, classifier: Any, learning_rate: float) -> None:
        tf = runtime.tensorflow()
        layer = classifier.get_layer("Classifier")
        inputs = tf.keras.Input(shape=(int(layer.input_shape[-1]),), name="Text-Vector")
        self.model = tf.keras.Model(inputs, layer(inputs), name="classifier_head")
        self.model.compile(
            optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(),
            metrics=["accuracy"],
        )

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Class probabilities of text vectors (one call: the vectors are small)."""
        return np.asarray(self.model(vectors, training=False))

    def batches(self, vectors: np.ndarray, labels: np.ndarray, batch_size: int, seed: int) -> Any:
        """``(vectors, labels)`` batches, reshuffled each epoch, as fine-tuning's texts are."""
        tf = runtime.tensorflow()
        dataset = tf.data.Dataset.from_tensor_slices((vectors, labels.astype(np.int32)))
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
