"""``python -m bertviz_core train`` and ``predict`` as a user runs them: in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

TINY_ARGS = ["--vocab", "200", "--seq-len", "16", "--embed-dim", "16", "--heads", "2", "--layers", "1",
             "--ff-dim", "32", "--epochs", "6", "--batch-size", "8", "--learning-rate", "0.005"]  # fmt: skip


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bertviz_core", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def write_reviews_csv(path: Path, rows: int = 160) -> Path:
    rng = np.random.default_rng(0)
    filler = ["the", "a", "of", "film", "this", "and", "it", "was", "is", "very", "really", "quite"]
    cue = {
        "negative": ["bad", "awful", "hate", "terrible", "boring"],
        "positive": ["good", "great", "love", "excellent"],
    }
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "review", "sentiment"])
        for i in range(rows):
            label = "negative" if i % 2 else "positive"
            tokens = [*rng.choice(filler, 5), rng.choice(cue[label])]
            rng.shuffle(tokens)
            writer.writerow([i, " ".join(tokens), label])
    return path


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory, repo_root) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("cli")
    csv_path = write_reviews_csv(folder / "reviews.csv")
    out = folder / "model"
    finished = run_cli("train", str(csv_path), "--out", str(out), *TINY_ARGS, "--json", cwd=repo_root)
    assert finished.returncode == 0, finished.stderr[-2000:]
    return out, json.loads(finished.stdout)


def test_train_json_contract(trained_dir):
    out, report = trained_dir
    for key in ("classes", "val_accuracy", "macro_f1", "majority_baseline", "confusion_matrix", "history",
                "per_class", "config", "settings", "out"):  # fmt: skip
        assert key in report, key
    assert report["classes"] == ["negative", "positive"]
    assert report["columns"] == {"text": "review", "label": "sentiment"}  # guessed
    assert report["val_accuracy"] > report["majority_baseline"]
    for key in ("tfidf_baseline", "tfidf_macro_f1"):  # a bag of words on the same split
        assert isinstance(report[key], float) and 0.0 <= report[key] <= 1.0, (key, report[key])
    assert report["tfidf_baseline"] > report["majority_baseline"]  # one cue word per text is easy for it
    assert len(report["confusion_matrix"]) == 2 and all(len(row) == 2 for row in report["confusion_matrix"])
    for record in report["history"]:
        assert {"loss", "val_loss", "accuracy", "val_accuracy", "seconds", "samples_per_second"} <= set(
            record
        )
    assert report["config"]["pos_num"] == report["config"]["seq_len"] == 16
    assert report["settings"]["learning_rate"] == 0.005
    assert "token_lengths" not in report["tokens"]
    assert Path(report["out"]) == out
    assert sorted(path.name for path in out.iterdir()) == sorted(
        ["model.h5", "vocab.txt", "labels.json", "config.json", "metrics.json", "validation.json"]
    )


def test_train_without_json_prints_progress_and_a_summary(tmp_path, repo_root):
    csv_path = write_reviews_csv(tmp_path / "reviews.csv", rows=40)
    csv_path.write_text(csv_path.read_text().replace(",", ";"))  # the file's own notes are printed too
    args = [*TINY_ARGS[:-6], "--epochs", "2", "--batch-size", "8"]
    finished = run_cli("train", str(csv_path), "--out", str(tmp_path / "m"), *args, cwd=repo_root)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "epoch 1/2" in finished.stderr and "samples/s" in finished.stderr
    assert "Columns are separated by semicolons." in finished.stderr
    assert "Validation accuracy" in finished.stdout and "Confusion matrix" in finished.stdout
    assert "Model vs TF-IDF + logistic regression on the same texts: accuracy" in finished.stdout
    assert "Traceback" not in finished.stderr


def test_predict_folder_and_zip(trained_dir, tmp_path, repo_root):
    out, _ = trained_dir
    texts = ["a really great film", "boring and awful"]
    finished = run_cli("predict", str(out), *texts, "--json", cwd=repo_root)
    assert finished.returncode == 0, finished.stderr[-2000:]
    result = json.loads(finished.stdout)
    assert result["classes"] == ["negative", "positive"]
    assert [row["label"] for row in result["predictions"]] == ["positive", "negative"]
    for row in result["predictions"]:
        assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in out.iterdir():
            archive.write(path, arcname=path.name)
    (tmp_path / "model.zip").write_bytes(buffer.getvalue())
    plain = run_cli("predict", str(tmp_path / "model.zip"), *texts, cwd=repo_root)
    assert plain.returncode == 0, plain.stderr[-2000:]
    lines = plain.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["positive", "negative"]


def _assert_one_sentence_error(finished: subprocess.CompletedProcess, fragment: str) -> None:
    assert finished.returncode == 2, (finished.returncode, finished.stderr[-2000:])
    assert "Traceback" not in finished.stderr
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and fragment in lines[0]
    assert finished.stdout == ""


@pytest.mark.parametrize(
    ("make_args", "fragment"),
    [
        (lambda d: ["train", str(d / "missing.csv"), "--out", str(d / "m")], "no file"),
        (lambda d: ["train", str(d / "binary.csv"), "--out", str(d / "m")], "binary.csv"),
        (lambda d: ["train", str(d / "ok.csv"), "--out", str(d / "m"), "--label-column", "nope"], "nope"),
        (lambda d: ["train", str(d / "ok.csv"), "--out", str(d / "m"), "--heads", "3"], "heads"),
        (
            lambda d: ["train", str(d / "ok.csv"), "--out", str(d / "m"), "--learning-rate", "0"],
            "learning rate",
        ),
        (
            lambda d: [
                "train",
                str(d / "ok.csv"),
                "--out",
                str(d / "m"),
                "--embed-dim",
                "1024",
                "--layers",
                "24",
                "--ff-dim",
                "4096",
                "--heads",
                "16",
                "--seq-len",
                "512",
            ],
            "MB",
        ),  # fmt: skip
        (lambda d: ["predict", str(d / "nowhere"), "hello"], "does not exist"),
        (lambda d: ["predict", str(d / "evil.zip"), "hello"], "not part of a saved classifier"),
    ],
)
def test_bad_input_exits_2_with_one_sentence(make_args, fragment, tmp_path, repo_root):
    write_reviews_csv(tmp_path / "ok.csv", rows=20)
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 40)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/cron.d/evil", "* * * * * root true")
    (tmp_path / "evil.zip").write_bytes(buffer.getvalue())
    _assert_one_sentence_error(run_cli(*make_args(tmp_path), cwd=repo_root), fragment)


def test_explain_json_contract(trained_dir, repo_root):
    out, _ = trained_dir
    finished = run_cli("explain", str(out), "this film was great", "--json", cwd=repo_root)
    assert finished.returncode == 0, finished.stderr[-2000:]
    result = json.loads(finished.stdout)
    tokens = result["tokens"]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "[PAD]" not in tokens and len(tokens) == 6
    n = len(tokens)
    attention = np.asarray(result["attention"])
    assert attention.shape == (1, 2, n, n)  # TINY_ARGS: one layer, two heads
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-4)
    assert len(result["attributions"]) == n
    assert set(result["probabilities"]) == {"negative", "positive"}
    # label and probabilities are what predict gives for the same text.
    predicted = json.loads(
        run_cli("predict", str(out), "this film was great", "--json", cwd=repo_root).stdout
    )
    assert result["label"] == predicted["predictions"][0]["label"]
    for name, p in predicted["predictions"][0]["probabilities"].items():
        assert result["probabilities"][name] == pytest.approx(p, abs=1e-5)


def test_explain_prints_tokens_and_attention_for_people(trained_dir, repo_root):
    out, _ = trained_dir
    finished = run_cli("explain", str(out), "awful and boring", cwd=repo_root)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "[CLS]" in finished.stdout and "Encoder-1:" in finished.stdout and "add up to" in finished.stdout


@pytest.mark.parametrize(
    ("make_args", "fragment"),
    [
        (lambda d, out: ["explain", str(d / "nowhere"), "hello"], "does not exist"),
        (lambda d, out: ["explain", str(out), "   "], "empty"),
    ],
)
def test_explain_bad_input_exits_2_with_one_sentence(trained_dir, make_args, fragment, tmp_path, repo_root):
    out, _ = trained_dir
    _assert_one_sentence_error(run_cli(*make_args(tmp_path, out), cwd=repo_root), fragment)
