"""Training settings: one validated object, one sentence per bad value."""

from __future__ import annotations

import pytest

from bertviz_core.errors import TrainingError
from bertviz_core.settings import TrainSettings


@pytest.mark.parametrize(
    "changes",
    [
        {"epochs": 0},
        {"batch_size": 0},
        {"learning_rate": 0.0},
        {"learning_rate": 5},
        {"val_share": 0.9},
        {"patience": 0},
        {"epochs": 2.5},
    ],
)
def test_train_settings_are_validated_with_one_sentence(changes):
    with pytest.raises(TrainingError) as caught:
        TrainSettings(**changes)
    assert str(caught.value).endswith(".") and "\n" not in str(caught.value)
