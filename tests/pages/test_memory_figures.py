"""One model, one batch, one training-memory figure: the explorer's headline and the training page's
sentence come from the same breakdown (``bertviz_core.arithmetic.training_memory.TrainingMemory``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.training_memory import EXPLORER_CLASSES, explorer_training_memory
from bertviz_ui.session import SharedModel

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 180
# The training page's default model, but with the explorer's 512 positions and MLM + NSP heads: the
# explorer's figure is for this model as the training page trains it.
MODEL = ModelConfig(vocab=5000, seq_len=64, pos_num=512, embed_dim=128, heads=2, layers=2, ff_dim=512)
BATCH = 16


def explorer_figure(config: ModelConfig, batch: int) -> str:
    app = AppTest.from_file(str(REPO_ROOT / "app_pages" / "explorer.py"), default_timeout=TIMEOUT_S)
    app.query_params.update(config.to_query_params())
    app.run()
    app.select_slider(key="explorer_batch_size").set_value(batch).run()
    assert not app.exception
    (figure,) = [metric for metric in app.metric if metric.label == "Training memory"]
    return figure.value


def train_page(config: ModelConfig) -> AppTest:
    app = AppTest.from_file(str(REPO_ROOT / "app_pages" / "train.py"), default_timeout=TIMEOUT_S)
    app.session_state["shared_model"] = SharedModel(config, "explorer")
    app.run()
    assert not app.exception
    return app


def test_explorer_and_training_page_show_the_same_training_memory():
    expected = explorer_training_memory(MODEL, BATCH).total_mb
    assert explorer_figure(MODEL, BATCH) == f"{expected:,} MB"

    app = train_page(MODEL)
    app.number_input(key="train_batch_size").set_value(BATCH)
    app.button(key="train_use_explorer").click().run()
    assert not app.exception
    assert app.selectbox(key="train_sample").value == "reviews"  # two classes, as the explorer assumes
    assert EXPLORER_CLASSES == 2
    sentences = [caption.value for caption in app.caption if "training needs about" in caption.value]
    assert len(sentences) == 1
    assert re.search(r"training needs about \*\*([\d,]+) MB", sentences[0]).group(1) == f"{expected:,}"
    # Folded below it: the same figure split into theory and what this machine adds.
    (split,) = [markdown.value for markdown in app.markdown if "Theory" in markdown.value]
    assert "This machine adds" in split


def test_a_model_too_big_to_train_gets_the_explorers_figure_in_its_refusal():
    figure = explorer_figure(ModelConfig(), 32)  # BERT-base: the explorer's default
    app = train_page(ModelConfig())
    refusals = [caption.value for caption in app.caption if "MB to train" in caption.value]
    assert len(refusals) == 1 and f"would need about {figure} to train" in refusals[0]
