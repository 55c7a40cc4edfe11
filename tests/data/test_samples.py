"""The shipped sample data sets: listed, licensed and learnable. That their generator rebuilds them
byte for byte is tested beside it, in tests/benchmarks/test_make_samples.py."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bertviz_core.data.columns import guess_columns
from bertviz_core.data.rows import prepare_dataset, stratified_split
from bertviz_core.data.samples import list_samples, load_sample
from bertviz_core.errors import DataError
from tests.helpers import refusal as _any_refusal

REPO = Path(__file__).resolve().parents[2]


def _refusal(call, *args, **kwargs) -> str:
    return _any_refusal(DataError, call, *args, **kwargs)


# ---------------------------------------------------------------------------------------------
# Samples


def test_samples_are_listed_and_load_with_correct_guesses() -> None:
    samples = list_samples()
    assert len(samples) >= 2
    assert {len(sample.classes) for sample in samples} >= {2} and max(len(s.classes) for s in samples) >= 3
    for sample in samples:
        table = load_sample(sample.name)
        assert guess_columns(table.frame) == (sample.text_column, sample.label_column) == ("text", "label")
        assert 300 <= sample.rows <= 2000
        assert sample.title and sample.description
        dataset = prepare_dataset(table.frame, sample.text_column, sample.label_column)
        assert dataset.class_names == sample.classes
        assert min(Counter(dataset.labels).values()) >= 0.15 * len(dataset.labels)
        assert table.encoding == "utf-8" and table.delimiter == "," and table.notes == ()


def test_sample_files_are_small_and_licensed() -> None:
    samples_dir = REPO / "bertviz_core" / "data" / "samples"
    for sample in list_samples():
        assert (samples_dir / f"{sample.name}.csv").stat().st_size < 300 * 1024
    assert "CC0 1.0" in (samples_dir / "README.md").read_text()


def test_load_sample_returns_a_fresh_copy() -> None:
    name = list_samples()[0].name
    first = load_sample(name)
    first.frame.loc[0, "text"] = "changed"
    assert load_sample(name).frame.loc[0, "text"] != "changed"


def test_unknown_sample_is_refused() -> None:
    assert "reviews" in _refusal(load_sample, "nope")


def _bag_of_words_accuracy(name: str) -> tuple[float, float]:
    """Naive Bayes on word identity with the project's own split: (accuracy, majority share)."""
    table = load_sample(name)
    dataset = prepare_dataset(table.frame, "text", "label")
    train, val = stratified_split(dataset.label_ids, 0.2, seed=0)
    tokens = [set(re.findall(r"[a-z']+", text.lower())) for text in dataset.texts]
    vocabulary = sorted(set().union(*(tokens[i] for i in train)))
    column = {word: index for index, word in enumerate(vocabulary)}
    class_count = len(dataset.class_names)
    counts = np.ones((class_count, len(vocabulary)))
    for i in train:
        for word in tokens[i]:
            counts[dataset.label_ids[i], column[word]] += 1
    log_likelihood = np.log(counts / counts.sum(axis=1, keepdims=True))
    prior = np.log(np.bincount(dataset.label_ids[train], minlength=class_count))
    correct = 0
    for i in val:
        score = prior + sum(log_likelihood[:, column[word]] for word in tokens[i] if word in column)
        correct += int(np.argmax(score) == dataset.label_ids[i])
    majority = np.bincount(dataset.label_ids[val]).max() / len(val)
    return correct / len(val), majority


@pytest.mark.parametrize("name", ["reviews", "headlines"])
def test_samples_are_learnable_from_words_but_not_trivial(name: str) -> None:
    accuracy, majority = _bag_of_words_accuracy(name)
    assert accuracy > majority + 0.3
    assert accuracy < 0.99
