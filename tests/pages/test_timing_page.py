"""Predicted training time on the pages (AppTest): the explorer's section and the training page's
line before Train, both from this server's matrix-product rate, measured once in a worker process.

The first page run starts the measurement and says so; later runs show the figure. The figures are
checked against ``bertviz_core.timing`` with the rate the server measured.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.data.rows import stratified_split
from bertviz_core.settings import TrainSettings
from bertviz_core.text import format_duration as duration
from bertviz_core.timing import predict_epoch_seconds
from tests.helpers import rerun_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

REPO_ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 150  # a worker imports TensorFlow first; on a busy 2-core machine that takes a while


def _rerun_until(app: AppTest, found, timeout: float = WAIT_SECONDS):
    return rerun_until(app, found, timeout)


def _server_rate() -> float:
    from bertviz_ui.timing import _machine_rate

    rate = _machine_rate().rate
    assert rate is not None and rate > 1e9, rate  # at least a GFLOP/s: a real measurement
    return rate


def _captions(app: AppTest) -> list[str]:
    return [element.value for element in app.caption]


def test_explorer_shows_the_predicted_epoch_time() -> None:
    from bertviz_ui.timing import _machine_rate

    # A server that has not measured yet (AppTest's pages share one process-wide cache, and an earlier
    # training page may have measured or be measuring): the explorer measures only on request.
    _machine_rate.clear()
    app = AppTest.from_file(str(REPO_ROOT / "app_pages" / "explorer.py"), default_timeout=60)
    app.query_params.update({"vocab": "5000", "seq_len": "64", "pos_num": "64", "embed_dim": "128",
                             "heads": "2", "layers": "2", "ff_dim": "512"})  # fmt: skip
    app.run()
    assert not app.exception, [element.value for element in app.exception]
    assert any(header.value == "Training time on this machine" for header in app.subheader)
    assert app.number_input(key="explorer_timing_texts").value == 2000
    assert not any(m.label == "Predicted time per epoch" for m in app.metric)
    assert not any("Measuring this machine" in caption for caption in _captions(app))  # not by itself
    app.button(key="explorer_timing_measure").click().run()

    def metric(page: AppTest):
        return next((m for m in page.metric if m.label == "Predicted time per epoch"), None)

    shown = _rerun_until(app, metric)
    config = ModelConfig(vocab=5000, seq_len=64, pos_num=64, embed_dim=128, heads=2, layers=2, ff_dim=512)
    expected = predict_epoch_seconds(config, 2, 32, 2000, _server_rate())
    assert shown.value == duration(expected.seconds), shown.value
    assert any("MFLOPs per training text × 2,000 texts" in caption for caption in _captions(app))

    # Twice the texts, twice the matrix-product share: the figure follows the input.
    app.number_input(key="explorer_timing_texts").set_value(4000).run()
    doubled = predict_epoch_seconds(config, 2, 32, 4000, _server_rate())
    assert metric(app).value == duration(doubled.seconds)
    assert doubled.parts["matrix products"] == pytest.approx(2 * expected.parts["matrix products"])


def test_training_page_shows_the_prediction_before_train() -> None:
    app = AppTest.from_file(str(REPO_ROOT / "app_pages" / "train.py"), default_timeout=120)
    app.run()
    assert not app.exception, [element.value for element in app.exception]

    def prediction(page: AppTest):
        return next((c for c in _captions(page) if "Predicted on this machine" in c), None)

    caption = _rerun_until(app, prediction)
    assert app.button(key="train_start")  # shown before Train is pressed
    # The page's own model, settings and split: the default sample, model and settings.
    from bertviz_core.data.columns import guess_columns
    from bertviz_core.data.rows import training_rows
    from bertviz_core.data.samples import load_sample

    settings, table = TrainSettings(), load_sample(app.selectbox(key="train_sample").value)
    dataset = training_rows(table, *guess_columns(table.frame), seed=settings.seed).dataset
    train, validation = stratified_split(dataset.label_ids, settings.val_share, settings.seed)
    assert (
        f"({len(train):,} training texts in batches of {settings.batch_size}, then {len(validation):,} validation"
        in caption
    )
    config = ModelConfig(vocab=5000, seq_len=64, pos_num=64, embed_dim=128, heads=2, layers=2, ff_dim=512)
    expected = predict_epoch_seconds(
        config,
        len(dataset.class_names),
        settings.batch_size,
        len(train),
        _server_rate(),
        validation_rows=len(validation),
    )
    assert f"about **{duration(expected.seconds)} per epoch**" in caption, caption


def test_training_page_compares_the_measured_epochs_with_the_prediction() -> None:
    from tests.helpers import train_on_page

    app = AppTest.from_file(str(REPO_ROOT / "app_pages" / "train.py"), default_timeout=120)
    app.run()
    for key, value in (("train_model_embed_dim", 32), ("train_model_ff_dim", 64), ("train_model_layers", 1),
                       ("train_model_seq_len", 32), ("train_epochs", 3)):  # fmt: skip
        app.number_input(key=key).set_value(value)
    app.run()
    _rerun_until(app, lambda page: any("Predicted on this machine" in c for c in _captions(page)))
    train_on_page(app)
    assert not app.exception, [element.value for element in app.exception]
    caption = next(c for c in _captions(app) if c.startswith(":material/timer: Measured"))
    # Epochs 2 and 3 are compared; the first traced the training step.
    assert "(epochs 2-3, median; the first" in caption, caption
    ratio = float(re.search(r"predicted / measured = ([\d.]+)\.$", caption).group(1))
    assert 0.2 < ratio < 5, caption  # a shared machine: only that it is the same order of magnitude
