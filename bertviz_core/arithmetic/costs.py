"""Memory and compute of a keras-bert configuration, by arithmetic, with the formulas spelled out.

Conventions (the ones papers and calculators use, stated so a student can follow them):
- A multiply-add is 2 FLOPs; only matrix products are counted (embedding look-ups, softmax, layer
  norms and GELU are a few percent at most).
- Training costs about 3 × the forward pass (the backward pass computes gradients for both the
  inputs and the weights of every product), the source of the usual "6 × parameters × tokens".
- Training memory with Adam in fp32, in theory: 16 bytes per parameter (weights, gradients, two
  moments) plus the activations kept for the backward pass. What a real TensorFlow process adds on
  top (its runtime, the best weights' copy, temporaries) is measured, not counted: see
  ``bertviz_core.arithmetic.training_memory.TrainingMemory``, which both pages show.
- Activations: every layer's output (the numbers ``model.summary()`` shapes describe, checked
  against the real model in the tests) plus what lives inside the attention and feed-forward layers
  (queries, keys, values, the A × S × S score and softmax matrices, the F-wide hidden layer before
  and after GELU). Stored in fp32, 4 bytes each.
"""

from __future__ import annotations

from dataclasses import dataclass

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import NSP_CLASSES, component_totals, layer_rows, total_params

BYTES_PER_VALUE = {"fp32": 4, "fp16": 2, "int8": 1}
ADAM_BYTES_PER_PARAM = 16


def layer_output_values(config: ModelConfig) -> int:
    """Values all layers output for one sequence (inputs included, weight outputs excluded)."""
    return sum(row.activation_values for row in layer_rows(config))


def internal_activation_values(config: ModelConfig) -> int:
    """Values kept inside layers for one sequence: Q, K, V and merged heads, scores, FF hidden."""
    s, d, f, a = config.seq_len, config.embed_dim, config.ff_dim, config.heads
    attention = 4 * s * d + 2 * a * s * s  # Q, K, V, heads merged; scores and softmax
    feed_forward = 2 * s * f  # hidden layer before and after the activation
    return config.layers * (attention + feed_forward)


def activation_values(config: ModelConfig) -> int:
    """Activations of one sequence kept for the backward pass."""
    return layer_output_values(config) + internal_activation_values(config)


@dataclass(frozen=True)
class Memory:
    weights_bytes: dict[str, int]  # by precision: fp32, fp16, int8
    adam_state_bytes: int  # weights + gradients + two Adam moments, fp32
    activation_bytes_per_sequence: int
    batch_size: int

    @property
    def activation_bytes(self) -> int:
        return self.activation_bytes_per_sequence * self.batch_size


def memory(config: ModelConfig, batch_size: int = 32) -> Memory:
    params = total_params(config)
    return Memory(
        weights_bytes={name: params * size for name, size in BYTES_PER_VALUE.items()},
        adam_state_bytes=params * ADAM_BYTES_PER_PARAM,
        activation_bytes_per_sequence=activation_values(config) * BYTES_PER_VALUE["fp32"],
        batch_size=batch_size,
    )


@dataclass(frozen=True)
class Compute:
    """FLOPs for one sequence of ``seq_len`` tokens, split where the work goes."""

    projections: int  # Q, K, V and output projections: 4 d×d products per token per layer
    attention_scores: int  # Q·Kᵀ and softmax·V: grow with S², not with the weights
    feed_forward: int  # two d×F products per token per layer
    heads: int  # MLM (d×d, then d×V against the tied embedding) and NSP, or a classifier

    @property
    def forward(self) -> int:
        return self.projections + self.attention_scores + self.feed_forward + self.heads

    @property
    def training(self) -> int:
        return 3 * self.forward


def compute(config: ModelConfig, classes: int | None = None) -> Compute:
    """Forward FLOPs per sequence; ``classes`` replaces the pretraining heads by a classifier.

    The classifier head is the average of the token vectors through one d × classes softmax layer.
    """
    s, d, f, n, v = config.seq_len, config.embed_dim, config.ff_dim, config.layers, config.vocab
    if classes is not None:
        heads = 2 * d * classes
    elif config.encoder_only:
        heads = 0
    else:
        heads = 2 * s * (d * d + d * v) + 2 * (d * d + d * NSP_CLASSES)
    return Compute(
        projections=n * 2 * s * 4 * d * d,
        attention_scores=n * 2 * 2 * s * s * d,
        feed_forward=n * 2 * s * 2 * d * f,
        heads=heads,
    )


def classifier_params(config: ModelConfig, classes: int) -> int:
    """Parameters of the encoder plus a softmax classifier on the average of its token vectors."""
    encoder = total_params(config.with_changes(encoder_only=True))
    return encoder + config.embed_dim * classes + classes


FORMULAS = {
    "params": (
        "Embeddings V·d + 2·d + P·d + 2·d; each of L blocks 4(d² + d) + 2dF + F + d + 4d; "
        "pretraining heads (d² + d) + 2d + V + (d² + d) + 2d + 2"
    ),
    "weights": "parameters × 4 bytes (fp32), × 2 (fp16), × 1 (int8)",
    "training_state": "parameters × 16 bytes: weights and gradients (4 bytes each) and Adam's two moments (8) in fp32",
    "activations": (
        "batch × 4 bytes × [every layer's output for S tokens + per block (4·S·d for Q, K, V and the "
        "merged heads + 2·A·S² for scores and softmax + 2·S·F for the feed-forward hidden layer)]"
    ),
    "forward_flops": (
        "per block 2·S·4d² (projections) + 4·S²·d (scores and weighted sum) + 4·S·d·F (feed-forward); "
        "MLM head 2·S·(d² + d·V), NSP 2(d² + 2d)"
    ),
    "training_flops": "3 × forward (the backward pass costs about twice the forward)",
}


def size_report(config: ModelConfig) -> dict:
    """Everything the arithmetic says about ``config``, JSON-ready (``size --json``'s object)."""
    weights, work = memory(config), compute(config)
    return {
        "config": config.to_dict(),
        "get_model_kwargs": config.get_model_kwargs(),
        "total_params": total_params(config),
        "components": component_totals(config),
        "layers": [row.as_dict() for row in layer_rows(config)],
        "memory_bytes": {
            "weights": weights.weights_bytes,
            "training_adam_fp32": weights.adam_state_bytes,
            "activations_per_sequence_fp32": weights.activation_bytes_per_sequence,
        },
        "flops_per_sequence": {"forward": work.forward, "training": work.training},
    }
