"""Memory and compute arithmetic: hand-checked values, and activations against the real model."""

from __future__ import annotations

import math

import pytest

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params
from bertviz_core.model import real_model


def test_weights_memory_by_precision() -> None:
    config = ModelConfig(vocab=1000)
    memory = costs.memory(config, batch_size=8)
    assert memory.weights_bytes == {"fp32": 87_404_010 * 4, "fp16": 87_404_010 * 2, "int8": 87_404_010}
    assert memory.adam_state_bytes == 87_404_010 * 16
    assert memory.activation_bytes == 8 * memory.activation_bytes_per_sequence


def test_forward_flops_by_hand_for_one_small_block() -> None:
    config = ModelConfig(vocab=10, seq_len=4, pos_num=4, embed_dim=8, heads=2, layers=1, ff_dim=16)
    compute = costs.compute(config)
    assert compute.projections == 2 * 4 * 4 * 8 * 8  # S tokens × four d×d products
    assert compute.attention_scores == 2 * 2 * 4 * 4 * 8  # Q·Kᵀ and softmax·V
    assert compute.feed_forward == 2 * 4 * 2 * 8 * 16
    assert compute.heads == 2 * 4 * (8 * 8 + 8 * 10) + 2 * (8 * 8 + 8 * 2)
    assert compute.training == 3 * compute.forward


def test_training_flops_approach_six_times_params_times_tokens_for_short_sequences() -> None:
    # The rule of thumb ignores attention scores and embeddings; with S small against d it holds.
    config = ModelConfig(vocab=2, seq_len=8, pos_num=8, encoder_only=True)
    compute = costs.compute(config)
    weights_in_products = total_params(config) - config.pos_num * config.embed_dim
    assert math.isclose(compute.training, 6 * weights_in_products * config.seq_len, rel_tol=0.02)


def test_attention_compute_grows_with_the_square_of_sequence_length() -> None:
    short, long = (costs.compute(ModelConfig(seq_len=s)) for s in (128, 256))
    assert long.attention_scores == 4 * short.attention_scores
    assert long.projections == 2 * short.projections


@pytest.mark.parametrize("encoder_only", [False, True])
def test_layer_outputs_equal_the_real_models_output_shapes(encoder_only: bool) -> None:
    config = ModelConfig(vocab=300, seq_len=20, pos_num=24, embed_dim=12, heads=3, layers=2, ff_dim=40,
                         encoder_only=encoder_only)  # fmt: skip
    model = real_model.build(config)
    values = 0
    for layer in model.layers:
        shape = layer.output_shape
        shape = shape[0] if isinstance(shape, list) else shape  # TokenEmbedding: drop its weight output
        values += math.prod(dim for dim in shape if dim is not None)
    assert costs.layer_output_values(config) == values
