"""From a table to training rows: column guessing, cleaning, labels, sampling and splitting."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from bertviz_core.data.columns import guess_columns
from bertviz_core.data.rows import prepare_dataset, stratified_split
from bertviz_core.data.table import read_csv_bytes
from bertviz_core.errors import DataError
from tests.helpers import refusal as _any_refusal


def _refusal(call, *args, **kwargs) -> str:
    return _any_refusal(DataError, call, *args, **kwargs)


# ---------------------------------------------------------------------------------------------
# Column guessing


def test_guess_picks_longest_free_text_and_few_valued_label() -> None:
    frame = pd.DataFrame(
        {
            "id": [f"a{index:04d}" for index in range(40)],
            "title": [f"Title {index}" for index in range(40)],
            "body": [f"A longer review number {index} with several more words in it" for index in range(40)],
            "stars": [str(index % 5 + 1) for index in range(40)],
            "sentiment": ["pos", "neg"] * 20,
        }
    )
    assert guess_columns(frame) == ("body", "sentiment")


def test_guess_accepts_numeric_labels_and_keeps_their_written_form() -> None:
    table = read_csv_bytes(b"review,target\nfine film,1\nbad film,0\ngood one,1\nawful one,0\n")
    text_column, label_column = guess_columns(table.frame)
    assert (text_column, label_column) == ("review", "target")
    dataset = prepare_dataset(table.frame, text_column, label_column)
    assert dataset.labels == ("1", "0", "1", "0")
    assert dataset.class_names == ("0", "1")


def test_guess_prefers_rightmost_label_without_a_telling_name() -> None:
    frame = pd.DataFrame(
        {
            "source": ["web", "app"] * 10,
            "text": [f"words number {index} here" for index in range(20)],
            "kind": ["a", "b", "c", "d"] * 5,
        }
    )
    assert guess_columns(frame) == ("text", "kind")


def test_guess_without_label_candidate_lets_prepare_explain() -> None:
    frame = pd.DataFrame({"text": [f"some words {index}" for index in range(10)], "uid": list("abcdefghij")})
    text_column, label_column = guess_columns(frame)
    assert (text_column, label_column) == ("text", "uid")
    assert "looks like an id" in _refusal(prepare_dataset, frame, text_column, label_column)


# ---------------------------------------------------------------------------------------------
# Preparing and sampling


def test_prepare_strips_drops_and_maps_labels() -> None:
    frame = pd.DataFrame(
        {
            "text": [" good ", "bad", "", "fine", "poor", None, "nice"],
            "label": ["pos ", "neg", "pos", "", "neg", "pos", " pos"],
        }
    )
    dataset = prepare_dataset(frame, "text", "label")
    assert dataset.texts == ("good", "bad", "poor", "nice")
    assert dataset.labels == ("pos", "neg", "neg", "pos")
    assert dataset.class_names == ("neg", "pos")
    assert dataset.label_ids.dtype == np.int64
    assert dataset.label_ids.tolist() == [1, 0, 0, 1]
    assert dataset.notes == ("Dropped 3 rows without text or label.",)


def test_numeric_class_names_sort_by_value() -> None:
    frame = pd.DataFrame({"text": list("abcdefgh"), "label": ["10", "2", "1", "10", "2", "1", "10", "1"]})
    dataset = prepare_dataset(frame, "text", "label")
    assert dataset.class_names == ("1", "2", "10")
    assert [dataset.class_names[i] for i in dataset.label_ids] == list(dataset.labels)


def test_large_table_is_sampled_stratified_and_deterministic() -> None:
    labels = ["a"] * 700 + ["b"] * 250 + ["c"] * 48 + ["d"] * 2
    frame = pd.DataFrame({"text": [f"text {index}" for index in range(1000)], "label": labels})
    dataset = prepare_dataset(frame, "text", "label", max_rows=100, seed=3)
    assert len(dataset.texts) == 100
    counts = Counter(dataset.labels)
    assert counts["a"] in range(68, 72) and counts["b"] in range(23, 27) and counts["d"] == 2
    assert dataset.notes == ("Sampled 100 of 1,000 rows (stratified).",)
    again = prepare_dataset(frame, "text", "label", max_rows=100, seed=3)
    assert again.texts == dataset.texts
    other = prepare_dataset(frame, "text", "label", max_rows=100, seed=4)
    assert other.texts != dataset.texts
    # The sample keeps rows whole: each text still has its own label.
    positions = [int(text.split()[1]) for text in dataset.texts]
    assert [labels[position] for position in positions] == list(dataset.labels)


def test_small_table_is_not_sampled() -> None:
    frame = pd.DataFrame({"text": ["a", "b", "c", "d"], "label": ["x", "y", "x", "y"]})
    dataset = prepare_dataset(frame, "text", "label")
    assert dataset.texts == ("a", "b", "c", "d") and dataset.notes == ()


# ---------------------------------------------------------------------------------------------
# Stratified split


def test_split_has_every_class_on_both_sides() -> None:
    label_ids = np.array([0] * 50 + [1] * 30 + [2] * 2)
    train, val = stratified_split(label_ids, 0.2, seed=0)
    assert np.intersect1d(train, val).size == 0
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(82))
    for class_id in range(3):
        assert class_id in label_ids[train] and class_id in label_ids[val]
    assert np.sum(label_ids[val] == 0) == 10 and np.sum(label_ids[val] == 1) == 6
    assert train.dtype == np.int64 and np.all(np.diff(train) > 0)


def test_split_is_deterministic_per_seed() -> None:
    label_ids = np.arange(200) % 4
    first = stratified_split(label_ids, 0.25, seed=7)
    second = stratified_split(label_ids, 0.25, seed=7)
    other = stratified_split(label_ids, 0.25, seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize(
    "label_ids, val_share, expected",
    [
        (np.array([0, 0, 1]), 0.2, "Class 1"),
        (np.array([0, 0, 0]), 0.2, "two classes"),
        (np.array([], dtype=np.int64), 0.2, "no rows"),
        (np.array([0, 0, 1, 1]), 0.0, "between 0 and 1"),
        (np.array([0, 0, 1, 1]), 1.0, "between 0 and 1"),
    ],
)
def test_impossible_splits_are_refused(label_ids: np.ndarray, val_share: float, expected: str) -> None:
    assert expected in _refusal(stratified_split, label_ids, val_share, 0)
