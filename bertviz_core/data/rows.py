"""From a table to training rows: clean two columns, map labels to ids, sample, split.

``training_rows`` is the one path from a table to the rows a model trains on, shared by the
training page (its preview and its run) and the command line, so the same file and seed give the
same rows everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bertviz_core.data.columns import guess_columns
from bertviz_core.data.guards import refuse_too_much_text
from bertviz_core.data.limits import MAX_CLASSES, MAX_ROWS, MIN_ROWS_PER_CLASS
from bertviz_core.data.table import Table
from bertviz_core.errors import DataError
from bertviz_core.text import plural, short


@dataclass(frozen=True)
class Dataset:
    """Texts and labels ready for tokenizing and training."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    class_names: tuple[str, ...]
    label_ids: np.ndarray
    notes: tuple[str, ...]


@dataclass(frozen=True)
class TrainingRows:
    """The rows a model trains on, and the two columns they came from."""

    dataset: Dataset
    text_column: str
    label_column: str


def training_rows(
    table: Table,
    text_column: str | None = None,
    label_column: str | None = None,
    *,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> TrainingRows:
    """The one path from a table to training rows (page preview, training run and command line).

    A column not given is guessed, and a column the user named is never guessed for the other
    role; a table over ``max_rows`` is sampled, stratified, with ``seed`` (the training seed).
    """
    if max_rows < 1:
        raise DataError(f"The row limit must be at least 1, not {max_rows}.")
    if text_column is None or label_column is None:
        guessed_text, guessed_label = guess_columns(table.frame)
        text_column = text_column or (guessed_text if guessed_text != label_column else guessed_label)
        label_column = label_column or (guessed_label if guessed_label != text_column else guessed_text)
    dataset = prepare_dataset(table.frame, text_column, label_column, max_rows=max_rows, seed=seed)
    return TrainingRows(dataset=dataset, text_column=text_column, label_column=label_column)


def prepare_dataset(
    frame: pd.DataFrame,
    text_column: str,
    label_column: str,
    *,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> Dataset:
    """Texts and labels from two columns; rows without either are dropped, large tables sampled.

    Class names are sorted as strings, or as numbers when every label is a number ("2" before "10").
    """
    for column, role in ((text_column, "text"), (label_column, "label")):
        if column not in frame.columns:
            raise DataError(
                f"There is no column named '{short(column)}' for the {role}: "
                "choose one of the table's columns."
            )
    if text_column == label_column:
        raise DataError("The text column and the label column are the same: choose two different columns.")

    texts = _column_as_text(frame, text_column)
    labels = _column_as_text(frame, label_column)
    keep = (texts != "") & (labels != "")
    notes: list[str] = []
    dropped = int((~keep).sum())
    if dropped:
        notes.append(f"Dropped {plural(dropped, 'row')} without text or label.")
    texts, labels = texts[keep], labels[keep]
    if len(texts) == 0:
        raise DataError(
            f"No row has both a text in '{short(text_column)}' and a label in "
            f"'{short(label_column)}': choose other columns."
        )

    counts = labels.value_counts()
    if len(counts) < 2:
        raise DataError(
            f"The label column '{short(label_column)}' has only one class ('{short(counts.index[0])}'): "
            "a classifier needs at least two, so choose another label column or add rows of another class."
        )
    if len(counts) == len(labels):
        raise DataError(
            f"Every row has a different value in '{short(label_column)}', so it looks like an id, not a "
            "label: choose a column with a few repeated classes."
        )
    if len(counts) > MAX_CLASSES:
        raise DataError(
            f"The label column '{short(label_column)}' has {len(counts):,} different values, more than "
            f"{MAX_CLASSES} classes: choose a column with fewer classes."
        )
    rare = counts[counts < MIN_ROWS_PER_CLASS]
    if len(rare):
        names = [f"'{short(name)}'" for name in sorted(rare.index)]
        listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        verb = "has" if len(names) == 1 else "have"
        raise DataError(
            f"Class {listed} {verb} fewer than {MIN_ROWS_PER_CLASS} rows: each class needs at least "
            f"{MIN_ROWS_PER_CLASS} to be split into training and validation, so add rows or remove "
            f"{'that class' if len(names) == 1 else 'those classes'}."
        )

    if len(labels) > max_rows:
        if max_rows < MIN_ROWS_PER_CLASS * len(counts):
            raise DataError(
                f"A sample of {plural(max_rows, 'row')} cannot hold {MIN_ROWS_PER_CLASS} "
                f"rows of each of {len(counts)} classes: allow more rows."
            )
        chosen = _stratified_sample(labels.to_numpy(dtype=object), max_rows, seed)
        notes.append(f"Sampled {max_rows:,} of {len(labels):,} rows (stratified).")
        texts, labels = texts.iloc[chosen], labels.iloc[chosen]

    text_values = tuple(texts.tolist())
    # Counted once the rows are final (cleaned and sampled), and before anything tokenises them.
    refuse_too_much_text(text_values, text_column)
    label_values = tuple(labels.tolist())
    class_names = tuple(sorted(set(label_values), key=_class_sort_key(label_values)))
    index_of = {name: index for index, name in enumerate(class_names)}
    label_ids = np.fromiter(
        (index_of[label] for label in label_values), dtype=np.int64, count=len(label_values)
    )
    return Dataset(
        texts=text_values,
        labels=label_values,
        class_names=class_names,
        label_ids=label_ids,
        notes=tuple(notes),
    )


def _column_as_text(frame: pd.DataFrame, column: str) -> pd.Series:
    series = frame[column]
    if isinstance(series, pd.DataFrame):  # repeated column names: take the first
        series = series.iloc[:, 0]
    filled = series.notna()
    return series.astype(str).where(filled, "").str.strip().astype(object).reset_index(drop=True)


def _class_sort_key(labels: tuple[str, ...]):
    distinct = set(labels)
    try:
        numbers = {label: float(label) for label in distinct}
    except ValueError:
        return str
    if any(np.isnan(value) for value in numbers.values()):
        return str
    return lambda label: (numbers[label], label)


def _stratified_sample(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted positions of ``size`` rows, each class in proportion and with at least 2 rows."""
    rng = np.random.default_rng(seed)
    classes, inverse, counts = np.unique(labels.astype(str), return_inverse=True, return_counts=True)
    quotas = _proportional_quotas(counts, size, minimum=MIN_ROWS_PER_CLASS)
    chosen = []
    for class_index, quota in enumerate(quotas):
        members = np.flatnonzero(inverse == class_index)
        chosen.append(rng.choice(members, size=int(quota), replace=False))
    return np.sort(np.concatenate(chosen))


def _proportional_quotas(counts: np.ndarray, total: int, minimum: int) -> np.ndarray:
    """Integer quotas summing to ``total``, as close to proportional to ``counts`` as whole rows allow,
    each at least ``minimum`` (or the whole class when it is smaller) and at most its count."""
    counts = counts.astype(np.int64)
    ideal = counts * (total / counts.sum())
    floor = np.minimum(counts, minimum)
    quotas = np.clip(np.floor(ideal).astype(np.int64), floor, counts)
    while quotas.sum() < total:
        shortfall = np.where(quotas < counts, ideal - quotas, -np.inf)
        quotas[int(np.argmax(shortfall))] += 1
    while quotas.sum() > total:
        excess = np.where(quotas > floor, quotas - ideal, -np.inf)
        quotas[int(np.argmax(excess))] -= 1
    return quotas


def stratified_split(label_ids: np.ndarray, val_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_indices, val_indices), sorted; every class in both; the same for the same seed."""
    label_ids = np.asarray(label_ids)
    if not 0.0 < float(val_share) < 1.0:
        raise DataError(
            f"The validation share must be between 0 and 1 (got {val_share}): pick for example 0.2."
        )
    if label_ids.size == 0:
        raise DataError("There are no rows to split: load a data set first.")
    classes, inverse, counts = np.unique(label_ids, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise DataError("All rows have the same class: a classifier needs at least two classes.")
    too_small = classes[counts < MIN_ROWS_PER_CLASS]
    if too_small.size:
        raise DataError(
            f"Class {too_small[0]} has fewer than {MIN_ROWS_PER_CLASS} rows, so it cannot appear in both "
            "training and validation: add rows or remove that class."
        )
    rng = np.random.default_rng(seed)
    train_parts, val_parts = [], []
    for class_index, count in enumerate(counts):
        members = rng.permutation(np.flatnonzero(inverse == class_index))
        val_count = int(np.clip(round(count * val_share), 1, count - 1))
        val_parts.append(members[:val_count])
        train_parts.append(members[val_count:])
    train = np.sort(np.concatenate(train_parts)).astype(np.int64)
    val = np.sort(np.concatenate(val_parts)).astype(np.int64)
    return train, val


def split_sizes(label_ids: np.ndarray, val_share: float, seed: int) -> tuple[int, int]:
    """How many training and validation rows ``stratified_split`` gives (raises ``DataError`` as it does)."""
    train, validation = stratified_split(label_ids, val_share, seed)
    return len(train), len(validation)
