"""Evaluation on the validation split: by hand, against the NumPy code it replaced, and the baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bertviz_core.data.export import metrics_table
from bertviz_core.data.rows import stratified_split, training_rows
from bertviz_core.data.samples import list_samples, load_sample
from bertviz_core.evaluation import evaluate, tfidf_baseline
from bertviz_core.settings import TrainSettings


def test_evaluation_numbers_by_hand():
    true = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 0, 0])
    result = evaluate(true, predicted, ("a", "b", "c"), train_label_ids=np.array([1, 1, 1, 0, 2]))
    assert result["confusion_matrix"] == [[2, 1, 0], [1, 1, 0], [1, 0, 0]]
    assert result["val_accuracy"] == pytest.approx(3 / 6)
    assert result["majority_class"] == "b" and result["majority_baseline"] == pytest.approx(2 / 6)
    a, b, c = result["per_class"]
    assert (a["precision"], a["recall"], a["support"]) == (pytest.approx(2 / 4), pytest.approx(2 / 3), 3)
    assert a["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert (b["precision"], b["recall"], b["f1"]) == (
        pytest.approx(0.5),
        pytest.approx(0.5),
        pytest.approx(0.5),
    )
    assert (c["precision"], c["recall"], c["f1"]) == (0.0, 0.0, 0.0)  # never predicted: 0, not NaN
    assert result["macro_f1"] == pytest.approx((a["f1"] + 0.5 + 0.0) / 3)


# --- scikit-learn's metrics give what the hand-written NumPy code gave ---------------------------
def numpy_reference(true_ids, predicted_ids, class_names, train_label_ids) -> dict:
    """The NumPy implementation evaluate() had before scikit-learn, kept as the reference."""
    num_classes = len(class_names)
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true_ids, dtype=np.int64), np.asarray(predicted_ids, dtype=np.int64)), 1)

    def ratio(numerator, denominator):
        return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)

    true_positive = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1)
    precision = ratio(true_positive, matrix.sum(axis=0))
    recall = ratio(true_positive, support)
    f1 = ratio(2 * precision * recall, precision + recall)
    total = int(matrix.sum())
    majority = int(np.bincount(np.asarray(train_label_ids, dtype=np.int64), minlength=num_classes).argmax())
    return {
        "val_accuracy": float(true_positive.sum() / total) if total else 0.0,
        "macro_f1": float(f1.mean()) if num_classes else 0.0,
        "majority_baseline": float(support[majority] / total) if total else 0.0,
        "majority_class": class_names[majority],
        "per_class": [
            {
                "class": name,
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        ],
        "confusion_matrix": matrix.tolist(),
        "val_samples": total,
    }


def assert_same_evaluation(new: dict, old: dict) -> None:
    """Every key, every value. F1 alone may differ in its last bit: scikit-learn computes it as
    2 TP / (2 TP + FP + FN), the old code as 2 P R / (P + R); the two are equal as real numbers."""
    assert list(new) == list(old)
    for key in old:
        if key == "macro_f1":
            assert new[key] == pytest.approx(old[key], rel=1e-12, abs=1e-15), key
        elif key == "per_class":
            assert len(new[key]) == len(old[key])
            for new_row, old_row in zip(new[key], old[key], strict=True):
                assert list(new_row) == list(old_row)
                assert new_row["f1"] == pytest.approx(old_row["f1"], rel=1e-12, abs=1e-15), new_row
                assert {k: v for k, v in new_row.items() if k != "f1"} == {
                    k: v for k, v in old_row.items() if k != "f1"
                }
                assert all(type(new_row[k]) is type(old_row[k]) for k in old_row)
        else:
            assert new[key] == old[key], key
            assert type(new[key]) is type(old[key]), key


def _prediction_vectors(val_labels: np.ndarray, train_labels: np.ndarray, num_classes: int) -> dict:
    rng = np.random.default_rng(7)
    noisy = np.where(
        rng.random(len(val_labels)) < 0.7, val_labels, rng.integers(0, num_classes, len(val_labels))
    )
    majority = int(np.bincount(train_labels, minlength=num_classes).argmax())
    return {
        "perfect": val_labels.copy(),
        "majority only": np.full_like(val_labels, majority),
        "seeded random": rng.integers(0, num_classes, len(val_labels)),
        "mostly right": noisy,
        # The last class is never predicted: its precision and F1 must be 0, not NaN.
        "one class never predicted": np.where(noisy == num_classes - 1, 0, noisy),
        "all wrong": (val_labels + 1) % num_classes,
    }


@pytest.mark.parametrize("sample", [sample.name for sample in list_samples()])
def test_sklearn_metrics_match_the_numpy_reference_on_the_samples(sample):
    settings = TrainSettings()
    dataset = training_rows(load_sample(sample), seed=settings.seed).dataset
    train_idx, val_idx = stratified_split(dataset.label_ids, settings.val_share, settings.seed)
    train_labels, val_labels = dataset.label_ids[train_idx], dataset.label_ids[val_idx]
    names = dataset.class_names
    for case, predicted in _prediction_vectors(val_labels, train_labels, len(names)).items():
        new = evaluate(val_labels, predicted, names, train_labels)
        old = numpy_reference(val_labels, predicted, names, train_labels)
        try:
            assert_same_evaluation(new, old)
        except AssertionError as error:
            raise AssertionError(f"{sample}, {case}: {error}") from error


@pytest.mark.parametrize(
    ("true", "predicted", "names", "train"),
    [
        ([0, 0, 1, 1], [0, 0, 1, 1], ("a", "b", "c"), [2, 2, 0]),  # a class absent from validation
        ([2, 2, 2], [0, 1, 2], ("a", "b", "c"), [0, 1]),  # two classes never in the truth
        ([1], [0], ("a", "b"), [1, 1]),
        ([], [], ("a", "b"), [0, 1, 1]),  # nothing to score
    ],
)
def test_sklearn_metrics_match_the_numpy_reference_on_corner_cases(true, predicted, names, train):
    true, predicted = np.array(true, dtype=np.int64), np.array(predicted, dtype=np.int64)
    train = np.array(train, dtype=np.int64)
    assert_same_evaluation(
        evaluate(true, predicted, names, train), numpy_reference(true, predicted, names, train)
    )


def test_importing_evaluation_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = "import sys, bertviz_core.evaluation; print('sklearn' in sys.modules)"
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "False"


# --- the TF-IDF baseline ---------------------------------------------------------------------------
def test_tfidf_baseline_learns_an_obvious_rule():
    words = {0: ["rain", "snow", "storm"], 1: ["goal", "match", "team"], 2: ["pasta", "bread", "soup"]}
    rng = np.random.default_rng(0)

    def texts(count: int) -> tuple[list[str], np.ndarray]:
        labels = np.arange(count) % 3
        return [f"today {rng.choice(words[int(label)])} again" for label in labels], labels

    train_texts, train_labels = texts(30)
    val_texts, val_labels = texts(12)
    result = tfidf_baseline(train_texts, train_labels, val_texts, val_labels, ("weather", "sports", "food"))
    assert result == {"tfidf_baseline": 1.0, "tfidf_macro_f1": 1.0, "tfidf_predictions": val_labels.tolist()}
    # Uppercase is the same word (lowercased), and the answer does not change between calls.
    shouted = [text.upper() for text in val_texts]
    assert (
        tfidf_baseline(train_texts, train_labels, shouted, val_labels, ("weather", "sports", "food"))
        == result
    )


def test_tfidf_baseline_scores_like_evaluate():
    train_texts = ["good film", "great film", "bad film", "awful film", "good fun", "bad day"]
    train_labels = np.array([1, 1, 0, 0, 1, 0])
    # The last text is labelled positive but holds only a negative word: the one mistake.
    val_texts = ["good and great", "bad, awful", "great fun", "awful"]
    val_labels = np.array([1, 0, 1, 1])
    result = tfidf_baseline(train_texts, train_labels, val_texts, val_labels, ("neg", "pos"))
    # neg: precision 1/2, recall 1, F1 2/3; pos: precision 1, recall 2/3, F1 4/5.
    assert result == {
        "tfidf_baseline": 0.75,
        "tfidf_macro_f1": pytest.approx((2 / 3 + 4 / 5) / 2),
        "tfidf_predictions": [1, 0, 1, 0],  # each validation text's answer, for a paired comparison
    }
    assert type(result["tfidf_baseline"]) is float and type(result["tfidf_macro_f1"]) is float


def test_tfidf_baseline_without_any_word_is_none_not_a_crash():
    # TF-IDF's words are two letters or more: none of these training texts holds one.
    train_texts = ["a", "b !", "? c", "1 2", "", "x"]
    result = tfidf_baseline(
        train_texts, np.array([0, 1, 0, 1, 0, 1]), ["ab cd", "e"], np.array([0, 1]), ("a", "b")
    )
    assert result == {"tfidf_baseline": None, "tfidf_macro_f1": None, "tfidf_predictions": None}


# --- the metrics CSV -------------------------------------------------------------------------------
def _metrics(**extra) -> dict:
    result = evaluate(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), ("neg", "pos"), np.array([0, 1, 1]))
    return {**result, **extra}


def test_metrics_table_has_the_model_and_the_tfidf_baseline_rows():
    table = metrics_table(_metrics(tfidf_baseline=0.5, tfidf_macro_f1=0.4))
    assert list(table.columns) == ["class", "precision", "recall", "f1", "support", "accuracy"]
    assert table["class"].tolist() == ["neg", "pos", "(all)", "(TF-IDF baseline)"]
    model, baseline = table.iloc[2], table.iloc[3]
    assert (model["accuracy"], model["support"]) == (0.75, 4)
    assert (baseline["accuracy"], baseline["f1"], baseline["support"]) == (0.5, 0.4, 4)
    assert math.isnan(baseline["precision"]) and math.isnan(table.iloc[0]["accuracy"])


def test_metrics_table_of_an_older_run_or_an_unmeasured_baseline():
    assert metrics_table(_metrics())["class"].tolist() == ["neg", "pos", "(all)"]  # saved before it existed
    unmeasured = metrics_table(_metrics(tfidf_baseline=None, tfidf_macro_f1=None)).iloc[3]
    assert unmeasured["class"] == "(TF-IDF baseline)"
    assert math.isnan(unmeasured["accuracy"]) and math.isnan(unmeasured["f1"])
