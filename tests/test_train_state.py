"""The training page's settings read once into a TrainState (no Streamlit needed)."""

from __future__ import annotations

from bertviz_core.settings import FINE_TUNE, FROZEN
from bertviz_core.train_state import CHECKPOINT, SCRATCH, TrainState


def _state(start: str, encoder: str | None) -> TrainState:
    return TrainState.read(lambda name: None, lambda name: encoder if name == "encoder" else None, start)


def test_the_encoder_box_counts_for_a_checkpoint_only():
    assert _state(CHECKPOINT, FROZEN).settings.encoder == FROZEN
    assert _state(CHECKPOINT, None).settings.encoder == FINE_TUNE  # the default
    # A new model's encoder has nothing to keep: whatever the box says, every layer trains.
    assert _state(SCRATCH, FROZEN).settings.encoder == FINE_TUNE
    assert _state(SCRATCH, FROZEN).settings_problem is None
