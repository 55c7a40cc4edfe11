"""A against B on the explorer page, headless (AppTest): pin, move a control, read the differences.

The figures the page writes are checked against the core's comparison and the real builds' counts
(110,106,428 for BERT-base, 491,814 for the notebook's last model); the link must hold both.
"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from bertviz_core.arithmetic.compare import compare
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "explorer.py")
TIMEOUT = 30
NOTEBOOK = ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1)
NOTEBOOK_LINK = {"vocab": "1000", "seq_len": "36", "embed_dim": "6", "heads": "1"}


def _page(**query: str) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    app.query_params.update(query)
    return app.run()


def _assert_clean(app: AppTest) -> None:
    assert not app.exception, [element.value for element in app.exception]


def _keys(app: AppTest) -> set[str]:
    return {button.key for button in app.button}


def _headline(app: AppTest, label: str) -> str:
    return next(metric.value for metric in app.metric if metric.label == label)


def _totals(app: AppTest) -> dict[str, list[str]]:
    frame = app.table[0].value
    return {name: row.tolist() for name, row in frame.iterrows()}


def test_pin_move_a_control_and_see_the_differences() -> None:
    app = _page(**NOTEBOOK_LINK)
    _assert_clean(app)
    assert "explorer_pin" in _keys(app) and not app.table  # no section until A is pinned
    assert not [header for header in app.subheader if header.value == "A against B"]

    app.button(key="explorer_pin").click().run()
    _assert_clean(app)
    assert {"explorer_unpin", "explorer_swap"} <= _keys(app) and "explorer_pin" not in _keys(app)
    assert any(header.value == "A against B" for header in app.subheader)
    assert any("A and B are the same configuration" in caption.value for caption in app.caption)
    assert _totals(app)["Parameters"] == ["491,814", "491,814", "0", "× 1"]
    a_memory = _headline(app, "Training memory")  # the comparison writes the headline's own figure
    assert _totals(app)["Training memory (batch 32)"][:3] == [a_memory, a_memory, "0"]

    app.slider(key="explorer_layers").set_value(14).run()
    _assert_clean(app)
    b = NOTEBOOK.with_changes(layers=14)
    assert app.metric[0].value == f"{total_params(b):,}"  # the headline shows B
    difference = total_params(b) - 491_814
    assert _totals(app)["Parameters"] == ["491,814", f"{total_params(b):,}", f"+{difference:,}", "× 1.16"]
    assert _totals(app)["Training memory (batch 32)"][:2] == [a_memory, _headline(app, "Training memory")]
    components = {name: row.tolist() for name, row in app.table[1].value.iterrows()}
    assert components["feed-forward"][:3] == ["479,304", f"{14 * 39_942:,}", f"+{2 * 39_942:,}"]
    layers = app.dataframe[0].value
    expected = compare(NOTEBOOK, b).changed_layers()
    assert layers["Layer"].tolist() == [row.name for row in expected]
    assert set(layers["In"]) == {"only B"} and layers["B - A"].sum() == difference
    assert "Encoder-13-FeedForward" in set(layers["Layer"])
    assert "explorer_download_comparison" in {button.key for button in app.get("download_button")}
    # The link holds both: B in the main keys, A under a_ keys.
    assert app.query_params == {**NOTEBOOK_LINK, "layers": "14", "a_vocab": "1000", "a_seq_len": "36",
                                "a_embed_dim": "6", "a_heads": "1"}  # fmt: skip

    app.pills(key="explorer_preset_google").set_value("bert-base").run()  # a preset keeps A
    _assert_clean(app)
    assert _totals(app)["Parameters"][:2] == ["491,814", "110,106,428"]

    app.button(key="explorer_swap").click().run()
    _assert_clean(app)
    assert _totals(app)["Parameters"] == [
        "110,106,428",
        "491,814",
        "-109,614,614",
        "÷ 224",
    ]  # 110,106,428 / 491,814
    assert app.metric[0].value == "491,814"

    app.button(key="explorer_unpin").click().run()
    _assert_clean(app)
    assert not app.table and "explorer_pin" in _keys(app)
    assert app.query_params == NOTEBOOK_LINK


def test_a_link_with_both_opens_the_comparison_and_explains_a_bad_a() -> None:
    app = _page(**NOTEBOOK_LINK, a_embed_dim="6", a_heads="12", a_vocab="lots")
    _assert_clean(app)
    warnings = [element.value for element in app.warning]
    assert any("In the pinned A, 12 heads cannot split" in warning for warning in warnings), warnings
    assert any("a\\_vocab\\=lots was ignored" in warning for warning in warnings), warnings
    a = ModelConfig(embed_dim=6, heads=6)
    assert _totals(app)["Parameters"][:2] == [f"{total_params(a):,}", "491,814"]
    assert app.metric[0].value == "491,814"
    assert app.query_params["a_embed_dim"] == "6" and app.query_params["a_heads"] == "6"
    assert "a_vocab" not in app.query_params  # A's vocabulary is the default again
