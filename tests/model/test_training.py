"""The classifier and its training: keras-bert's encoder, an average-pooling head, early stopping, stopping."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bertviz_core.arithmetic import costs
from bertviz_core.data.rows import Dataset, stratified_split
from bertviz_core.errors import TrainingError
from bertviz_core.evaluation import tfidf_baseline
from bertviz_core.model.classifier import build_classifier, predict_proba
from bertviz_core.model.training import EPOCH_KEYS, train_classifier
from bertviz_core.settings import TrainSettings
from tests.helpers import separable_dataset
from tests.model.conftest import FAST, TINY

pytestmark = pytest.mark.slow


# --- model and memory guard ---------------------------------------------------------------------
def test_model_is_keras_bert_encoder_with_average_and_softmax_head_and_no_lambda():
    model = build_classifier(TINY, num_classes=3, seed=1)
    names = [layer.name for layer in model.layers]
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "Lambda" not in kinds
    assert [tensor.name.split(":")[0] for tensor in model.inputs] == ["Input-Token", "Input-Segment"]
    assert names[-2:] == ["Pooling", "Classifier"]
    assert {
        "Embedding-Token",
        "Embedding-Position",
        "Encoder-1-MultiHeadSelfAttention",
        "Encoder-1-FeedForward-Norm",
    } <= set(names)
    assert not any(name.startswith(("MLM", "NSP")) for name in names)
    assert model.output_shape == (None, 3)
    assert model.get_layer("Classifier").get_config()["activation"] == "softmax"
    assert model.count_params() == costs.classifier_params(TINY, 3)
    assert model.trainable_weights  # get_model(training=False) alone would freeze everything


def test_one_class_is_refused():
    dataset = separable_dataset(20)
    one_class = Dataset(dataset.texts, dataset.labels, ("pos",), np.zeros(20, dtype=np.int64), ())
    with pytest.raises(TrainingError, match="two"):
        train_classifier(one_class, TINY, FAST)


# --- training -----------------------------------------------------------------------------------
def test_training_beats_the_majority_baseline(trained):
    metrics = trained.metrics
    assert metrics["val_accuracy"] > metrics["majority_baseline"] + 0.2
    assert metrics["macro_f1"] > 0.6
    assert sum(map(sum, metrics["confusion_matrix"])) == metrics["val_samples"] == 32
    assert [row["class"] for row in metrics["per_class"]] == ["neg", "pos"]
    assert metrics["history"] and all(set(EPOCH_KEYS) <= set(record) for record in metrics["history"])
    assert all(record["samples_per_second"] > 0 for record in metrics["history"])
    assert metrics["tokens"]["token_lengths"] == [8] * 128
    assert trained.config.encoder_only and trained.class_names == ("neg", "pos")
    json.dumps(metrics, allow_nan=False)


def test_tfidf_baseline_is_measured_on_the_models_split(trained):
    dataset = separable_dataset()
    train_idx, val_idx = stratified_split(dataset.label_ids, FAST.val_share, FAST.seed)
    expected = tfidf_baseline(
        [dataset.texts[i] for i in train_idx],
        dataset.label_ids[train_idx],
        [dataset.texts[i] for i in val_idx],
        dataset.label_ids[val_idx],
        dataset.class_names,
    )
    metrics = trained.metrics
    assert {key: metrics[key] for key in expected} == expected
    assert 0.5 < metrics["tfidf_baseline"] <= 1.0 and 0.5 < metrics["tfidf_macro_f1"] <= 1.0


def test_predictions_are_probabilities_in_class_order(trained):
    probabilities = predict_proba(trained, ["this film was great", "awful and boring", "zzz unknown"])
    assert probabilities.shape == (3, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    answers = predict_proba(trained, ["really good good good", "bad bad awful"]).argmax(axis=1)
    assert [trained.class_names[index] for index in answers] == ["pos", "neg"]


def test_predictions_run_one_traced_graph_for_any_number_of_texts_and_equal_the_eager_model(trained):
    from bertviz_core.data.tokens import encode_texts
    from bertviz_core.model import classifier

    texts = [f"text number {index} was good" for index in range(70)]  # a full batch of 64, then 6
    for count in (1, 70, 3):
        predicted = predict_proba(trained, texts[:count])
        ids = encode_texts(trained.vocabulary, texts[:count], trained.config.seq_len).token_ids
        eager = trained.model({"Input-Token": ids, "Input-Segment": np.zeros_like(ids)}, training=False)
        np.testing.assert_allclose(predicted, np.asarray(eager), atol=1e-6)
    assert classifier._forwards[trained.model].experimental_get_tracing_count() == 1


class StopAfter:
    """Progress object: asks to stop after ``batches`` batches, records what it was told."""

    def __init__(self, batches: int):
        self.batches = batches
        self.seen: list[tuple[int, int, int]] = []
        self.epochs: list[dict] = []

    def on_batch_end(self, epoch: int, batch: int, batches_per_epoch: int) -> None:
        self.seen.append((epoch, batch, batches_per_epoch))

    def on_epoch_end(self, record: dict) -> None:
        self.epochs.append(record)

    def should_stop(self) -> bool:
        return len(self.seen) >= self.batches


def _val_loss(bundle, dataset: Dataset, settings: TrainSettings) -> float:
    _, val_idx = stratified_split(dataset.label_ids, settings.val_share, settings.seed)
    probabilities = predict_proba(bundle, [dataset.texts[i] for i in val_idx])
    picked = probabilities[np.arange(len(val_idx)), dataset.label_ids[val_idx]]
    return float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())


def test_should_stop_ends_mid_epoch_and_keeps_the_best_completed_epoch():
    dataset = separable_dataset()
    settings = TrainSettings(epochs=10, batch_size=8, learning_rate=0.005, patience=10)
    batches_per_epoch = 16  # 128 training rows / 8
    progress = StopAfter(2 * batches_per_epoch + 3)
    bundle = train_classifier(dataset, TINY, settings, progress)
    history = bundle.metrics["history"]
    assert len(history) == 2 and progress.epochs == history  # the cut third epoch is not recorded
    assert progress.seen[0] == (1, 1, batches_per_epoch) and progress.seen[-1] == (3, 3, batches_per_epoch)
    assert bundle.metrics["stopped_by_user"] and not bundle.metrics["stopped_early"]
    # The best epoch: the highest validation accuracy, the lower loss on a tie.
    best = max(history, key=lambda record: (record["val_accuracy"], -record["val_loss"]))
    assert bundle.metrics["best_epoch"] == best["epoch"]
    assert (bundle.metrics["best_val_accuracy"], bundle.metrics["best_val_loss"]) == (
        best["val_accuracy"],
        best["val_loss"],
    )
    # The weights kept are the best epoch's: their validation loss is that epoch's, not the cut epoch's.
    assert _val_loss(bundle, dataset, settings) == pytest.approx(best["val_loss"], rel=1e-3, abs=1e-4)


def test_stop_before_the_first_epoch_ends_is_a_sentence():
    with pytest.raises(TrainingError, match="before the first epoch finished"):
        train_classifier(separable_dataset(), TINY, FAST, StopAfter(1))


def test_two_trainings_have_their_own_models():
    first = train_classifier(separable_dataset(40, seed=1), TINY, TrainSettings(epochs=1, batch_size=8))
    second = train_classifier(
        separable_dataset(40, seed=2), TINY, TrainSettings(epochs=1, batch_size=8, seed=3)
    )
    assert first.model is not second.model
    assert not np.array_equal(first.model.get_weights()[0], second.model.get_weights()[0])


def test_history_has_no_nan_even_when_training_diverges():
    settings = TrainSettings(epochs=2, batch_size=8, learning_rate=1.0)
    try:
        bundle = train_classifier(separable_dataset(40), TINY, settings)
    except TrainingError as error:
        assert "learning rate" in str(error)
        return
    for record in bundle.metrics["history"]:
        assert all(value is None or math.isfinite(value) for value in record.values())


def test_two_sessions_can_train_at_the_same_time():
    """Streamlit runs each session in a thread: two trainings in one process must not interfere."""
    import threading

    results: dict[int, object] = {}

    def run(seed: int) -> None:
        try:
            results[seed] = train_classifier(separable_dataset(seed=seed), TINY, FAST)
        except Exception as error:  # reported below; a thread's exception would otherwise vanish
            results[seed] = error

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (11, 12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert set(results) == {11, 12}
    for bundle in results.values():
        assert not isinstance(bundle, Exception), repr(bundle)
        assert bundle.metrics["val_accuracy"] > bundle.metrics["majority_baseline"]
    assert results[11].model is not results[12].model


def test_the_best_epoch_is_the_most_accurate_and_the_lower_loss_breaks_a_tie():
    from bertviz_core.model.training import _progress_callback_class

    callback = _progress_callback_class()(None, 1, 1, 2, lambda: (0.0, 0.0), 0.001, 1)
    callback.best_val_accuracy, callback.best_val_loss = 0.60, 1.10
    assert callback.better({"val_accuracy": 0.62, "val_loss": 1.90})  # more accurate, though less sure
    assert callback.better({"val_accuracy": 0.60, "val_loss": 1.00})
    assert not callback.better({"val_accuracy": 0.60, "val_loss": 1.20})
    assert not callback.better({"val_accuracy": 0.58, "val_loss": 0.50})


def test_the_learning_rate_warms_up_then_decays_to_zero_by_the_last_step():
    from bertviz_core.model.training import learning_rate_at

    rates = [learning_rate_at(step, 100, 0.001) for step in range(100)]
    assert rates[0] == pytest.approx(0.0001) and max(rates) == pytest.approx(0.001) == rates[9]
    assert rates[:10] == sorted(rates[:10]) and rates[9:] == sorted(rates[9:], reverse=True)
    assert rates[-1] < 0.001 * 0.001
    assert learning_rate_at(0, 1, 0.002) == 0.002  # one step: the whole rate at once
