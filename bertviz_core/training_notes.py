"""What the training page says about a data set's fit to a model and about a finished run, decided
here (no Streamlit) so the sentences are tested as plain functions and the page only lays them out.

- ``token_figures``: how the texts fit the model's vocabulary and sequence length.
- ``sequence_offer``: when a tenth of the texts lose their ends, a longer sequence worth training.
- ``result_verdicts``: what a run's figures support saying, against the majority class and a bag of
  words, with the uncertainty the number of validation texts leaves (a paired test where the run
  kept each text's prediction, an interval otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.data.tokens import Vocabulary, longer_sequence
from bertviz_core.mistakes import ValidationPredictions

# A difference is claimed when a two-sided paired test puts chance below this.
SIGNIFICANCE = 0.05
Z_95 = 1.959964  # a normal distribution's 97.5th percentile: 95 % intervals


@dataclass(frozen=True)
class Figure:
    """A headline figure: its label, its value as shown, and what it means."""

    label: str
    value: str
    help: str | None = None
    caption: str | None = None


@dataclass(frozen=True)
class Verdict:
    """A sentence about a result, and how to show it: success, warning, info or caption."""

    kind: str
    text: str


def token_figures(stats: dict, config: ModelConfig, vocabulary: Vocabulary | None) -> list[Figure]:
    """``data.tokens.token_preview``'s figures as the page shows them: the vocabulary a new model
    builds from the training texts (or a checkpoint's own), the validation tokens it does not know,
    and the texts cut off at the sequence length."""
    if vocabulary is None:
        figures = [
            Figure("Vocabulary filled", f"{stats['vocabulary_size']:,} of {config.vocab:,}",
                   "Five special tokens ([PAD], [UNK], [CLS], [SEP], [MASK]) and then the most frequent words of the "
                   "training texts, as many as fit."),
            Figure("Unknown words (validation)", f"{stats['val_unknown_share']:.1%}",
                   "Words of the validation texts that the vocabulary, built from the training texts only, does not "
                   "hold: the model sees them as [UNK]. This is the rate new texts will meet."),
        ]  # fmt: skip
    else:
        pieces = (
            " A word it does not hold is split into known pieces (play, ##ing) before it becomes [UNK]."
            if vocabulary.word_pieces
            else ""
        )
        figures = [
            Figure("Vocabulary", f"{len(vocabulary):,}",
                   "The checkpoint's own vocab.txt: its pretraining learnt these tokens." + pieces),
            Figure("Unknown tokens (validation)", f"{stats['val_unknown_share']:.1%}",
                   "Tokens of the validation texts that even the checkpoint's pieces cannot spell: [UNK]."),
        ]  # fmt: skip
    figures.append(Figure("Texts cut off", f"{stats['truncated']:,} of {stats['texts']:,}"))
    return figures


def unused_rows_note(stats: dict, config: ModelConfig) -> str | None:
    """A new model's embedding rows that no training word will fill, when there are any."""
    if stats["vocabulary_size"] >= config.vocab:
        return None
    return (
        f"The training texts hold only {stats['vocabulary_size'] - 5:,} different words, so "
        f"{config.vocab - stats['vocabulary_size']:,} of the {config.vocab:,} embedding rows will never be used."
    )


@dataclass(frozen=True)
class SequenceOffer:
    """A longer sequence for a model whose texts are often cut, and what it would change."""

    seq_len: int
    config: ModelConfig  # the model at that length
    still_cut: int
    flops_ratio: float  # training FLOPs per text, longer over current
    sentence: str


def sequence_offer(stats: dict, config: ModelConfig, classes: int, most: int) -> SequenceOffer | None:
    """When at least a tenth of the texts are longer than ``config.seq_len`` (``token_preview``'s
    ``stats``), a longer sequence up to ``most`` positions: how many texts it would still cut and its
    cost in FLOPs. Whether it fits the memory budget is the caller's to check (``budget``)."""
    longer = longer_sequence(stats["lengths"], config.seq_len, most)
    if longer is None:
        return None
    wider = config.with_changes(seq_len=longer, pos_num=longer)  # a checkpoint's too: its encoder, longer
    still_cut = int(np.count_nonzero(np.asarray(stats["lengths"]) > longer))
    ratio = costs.compute(wider, classes).training / costs.compute(config, classes).training
    sentence = (
        f"{stats['truncated']:,} of the {stats['texts']:,} texts are longer than {config.seq_len} tokens and lose "
        f"their ends. At a sequence length of {longer:,}, {'none would' if still_cut == 0 else f'{still_cut:,} would'}, "
        f"for {ratio:.1f}x the arithmetic's FLOPs per text (training time grows a little less)."
    )
    return SequenceOffer(longer, wider, still_cut, ratio, sentence)


# --- how sure a result is ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Difference:
    """Accuracy of a model minus a baseline's on the same texts, in points, with a 95 % interval, and
    the chance of a gap this large if the two were equally good (``p_value``; None without paired
    predictions, where the interval alone speaks)."""

    points: float
    low: float
    high: float
    p_value: float | None

    @property
    def clear(self) -> bool:
        """The data support a difference: the test rejects equality, or without one, the interval
        leaves zero out."""
        if self.p_value is not None:
            return self.p_value < SIGNIFICANCE
        return self.low > 0 or self.high < 0


def paired_difference(model_right: Sequence[bool], baseline_right: Sequence[bool]) -> Difference:
    """Model against baseline on the same texts: McNemar's exact test on the texts only one of them
    gets right, and a 95 % interval on the paired difference of accuracies."""
    from scipy.stats import binomtest

    model_right, baseline_right = np.asarray(model_right, bool), np.asarray(baseline_right, bool)
    total = len(model_right)
    only_model = int(np.count_nonzero(model_right & ~baseline_right))
    only_baseline = int(np.count_nonzero(~model_right & baseline_right))
    discordant = only_model + only_baseline
    if total == 0:
        return Difference(0.0, 0.0, 0.0, 1.0)
    gap = (only_model - only_baseline) / total
    p_value = 1.0 if discordant == 0 else float(binomtest(only_model, discordant, 0.5).pvalue)
    spread = math.sqrt(max(0.0, discordant / total - gap**2) / total)
    return Difference(100 * gap, 100 * (gap - Z_95 * spread), 100 * (gap + Z_95 * spread), p_value)


def unpaired_difference(accuracy: float, baseline: float, total: int) -> Difference:
    """Without each text's prediction from both: the gap with a 95 % interval that treats the two
    accuracies as independent (wider than the paired one: cautious)."""
    if total <= 0:
        return Difference(0.0, 0.0, 0.0, None)
    spread = math.sqrt((accuracy * (1 - accuracy) + baseline * (1 - baseline)) / total)
    gap = accuracy - baseline
    return Difference(100 * gap, 100 * (gap - Z_95 * spread), 100 * (gap + Z_95 * spread), None)


def accuracy_interval(accuracy: float, total: int) -> tuple[float, float]:
    """Wilson's 95 % interval for an accuracy measured on ``total`` texts."""
    if total <= 0:
        return 0.0, 1.0
    z2 = Z_95**2
    centre = (accuracy + z2 / (2 * total)) / (1 + z2 / total)
    half = Z_95 * math.sqrt(accuracy * (1 - accuracy) / total + z2 / (4 * total**2)) / (1 + z2 / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def _interval(difference: Difference) -> str:
    return f"95 % interval {difference.low:+.1f} to {difference.high:+.1f} points"


def majority_verdict(difference: Difference, majority_class: str, texts: int) -> Verdict:
    """What the gap over always answering the most frequent class supports saying."""
    if difference.clear and difference.points > 0:
        return Verdict(
            "success",
            f"The model beats always answering '{majority_class}' by {difference.points:.1f} points "
            f"({_interval(difference)} on {texts:,} validation texts): it learnt something from the texts.",
        )
    if difference.points > 0:
        return Verdict(
            "warning",
            f"The model is {difference.points:.1f} points above always answering '{majority_class}', but on "
            f"{texts:,} validation texts that is within chance ({_interval(difference)}): it may not have learnt "
            "anything yet; try more epochs, a higher learning rate or more data.",
        )
    return Verdict(
        "warning",
        f"The model does not beat always answering '{majority_class}' ({difference.points:+.1f} points): it has "
        "not learnt anything useful yet; try more epochs, a higher learning rate or more data.",
    )


def tfidf_verdict(difference: Difference, from_checkpoint: bool) -> Verdict:
    """What the gap to a bag of words (TF-IDF + logistic regression, same texts) supports saying."""
    bag = "a bag of words (TF-IDF + logistic regression)"
    if not difference.clear:
        return Verdict(
            "caption",
            f"The model and {bag} are too close to tell apart on these texts ({difference.points:+.1f} points, "
            f"{_interval(difference)}).",
        )
    if difference.points > 0:
        return Verdict(
            "caption",
            f"The model beats {bag} by {difference.points:.1f} points on the same texts ({_interval(difference)}): "
            "it gets something from them that word counts alone miss.",
        )
    gap = -difference.points
    if from_checkpoint:
        why = (
            "this checkpoint's pretraining did not bring enough to beat word counts here (a checkpoint "
            "pretrained on a few thousand texts rarely does; a released BERT was pretrained on billions of words)."
        )
    else:
        why = (
            "a BERT trained from scratch on a few thousand texts often does: it has to learn what words mean "
            "from these texts alone, which is what pretraining on a large corpus gives a real BERT."
        )
    return Verdict(
        "caption", f"{bag[0].upper()}{bag[1:]} does {gap:.1f} points better ({_interval(difference)}): {why}"
    )


def stopping_verdict(metrics: dict, patience: int | str) -> Verdict | None:
    """How the run ended, when that changes which epoch's model is kept."""
    history, best = metrics.get("history") or [], metrics.get("best_epoch")
    if metrics.get("stopped_by_user"):
        complete = len(history)
        return Verdict(
            "info",
            f"Training was stopped after {complete} complete {'epoch' if complete == 1 else 'epochs'}; "
            f"the model of epoch {best} (the best validation accuracy) is kept.",
        )
    if metrics.get("stopped_early"):
        return Verdict(
            "info",
            f"Stopped early after epoch {len(history)}: the validation accuracy had not risen for {patience} "
            f"epochs; the model of epoch {best} is kept.",
        )
    if best != len(history):
        return Verdict(
            "caption",
            f"The model of epoch {best}, the one with the best validation accuracy (the lower loss on a tie), is kept.",
        )
    return None


def result_verdicts(
    metrics: dict, validation: ValidationPredictions | None, from_checkpoint: bool, patience: int | str
) -> list[Verdict]:
    """Everything a run's results support saying, in the order the page shows it: against a bag of
    words, against the majority class, and how training ended. Text by text where the run kept its
    validation predictions (and the bag of words its own), from the accuracies otherwise."""
    accuracy, texts = float(metrics["val_accuracy"]), int(metrics["val_samples"])
    verdicts: list[Verdict] = []
    tfidf = metrics.get("tfidf_baseline")
    tfidf_predictions = metrics.get("tfidf_predictions")
    model_right = None
    if validation is not None and len(validation.true_ids) == texts:
        model_right = validation.predicted_ids == validation.true_ids
    if tfidf is not None:
        if model_right is not None and tfidf_predictions is not None and len(tfidf_predictions) == texts:
            bag = paired_difference(model_right, np.asarray(tfidf_predictions) == validation.true_ids)
        else:
            bag = unpaired_difference(accuracy, float(tfidf), texts)
        verdicts.append(tfidf_verdict(bag, from_checkpoint))
    majority = str(metrics["majority_class"])
    if model_right is not None and majority in validation.class_names:
        majority_id = validation.class_names.index(majority)
        over = paired_difference(model_right, validation.true_ids == majority_id)
    else:
        over = unpaired_difference(accuracy, float(metrics["majority_baseline"]), texts)
    verdicts.append(majority_verdict(over, majority, texts))
    stopping = stopping_verdict(metrics, patience)
    return [*verdicts, stopping] if stopping else verdicts
