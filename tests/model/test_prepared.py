"""Kept, traced classifiers: a training on a reset model is the training a new model gives, and
traces nothing again; a worker keeps few and small ones, and nothing from a failed run."""

from __future__ import annotations

import pytest

from bertviz_core.errors import TrainingError
from bertviz_core.model import prepared
from bertviz_core.model.prepared import KEEP_MB, SHELF_KEEP, PreparedClassifier, Shape, Shelf
from bertviz_core.model.training import train_classifier
from bertviz_core.settings import TrainSettings
from tests.helpers import separable_dataset
from tests.model.conftest import TINY

pytestmark = pytest.mark.slow

SETTINGS = TrainSettings(epochs=2, batch_size=8, learning_rate=0.005, patience=3, seed=3)


def history(bundle) -> list[tuple]:
    return [(record["loss"], record["accuracy"], record["val_loss"], record["val_accuracy"])
            for record in bundle.metrics["history"]]  # fmt: skip


def test_a_kept_model_trains_exactly_as_a_new_one_and_traces_nothing_again():
    dataset, shelf = separable_dataset(96), Shelf()
    new = train_classifier(dataset, TINY, SETTINGS)
    with shelf.lending() as lender:
        first = train_classifier(dataset, TINY, SETTINGS, models=lender)
        assert not lender.reused
        traced = lender.lent.traces()
    assert shelf.holds(Shape.of(TINY, 2, SETTINGS.seed)) and traced >= 1
    # Another learning rate, batch size and epoch count: the same shape, so the same kept model.
    other = TrainSettings(epochs=3, batch_size=16, learning_rate=0.002, patience=3, seed=3)
    with shelf.lending() as lender:
        again = train_classifier(dataset, TINY, other, models=lender)
        assert lender.reused and lender.lent.traces() == traced
        # Validation (64 texts a call, then the rest) and the final evaluation: one trace in all.
        assert lender.lent.forward.experimental_get_tracing_count() == 1
    assert history(first) == history(new)
    assert history(again) == history(train_classifier(dataset, TINY, other))
    assert again.model.count_params() == new.model.count_params()


def test_a_warmed_model_is_taken_by_the_training_of_its_shape():
    dataset, shelf = separable_dataset(96), Shelf(keep=2)
    shape = Shape.of(TINY, 2, SETTINGS.seed)
    shelf.warm(shape, SETTINGS.batch_size, SETTINGS.learning_rate)
    with shelf.lending() as lender:
        warmed = train_classifier(dataset, TINY, SETTINGS, models=lender)
        assert lender.reused
    assert history(warmed) == history(train_classifier(dataset, TINY, SETTINGS))
    # Another seed is another shape (its own initial weights): a new model.
    with shelf.lending() as lender:
        train_classifier(dataset, TINY, TrainSettings(epochs=1, batch_size=8, seed=4), models=lender)
        assert not lender.reused
    assert shelf.shapes() == [Shape.of(TINY, 2, 4), shape]


def test_a_failed_run_puts_nothing_back_and_the_shelf_keeps_few():
    dataset, shelf = separable_dataset(96), Shelf()
    with pytest.raises(TrainingError), shelf.lending() as lender:
        train_classifier(dataset, TINY, SETTINGS, models=lender)
        raise TrainingError("saving failed")
    assert shelf.shapes() == []
    for seed in range(SHELF_KEEP + 1):
        shelf.warm(Shape.of(TINY, 3, seed), 8, 0.001)
    assert shelf.shapes() == [Shape.of(TINY, 3, seed) for seed in reversed(range(1, SHELF_KEEP + 1))]


def test_only_small_models_are_kept_and_the_arithmetic_counts_their_parameters(monkeypatch):
    shape = Shape.of(TINY, 4, 0)
    assert PreparedClassifier(shape, 0.001).model.count_params() == shape.parameters
    assert shape.keepable
    big = Shape.of(TINY.with_changes(vocab=200_000, embed_dim=128), 2, 0)
    assert not big.keepable and big.parameters * 4 > KEEP_MB * 2**20
    monkeypatch.setattr(prepared, "KEEP_MB", 0)  # TINY is too big now: built, used once, never kept
    too_big, shelf = PreparedClassifier(shape, 0.001), Shelf()
    shelf.put(too_big)
    assert shelf.shapes() == []
    with pytest.raises(ValueError, match="keepable"):
        too_big.reset(0.001)


def test_the_per_model_tracing_false_alarm_is_dropped_and_other_warnings_are_not():
    from bertviz_core.model import runtime

    logger = runtime.tensorflow().get_logger()
    for function in (
        "Model.make_train_function.<locals>.train_function",
        "PreparedClassifier.__init__.<locals>.<lambda>",
        "traced_forward.<locals>.<lambda>",  # every model's forward pass (classifier.traced_forward)
    ):
        record = logger.makeRecord(
            "tensorflow",
            30,
            __file__,
            1,
            f"5 out of the last 5 calls to <function {function} "
            "at 0x7f> triggered tf.function retracing. Tracing is expensive",
            None,
            None,
        )
        assert not logger.filter(record)
    other = logger.makeRecord(
        "tensorflow",
        30,
        __file__,
        1,
        "5 out of the last 5 calls to <function my_step at 0x7f> triggered tf.function retracing.",
        None,
        None,
    )
    assert logger.filter(other)
