"""``python -m bertviz_core ladder`` as a user runs it: sizes trained in the pool's workers, each
converted to TensorFlow Lite, and the ``--json`` object the issue asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bertviz_core.ladder import RUN_KEYS
from bertviz_core.model.bundle import QUANTIZED_FILES
from tests.cli.test_cli_train import run_cli, write_reviews_csv

pytestmark = pytest.mark.slow

LADDER_ARGS = ["--vocab", "200", "--seq-len", "16", "--epochs", "2", "--batch-size", "16"]


def test_the_ladder_trains_sizes_and_prints_the_json_contract(tmp_path: Path, repo_root: Path):
    data = write_reviews_csv(tmp_path / "reviews.csv")
    out = tmp_path / "ladder"
    # Exactly the two smallest sizes, whatever the machine's load makes of the budget's prediction.
    done = run_cli("ladder", str(data), "--out", str(out), "--budget-minutes", "10", "--sizes", "2", *LADDER_ARGS,
                   "--json", cwd=repo_root)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "you asked for the 2 smallest" in done.stderr
    report = json.loads(done.stdout)
    assert report == json.loads((out / "ladder.json").read_text())
    runs = report["runs"]
    assert len(runs) == len(report["plan"]) == 2 and report["failed"] == []
    assert [run["params"] for run in runs] == sorted(run["params"] for run in runs)
    assert report["pareto"] and set(report["pareto"]) <= set(range(len(runs))) and 0 in report["pareto"]
    assert 0.5 <= report["majority_baseline"]["val_accuracy"] <= 0.55
    assert 0 <= report["tfidf_baseline"]["val_accuracy"] <= 1
    for run, planned in zip(runs, report["plan"], strict=True):
        assert set(RUN_KEYS) <= set(run)
        assert run["params"] == planned["params"]  # keras-bert's count_params() equals the arithmetic's
        metrics = json.loads((Path(run["folder"]) / "metrics.json").read_text())
        assert run["params"] == metrics["parameters"] and run["val_accuracy"] == metrics["val_accuracy"]
        for precision, name in QUANTIZED_FILES.items():
            assert run[f"{precision}_bytes"] == (Path(run["folder"]) / name).stat().st_size
        assert run["int8_bytes"] < run["fp16_bytes"] < run["model_bytes"]
        assert run["predict_ms_per_text"] > 0 and 0 <= run["int8_val_accuracy"] <= 1
    # Every size is a classifier 'predict' takes, its int8 file too.
    predicted = run_cli(
        "predict", runs[0]["folder"], "--quantized", "int8", "a great film", "--json", cwd=repo_root
    )
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["predictions"][0]["label"] in {"positive", "negative"}


def test_a_budget_too_small_for_two_sizes_is_refused_in_one_sentence(tmp_path: Path, repo_root: Path):
    data = write_reviews_csv(tmp_path / "reviews.csv")
    done = run_cli("ladder", str(data), "--out", str(tmp_path / "out"), "--budget-minutes", "0.05", *LADDER_ARGS,
                   cwd=repo_root)  # fmt: skip
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: A budget of") and "too small for two sizes" in last
    assert not (tmp_path / "out").exists()
