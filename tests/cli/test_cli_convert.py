"""``convert`` and ``train --checkpoint`` with every start: Hugging Face folders, model ids from a hub
cache (offline: nothing leaves this machine), and one-sentence refusals with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bertviz_core.arithmetic.config import ModelConfig
from tests.cli.test_cli_train import _assert_one_sentence_error, write_reviews_csv
from tests.model.huggingface_files import hub_cache_with, write_huggingface_folder

SMALL = ModelConfig(
    vocab=64, seq_len=32, pos_num=32, embed_dim=16, heads=2, layers=1, ff_dim=32, encoder_only=True
)
HF_NEEDED = ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json")


def run(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess:
    """The command line with huggingface_hub offline and pointed at a closed port of this machine."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "BERTVIZ_HUB_CACHE": str(cache),
    }
    return subprocess.run(
        [sys.executable, "-m", "bertviz_core", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory) -> Path:
    return write_huggingface_folder(tmp_path_factory.mktemp("hf") / "tiny-bert", SMALL, seed=7)


@pytest.mark.slow
def test_convert_writes_each_layout_and_reads_back(hf_folder, tmp_path, repo_root):
    google = run("convert", str(hf_folder), "--out", str(tmp_path / "g"), "--to", "google", "--json",
                 cwd=repo_root, cache=tmp_path / "hub")  # fmt: skip
    assert google.returncode == 0, google.stderr[-2000:]
    report = json.loads(google.stdout)
    assert (report["name"], report["from"], report["to"], report["gelu"]) == (
        "tiny-bert",
        "huggingface",
        "google",
        "erf",
    )
    assert report["files"] == [
        "bert_config.json", "bert_model.ckpt.data-00000-of-00001", "bert_model.ckpt.index", "tokenizer_config.json",
        "vocab.txt",
    ]  # fmt: skip
    back = run("convert", str(tmp_path / "g"), "--out", str(tmp_path / "h"), "--to", "huggingface",
               cwd=repo_root, cache=tmp_path / "hub")  # fmt: skip
    assert back.returncode == 0, back.stderr[-2000:]
    assert "BertModel.from_pretrained" in back.stdout
    assert sorted(path.name for path in (tmp_path / "h").iterdir()) == sorted(
        [*HF_NEEDED, "special_tokens_map.json"]
    )


def _roberta(folder: Path) -> Path:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    return folder


def _pickle_only(folder: Path) -> Path:
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04never opened")
    return folder


@pytest.mark.parametrize(
    ("make_args", "fragment"),
    [
        (lambda d, hf: ["acme/not-cached", "--out", str(d / "o"), "--to", "google"], "cannot be reached"),
        (
            lambda d, hf: [
                str(_roberta(write_huggingface_folder(d / "r", SMALL))),
                "--out",
                str(d / "o"),
                "--to",
                "google",
            ],
            "describes a RoBERTa model",
        ),  # fmt: skip
        (
            lambda d, hf: [
                str(_pickle_only(write_huggingface_folder(d / "p", SMALL))),
                "--out",
                str(d / "o"),
                "--to",
                "huggingface",
            ],
            "a Python pickle this app never opens",
        ),  # fmt: skip
        (lambda d, hf: [str(hf), "--out", str(hf), "--to", "google"], "already holds files"),
    ],
)
def test_convert_refusals_exit_2_with_one_sentence(hf_folder, tmp_path, repo_root, make_args, fragment):
    finished = run("convert", *make_args(tmp_path, hf_folder), cwd=repo_root, cache=tmp_path / "hub")
    _assert_one_sentence_error(finished, fragment)


@pytest.mark.slow
def test_train_from_a_cached_model_id_defaults_to_its_positions(hf_folder, tmp_path, repo_root):
    """A start that knows 32 positions trains at 32 tokens unless --seq-len says otherwise (not refused
    for the default 64)."""
    hub_cache_with(tmp_path / "hub", "acme/tiny-bert", hf_folder, HF_NEEDED)
    csv_path = write_reviews_csv(tmp_path / "reviews.csv", rows=60)
    finished = run("train", str(csv_path), "--out", str(tmp_path / "model"), "--checkpoint", "acme/tiny-bert",
                   "--epochs", "1", "--batch-size", "16", "--json", cwd=repo_root, cache=tmp_path / "hub")  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-2000:]
    report = json.loads(finished.stdout)
    assert report["start"] == {
        "from": "checkpoint",
        "name": "acme/tiny-bert",
        "gelu": "erf",
    }  # its config.json says "gelu"
    assert report["config"] == {**SMALL.to_dict(), "seq_len": 32, "pos_num": 32}
    saved = json.loads((tmp_path / "model" / "config.json").read_text())
    assert saved["vocabulary"] == {"lowercase": True}  # tokenizer_config.json's do_lower_case, kept
