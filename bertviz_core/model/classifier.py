"""A text classifier on keras-bert's encoder, where the seed notebook stopped, and its predictions.

The notebook put ``Dense(...)`` on the pretraining model's ``model.output``, which is a list (MLM
and NSP), and failed. Here the encoder comes from ``get_model(training=False, trainable=True)``,
which returns ``(inputs, output)``; Keras' ``GlobalAveragePooling1D`` (named ``Pooling``) averages
the vectors of the text's tokens (keras-bert's mask leaves the padding out) and one softmax
``Dense`` layer named ``Classifier`` turns the average into class probabilities. No Lambda layer,
so a saved model holds configuration and weights, never Python code.

Why the average and not BERT's [CLS] vector (keras-bert's ``Extract(index=0)``, which models saved
before kept): a model trained from scratch on a few thousand texts has not learnt to gather the text
into [CLS]. Measured on 3,726 fortunes of five topics (Debian's ``fortunes``), seed 0, keeping the
most accurate epoch: a validation accuracy of 0.600 with [CLS] and 0.627 with the average (TF-IDF with
logistic regression: 0.643); with the default learning-rate schedule as well, seeds 0-2, 0.636-0.658
against TF-IDF's 0.640-0.664 (README, "Default accuracy").
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.data.tokens import Vocabulary, encode_texts
from bertviz_core.errors import TrainingError
from bertviz_core.model import runtime

PREDICT_BATCH = 64  # forward passes only: small batches keep their memory peak below training's
TOKEN_DTYPE = np.int32  # data.tokens.encode_texts' token ids; the traced passes take exactly this


def build_classifier(config: ModelConfig, num_classes: int, seed: int = 0, checkpoint: Any = None):
    """keras-bert's encoder, the average of its token vectors, and a softmax over ``num_classes`` (a tf.keras Model).

    The encoder is new (``get_model``) or, given ``checkpoint`` (``checkpoint.CheckpointFiles``),
    keras-bert's ``load_trained_model_from_checkpoint`` of it at ``config.seq_len``; the head is
    the same either way. Seeds Python, NumPy and TensorFlow so that the same seed gives the same
    initial weights.
    """
    if num_classes < 2:
        raise TrainingError(
            f"A classifier needs at least two classes, not {num_classes}; check the label column."
        )
    tf = runtime.tensorflow()
    keras_bert = runtime.keras_bert()
    tf.keras.utils.set_random_seed(seed)
    kwargs = config.get_model_kwargs()
    kwargs.update(training=False, trainable=True)  # trainable defaults to False when training=False
    with _seeded_dropout(tf):
        if checkpoint is None:
            inputs, encoded = keras_bert.get_model(**kwargs)
        else:
            from bertviz_core.model.checkpoint import load_encoder

            encoder = load_encoder(checkpoint, config.seq_len)
            inputs, encoded = encoder.inputs, encoder.output
    text_vector = tf.keras.layers.GlobalAveragePooling1D(name="Pooling")(encoded)
    probabilities = tf.keras.layers.Dense(num_classes, activation="softmax", name="Classifier")(text_vector)
    return tf.keras.Model(inputs=inputs, outputs=probabilities, name="bert_classifier")


_dropout_switch_lock = threading.Lock()


@contextlib.contextmanager
def _seeded_dropout(tf: Any) -> Iterator[None]:
    """Dropout layers built inside draw their masks from a seeded ``tf.random.Generator``.

    The masks then depend on the seed alone, however the training step is compiled: under XLA
    (``jit_compile``), Keras' default random op keeps a state that ``set_random_seed`` does not
    reset, so the same seed would train differently each time. The switch is read only while a
    layer is constructed, so it is turned back off at once (under a lock: jobs may be threads).
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


@dataclass(frozen=True)
class ClassifierBundle:
    """Everything a prediction needs, and what was learnt about the training run.

    ``settings`` are ``TrainSettings.to_dict()``; ``metrics`` is JSON-ready (evaluation, history,
    token statistics), as saved in ``metrics.json``; ``validation`` is
    ``mistakes.ValidationPredictions.to_dict()`` (every validation text and its probabilities),
    empty for a bundle saved without it.
    """

    model: Any  # tf.keras.Model; each training and each load has its own
    vocabulary: Vocabulary
    class_names: tuple[str, ...]
    config: ModelConfig
    settings: dict
    metrics: dict
    validation: dict = field(default_factory=dict)


def batched_probabilities(forward: Callable[[dict], Any], token_ids: np.ndarray, classes: int) -> np.ndarray:
    """Class probabilities of encoded texts, ``PREDICT_BATCH`` at a time, through ``forward``.

    ``forward`` is the model called with dropout off (or a traced function of it); each text is one
    sentence, so every segment id is 0.
    """
    parts = []
    for start in range(0, len(token_ids), PREDICT_BATCH):
        batch = token_ids[start : start + PREDICT_BATCH]
        parts.append(np.asarray(forward({"Input-Token": batch, "Input-Segment": np.zeros_like(batch)})))
    return np.concatenate(parts) if parts else np.zeros((0, classes), dtype=np.float32)


def traced_forward(model: Any, seq_len: int) -> Callable[[dict], Any]:
    """``model`` called with dropout off, as one TensorFlow graph traced once for any number of
    texts of ``seq_len`` token ids (``TOKEN_DTYPE``, segment ids alike).

    An eager Keras call runs every layer's Python each time: for all-MiniLM-L6-v2 fine-tuned, one
    text took 194 ms eagerly against transformers' 19 ms on PyTorch (``benchmarks.minilm_peer``);
    the traced pass pays its tracing once, on its first call."""
    tf = runtime.tensorflow()
    tokens = tf.TensorSpec([None, seq_len], tf.as_dtype(TOKEN_DTYPE))
    return tf.function(
        lambda inputs: model(inputs, training=False),
        input_signature=[{"Input-Token": tokens, "Input-Segment": tokens}],
    )


@runtime_checkable
class LiteForward(Protocol):
    """A model that is not Keras' and runs its own forward pass (``model.quantize.LiteModel``)."""

    def forward(self, inputs: dict) -> np.ndarray: ...


# A loaded classifier's traced pass, traced on its first prediction and kept while the model lives.
_forwards: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_forwards_lock = threading.Lock()


def _forward_of(bundle: ClassifierBundle) -> Callable[[dict], Any]:
    if isinstance(bundle.model, LiteForward):  # a quantised model (model.quantize.LiteModel) runs itself
        return bundle.model.forward
    with _forwards_lock:
        forward = _forwards.get(bundle.model)
        if forward is None:
            forward = _forwards[bundle.model] = traced_forward(bundle.model, bundle.config.seq_len)
        return forward


def predict_proba(bundle: ClassifierBundle, texts: Sequence[str]) -> np.ndarray:
    """Probabilities, shape (texts, classes), columns in ``bundle.class_names`` order."""
    if isinstance(texts, str):
        texts = [texts]
    encoded = encode_texts(bundle.vocabulary, list(texts), bundle.config.seq_len)
    token_ids = np.asarray(encoded.token_ids, dtype=TOKEN_DTYPE)
    return batched_probabilities(_forward_of(bundle), token_ids, len(bundle.class_names))
