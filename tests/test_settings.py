"""Training settings: one validated object, one sentence per bad value."""

from __future__ import annotations

import pytest

from bertviz_core.errors import TrainingError
from bertviz_core.fields import TRAINING_FIELD
from bertviz_core.settings import FINE_TUNE, FROZEN, TrainSettings


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


def test_the_encoder_setting_is_one_of_two_words():
    assert TrainSettings().encoder == FINE_TUNE and TrainSettings().trains_encoder
    assert not TrainSettings(encoder=FROZEN).trains_encoder
    with pytest.raises(TrainingError, match="must be 'fine-tune' or 'frozen', not 'thawed'"):
        TrainSettings(encoder="thawed")
    # Settings saved before the setting existed read as fine-tuning.
    assert TrainSettings.from_mapping({"epochs": 3}).encoder == FINE_TUNE
    assert TRAINING_FIELD["encoder"].choices == (FINE_TUNE, FROZEN)
