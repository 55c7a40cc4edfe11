"""Inside a trained classifier: every head's attention, and how much each token moved the decision.

keras-multi-head's ``MultiHeadAttention`` does not return its attention weights, so they are
recomputed here from each ``Encoder-N-MultiHeadSelfAttention`` layer's real input and weights,
the way the layer computes them: ``softmax(q k^T / sqrt(head size) - 10000 * (1 - key mask))``
per head, where the key mask is keras-bert's padding mask (token id 0). ``rebuilt_output`` turns
those weights back into the layer's output, which the tests compare with the real one.

Attributions are integrated gradients (Sundararajan et al., 2017) on the token embeddings: the
straight path from a baseline where every token embedding is zero (segment and position
embeddings, and the padding mask, stay as they are) to the text's own embeddings. Their
guarantee, completeness, is that each class's attributions add up to that class's probability
for the text minus its probability at the baseline; ``completeness_gap`` says how far the
numerical integral is from it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from bertviz_core.arithmetic.training_memory import EXPLANATION_BATCH
from bertviz_core.data.tokens import encode_texts
from bertviz_core.errors import TrainingError
from bertviz_core.model import runtime
from bertviz_core.model.classifier import ClassifierBundle

ATTENTION_LAYER = re.compile(r"^Encoder-(\d+)-MultiHeadSelfAttention$")
TOKEN_EMBEDDING = "Embedding-Token"
MASK_PENALTY = 10000.0  # what keras-self-attention subtracts from a masked key's score
# Points on the path, placed and weighted by Gauss-Legendre quadrature, doubled until the
# attributions add up to the probability change within ``IG_TOLERANCE`` of it. Most of the change
# happens close to the baseline, where layer normalisation rescales near-zero embeddings: on a
# trained two-layer model, 32 evenly spaced midpoints missed by 6 %; Gauss-Legendre missed by
# 2.4 % at 24 points, 0.4 % at 32 and 0.006 % at 48 for one text, and 1e-5 at 16 for another.
IG_STEPS = (32, 64, 128)
IG_TOLERANCE = 0.01
IG_CHUNK = EXPLANATION_BATCH  # points per pass: the memory guard counts a batch of this many texts


@dataclass(frozen=True)
class Explanation:
    """One text through a trained classifier: what it saw, where it looked, what moved it."""

    tokens: tuple[str, ...]  # as the model saw them, [CLS] to [SEP], padding excluded
    attention: np.ndarray  # (layers, heads, tokens, tokens); row i is where token i looks
    attributions: np.ndarray  # (classes, tokens): integrated gradients, one row per class
    probabilities: np.ndarray  # (classes,) for the text
    baseline_probabilities: np.ndarray  # (classes,) with every token embedding zero
    class_names: tuple[str, ...]
    steps: int  # points on the integration path

    @property
    def predicted(self) -> int:
        return int(self.probabilities.argmax())

    @property
    def completeness_gap(self) -> float:
        """Largest gap, over classes, between the attributions' sum and the probability change."""
        change = self.probabilities - self.baseline_probabilities
        return float(np.abs(self.attributions.sum(axis=1) - change).max())

    def to_dict(self) -> dict:
        """JSON-ready; ``attributions`` are the predicted class's (``python -m bertviz_core explain``)."""
        predicted = self.predicted
        return {
            "tokens": list(self.tokens),
            "label": self.class_names[predicted],
            "probabilities": {
                name: float(p) for name, p in zip(self.class_names, self.probabilities, strict=True)
            },
            "attention": np.round(self.attention, 6).tolist(),
            "attributions": np.round(self.attributions[predicted], 6).tolist(),
            "attributions_by_class": {
                name: np.round(row, 6).tolist()
                for name, row in zip(self.class_names, self.attributions, strict=True)
            },
            "baseline_probabilities": {
                name: float(p) for name, p in zip(self.class_names, self.baseline_probabilities, strict=True)
            },
            "completeness_gap": round(self.completeness_gap, 6),
            "steps": self.steps,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Explanation:
        class_names = tuple(data["probabilities"])
        return cls(
            tokens=tuple(data["tokens"]),
            attention=np.asarray(data["attention"], dtype=np.float64),
            attributions=np.asarray([data["attributions_by_class"][name] for name in class_names]),
            probabilities=np.asarray([data["probabilities"][name] for name in class_names]),
            baseline_probabilities=np.asarray([data["baseline_probabilities"][name] for name in class_names]),
            class_names=class_names,
            steps=int(data["steps"]),
        )


def attention_layers(model: Any) -> list[Any]:
    """The model's ``Encoder-N-MultiHeadSelfAttention`` layers, in order of N."""
    found = [(int(match[1]), layer) for layer in model.layers if (match := ATTENTION_LAYER.match(layer.name))]
    return [layer for _, layer in sorted(found, key=lambda pair: pair[0])]


def attention_inputs(model: Any, inputs: dict) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each attention layer's real input and output for ``inputs`` (dropout off)."""
    tf = runtime.tensorflow()
    layers = attention_layers(model)
    probe = tf.keras.Model(
        model.inputs, [layer.input for layer in layers] + [layer.output for layer in layers]
    )
    values = [np.asarray(value) for value in probe(inputs, training=False)]
    return values[: len(layers)], values[len(layers) :]


def _heads(tf: Any, x: Any, heads: int) -> Any:
    """(batch, tokens, features) to (batch, heads, tokens, features / heads), as the layer splits them."""
    batch, tokens, features = x.shape
    return tf.transpose(tf.reshape(x, (batch, tokens, heads, features // heads)), (0, 2, 1, 3))


def attention_weights(layer: Any, layer_input: np.ndarray, key_mask: np.ndarray) -> np.ndarray:
    """(batch, heads, tokens, tokens) attention of a keras-multi-head self-attention layer.

    ``key_mask`` is (batch, tokens), 1 for a real token and 0 for padding, as keras-bert's token
    embedding masks id 0.
    """
    tf = runtime.tensorflow()
    x = tf.constant(layer_input, dtype=tf.float32)
    q, k = (
        layer.activation(_project(x, kernel, bias))
        for kernel, bias in ((layer.Wq, layer.bq), (layer.Wk, layer.bk))
    )
    q, k = _heads(tf, q, layer.head_num), _heads(tf, k, layer.head_num)
    scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(int(q.shape[-1]))
    mask = tf.constant(key_mask, dtype=tf.float32)[:, None, None, :]
    scores -= MASK_PENALTY * (1.0 - mask)
    return tf.nn.softmax(scores, axis=-1).numpy()


def _project(x: Any, kernel: Any, bias: Any) -> Any:
    tf = runtime.tensorflow()
    projected = tf.tensordot(x, kernel, axes=1)
    return projected + bias if bias is not None else projected


def _run_graph(model: Any, inputs: list[Any], replace: dict[str, Any]) -> list[Any]:
    """The functional model run layer by layer in eager mode, where ``replace[name]`` may swap a
    layer's outputs for others (the mask Keras attached to the originals is kept)."""
    values: dict[str, list[Any]] = {
        str(id(tensor)): [value] for tensor, value in zip(model.inputs, inputs, strict=True)
    }
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input:
                continue
            args, kwargs = node.map_arguments({key: list(found) for key, found in values.items()})
            outputs = node.layer(*args, **kwargs)
            if node.layer.name in replace:
                outputs = replace[node.layer.name](outputs)
            for tensor, value in zip(
                runtime.tensorflow().nest.flatten(node.outputs),
                runtime.tensorflow().nest.flatten(outputs),
                strict=True,
            ):
                values[str(id(tensor))] = [value]
    return [values[str(id(tensor))][0] for tensor in model.outputs]


def integrated_gradients(
    model: Any, token_ids: np.ndarray, steps: tuple[int, ...] = IG_STEPS
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Attributions (classes, seq_len) for one encoded text, its probabilities, the baseline's, and
    the number of points on the path it took to keep completeness within ``IG_TOLERANCE``."""
    for count in steps:
        rows, probabilities, baseline = _path_integral(model, token_ids, count)
        change = probabilities - baseline
        if np.abs(rows.sum(axis=1) - change).max() <= IG_TOLERANCE * np.abs(change).max() + 1e-4:
            break
    return rows, probabilities, baseline, count


def _path_integral(
    model: Any, token_ids: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``steps`` points along the path (Gauss-Legendre nodes), ``IG_CHUNK`` at a time so memory
    stays that of a small batch, and the path's two ends; one gradient per class. Padding
    positions get exactly zero (they are masked out of every attention)."""
    tf = runtime.tensorflow()
    token_ids = np.asarray(token_ids).reshape(1, -1)
    nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1]; mapped to [0, 1]
    alphas = np.concatenate([[0.0, 1.0], (nodes + 1) / 2]).astype(np.float32)
    weights = np.concatenate([[0.0, 0.0], weights / 2])
    total: np.ndarray | None = None
    ends: list[np.ndarray] = []
    embeddings: np.ndarray | None = None
    for start in range(0, len(alphas), IG_CHUNK):
        chunk = alphas[start : start + IG_CHUNK]
        batch = np.repeat(token_ids, len(chunk), axis=0)
        scaled: list[Any] = []

        def along_path(outputs: list[Any], chunk: np.ndarray = chunk, scaled: list = scaled) -> list[Any]:
            unit, matrix = outputs
            point = unit * tf.constant(chunk)[:, None, None]
            point._keras_mask = unit._keras_mask
            scaled.append(point)
            return [point, matrix]

        with tf.GradientTape(persistent=True) as tape:
            (probabilities,) = _run_graph(
                model, [tf.constant(batch), tf.zeros_like(batch)], {TOKEN_EMBEDDING: along_path}
            )
            scores = [probabilities[:, index] for index in range(probabilities.shape[-1])]
        if not scaled:
            raise TrainingError(
                f"The model has no {TOKEN_EMBEDDING} layer, so it is not a keras-bert classifier."
            )
        if start == 0:
            ends = list(probabilities.numpy()[:2])  # alpha 0 (the baseline) and 1 (the text)
            embeddings = scaled[0].numpy()[1]
        part = np.stack(
            [
                np.tensordot(
                    weights[start : start + IG_CHUNK], tape.gradient(score, scaled[0]).numpy(), axes=1
                )
                for score in scores
            ]
        )  # (classes, seq_len, embed_dim)
        del tape
        total = part if total is None else total + part
    attributions = (total * embeddings[None]).sum(axis=-1)
    return attributions, ends[1], ends[0]


def explain(bundle: ClassifierBundle, text: str, steps: tuple[int, ...] = IG_STEPS) -> Explanation:
    """Attention of every layer and head, and attributions for every class, for one text."""
    if not text or not text.strip():
        raise TrainingError("The text is empty; type a sentence to look inside the model with.")
    encoded = encode_texts(bundle.vocabulary, [text], bundle.config.seq_len)
    token_ids = encoded.token_ids
    length = int(np.count_nonzero(token_ids[0]))
    tokens = tuple(bundle.vocabulary.tokens[int(i)] for i in token_ids[0, :length])
    inputs = {"Input-Token": token_ids, "Input-Segment": np.zeros_like(token_ids)}
    layer_inputs, _ = attention_inputs(bundle.model, inputs)
    key_mask = (token_ids != 0).astype(np.float32)
    attention = np.stack(
        [
            attention_weights(layer, x, key_mask)[0]
            for layer, x in zip(attention_layers(bundle.model), layer_inputs, strict=True)
        ]
    )[:, :, :length, :length]
    attributions, probabilities, baseline, used = integrated_gradients(bundle.model, token_ids[0], steps)
    return Explanation(
        tokens=tokens,
        attention=attention.astype(np.float64),
        attributions=attributions[:, :length].astype(np.float64),
        probabilities=probabilities.astype(np.float64),
        baseline_probabilities=baseline.astype(np.float64),
        class_names=tuple(bundle.class_names),
        steps=used,
    )
