"""The size ladder's plan and report (``bertviz_core.ladder``), without TensorFlow."""

from __future__ import annotations

import dataclasses

import pytest

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.bert_config import ERF_GELU
from bertviz_core.arithmetic.config import ModelConfig, training_default_config
from bertviz_core.errors import UserError
from bertviz_core.fields import FINE_TUNE, FROZEN
from bertviz_core.ladder import (
    FAMILY,
    MAX_RUNGS,
    RUN_KEYS,
    Rung,
    ladder_report,
    pareto_front,
    plan_ladder,
    rung_result,
    rung_seconds,
    smallest_within,
)
from bertviz_core.settings import (
    FINE_TUNING_RATE,
    FROZEN_EPOCHS,
    FROZEN_PATIENCE,
    FROZEN_RATE,
    NEW_MODEL_RATE,
    TrainSettings,
)
from tests.helpers import refusal

BASE = training_default_config()
SETTINGS = TrainSettings(epochs=4)
RATE = 100e9
MINILM = ModelConfig(vocab=30522, seq_len=64, pos_num=64, embed_dim=384, heads=12, layers=6, ff_dim=1536,
                     encoder_only=True)  # fmt: skip


def plan(budget_seconds: float, memory_mb: int = 1700, pretrained=None, rows=(800, 200), classes: int = 4):
    return plan_ladder(BASE, classes, *rows, SETTINGS, budget_seconds, RATE, memory_mb, pretrained)


def test_the_ladder_climbs_from_tens_of_thousands_of_parameters_within_the_budget():
    ladder = plan(90)
    sizes = [rung.parameters for rung in ladder.rungs]
    assert 2 <= len(sizes) <= MAX_RUNGS and sizes == sorted(sizes)
    assert 10_000 <= sizes[0] < 100_000
    assert ladder.predicted_seconds <= 90
    # The longest row that fits: the next size of the family would not.
    following = FAMILY[len(sizes)]
    assert any(f"L{following[0]} H{following[1]}" in note for note in ladder.notes)
    for rung in ladder.rungs:  # the explorer's arithmetic, the classifier's head included
        assert rung.parameters == costs.classifier_params(rung.config, 4)
        assert rung.config.vocab == BASE.vocab and rung.config.seq_len == BASE.seq_len
        assert rung.config.embed_dim % rung.config.heads == 0
        assert rung.predicted_bytes() == {"fp32": 4 * rung.parameters, "fp16": 2 * rung.parameters,
                                          "int8": rung.parameters}  # fmt: skip


def test_a_bigger_budget_buys_bigger_sizes_and_memory_caps_them():
    small, large = plan(120), plan(3600)
    assert max(r.parameters for r in large.rungs) > max(r.parameters for r in small.rungs)
    assert all(rung.memory_mb <= 1700 for rung in large.rungs)
    assert any("more than the 1,700 MB this app allows" in note for note in large.notes)
    capped = plan(3600, memory_mb=1000)
    assert max(r.parameters for r in capped.rungs) < max(r.parameters for r in large.rungs)


def test_more_sizes_than_eight_are_thinned_keeping_the_smallest_and_the_largest():
    huge_memory = plan(10**7, memory_mb=10**6)
    assert len(huge_memory.rungs) == MAX_RUNGS
    assert huge_memory.rungs[0].config.embed_dim == FAMILY[0][1]
    assert huge_memory.rungs[-1].config.embed_dim == FAMILY[-1][1]


def test_most_sizes_keeps_the_smallest_and_says_so():
    capped = plan_ladder(BASE, 4, 800, 200, SETTINGS, 10**7, RATE, 10**6, most_sizes=3)
    assert [rung.config.embed_dim for rung in capped.rungs] == [shape[1] for shape in FAMILY[:3]]
    assert "you asked for the 3 smallest" in " ".join(capped.notes)
    for wrong in (1, MAX_RUNGS + 1):
        assert f"not {wrong}" in refusal(UserError, plan_ladder, BASE, 4, 800, 200, SETTINGS, 600, RATE, 1700,
                                         most_sizes=wrong)  # fmt: skip
    every = plan_ladder(BASE, 4, 800, 200, SETTINGS, 10**7, RATE, 10**6, most_sizes=MAX_RUNGS)
    assert [rung.config.embed_dim for rung in every.rungs] == [
        shape[1] for shape in FAMILY[:MAX_RUNGS]
    ]  # none thinned
    pretrained = ("MiniLM", MINILM, ERF_GELU)
    assert "beside a pretrained start" in refusal(UserError, plan_ladder, BASE, 4, 800, 200, SETTINGS, 10**7, RATE,
                                                  10**6, pretrained, most_sizes=MAX_RUNGS - 1)  # fmt: skip


def test_a_budget_too_small_for_two_sizes_is_refused_in_one_sentence():
    sentence = refusal(UserError, plan, 5)
    assert "too small for two sizes" in sentence and "at least" in sentence
    two = plan(
        sum(rung_seconds(rung.config, 4, 800, 200, SETTINGS, RATE) for rung in plan(10**4).rungs[:2]) + 0.1
    )
    assert len(two.rungs) == 2
    assert "memory" in refusal(UserError, plan, 300, memory_mb=100)


def test_the_pretrained_start_joins_head_only_and_fine_tuned_when_the_budget_allows():
    ladder = plan(3600, memory_mb=2700, pretrained=("MiniLM", MINILM, ERF_GELU))
    pretrained = [rung for rung in ladder.rungs if rung.pretrained]
    assert [rung.encoder for rung in pretrained] == [FROZEN, FINE_TUNE]
    assert all(rung.config == MINILM for rung in pretrained)
    assert pretrained[0].predicted_seconds < pretrained[1].predicted_seconds
    # Fine-tuning, and converting MiniLM to TensorFlow Lite (2.3 GB measured), need more memory than the
    # app's default allows: both are left out, and the page says how much they would need.
    default = plan(3600, pretrained=("MiniLM", MINILM, ERF_GELU))
    assert not any(rung.pretrained for rung in default.rungs)
    assert sum("MB (training, then the TensorFlow Lite conversions)" in note for note in default.notes) == 2
    # A tight budget keeps the row of sizes and leaves the pretrained rungs out, saying so.
    tight = plan(60, memory_mb=2700, pretrained=("MiniLM", MINILM, ERF_GELU))
    assert len(tight.rungs) >= 2 and not any(rung.pretrained for rung in tight.rungs)
    assert sum("MiniLM" in note for note in tight.notes) == 2


def test_a_rung_costs_more_with_more_epochs_rows_and_parameters():
    config = BASE
    one = rung_seconds(config, 4, 800, 200, TrainSettings(epochs=1), RATE)
    assert rung_seconds(config, 4, 800, 200, TrainSettings(epochs=8), RATE) > one
    assert rung_seconds(config, 4, 8000, 200, TrainSettings(epochs=1), RATE) > one
    assert rung_seconds(config.with_changes(layers=4), 4, 800, 200, TrainSettings(epochs=1), RATE) > one


@pytest.mark.parametrize(
    ("sizes", "scores", "front"),
    [
        ([1, 2, 3], [0.5, 0.6, 0.7], [0, 1, 2]),  # every step buys accuracy
        ([1, 2, 3], [0.7, 0.6, 0.7], [0]),  # the smallest is as good as any
        ([3, 1, 2], [0.9, 0.5, 0.5], [1, 0]),  # a tie in score: the smaller one
        ([1, 1], [0.5, 0.5], [0, 1]),  # the same point twice: both
        ([], [], []),
    ],
)
def test_the_pareto_front_keeps_what_no_smaller_size_beats(sizes, scores, front):
    assert pareto_front(sizes, scores) == front


def _result(name: str, params: int, accuracy: float) -> dict:
    rung = Rung(name, BASE, FINE_TUNE, False, params, 10.0, 900)
    metrics = {"parameters": params, "val_accuracy": accuracy, "macro_f1": accuracy - 0.01, "training_seconds": 5.0,
               "best_epoch": 2}  # fmt: skip
    quantized = {"model_bytes": 4 * params + 9000, "predict_ms_per_text": 1.5, "int8_bytes": params + 30_000,
                 "int8_val_accuracy": accuracy, "fp16_bytes": 2 * params + 30_000}  # fmt: skip
    return rung_result(rung, {"metrics": metrics, "quantized": quantized, "seconds": 8.0}, f"/runs/{name}")


def test_the_report_holds_the_json_contract_and_answers_how_small():
    baselines = {
        "tfidf_baseline": 0.61,
        "tfidf_macro_f1": 0.6,
        "majority_baseline": 0.25,
        "majority_class": "food",
    }
    report = ladder_report([_result("big", 1_000_000, 0.70), _result("tiny", 40_000, 0.695),
                            _result("mid", 200_000, 0.60)], baselines)  # fmt: skip
    assert [run["name"] for run in report["runs"]] == ["tiny", "mid", "big"]
    for run in report["runs"]:
        assert set(RUN_KEYS) <= set(run)
    assert report["pareto"] == [0, 2]
    assert report["tfidf_baseline"] == {"val_accuracy": 0.61, "macro_f1": 0.6}
    assert report["majority_baseline"] == {"val_accuracy": 0.25, "class": "food"}
    assert smallest_within(report)["name"] == "tiny"
    assert smallest_within(report, points=0.001)["name"] == "big"
    assert ladder_report([], None) == {
        "runs": [],
        "tfidf_baseline": None,
        "majority_baseline": None,
        "pareto": [],
    }
    assert smallest_within(ladder_report([], None)) is None


def test_each_way_of_training_takes_its_own_learning_rate_unless_it_is_the_visitors():
    visitors = TrainSettings(epochs=4, learning_rate=5e-4)
    pretrained = ("MiniLM", MINILM, ERF_GELU)
    ladder = plan_ladder(BASE, 4, 800, 200, visitors, 3600, RATE, 2700, pretrained)  # a new model's settings
    scratch = [rung for rung in ladder.rungs if not rung.pretrained]
    assert {rung.settings for rung in scratch} == {visitors}
    head, fine = (rung.settings for rung in ladder.rungs if rung.pretrained)
    assert (head.encoder, head.learning_rate, head.epochs, head.patience) == (FROZEN, FROZEN_RATE, FROZEN_EPOCHS,
                                                                               FROZEN_PATIENCE)  # fmt: skip
    assert (fine.encoder, fine.learning_rate, fine.epochs) == (FINE_TUNE, FINE_TUNING_RATE, 4)
    # The visitor fine-tunes the checkpoint at 5e-5: that rung keeps it, the new models get theirs.
    tuning = dataclasses.replace(visitors, learning_rate=5e-5)
    ladder = plan_ladder(BASE, 4, 800, 200, tuning, 3600, RATE, 2700, pretrained, visitors_way=FINE_TUNE)
    assert {rung.settings.learning_rate for rung in ladder.rungs if not rung.pretrained} == {NEW_MODEL_RATE}
    assert [rung.settings.learning_rate for rung in ladder.rungs if rung.pretrained] == [FROZEN_RATE, 5e-5]
