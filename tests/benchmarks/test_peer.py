"""The benchmark's Hugging Face peer: its configuration mapping and the message when it is missing.

Neither needs PyTorch: the mapping is plain arithmetic, and a missing package is simulated.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from benchmarks import figures, peer
from benchmarks.cli import main
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params


def test_the_peer_config_is_the_reference_model():
    kwargs = peer.bert_config_kwargs(figures.REFERENCE_CONFIG, classes=2)
    assert kwargs["vocab_size"] == 5000
    assert kwargs["hidden_size"] == 128
    assert kwargs["num_hidden_layers"] == 2
    assert kwargs["num_attention_heads"] == 2
    assert kwargs["intermediate_size"] == 512
    assert kwargs["max_position_embeddings"] == 64
    assert kwargs["type_vocab_size"] == 2
    assert kwargs["num_labels"] == 2
    # keras-bert's GELU is the tanh approximation; it drops out only outside the attention softmax.
    assert kwargs["hidden_act"] == "gelu_new"
    assert kwargs["hidden_dropout_prob"] == peer.DROPOUT_RATE == 0.1
    assert kwargs["attention_probs_dropout_prob"] == 0.0


def test_the_peer_config_follows_the_model_fields():
    config = ModelConfig(vocab=700, seq_len=32, pos_num=48, embed_dim=96, heads=3, layers=5, ff_dim=200)
    kwargs = peer.bert_config_kwargs(config, classes=4)
    assert (kwargs["vocab_size"], kwargs["hidden_size"], kwargs["num_hidden_layers"]) == (700, 96, 5)
    assert (kwargs["num_attention_heads"], kwargs["intermediate_size"]) == (3, 200)
    assert (kwargs["max_position_embeddings"], kwargs["num_labels"]) == (48, 4)


def test_the_pooler_is_the_only_extra():
    # Our classifier: keras-bert's encoder plus a d x classes softmax; the peer adds a d x d pooler.
    config = figures.REFERENCE_CONFIG
    ours = total_params(config.with_changes(encoder_only=True)) + config.embed_dim * 2 + 2
    assert peer.extra_peer_parameters(config) == 128 * 128 + 128
    if importlib.util.find_spec("torch") and importlib.util.find_spec("transformers"):
        from transformers import BertConfig, BertForSequenceClassification

        model = BertForSequenceClassification(BertConfig(**peer.bert_config_kwargs(config, classes=2)))
        counted = sum(parameter.numel() for parameter in model.parameters())
        assert counted == ours + peer.extra_peer_parameters(config)


@pytest.fixture
def torch_missing(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "torch" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_without_torch_the_bench_says_how_to_install_it(torch_missing, capsys):
    missing = peer.missing_peer_packages()  # transformers too, where it is not installed either
    assert missing[0] == "torch" and set(missing) <= {"torch", "transformers"}
    assert main(["--peer"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "Traceback" not in error
    assert all(name in error for name in missing) and "pip install -r requirements-peer.txt" in error


def test_the_peer_is_never_a_runtime_dependency(repo_root):
    runtime = (repo_root / "requirements.txt").read_text() + (repo_root / "requirements-dev.txt").read_text()
    assert "torch" not in runtime and "transformers" not in runtime
    pins = (repo_root / "requirements-peer.txt").read_text()
    assert "torch==" in pins and "transformers==" in pins


def test_importing_the_app_core_never_imports_torch(repo_root):
    probe = "import sys, benchmarks.cli, benchmarks.peer, bertviz_core.cli; print('torch' in sys.modules)"
    finished = subprocess.run(
        [sys.executable, "-c", probe], cwd=repo_root, capture_output=True, text=True, timeout=60, check=True
    )
    assert finished.stdout.strip() == "False"


def test_the_comparison_holds_both_sides_against_the_same_matmul_peak(monkeypatch, capsys):
    """compare() and its printout on made-up sides: the peer's MFU uses our FLOPs and our round's peak."""
    flops = 163_579_392
    sides = {
        "ours": {"train_samples_per_second": 800.0, "train_flops_per_sample": flops, "matmul_gflops": 400.0,
                 "train_mfu": 800.0 * flops / 1e9 / 400.0, "train_matmul_only_mfu": 0.45,
                 "train_first_epoch_seconds": 3.0, "train_val_accuracy": 0.9, "train_parameters": 1_045_506},
        "peer": {"train_samples_per_second": 600.0, "train_first_epoch_seconds": 2.0, "train_val_accuracy": 0.9,
                 "parameters": 1_062_018, "threads": 2, "versions": {"torch": "x", "transformers": "y"}},
    }  # fmt: skip
    order = []

    def run_side(side, epochs):
        order.append(side)
        return dict(sides[side])

    monkeypatch.setattr(peer, "require_peer", lambda: None)
    monkeypatch.setattr(peer, "_run_side", run_side)
    results = peer.compare(rounds=2, epochs=1)
    assert order == ["ours", "peer", "peer", "ours"]  # alternated, so drift hits both
    assert results["ratios"] == [800 / 600] * 2
    assert results["peer_train_mfu"] == pytest.approx([600.0 * flops / 1e9 / 400.0] * 2)
    assert results["peer_train_mfu"][0] / results["train_mfu"][0] == pytest.approx(600 / 800)

    monkeypatch.setattr(peer, "compare", lambda rounds, epochs: results)
    assert main(["--peer", "--rounds", "2"]) == 0
    printed = capsys.readouterr().out
    mfu = 800.0 * flops / 1e9 / 400.0
    assert (
        f"train_mfu ours {mfu:.2f}, peer {mfu * 0.75:.2f}   matrix products alone 0.45 (the bound)" in printed
    )
    assert "ratio 1.33" in printed
