"""``python -m bertviz_core size``: the contract instructors and tests rely on."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bertviz_core.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bertviz_core", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_json_contract(capsys) -> None:
    assert main(["size", "--vocab", "1000", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total_params"] == 87_404_010
    assert report["config"]["vocab"] == 1000
    first = report["layers"][2]
    assert set(first) >= {"name", "type", "params", "component"}
    assert (first["name"], first["type"], first["params"]) == ("Embedding-Token", "TokenEmbedding", 768_000)
    assert sum(layer["params"] for layer in report["layers"]) == 87_404_010


def test_defaults_are_bert_base(capsys) -> None:
    assert main(["size", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_params"] == 110_106_428


def test_readable_table_has_a_total_line(capsys) -> None:
    assert main(["size", "--vocab", "1000", "--seq-len", "36", "--embed-dim", "6", "--heads", "1"]) == 0
    out = capsys.readouterr().out
    assert "Encoder-12-FeedForward (FeedForward)" in out
    assert "Total params: 491,814" in out


def test_encoder_only_drops_the_pretraining_heads(capsys) -> None:
    assert main(["size", "--encoder-only", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    names = [layer["name"] for layer in report["layers"]]
    assert "MLM" not in names and names[-1] == "Encoder-12-FeedForward-Norm"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--embed-dim", "6"], "Invalid head number 12 with the given input dim 6"),
        (["--seq-len", "600"], "position count"),
        (["--vocab", "0"], "out of range"),
    ],
)
def test_invalid_configuration_exits_2_with_one_sentence(args: list[str], fragment: str) -> None:
    finished = run_cli("size", *args)
    assert finished.returncode == 2
    assert fragment in finished.stderr
    assert len(finished.stderr.strip().splitlines()) == 1
    assert "Traceback" not in finished.stderr
    assert finished.stdout == ""


def test_verify_builds_the_real_model_and_agrees() -> None:
    finished = run_cli("size", "--vocab", "1000", "--seq-len", "36", "--embed-dim", "6", "--heads", "1",
                       "--verify", "--json")  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-2000:]
    report = json.loads(finished.stdout)
    assert report["verify"]["matches"] is True
    assert report["verify"]["real_total_params"] == 491_814
    assert [layer["name"] for layer in report["verify"]["real_layers"]] == [
        layer["name"] for layer in report["layers"]
    ]


def test_verify_refuses_a_model_over_the_memory_budget() -> None:
    finished = run_cli("size", "--layers", "24", "--embed-dim", "1024", "--heads", "16", "--ff-dim", "4096",
                       "--verify")  # fmt: skip
    assert finished.returncode == 2
    assert "MB" in finished.stderr and "Traceback" not in finished.stderr


@pytest.mark.parametrize(("raw", "expected"), [("1500", 1500), ("²", 2000), ("lots", 2000), ("", 2000)])
def test_memory_budget_comes_from_the_environment_and_ignores_nonsense(
    monkeypatch, raw: str, expected: int
) -> None:
    from bertviz_core import budget as memory

    monkeypatch.setenv("BERTVIZ_MEMORY_BUDGET_MB", raw)
    monkeypatch.setattr(memory, "_container_limit_mb", lambda: None)
    assert memory.memory_budget_mb() == expected  # this machine has far more than 2 GB free
