"""The benchmark's figures that need no run: the matrix products of one training step."""

from __future__ import annotations

import pytest

from benchmarks.figures import matmul_flops, step_matmul_shapes
from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.config import ModelConfig


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(vocab=5000, seq_len=64, pos_num=64, embed_dim=128, heads=2, layers=2, ff_dim=512),
        ModelConfig(vocab=300, seq_len=7, pos_num=9, embed_dim=12, heads=3, layers=3, ff_dim=20),
        ModelConfig(),
    ],
)
def test_the_benchmarks_list_of_matrix_products_adds_up_to_the_training_arithmetic(config) -> None:
    # Two independent counts of one thing: the benchmark enumerates every product of a training step
    # with its shapes; costs.compute states the total by formula (3 × forward, classifier head aside).
    batch, classes = 5, 3
    listed = sum(matmul_flops(*shape) for shape in step_matmul_shapes(config, batch))
    cost = costs.compute(config.with_changes(encoder_only=True), classes=classes)
    head = 3 * 2 * config.embed_dim * classes
    assert listed == (cost.training - head) * batch
