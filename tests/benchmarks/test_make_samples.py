"""The sample generator (``python -m benchmarks.make_samples``) against the samples the app ships."""

from __future__ import annotations

import re

from benchmarks import make_samples
from bertviz_core.data.samples import SAMPLES_DIR


def test_committed_samples_match_the_generator() -> None:
    for name, make, count, seed in (
        ("reviews", make_samples._review, make_samples.REVIEW_ROWS, make_samples.SEED),
        ("headlines", make_samples._headline, make_samples.HEADLINE_ROWS, make_samples.SEED + 1),
    ):
        generated = make_samples._to_csv(make_samples._unique_rows(make, count, seed))
        assert generated == (SAMPLES_DIR / f"{name}.csv").read_bytes(), name


def test_every_review_describes_a_thing_with_words_that_fit_it() -> None:
    """A thing's own adjectives only ever describe a thing of their kind ("a fluffy monitor" and "the
    price is snug" were in the sample a room read), and no "I" is lowered mid-sentence."""
    rows = make_samples._unique_rows(make_samples._review, make_samples.REVIEW_ROWS, make_samples.SEED)
    kinds_of = {}  # a thing's adjective -> the kinds of thing it may describe
    for lists in (make_samples.THING_GOOD, make_samples.THING_BAD):
        for kind, words in lists.items():
            for word in words:
                kinds_of.setdefault(word, set()).add(kind)
    shared = set(make_samples.GOOD) | set(make_samples.BAD)
    checked = 0
    for text, _ in rows:
        lowered = f" {text.lower().rstrip('.!')} "
        assert " i " not in f" {text} ", text
        for word, kinds in kinds_of.items():
            if word in shared or not re.search(rf"\b{re.escape(word)}\b", lowered):
                continue
            things = [
                kind
                for kind, names in make_samples.THINGS.items()
                for name in names
                if re.search(rf"\b{re.escape(name)}\b", lowered)
            ]
            if things:  # a sentence about an aspect only ("Not as tasty as I hoped") names no thing
                checked += 1
                assert kinds & set(things), (text, word, things)
    assert checked > 300, checked
