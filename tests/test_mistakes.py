"""The mistakes view: each confusion-matrix cell's texts, counted exactly as the evaluation counts them."""

from __future__ import annotations

import numpy as np
import pytest

from bertviz_core.errors import BundleError
from bertviz_core.evaluation import evaluate
from bertviz_core.mistakes import ValidationPredictions

CLASSES = ("cat", "dog", "<b>bird</b>")


def predictions(seed: int = 0, rows: int = 60) -> ValidationPredictions:
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 3, rows)
    logits = rng.normal(size=(rows, 3)) + 2 * np.eye(3)[true]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return ValidationPredictions(tuple(f"text {i}" for i in range(rows)), true, probabilities, CLASSES)


def test_every_cell_holds_exactly_the_count_of_the_matrix():
    validation = predictions()
    matrix = np.asarray(
        evaluate(validation.true_ids, validation.predicted_ids, CLASSES, validation.true_ids)[
            "confusion_matrix"
        ]
    )
    assert np.array_equal(validation.confusion_matrix(), matrix)
    shown = set()
    for true in range(3):
        for predicted in range(3):
            cell = validation.cell(true, predicted)
            assert len(cell) == matrix[true, predicted]
            assert set(cell["true class"]) <= {CLASSES[true]} and set(cell["predicted"]) <= {
                CLASSES[predicted]
            }
            shown |= set(cell["text"])
    assert shown == set(validation.texts)


def test_a_wrong_cell_shows_the_surest_mistakes_first_and_a_right_cell_the_least_sure():
    validation = predictions(1)
    wrong = validation.cell(0, 1)["p(predicted)"].to_numpy()
    right = validation.cell(0, 0)["p(predicted)"].to_numpy()
    assert len(wrong) > 1 and len(right) > 1
    assert (np.diff(wrong) <= 0).all() and (np.diff(right) >= 0).all()


def test_most_confident_mistakes_are_wrong_and_ordered_by_loss():
    validation = predictions(2)
    table = validation.most_confident_mistakes(limit=5)
    assert len(table) == 5
    assert (table["true class"] != table["predicted"]).all()
    assert (np.diff(table["loss"].to_numpy()) <= 0).all()
    worst = validation.losses[validation.true_ids != validation.predicted_ids].max()
    assert table["loss"].iloc[0] == pytest.approx(worst)
    np.testing.assert_allclose(table["loss"], -np.log(table["p(true class)"]), rtol=1e-6)


def test_round_trip_and_hostile_files_are_refused_in_a_sentence():
    validation = predictions()
    again = ValidationPredictions.from_dict(validation.to_dict(), CLASSES)
    assert again.texts == validation.texts and np.array_equal(again.true_ids, validation.true_ids)
    good = validation.to_dict()
    for broken in (
        [],
        {**good, "true": good["true"][:-1]},
        {**good, "true": [5] * len(good["true"])},
        {**good, "probabilities": [[0.5, 0.5]] * len(good["texts"])},
        {**good, "texts": [1] * len(good["texts"])},
        {**good, "probabilities": "nope"},
    ):
        with pytest.raises(BundleError, match="validation.json"):
            ValidationPredictions.from_dict(broken, CLASSES)
