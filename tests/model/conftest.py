"""Fixtures of the model tests: a tiny configuration and one classifier trained once per session."""

from __future__ import annotations

import pytest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.model.training import train_classifier
from bertviz_core.settings import TrainSettings
from tests.helpers import separable_dataset

TINY = ModelConfig(vocab=200, seq_len=16, pos_num=16, embed_dim=16, heads=2, layers=1, ff_dim=32)
FAST = TrainSettings(epochs=6, batch_size=8, learning_rate=0.005, patience=3, seed=0)


@pytest.fixture(scope="session")
def trained():
    return train_classifier(separable_dataset(), TINY, FAST)
