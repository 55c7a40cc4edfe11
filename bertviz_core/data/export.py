"""CSV files for people to download: safe to open in a spreadsheet."""

from __future__ import annotations

import pandas as pd

# A spreadsheet treats a cell starting with one of these as a formula (or strips it and then does).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def to_safe_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV bytes in which no cell or header can run as a spreadsheet formula."""
    safe = frame.copy()
    safe.columns = [_neutralise(str(column)) for column in frame.columns]
    for position in range(safe.shape[1]):
        column = safe.iloc[:, position]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            safe.isetitem(position, column.map(_neutralise, na_action="ignore"))
    # CRLF as RFC 4180 says; it also makes the writer quote cells holding a bare \r.
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def metrics_table(metrics: dict) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support, then an "(all)" row with macro F1 and accuracy,
    and a "(TF-IDF baseline)" row with the baseline's on the same validation texts.

    The baseline's row is left out for runs saved before it was measured, and its figures are empty
    when it could not be (no training text held a word).
    """
    nan = float("nan")
    summaries = [("(all)", metrics["macro_f1"], metrics["val_accuracy"])]
    if "tfidf_baseline" in metrics:
        summaries.append(("(TF-IDF baseline)", metrics["tfidf_macro_f1"], metrics["tfidf_baseline"]))
    rows = [
        {"class": name, "precision": nan, "recall": nan, "f1": nan if f1 is None else f1,
         "support": metrics["val_samples"], "accuracy": nan if accuracy is None else accuracy}
        for name, f1, accuracy in summaries
    ]  # fmt: skip
    per_class = pd.DataFrame(metrics["per_class"]).assign(accuracy=nan)
    return pd.concat([per_class, pd.DataFrame(rows)], ignore_index=True)
