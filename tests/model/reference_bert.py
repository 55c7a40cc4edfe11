"""BERT's encoder in plain NumPy, from Hugging Face's weight names: the oracle that keras-bert's output
is held against when transformers is not installed.

Embeddings (word + position + segment), layer norm (eps 1e-12), then per layer: multi-head
self-attention with padding (id 0) masked out of the keys, residual and layer norm, a feed-forward
block with GELU (erf, or the tanh approximation keras-bert builds), residual and layer norm. In float64, so its own rounding is far below the
tolerance.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.special import erf


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * gain + bias


def encoder_output(
    weights: Mapping[str, np.ndarray], heads: int, token_ids: np.ndarray, gelu: str = "erf"
) -> np.ndarray:
    """The last layer's vectors (batch, positions, width) for ``token_ids`` (batch, positions), one
    segment; ``weights`` by BertModel's names, with or without a ``bert.`` prefix. ``gelu``: "erf"
    (Hugging Face's "gelu") or "tanh" (its "gelu_new": Google's BERT code and keras-bert)."""
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

    def w(name: str) -> np.ndarray:
        return np.asarray(weights[prefix + name], dtype=np.float64)

    def dense(x: np.ndarray, name: str) -> np.ndarray:  # PyTorch keeps the weight as (out, in)
        return x @ w(f"{name}.weight").T + w(f"{name}.bias")

    batch, length = token_ids.shape
    x = (
        w("embeddings.word_embeddings.weight")[token_ids]
        + w("embeddings.position_embeddings.weight")[:length][None]
        + w("embeddings.token_type_embeddings.weight")[0]
    )
    x = _layer_norm(x, w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
    width = x.shape[-1]
    size = width // heads
    masked = np.where(token_ids == 0, -1e9, 0.0)[:, None, None, :]  # padding is never attended to
    layer = 0
    while prefix + f"encoder.layer.{layer}.attention.self.query.weight" in weights:
        name = f"encoder.layer.{layer}"

        def split(y: np.ndarray) -> np.ndarray:
            return y.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)

        q, k, v = (split(dense(x, f"{name}.attention.self.{part}")) for part in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size) + masked
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        context = (scores / scores.sum(axis=-1, keepdims=True)) @ v
        context = context.transpose(0, 2, 1, 3).reshape(batch, length, width)
        x = _layer_norm(
            x + dense(context, f"{name}.attention.output.dense"),
            w(f"{name}.attention.output.LayerNorm.weight"),
            w(f"{name}.attention.output.LayerNorm.bias"),
        )
        inner = dense(x, f"{name}.intermediate.dense")
        if gelu == "erf":
            inner = 0.5 * inner * (1 + erf(inner / np.sqrt(2)))
        else:  # the tanh approximation, as keras-transformer's gelu
            inner = 0.5 * inner * (1 + np.tanh(np.sqrt(2 / np.pi) * (inner + 0.044715 * inner**3)))
        x = _layer_norm(
            x + dense(inner, f"{name}.output.dense"),
            w(f"{name}.output.LayerNorm.weight"),
            w(f"{name}.output.LayerNorm.bias"),
        )
        layer += 1
    return x
