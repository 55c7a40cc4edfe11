"""How good a classifier is on the validation split: accuracy, macro F1, per class, the baseline.

Plain NumPy on label ids, no TensorFlow: the training job computes it, and so can anyone holding
predictions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrix(true_ids: np.ndarray, predicted_ids: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts; rows are the true class, columns the predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true_ids, dtype=np.int64), np.asarray(predicted_ids, dtype=np.int64)), 1)
    return matrix


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # A class never predicted (or never present) scores 0, as scikit-learn does by default.
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def evaluate(
    true_ids: np.ndarray, predicted_ids: np.ndarray, class_names: Sequence[str], train_label_ids: np.ndarray
) -> dict:
    """Accuracy, macro F1, per-class scores, confusion matrix and the majority-class baseline.

    The baseline always predicts the most frequent class of the training split (the lowest id on a
    tie): a model that does not beat it has learnt nothing from the texts.
    """
    num_classes = len(class_names)
    matrix = confusion_matrix(true_ids, predicted_ids, num_classes)
    true_positive = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = _ratio(true_positive, predicted)
    recall = _ratio(true_positive, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
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
