"""The premise measurement (``python -m benchmarks.premise``): its corpus writer and its table, without
training (the runs themselves take an hour; docs/transfer.md holds their figures)."""

from __future__ import annotations

import csv

import pytest

from benchmarks import premise


def test_fortunes_become_one_row_per_fortune_of_its_file(tmp_path):
    (tmp_path / "science").write_text("E = mc^2.\n%\nA long one\nover two lines.\n%\n" + "x" * 700 + "\n%\n")
    (tmp_path / "food").write_text("Eat your greens.\n%\n")
    out = tmp_path / "corpus.csv"
    assert premise.write_fortunes(tmp_path, out, ("science", "food")) == 3
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["text", "label"], ["E = mc^2.", "science"], ["A long one\nover two lines.", "science"],
                    ["Eat your greens.", "food"]]  # fmt: skip


def _result(name, accuracy, history, tfidf=(0.7, 0.65), encoding=None):
    report = {"val_accuracy": accuracy, "macro_f1": accuracy - 0.05, "history": history, "best_epoch": 1,
              "tfidf_baseline": tfidf[0], "tfidf_macro_f1": tfidf[1]}  # fmt: skip
    if encoding is not None:
        report["encoding_seconds"] = encoding
    return {"run": {"name": name, "notes": ""}, "report": report, "peak_mb": 1234.0}


def test_the_table_sets_every_run_beside_the_baseline_they_share():
    results = [
        _result("scratch", 0.68, [{"seconds": 9.0}, {"seconds": 3.0}, {"seconds": 5.0}]),
        _result("head", 0.8, [{"seconds": 0.5}, {"seconds": 0.1}], encoding=61.0),
    ]
    table = premise.markdown([premise.row_of(result) for result in results], premise.tfidf_row(results))
    lines = table.splitlines()
    assert lines[2].startswith("| TF-IDF + logistic regression | 0.700 | 0.650 |")
    assert "| scratch | 0.680 | 0.630 | -2.0 pt | 4.0 | 1,234 | 1 of 3 |" in table  # warm epochs' median
    assert "| head | 0.800 | 0.750 | +10.0 pt | 0.1 (+ 61 s reading) |" in table


def test_runs_on_different_splits_are_refused():
    results = [
        _result("a", 0.7, [{"seconds": 1.0}]),
        _result("b", 0.7, [{"seconds": 1.0}], tfidf=(0.71, 0.6)),
    ]
    with pytest.raises(RuntimeError, match="splits differ"):
        premise.tfidf_row(results)
