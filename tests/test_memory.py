"""The memory budget and the guards every real build and training run go through."""

from __future__ import annotations

import pytest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.errors import MemoryGuardError
from bertviz_core.memory import check_training_fits, training_budget_mb
from tests.model.conftest import TINY


def test_memory_guard_refuses_a_model_too_large_to_train():
    with pytest.raises(MemoryGuardError) as caught:
        check_training_fits(ModelConfig(), num_classes=2, batch_size=32, budget_mb=1200)
    message = str(caught.value)
    assert "MB" in message and "lower the batch size" in message and message.count(".") <= 2
    assert check_training_fits(TINY, 2, 32, budget_mb=1200).total_mb < 10


def test_memory_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("BERTVIZ_MEMORY_BUDGET_MB", "1000")
    assert training_budget_mb() == 200
    monkeypatch.delenv("BERTVIZ_MEMORY_BUDGET_MB")
    assert training_budget_mb() <= 1200
