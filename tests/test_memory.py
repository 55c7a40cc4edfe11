"""The memory budget, the one training-memory breakdown and the guards every real run goes through."""

from __future__ import annotations

import pytest

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.training_memory import (
    ACTIVATION_FACTOR,
    ENCODE_BATCH,
    EXPLORER_CLASSES,
    FORWARD_LIVE_SHARE,
    MLM_OUTPUT_COPIES,
    TRAINING_RUNTIME_MB,
    WEIGHT_COPIES_BYTES_PER_PARAM,
    estimate_pretraining_memory,
    estimate_training_memory,
    explorer_training_memory,
    training_job_mb,
)
from bertviz_core.budget import check_training_fits, explorer_model_for_training, training_budget_mb
from bertviz_core.errors import MemoryGuardError
from bertviz_core.fields import FROZEN
from bertviz_core.text import MIB
from tests.model.conftest import TINY


def test_memory_guard_refuses_a_model_too_large_to_train():
    with pytest.raises(MemoryGuardError) as caught:
        check_training_fits(ModelConfig(), num_classes=2, batch_size=32, budget_mb=1200)
    message = str(caught.value)
    assert "MB" in message and "lower the batch size" in message and message.count(".") <= 2
    # A tiny model needs little beyond TensorFlow's own process.
    tiny = check_training_fits(TINY, 2, 32, budget_mb=1200)
    assert TRAINING_RUNTIME_MB < tiny.total_mb < TRAINING_RUNTIME_MB + 10


def test_memory_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("BERTVIZ_MEMORY_BUDGET_MB", "1000")
    assert training_budget_mb() == 1000
    assert training_budget_mb(beside_server=True) < 1000
    monkeypatch.delenv("BERTVIZ_MEMORY_BUDGET_MB")
    assert training_budget_mb() <= 2000


def test_breakdown_splits_theory_from_what_this_machine_adds():
    config = ModelConfig(vocab=5000, seq_len=64, pos_num=64, embed_dim=128, heads=2, layers=2, ff_dim=512)
    need = estimate_training_memory(config, 3, 16)
    parameters = costs.classifier_params(config, 3)
    textbook = costs.memory(config.with_changes(encoder_only=True), 16).activation_bytes
    # Theory: 4 + 4 + 8 bytes per parameter and the textbook activations, nothing else.
    assert need.parameters == parameters
    assert (need.weights, need.gradients, need.adam_moments) == (
        4 * parameters,
        4 * parameters,
        8 * parameters,
    )
    assert need.activations == textbook
    assert need.theory_bytes == 16 * parameters + textbook
    # This machine: the runtime, the weight copies and TensorFlow's share beyond the textbook.
    assert need.runtime == TRAINING_RUNTIME_MB * MIB and need.weight_copies == int(
        WEIGHT_COPIES_BYTES_PER_PARAM * parameters
    )
    assert need.tensorflow_extra == pytest.approx((ACTIVATION_FACTOR - 1) * textbook, abs=1)
    assert need.theory_mb + need.machine_mb == need.total_mb
    assert need.total_mb * MIB >= need.theory_bytes + need.machine_bytes > (need.total_mb - 1) * MIB
    # Both sentences carry their own share, as the pages show them.
    assert f"Theory {need.theory_mb:,} MB" in need.theory_sentence()
    assert f"adds {need.machine_mb:,} MB" in need.machine_sentence()


def test_the_guard_the_job_pool_and_the_explorer_use_the_same_figure():
    config = ModelConfig(vocab=1000, seq_len=36, pos_num=512, embed_dim=6, heads=1, layers=3, ff_dim=48)
    trained, refusal = explorer_model_for_training(config, EXPLORER_CLASSES, 32)
    assert trained is not None and not refusal
    figure = explorer_training_memory(config, 32).total_mb
    assert figure == estimate_training_memory(trained, EXPLORER_CLASSES, 32).total_mb
    assert figure == training_job_mb(trained, EXPLORER_CLASSES, 32)
    assert figure == check_training_fits(trained, EXPLORER_CLASSES, 32, budget_mb=10_000).total_mb
    # The explorer's MLM and NSP heads are not what the training page trains: they change nothing.
    assert explorer_training_memory(config.with_changes(encoder_only=True), 32).total_mb == figure


def test_pretraining_uses_the_same_split_and_counts_the_masked_word_output():
    small, large = (
        estimate_pretraining_memory(TINY, 32),
        estimate_pretraining_memory(TINY.with_changes(vocab=20_000), 32),
    )
    assert small.runtime == large.runtime == TRAINING_RUNTIME_MB * MIB
    assert large.theory_mb + large.machine_mb == large.total_mb
    # At least MLM_OUTPUT_COPIES batch × S × V tensors more in all for the larger vocabulary.
    grown = (large.activations + large.tensorflow_extra) - (small.activations + small.tensorflow_extra)
    assert grown >= MLM_OUTPUT_COPIES * 32 * TINY.seq_len * (20_000 - TINY.vocab) * 4


MINILM = ModelConfig(vocab=30522, seq_len=64, pos_num=64, embed_dim=384, heads=12, layers=6, ff_dim=1536,
                     encoder_only=True)  # fmt: skip


def test_a_frozen_encoder_holds_its_weights_without_gradients_or_moments():
    frozen = estimate_training_memory(MINILM, 5, 32, encoder=FROZEN)
    fine_tune = estimate_training_memory(MINILM, 5, 32)
    head = 384 * 5 + 5
    assert frozen.parameters == fine_tune.parameters and frozen.trained_parameters == head
    assert (frozen.weights, frozen.gradients, frozen.adam_moments) == (
        4 * frozen.parameters,
        4 * head,
        8 * head,
    )
    assert frozen.activations == 0  # the encoder only reads: nothing is kept for a backward pass
    one_block = costs.memory(MINILM, ENCODE_BATCH).activation_bytes / MINILM.layers
    assert frozen.tensorflow_extra == int(FORWARD_LIVE_SHARE * one_block)
    # The batch is the head's: it does not move the encoder's figure.
    assert estimate_training_memory(MINILM, 5, 128, encoder=FROZEN).total_mb == frozen.total_mb
    assert frozen.total_mb < fine_tune.total_mb / 2 + TRAINING_RUNTIME_MB / 2
    assert "no gradients and no Adam moments" in frozen.theory_sentence()
    assert f"adds {frozen.machine_mb:,} MB" in frozen.machine_sentence()
    assert training_job_mb(MINILM, 5, 32, FROZEN) == frozen.total_mb


def test_the_guard_counts_the_head_only_by_its_own_figure():
    need = estimate_training_memory(MINILM, 5, 32, encoder=FROZEN).total_mb
    assert check_training_fits(MINILM, 5, 32, budget_mb=need, encoder=FROZEN).total_mb == need
    with pytest.raises(MemoryGuardError) as caught:
        check_training_fits(MINILM, 5, 32, budget_mb=need - 1, encoder=FROZEN)
    assert "Training the head on this encoder" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(MemoryGuardError):
        check_training_fits(MINILM, 5, 32, budget_mb=need)  # fine-tuning every layer needs more
