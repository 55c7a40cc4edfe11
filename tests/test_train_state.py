"""The training page's state: every box read once, defaults filled, validated, the head count snapped."""

from __future__ import annotations

from bertviz_core.arithmetic.config import training_default_config
from bertviz_core.fields import TRAINING_FIELD
from bertviz_core.settings import FINE_TUNE, FROZEN, TrainSettings
from bertviz_core.train_state import CHECKPOINT, SCRATCH, TrainState, heads_offered, nearest_heads


def read(model=None, settings=None, start=SCRATCH) -> TrainState:
    model, settings = model or {}, settings or {}
    return TrainState.read(model.get, settings.get, start)


def test_boxes_not_drawn_yet_read_as_the_pages_defaults():
    state = TrainState.default()
    assert state.config == training_default_config()
    assert state.settings == TrainSettings()
    assert state.seed == TRAINING_FIELD["seed"].default and state.start == SCRATCH


def test_a_head_count_that_no_longer_divides_the_embedding_becomes_the_nearest_that_does():
    state = read({"embed_dim": 96, "heads": 5})
    assert state.model["heads"] in heads_offered(96) and state.model["heads"] == nearest_heads(96, 5) == 4
    assert state.config.heads == 4 and state.config.pos_num == state.config.seq_len


def test_invalid_boxes_give_one_sentence_and_no_config():
    state = read({"vocab": 1})
    assert state.config is None and state.model_problem.startswith("The vocabulary size must be")
    long = read({"seq_len": 100_000})  # what a box without a maximum lets a visitor type
    assert long.config is None
    assert long.model_problem == (
        "The sequence length must be from 8 to 2,048 on this page, not 100,000; the explorer shows what larger ones cost."
    )
    bad = read(settings={"val_share": 0.9})
    assert bad.settings is None and "validation share" in bad.settings_problem


def test_the_start_is_one_of_two_and_settings_come_typed():
    state = read(settings={"learning_rate": 3e-5, "val_share": 0.25000001, "seed": 7}, start=CHECKPOINT)
    assert state.start == CHECKPOINT and read(start="anything").start == SCRATCH
    assert state.settings.learning_rate == 3e-5 and state.settings.val_share == 0.25 and state.seed == 7


def test_the_encoder_box_counts_for_a_checkpoint_only():
    assert read(settings={"encoder": FROZEN}, start=CHECKPOINT).settings.encoder == FROZEN
    assert read(start=CHECKPOINT).settings.encoder == FINE_TUNE  # the default
    # A new model's encoder has nothing to keep: whatever the box says, every layer trains.
    assert read(settings={"encoder": FROZEN}).settings.encoder == FINE_TUNE
    assert read(settings={"encoder": FROZEN}).settings_problem is None
