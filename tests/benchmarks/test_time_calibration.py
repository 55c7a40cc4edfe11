"""The time prediction (``bertviz_core.timing``) against one real training, as
``python -m benchmarks.time_calibration`` measures it: the rate measured by the worker's own task
just before and after each epoch, the training on the benchmark's synthetic texts."""

from __future__ import annotations

import statistics

import pytest

from benchmarks.figures import synthetic_dataset
from bertviz_core import timing
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.jobs import tasks


class _Silent:
    def emit(self, event: dict) -> None:
        raise AssertionError("the measurement reports no progress")

    def should_stop(self) -> bool:
        return False


class _RateAroundEpochs:
    """Epoch records, and the machine's rate measured (by the worker's own task) after each epoch:
    outside the epoch's seconds, so each epoch is bracketed by a measurement before and after."""

    def __init__(self) -> None:
        self.history: list[dict] = []
        self.rates = [self.measure()]

    @staticmethod
    def measure() -> float:
        result = tasks.measure_rate({"seconds": 1.0}, _Silent())
        assert result["flops_per_second"] > 1e9 and result["load_average"] >= 0
        return result["flops_per_second"]

    def on_epoch_end(self, record: dict) -> None:
        self.history.append(dict(record))
        self.rates.append(self.measure())


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_real_training_takes_about_the_predicted_time() -> None:
    from bertviz_core.model.training import train_classifier
    from bertviz_core.settings import TrainSettings

    dataset = synthetic_dataset(512, seed=2)
    config = ModelConfig(vocab=2000, seq_len=32, pos_num=32, embed_dim=64, heads=2, layers=2, ff_dim=256)
    settings = TrainSettings(epochs=3, batch_size=32, learning_rate=1e-3, val_share=0.1, seed=0, patience=3)
    around = _RateAroundEpochs()
    metrics = train_classifier(dataset, config, settings, around).metrics
    ratios = []
    for index, record in enumerate(around.history[1:], start=1):  # the first epoch also traces
        rate = (around.rates[index] + around.rates[index + 1]) / 2
        predicted = timing.predict_epoch_seconds(
            config, 2, settings.batch_size, metrics["train_samples"], rate, metrics["val_samples"]
        )
        ratios.append(predicted.seconds / record["seconds"])
    # A wide band: the machine is shared, and this is one short run. Inside a full suite on a fresh
    # clone (load about 4), this small model measured 0.41-0.47: its per-step overheads lose more to
    # other processes than the 1024 product the rate comes from. A factor of 3 still catches a
    # prediction that is wrong in kind (a missing term, FLOPs counted per token instead of per text).
    assert 1 / 3 <= statistics.median(ratios) <= 3.0, (
        ratios,
        around.rates,
        [r["seconds"] for r in around.history],
    )
