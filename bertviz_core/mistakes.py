"""Where a classifier goes wrong: the validation texts behind each confusion-matrix cell, and its
most confident mistakes.

The training job keeps every validation text with its true class and the model's probabilities
(``validation.json`` in a saved bundle); everything here is plain NumPy on those, so a page can
show it without TensorFlow. The matrix built from them is the one the evaluation reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bertviz_core.errors import BundleError

# The same clipping as Keras' cross-entropy on probabilities (model.training.KERAS_EPSILON).
_EPSILON = 1e-7


@dataclass(frozen=True)
class ValidationPredictions:
    """Every validation text, its true class id and the model's probabilities, in split order."""

    texts: tuple[str, ...]
    true_ids: np.ndarray  # (texts,) int
    probabilities: np.ndarray  # (texts, classes)
    class_names: tuple[str, ...]

    @property
    def predicted_ids(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def losses(self) -> np.ndarray:
        """Each text's cross-entropy: how surprised the model was by the true class."""
        picked = self.probabilities[np.arange(len(self.texts)), self.true_ids]
        return -np.log(np.clip(picked, _EPSILON, 1 - _EPSILON))

    def confusion_matrix(self) -> np.ndarray:
        """Rows the true class, columns the predicted class (as ``evaluation.confusion_matrix``)."""
        matrix = np.zeros((len(self.class_names),) * 2, dtype=np.int64)
        np.add.at(matrix, (self.true_ids, self.predicted_ids), 1)
        return matrix

    def cell(self, true_id: int, predicted_id: int) -> pd.DataFrame:
        """The texts of class ``true_id`` that the model put in ``predicted_id``, least sure first
        when it was right and most sure first when it was wrong."""
        rows = np.flatnonzero((self.true_ids == true_id) & (self.predicted_ids == predicted_id))
        confidence = self.probabilities[rows, predicted_id]
        order = np.argsort(confidence if true_id == predicted_id else -confidence, kind="stable")
        return self._table(rows[order])

    def most_confident_mistakes(self, limit: int = 20) -> pd.DataFrame:
        """Wrongly classified texts, highest loss first."""
        wrong = np.flatnonzero(self.true_ids != self.predicted_ids)
        order = np.argsort(-self.losses[wrong], kind="stable")
        return self._table(wrong[order][:limit])

    def _table(self, rows: np.ndarray) -> pd.DataFrame:
        names = np.asarray(self.class_names, dtype=object)
        predicted = self.predicted_ids[rows]
        return pd.DataFrame(
            {
                "text": [self.texts[i] for i in rows],
                "true class": names[self.true_ids[rows]],
                "predicted": names[predicted],
                "p(predicted)": self.probabilities[rows, predicted],
                "p(true class)": self.probabilities[rows, self.true_ids[rows]],
                "loss": self.losses[rows],
            }
        )

    # --- validation.json -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "texts": list(self.texts),
            "true": [int(i) for i in self.true_ids],
            "probabilities": np.round(self.probabilities, 6).tolist(),
        }

    @classmethod
    def from_dict(cls, data: object, class_names: Sequence[str]) -> ValidationPredictions:
        """Checked, since a bundle may come from anyone: raises BundleError in one sentence."""
        problem = BundleError("validation.json does not match the model's classes; export the model again.")
        if not isinstance(data, dict):
            raise problem
        texts, true, probabilities = data.get("texts"), data.get("true"), data.get("probabilities")
        if not (isinstance(texts, list) and all(isinstance(text, str) for text in texts)):
            raise problem
        try:
            true_ids = np.asarray(true, dtype=np.int64).reshape(-1)
            table = np.asarray(probabilities, dtype=np.float64).reshape(len(texts), len(class_names))
        except (TypeError, ValueError):
            raise problem from None
        if len(true_ids) != len(texts) or (
            true_ids.size and (true_ids.min() < 0 or true_ids.max() >= len(class_names))
        ):
            raise problem
        if not np.isfinite(table).all():
            raise problem
        return cls(tuple(texts), true_ids, table, tuple(class_names))
