"""A head-only training as a job: what it asks of the pool, and what it says while the encoder reads."""

from __future__ import annotations

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.jobs.protocol import Stage
from bertviz_core.jobs.requests import training_request
from bertviz_core.jobs.tasks import _TrainingReporter
from bertviz_core.settings import FROZEN, TrainSettings
from tests.helpers import separable_dataset

MINILM = ModelConfig(vocab=30522, seq_len=64, pos_num=64, embed_dim=384, heads=12, layers=6, ff_dim=1536,
                     encoder_only=True)  # fmt: skip


def test_the_head_only_asks_for_less_memory_and_time_than_fine_tuning(tmp_path):
    dataset = separable_dataset(400)
    fine_tune = training_request(dataset, MINILM, TrainSettings(), tmp_path, checkpoint=(tmp_path, "minilm"))
    head = training_request(
        dataset, MINILM, TrainSettings(encoder=FROZEN), tmp_path, checkpoint=(tmp_path, "minilm")
    )
    assert head.inputs["settings"]["encoder"] == FROZEN
    assert head.memory_mb < fine_tune.memory_mb
    assert head.expected_seconds < fine_tune.expected_seconds


class _Events:
    def __init__(self) -> None:
        self.events: list = []

    def emit(self, event) -> None:
        self.events.append(event)

    def should_stop(self) -> bool:
        return False


def test_the_encoders_reading_is_a_stage_with_the_texts_done():
    events = _Events()
    _TrainingReporter(events, epochs=5).on_encoding(640, 2000)
    (stage,) = events.events
    assert isinstance(stage, Stage) and "640 of 2,000" in stage.text and "s left" in stage.text
