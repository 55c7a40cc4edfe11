"""``train --checkpoint``: fine-tuning a BERT checkpoint in Google's layout from a terminal."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from bertviz_core.arithmetic.config import ModelConfig
from tests.cli.test_cli_train import _assert_one_sentence_error, run_cli, write_reviews_csv
from tests.model.checkpoints import write_google_checkpoint, zipped

pytestmark = pytest.mark.slow

SMALL = ModelConfig(vocab=64, seq_len=64, pos_num=64, embed_dim=16, heads=2, layers=1, ff_dim=32)
FAST = ["--epochs", "2", "--batch-size", "16", "--learning-rate", "0.001"]


@pytest.fixture(scope="module")
def checkpoint_zip(tmp_path_factory):
    folder = write_google_checkpoint(tmp_path_factory.mktemp("google") / "uncased_L-1_H-16_A-2", SMALL)
    path = folder.parent / "uncased_L-1_H-16_A-2.zip"
    path.write_bytes(zipped(folder))
    return path


def test_train_from_a_checkpoint_zip_then_predict(checkpoint_zip, tmp_path, repo_root):
    csv_path = write_reviews_csv(tmp_path / "reviews.csv")
    out = tmp_path / "model"
    finished = run_cli("train", str(csv_path), "--out", str(out), "--checkpoint", str(checkpoint_zip),
                       "--seq-len", "16", *FAST, "--json", cwd=repo_root)  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-2000:]
    report = json.loads(finished.stdout)
    assert report["start"] == {"from": "checkpoint", "name": "uncased_L-1_H-16_A-2", "gelu": "tanh"}
    assert report["config"] == {**SMALL.to_dict(), "seq_len": 16, "pos_num": 16, "encoder_only": True}
    # The saved vocabulary is the checkpoint's own.
    with zipfile.ZipFile(checkpoint_zip) as archive:
        assert (out / "vocab.txt").read_text() == archive.read("uncased_L-1_H-16_A-2/vocab.txt").decode()
    predicted = run_cli("predict", str(out), "a great film", "--json", cwd=repo_root)
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert json.loads(predicted.stdout)["predictions"][0]["label"] in {"negative", "positive"}


def test_train_the_head_only_from_a_checkpoint(checkpoint_zip, tmp_path, repo_root):
    csv_path = write_reviews_csv(tmp_path / "reviews.csv")
    finished = run_cli("train", str(csv_path), "--out", str(tmp_path / "model"), "--checkpoint", str(checkpoint_zip),
                       "--encoder", "frozen", "--seq-len", "16", *FAST, "--json", cwd=repo_root)  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-2000:]
    report = json.loads(finished.stdout)
    assert report["settings"]["encoder"] == "frozen" and report["trained_parameters"] == 16 * 2 + 2
    assert report["encoding_seconds"] > 0 and len(report["history"]) == 2
    assert json.loads((tmp_path / "model" / "config.json").read_text())["training"]["encoder"] == "frozen"


def test_the_head_only_without_a_checkpoint_exits_2(tmp_path, repo_root):
    csv_path = write_reviews_csv(tmp_path / "reviews.csv", rows=20)
    finished = run_cli(
        "train", str(csv_path), "--out", str(tmp_path / "m"), "--encoder", "frozen", cwd=repo_root
    )
    _assert_one_sentence_error(finished, "--encoder frozen trains the head on a pretrained encoder")


def _bad_zip(path, entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize(
    ("make_args", "fragment"),
    [
        (
            lambda d, z: ["--checkpoint", str(z), "--embed-dim", "32"],
            "--embed-dim cannot be given with --checkpoint",
        ),
        (lambda d, z: ["--checkpoint", str(z), "--seq-len", "128"], "at most 64"),
        (lambda d, z: ["--checkpoint", str(d / "nowhere.zip")], "does not exist"),
        (
            lambda d, z: ["--checkpoint", str(_bad_zip(d / "evil.zip", {"../../x": b"1"}))],
            "outside a checkpoint",
        ),
        (
            lambda d, z: ["--checkpoint", str(_bad_zip(d / "half.zip", {"vocab.txt": b"[PAD]\n"}))],
            "no bert_config.json",
        ),
    ],
)
def test_bad_checkpoints_exit_2_with_one_sentence(checkpoint_zip, make_args, fragment, tmp_path, repo_root):
    csv_path = write_reviews_csv(tmp_path / "reviews.csv", rows=20)
    finished = run_cli("train", str(csv_path), "--out", str(tmp_path / "m"),
                       *make_args(tmp_path, checkpoint_zip), cwd=repo_root)  # fmt: skip
    _assert_one_sentence_error(finished, fragment)


def test_a_truncated_weights_file_exits_2(checkpoint_zip, tmp_path, repo_root):
    with zipfile.ZipFile(checkpoint_zip) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    data = "uncased_L-1_H-16_A-2/bert_model.ckpt.data-00000-of-00001"
    entries[data] = entries[data][: len(entries[data]) // 3]
    csv_path = write_reviews_csv(tmp_path / "reviews.csv", rows=40)
    finished = run_cli("train", str(csv_path), "--out", str(tmp_path / "m"), "--checkpoint",
                       str(_bad_zip(tmp_path / "cut.zip", entries)), "--seq-len", "16", "--json", cwd=repo_root)  # fmt: skip
    _assert_one_sentence_error(finished, "cut short")
