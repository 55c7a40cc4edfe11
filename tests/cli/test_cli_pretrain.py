"""``python -m bertviz_core pretrain`` as a user runs it: in a subprocess."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bertviz_core.model.checkpoint import read_checkpoint
from tests.cli.test_cli_train import run_cli, write_reviews_csv

pytestmark = pytest.mark.slow

TINY_ARGS = ["--vocab", "64", "--seq-len", "16", "--embed-dim", "16", "--heads", "2", "--layers", "1",
             "--ff-dim", "32", "--epochs", "2", "--batch-size", "8", "--learning-rate", "0.005"]  # fmt: skip


def one_sentence(finished) -> str:
    assert finished.returncode == 2, (finished.returncode, finished.stderr[-2000:])
    message = finished.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message and "Traceback" not in message, message
    assert message.endswith("."), message
    return message


@pytest.fixture(scope="module")
def pretrained_dir(tmp_path_factory, repo_root) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("cli-pretrain")
    csv_path = write_reviews_csv(folder / "reviews.csv", rows=64)
    out = folder / "checkpoint"
    finished = run_cli("pretrain", str(csv_path), "--out", str(out), *TINY_ARGS, "--json", cwd=repo_root)
    assert finished.returncode == 0, finished.stderr[-2000:]
    return out, json.loads(finished.stdout)


def test_pretrain_json_contract(pretrained_dir):
    out, report = pretrained_dir
    assert Path(report["out"]) == out
    assert report["column"] == "review"  # guessed, the label column left alone
    assert len(report["history"]) == 2
    for record in report["history"]:
        assert {"loss", "mlm_loss", "mlm_accuracy", "nsp_accuracy", "seconds"} <= set(record)
        assert record["loss"] > 0 and 0.0 <= record["mlm_accuracy"] <= 1.0 and record["seconds"] > 0
    assert report["texts"] == 64 and report["settings"]["learning_rate"] == 0.005
    assert report["config"]["seq_len"] == report["config"]["pos_num"] == 16
    assert sorted(path.name for path in out.iterdir()) == sorted(
        ["bert_config.json", "bert_model.ckpt.index", "bert_model.ckpt.data-00000-of-00001", "vocab.txt",
         "pretraining.json"]
    )  # fmt: skip
    files = read_checkpoint(out)
    assert files.config.vocab == 64 and files.config.layers == 1 and len(files.vocabulary) == 64


def test_labels_are_not_read_and_progress_goes_to_stderr(tmp_path, repo_root):
    csv_path = tmp_path / "texts.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "sentence"])  # no label column: training would refuse this file
        writer.writerows(
            [[i, f"the {word} sat on the mat"] for i, word in enumerate(["cat", "dog", "fox"] * 5)]
        )
        writer.writerow([99, ""])
    out = tmp_path / "checkpoint"
    finished = run_cli(
        "pretrain", str(csv_path), "--out", str(out), "--text-column", "sentence", *TINY_ARGS, cwd=repo_root
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "Pretraining on 15 texts of column 'sentence'." in finished.stderr
    assert "Dropped 1 row without text." in finished.stderr and "epoch 2/2" in finished.stderr
    assert f"--checkpoint {out}" in finished.stdout and (out / "bert_model.ckpt.index").is_file()


def test_a_file_of_texts_alone_is_enough(tmp_path, repo_root):
    csv_path = tmp_path / "texts.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text"])
        writer.writerows([[f"the {word}, it said, sat on the mat"] for word in ["cat", "dog", "fox"] * 4])
    with csv_path.open("a", encoding="utf-8") as handle:
        handle.write("an unquoted text, with a comma\n")  # one row of 13: skipped, and said so
    out = tmp_path / "checkpoint"
    finished = run_cli("pretrain", str(csv_path), "--out", str(out), *TINY_ARGS, "--json", cwd=repo_root)
    assert finished.returncode == 0, finished.stderr[-2000:]
    report = json.loads(finished.stdout)
    assert report["column"] == "text" and report["texts"] == 12
    assert any(note.startswith("Skipped 1 row with more fields than the header") for note in report["notes"])
    assert (out / "bert_model.ckpt.index").is_file()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--text-column", "nope"], "no column named 'nope'"),
        (["--heads", "3"], "3 heads cannot split"),
        (["--vocab", "200000", "--seq-len", "2048", "--embed-dim", "16", "--batch-size", "64"], "MB"),
        (["--epochs", "0"], "number of epochs"),
        (["--max-rows", "0"], "--max-rows must be at least 1"),
    ],
)
def test_bad_input_exits_2_with_one_sentence(tmp_path, repo_root, arguments, expected):
    csv_path = write_reviews_csv(tmp_path / "reviews.csv", rows=16)
    finished = run_cli("pretrain", str(csv_path), "--out", str(tmp_path / "out"), *arguments, cwd=repo_root)
    assert expected in one_sentence(finished)
    assert not (tmp_path / "out").exists()


def test_a_missing_file_and_an_out_that_is_a_file_are_sentences(tmp_path, repo_root):
    assert "There is no file" in one_sentence(
        run_cli("pretrain", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "out"), cwd=repo_root)
    )
    csv_path = write_reviews_csv(tmp_path / "reviews.csv", rows=16)
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert "is a file" in one_sentence(run_cli("pretrain", str(csv_path), "--out", str(taken), cwd=repo_root))


def test_the_command_line_pretrains_with_the_pages_defaults_and_a_constant_rate(repo_root):
    from streamlit.testing.v1 import AppTest

    from bertviz_core.cli import build_parser

    args = build_parser().parse_args(["pretrain", "texts.csv", "--out", "checkpoint"])
    page = AppTest.from_file(str(repo_root / "app_pages" / "train.py"), default_timeout=60).run()
    assert not page.exception
    assert args.epochs == page.number_input(key="pretrain_epochs").value == 5
    assert args.learning_rate == page.select_slider(key="pretrain_learning_rate").value == 5e-4
    help_text = " ".join(run_cli("pretrain", "--help", cwd=repo_root).stdout.split())
    assert (
        "Adam's step size, the same for every step (pretraining has no warm-up or decay); default 0.0005."
        in (help_text)
    )
    assert "rises to this" not in help_text  # the classifier's schedule is not pretraining's
