"""What the training page says, decided without Streamlit: token figures, the longer-sequence offer,
and what a result supports saying (with its uncertainty)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.data.tokens import CUT_SHARE_WORTH_LONGER
from bertviz_core.mistakes import ValidationPredictions
from bertviz_core.training_notes import (
    accuracy_interval,
    paired_difference,
    result_verdicts,
    sequence_offer,
    token_figures,
    unpaired_difference,
    unused_rows_note,
)

CONFIG = ModelConfig(
    vocab=500, seq_len=8, pos_num=8, embed_dim=16, heads=2, layers=1, ff_dim=32, encoder_only=True
)


def stats(lengths, vocabulary_size=400, unknown=0.05):
    lengths = list(lengths)
    return {"lengths": lengths, "truncated": sum(length > CONFIG.seq_len for length in lengths),
            "texts": len(lengths), "vocabulary_size": vocabulary_size, "val_unknown_share": unknown}  # fmt: skip


def test_token_figures_of_a_new_model_and_its_unused_rows():
    figures = token_figures(stats([4, 9, 12, 3]), CONFIG, None)
    assert [(figure.label, figure.value) for figure in figures] == [
        ("Vocabulary filled", "400 of 500"),
        ("Unknown words (validation)", "5.0%"),
        ("Texts cut off", "2 of 4"),
    ]
    assert unused_rows_note(stats([4]), CONFIG).startswith(
        "The training texts hold only 395 different words, so 100"
    )
    assert unused_rows_note(stats([4], vocabulary_size=500), CONFIG) is None


def test_a_longer_sequence_is_offered_when_a_tenth_are_cut_with_its_counts_and_cost():
    lengths = [4] * 85 + [12] * 10 + [30] * 5  # 15 % cut at 8
    offer = sequence_offer(stats(lengths), CONFIG, classes=3, most=512)
    assert offer.seq_len == 16 and offer.still_cut == 5
    assert offer.config == CONFIG.with_changes(seq_len=16, pos_num=16)
    assert offer.flops_ratio == pytest.approx(
        costs.compute(offer.config, 3).training / costs.compute(CONFIG, 3).training
    )
    assert (
        offer.sentence.startswith("15 of the 100 texts are longer than 8 tokens")
        and "5 would" in offer.sentence
    )
    assert sequence_offer(stats([4] * 95 + [12] * 4), CONFIG, 3, 512) is None  # under a tenth
    assert CUT_SHARE_WORTH_LONGER == 0.1
    capped = sequence_offer(stats(lengths), CONFIG, 3, most=10)  # the model knows 10 positions at most
    assert capped.seq_len == 10 and capped.still_cut == 15


def test_the_paired_difference_is_mcnemars_exact_test_on_the_texts_one_side_gets_right():
    model = np.array([True] * 60 + [False] * 40)
    baseline = np.array(
        [True] * 50 + [False] * 10 + [True] * 5 + [False] * 35
    )  # 10 only model, 5 only baseline
    difference = paired_difference(model, baseline)
    assert difference.points == pytest.approx(5.0)
    assert difference.p_value == pytest.approx(binomtest(10, 15, 0.5).pvalue)
    assert difference.low < 5.0 < difference.high and not difference.clear
    assert paired_difference(model, model).p_value == 1.0 and paired_difference(model, model).points == 0


def test_intervals_narrow_with_more_texts():
    low, high = accuracy_interval(0.8, 100)
    assert 0.7 < low < 0.8 < high < 0.9
    wide, narrow = unpaired_difference(0.8, 0.7, 100), unpaired_difference(0.8, 0.7, 10_000)
    assert wide.points == pytest.approx(10.0) and not wide.clear or wide.low < narrow.low
    assert narrow.clear and narrow.p_value is None


def _validation(true_ids, predicted_ids, names=("neg", "pos")):
    probabilities = np.eye(len(names))[np.asarray(predicted_ids)] * 0.8 + 0.1
    return ValidationPredictions(tuple(f"t{i}" for i in range(len(true_ids))), np.asarray(true_ids),
                                 probabilities, tuple(names))  # fmt: skip


def _metrics(validation, **more):
    right = validation.predicted_ids == validation.true_ids
    majority = int(np.bincount(validation.true_ids).argmax())
    return {"val_accuracy": float(right.mean()), "val_samples": len(right), "majority_class": validation.class_names[majority],
            "majority_baseline": float(np.mean(validation.true_ids == majority)), "history": [{}, {}], "best_epoch": 2,
            **more}  # fmt: skip


def test_a_small_lead_over_the_majority_on_few_texts_is_not_claimed():
    # What a presenter saw: 1.5 points over always answering the majority class, on 454 texts.
    true_ids = np.array([0] * 230 + [1] * 224)
    predicted = true_ids.copy()
    predicted[:93] = 1  # 93 of the majority class wrong
    predicted[330:] = 0  # and 124 of the other class wrong: 100 of it right
    validation = _validation(true_ids, predicted)
    assert _metrics(validation)["val_accuracy"] - _metrics(validation)["majority_baseline"] == pytest.approx(
        7 / 454
    )
    (verdict,) = result_verdicts(_metrics(validation), validation, False, 2)
    assert verdict.kind == "warning"
    assert verdict.text.startswith(
        "The model is 1.5 points above always answering 'neg', but on 454 validation texts"
    )
    assert "within chance" in verdict.text


def test_a_clear_win_is_claimed_with_its_interval_and_a_bag_of_words_compared_text_by_text():
    true_ids = np.array([0, 1] * 200)
    predicted = true_ids.copy()
    predicted[:40] = 1 - predicted[:40]  # 90 % right
    tfidf = true_ids.copy()
    tfidf[:120] = 1 - tfidf[:120]  # 70 % right, wrong on the model's mistakes too
    validation = _validation(true_ids, predicted)
    metrics = _metrics(validation, tfidf_baseline=0.7, tfidf_predictions=tfidf.tolist(), stopped_early=True)
    bag, majority, stopping = result_verdicts(metrics, validation, False, 3)
    assert bag.text.startswith("The model beats a bag of words (TF-IDF + logistic regression) by 20.0 points")
    assert "95 % interval" in bag.text
    assert (
        majority.kind == "success"
        and "by 40.0 points" in majority.text
        and "400 validation texts" in majority.text
    )
    assert stopping.kind == "info" and "had not risen for 3 epochs" in stopping.text


def test_a_run_saved_without_its_predictions_is_judged_from_its_accuracies():
    metrics = {"val_accuracy": 0.62, "val_samples": 200, "majority_class": "a", "majority_baseline": 0.5,
               "tfidf_baseline": 0.61, "history": [{}], "best_epoch": 1}  # fmt: skip
    bag, majority = result_verdicts(metrics, None, True, 2)
    assert "too close to tell apart" in bag.text
    assert majority.kind == "success" and "by 12.0 points" in majority.text
