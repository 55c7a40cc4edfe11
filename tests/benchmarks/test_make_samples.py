"""The sample generator (``python -m benchmarks.make_samples``) against the samples the app ships."""

from __future__ import annotations

from benchmarks import make_samples
from bertviz_core.data.samples import SAMPLES_DIR


def test_committed_samples_match_the_generator() -> None:
    for name, make, count, seed in (
        ("reviews", make_samples._review, make_samples.REVIEW_ROWS, make_samples.SEED),
        ("headlines", make_samples._headline, make_samples.HEADLINE_ROWS, make_samples.SEED + 1),
    ):
        generated = make_samples._to_csv(make_samples._unique_rows(make, count, seed))
        assert generated == (SAMPLES_DIR / f"{name}.csv").read_bytes(), name
