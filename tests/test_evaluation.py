"""Evaluation on the validation split, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from bertviz_core.evaluation import evaluate


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
