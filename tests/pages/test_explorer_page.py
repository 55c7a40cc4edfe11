"""The explorer page, run headless with Streamlit's AppTest: links, controls, presets, errors.

Most tests run ``app_pages/explorer.py`` directly (the page does not need the entry point); the smoke
test and the TensorFlow check go through ``app.py`` like a visitor does.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from bertviz_core.arithmetic import presets
from bertviz_core.arithmetic.bert_config import bert_config_json, parse_bert_config
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.explorer_state import ExplorerState
from bertviz_core.arithmetic.params import TABLE_COLUMNS, arithmetic_table, total_params
from bertviz_core.data.export import to_safe_csv
from bertviz_core.fields import MODEL_FIELD
from tests.helpers import rerun_until

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE = str(REPO_ROOT / "app_pages" / "explorer.py")
ENTRY_POINT = str(REPO_ROOT / "app.py")
TIMEOUT = 30
DEFAULT_TOTAL = f"{total_params(ModelConfig()):,}"  # 110,106,428: `python -m bertviz_core size`


def _page(**query: str) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    app.query_params.update(query)
    return app.run()


def _total(app: AppTest) -> str:
    return app.metric[0].value


def _plain(markdown: str) -> str:
    """Markdown with its backslash escapes removed: what the visitor reads."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _messages(app: AppTest) -> list[str]:
    return [_plain(element.value) for kind in ("info", "warning", "error") for element in getattr(app, kind)]


def _config(app: AppTest) -> ModelConfig:
    config = app.session_state["shared_model"].config
    assert isinstance(config, ModelConfig)
    return config


def _assert_clean(app: AppTest) -> None:
    assert not app.exception, [element.value for element in app.exception]


# --- rendering and links ------------------------------------------------------------------------


def test_default_render_through_the_entry_point() -> None:
    app = AppTest.from_file(ENTRY_POINT, default_timeout=TIMEOUT).run()
    _assert_clean(app)
    assert DEFAULT_TOTAL == "110,106,428"
    assert _total(app) == DEFAULT_TOTAL
    assert _config(app) == ModelConfig()
    assert app.title[0].value == "Model size explorer"
    assert app.query_params == {}  # defaults make the shortest link


def test_link_opens_the_notebooks_last_model() -> None:
    app = _page(vocab="1000", seq_len="36", embed_dim="6", heads="1")
    _assert_clean(app)
    assert _total(app) == "491,814"
    assert _config(app) == ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1)
    assert app.select_slider(key="explorer_heads").options == ["1", "2", "3", "6"]
    assert app.number_input(key="explorer_vocab_exact").value == 1000
    assert not app.warning


@pytest.mark.parametrize(
    ("query", "total", "mentions"),
    [
        # A head count that does not divide the embedding is snapped, as a control would be.
        ({"heads": "7"}, DEFAULT_TOTAL, ["7 heads cannot split an embedding dimension of 768", "now 6"]),
        ({"vocab": "abc"}, DEFAULT_TOTAL, ["vocab=abc was ignored", "must be a whole number"]),
        ({"vocab": "-5"}, DEFAULT_TOTAL, ["vocab=-5 was ignored", "between 2 and 1,000,000"]),
        ({"colour": "red", "vocab": "1000"}, "87,404,010", ["'colour' is not one the explorer knows"]),
        ({"vocab": "1000", "heads": "7"}, "87,404,010", ["now 6"]),  # the rest still applies
        # The notebook's embedding is kept, and the head count snapped to one that divides it.
        ({"embed_dim": "6"}, f"{total_params(ModelConfig(embed_dim=6, heads=6)):,}", ["now 6", "1, 2, 3, 6"]),
        # A sequence longer than the positions is shown at the table's length, with the fix offered.
        ({"seq_len": "1024"}, DEFAULT_TOTAL, ["raise the position count to at least 1,024"]),
        (
            {"layers": "0", "ff_dim": "x", "encoder_only": "maybe"},
            DEFAULT_TOTAL,
            ["layers=0", "ff_dim=x", "encoder_only=maybe"],
        ),
    ],
)
def test_bad_link_values_are_explained_and_settled(query: dict, total: str, mentions: list[str]) -> None:
    app = _page(**query)
    _assert_clean(app)
    assert _total(app) == total
    warnings = [_plain(element.value) for element in app.warning]
    for mention in mentions:
        assert any(mention in warning for warning in warnings), (mention, warnings)
    # One sentence per ignored setting.
    for warning in warnings:
        assert warning.count(". ") == 0 and warning.endswith((".", ").")), warning
    # The page rewrites the link to the configuration it shows.
    assert app.query_params == {key: value for key, value in _config(app).to_query_params().items()}


def test_link_text_cannot_inject_markdown() -> None:
    app = _page(vocab="[click](http://example.com)")
    _assert_clean(app)
    raw = app.warning[0].value
    assert "\\[click\\]\\(http\\:" in raw  # shown literally, never as a link
    assert "](http" not in raw


def test_repeated_link_parameter_uses_the_last_value() -> None:
    state = ExplorerState.from_link({"vocab": ["5", "1000"]})
    assert state.config.vocab == 1000 and state.notes == ()


# --- controls -----------------------------------------------------------------------------------


def test_slider_moves_change_the_total_and_the_link() -> None:
    app = _page()
    app.select_slider(key="explorer_vocab").set_value(1000).run()
    _assert_clean(app)
    assert _total(app) == "87,404,010"
    assert app.number_input(key="explorer_vocab_exact").value == 1000  # the exact box follows
    assert app.query_params == {"vocab": "1000"}
    app.slider(key="explorer_layers").set_value(2).run()
    assert _total(app) == f"{total_params(ModelConfig(vocab=1000, layers=2)):,}"
    app.select_slider(key="explorer_seq_len").set_value(36).run()
    assert _total(app) == f"{total_params(ModelConfig(vocab=1000, layers=2)):,}"  # S adds no weights
    assert _config(app).seq_len == 36


def test_exact_number_becomes_a_slider_stop() -> None:
    app = _page()
    app.number_input(key="explorer_vocab_exact").set_value(12345).run()
    _assert_clean(app)
    assert app.select_slider(key="explorer_vocab").value == 12345
    assert _total(app) == f"{total_params(ModelConfig(vocab=12345)):,}"


def test_pretraining_heads_toggle() -> None:
    app = _page()
    app.toggle(key="explorer_count_heads").set_value(False).run()
    _assert_clean(app)
    assert _total(app) == f"{total_params(ModelConfig(encoder_only=True)):,}"
    assert app.query_params == {"encoder_only": "1"}


def test_head_control_offers_only_divisors_after_an_embedding_change() -> None:
    app = _page()
    app.select_slider(key="explorer_embed_dim").set_value(6).run()
    _assert_clean(app)
    heads = app.select_slider(key="explorer_heads")
    assert heads.options == ["1", "2", "3", "6"]
    assert heads.value == 6  # the valid count nearest the 12 it had
    assert any("12 heads cannot split an embedding dimension of 6" in message for message in _messages(app))
    app.select_slider(key="explorer_heads").set_value(1).run()
    assert _config(app).heads == 1
    assert not app.warning  # the explanation goes with the next change


def test_prime_embedding_leaves_one_head() -> None:
    app = _page()
    app.number_input(key="explorer_embed_dim_exact").set_value(131).run()  # prime, above 128 heads
    _assert_clean(app)
    assert _config(app).heads == 1
    assert not [slider for slider in app.select_slider if slider.key == "explorer_heads"]
    assert any("only head count" in caption.value for caption in app.sidebar.caption)


def test_sequence_longer_than_positions_is_explained_with_a_fix() -> None:
    app = _page()
    app.select_slider(key="explorer_seq_len").set_value(1024).run()
    _assert_clean(app)
    warnings = [element.value for element in app.warning]
    assert any(
        "sequence length 1,024 is longer than the position count 512" in warning for warning in warnings
    )
    assert _config(app).seq_len == 512  # figures use the longest sequence that fits
    app.button(key="explorer_raise_positions").click().run()
    _assert_clean(app)
    assert _config(app) == ModelConfig(seq_len=1024, pos_num=1024)
    assert not app.warning
    assert _total(app) == f"{total_params(ModelConfig(seq_len=1024, pos_num=1024)):,}"


FIELDS = ["vocab", "seq_len", "pos_num", "embed_dim", "ff_dim"]


@pytest.mark.parametrize("field", FIELDS + ["layers"])
@pytest.mark.parametrize("end", ["min", "max"])
def test_extreme_values_of_each_control(field: str, end: str) -> None:
    app = _page()
    value = MODEL_FIELD[field].limits[0 if end == "min" else 1]
    if field == "layers":
        app.slider(key="explorer_layers").set_value(value).run()
    else:
        app.number_input(key=f"explorer_{field}_exact").set_value(value).run()
    _assert_clean(app)
    if field == "seq_len" and end == "max":
        assert _config(app).seq_len == 512 and app.warning  # explained, not thrown
    else:
        assert getattr(_config(app), field) == value
        assert _total(app) == f"{total_params(_config(app)):,}"


@pytest.mark.parametrize("end", ["min", "max"])
def test_every_control_at_its_limit_at_once(end: str) -> None:
    app = _page()
    index = 0 if end == "min" else 1
    order = ["pos_num", "seq_len", "vocab", "embed_dim", "ff_dim"]  # positions first: S may not pass P
    for field in order:
        app.number_input(key=f"explorer_{field}_exact").set_value(MODEL_FIELD[field].limits[index]).run()
    app.slider(key="explorer_layers").set_value(MODEL_FIELD["layers"].limits[index]).run()
    if end == "max":
        app.select_slider(key="explorer_heads").set_value(128).run()
    _assert_clean(app)
    expected = {field: MODEL_FIELD[field].limits[index] for field in order + ["layers"]}
    expected["heads"] = 1 if end == "min" else 128
    assert _config(app) == ModelConfig(**expected)
    assert _total(app) == f"{total_params(ModelConfig(**expected)):,}"
    for tab in ["Per layer", "Per component", "Per block", "Growth", "Sequence length"]:
        app.session_state["explorer_chart_tab"] = tab
        app.run()
        _assert_clean(app)
    if end == "max":  # far beyond any memory budget: the sentence, and the arithmetic still shows
        assert any("only the arithmetic is shown" in element.value for element in app.info)
        assert not [button for button in app.button if button.key == "explorer_build_real"]


# --- presets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda preset: preset.key)
def test_each_preset_sets_the_controls(preset: presets.Preset) -> None:
    app = _page()
    group = "explorer_preset_notebook" if preset.group == presets.NOTEBOOK else "explorer_preset_google"
    app.pills(key=group).set_value(preset.key).run()
    _assert_clean(app)
    assert app.pills(key=group).value is None  # a preset is an action, not a lasting choice
    messages = _messages(app)
    assert any(preset.description in message for message in messages)
    if preset.config is not None:
        assert _config(app) == preset.config
        assert _total(app) == f"{total_params(preset.config):,}"
        assert app.select_slider(key="explorer_embed_dim").value == preset.config.embed_dim
        assert app.number_input(key="explorer_vocab_exact").value == preset.config.vocab
    else:
        assert any("Invalid head number 12 with the given input dim 6" in message for message in messages)
        assert _config(app) == ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=6)
        assert app.select_slider(key="explorer_heads").options == ["1", "2", "3", "6"]


def test_presets_then_sliders_keep_working() -> None:
    app = _page()
    app.pills(key="explorer_preset_google").set_value("bert-tiny").run()
    app.select_slider(key="explorer_vocab").set_value(1000).run()
    _assert_clean(app)
    assert _config(app) == presets.BY_KEY["bert-tiny"].config.with_changes(vocab=1000)


# --- a checkpoint's bert_config.json ------------------------------------------------------------

# Google's bert_config.json files as the releases ship them: BERT-base and uncased_L-2_H-128_A-2.
GOOGLE_BERT_BASE = {
    "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072, "max_position_embeddings": 512,
    "num_attention_heads": 12, "num_hidden_layers": 12, "type_vocab_size": 2, "vocab_size": 30522,
}  # fmt: skip
GOOGLE_BERT_TINY = GOOGLE_BERT_BASE | {
    "hidden_size": 128, "intermediate_size": 512, "num_attention_heads": 2, "num_hidden_layers": 2,
}  # fmt: skip


def _open_bert_config(app: AppTest, content: bytes, name: str = "bert_config.json") -> AppTest:
    return app.file_uploader(key="explorer_bert_config").set_value((name, content, "application/json")).run()


@pytest.mark.parametrize(
    ("settings", "total"),
    [(GOOGLE_BERT_BASE, "110,106,428"), (GOOGLE_BERT_TINY, "4,433,468")],
    ids=["base", "tiny"],
)
def test_a_checkpoints_bert_config_moves_the_controls_and_the_link(settings: dict, total: str) -> None:
    app = _page(vocab="1000", seq_len="36", embed_dim="6", heads="1", encoder_only="1")
    content = json.dumps(settings, indent=2).encode()
    _open_bert_config(app, content)
    _assert_clean(app)
    opened = parse_bert_config(content, encoder_only=False)  # the checkpoint holds the heads: counted
    assert _config(app) == opened and opened.seq_len == opened.pos_num == 512
    assert _total(app) == f"{total_params(opened):,}" == total
    assert app.number_input(key="explorer_vocab_exact").value == 30522
    assert app.select_slider(key="explorer_embed_dim").value == settings["hidden_size"]
    assert app.select_slider(key="explorer_heads").value == settings["num_attention_heads"]
    assert app.slider(key="explorer_layers").value == settings["num_hidden_layers"]
    assert app.number_input(key="explorer_ff_dim_exact").value == settings["intermediate_size"]
    assert app.toggle(key="explorer_count_heads").value is True
    assert app.query_params == opened.to_query_params()  # the shared link shows the same model
    infos = [_plain(element.value) for element in app.info]
    assert infos[0].startswith("**bert_config.json**: a checkpoint's configuration")
    assert (
        f"{4 * total_params(opened):,} bytes" in infos[1]
        and "bert_model.ckpt.data-00000-of-00001" in infos[1]
    )
    if settings is GOOGLE_BERT_BASE:
        # keras-bert's count of the paper's "110M"; the encoder plus the pooler is BertModel's 109.5M.
        assert _total(app) == DEFAULT_TOTAL == "110,106,428"
        assert "440,425,712 bytes" in infos[1] and "109,482,240" in infos[1]
        app.toggle(key="explorer_count_heads").set_value(False).run()
        assert _total(app) == f"{total_params(opened.with_changes(encoder_only=True)):,}" == "108,891,648"


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\xff\xfe",
        b"not json at all",
        json.dumps({key: value for key, value in GOOGLE_BERT_TINY.items() if key != "vocab_size"}).encode(),
        json.dumps(GOOGLE_BERT_TINY | {"hidden_act": "relu"}).encode(),
        b'{"pad": "' + b"x" * 100_000 + b'"}',
    ],
    ids=["binary", "not-json", "missing-key", "activation", "huge"],
)
def test_a_broken_bert_config_is_one_sentence_and_the_page_keeps_working(content: bytes) -> None:
    app = _page(vocab="1000")
    _open_bert_config(app, content, name="[click](http://example.com)<b>x</b>.json")
    _assert_clean(app)
    errors = [_plain(element.value) for element in app.error]
    assert len(errors) == 1 and errors[0].count(". ") == 0 and errors[0].endswith("."), errors
    assert "](http" not in app.error[0].value and "<b>" not in app.error[0].value
    assert _total(app) == "87,404,010" and app.query_params == {"vocab": "1000"}  # nothing changed
    _open_bert_config(app, json.dumps(GOOGLE_BERT_TINY).encode())  # the next file still opens
    _assert_clean(app)
    assert not app.error and _total(app) == "4,433,468"


def test_the_opened_file_name_is_shown_literally() -> None:
    app = _page()
    _open_bert_config(app, json.dumps(GOOGLE_BERT_TINY).encode(), name="[click](http://example.com).json")
    _assert_clean(app)
    raw = app.info[0].value
    assert "\\[click\\]\\(http\\:" in raw and "](http" not in raw


# --- charts, explanations, exports --------------------------------------------------------------


def _chart_specs(app: AppTest) -> list[dict]:
    return [json.loads(element.proto.spec) for element in app.get("plotly_chart")]


def test_each_chart_tab_renders_one_chart() -> None:
    app = _page(vocab="1000", seq_len="36", embed_dim="6", heads="1")
    titles = []
    for tab in ["Per layer", "Per component", "Per block", "Growth", "Sequence length"]:
        app.session_state["explorer_chart_tab"] = tab
        app.run()
        _assert_clean(app)
        specs = _chart_specs(app)
        assert len(specs) == 1  # lazy tabs: only the open one is computed
        titles.append(specs[0]["layout"]["title"]["text"])
    assert titles[0].startswith("Parameters per layer") and titles[4].startswith("Along the sequence length")
    assert not list(app.segmented_control)  # the knob picker only renders with its tab
    app.session_state["explorer_chart_tab"] = "Growth"
    app.run()
    app.segmented_control(key="explorer_growth_knob").set_value("embed_dim").run()
    _assert_clean(app)
    assert "embedding dimension d (quadratic)" in _chart_specs(app)[0]["layout"]["title"]["text"]


def test_explanations_follow_the_configuration() -> None:
    app = _page(vocab="1000", seq_len="36", embed_dim="6", heads="1")
    text = " ".join(_plain(element.value) for element in app.markdown)
    assert "12 × (2·6·3,072 + 3,072 + 6) = 479,304" in text
    assert "load_trained_model_from_checkpoint" in text
    assert "5.62" in text  # fourth root of 1,000
    assert "S = 36" in text


def test_formulas_and_exports_are_on_the_page() -> None:
    app = _page(vocab="1000", seq_len="36", embed_dim="6", heads="1")
    text = " ".join(_plain(element.value) for element in app.markdown)
    assert "491,814 parameters" in text and "Training FLOPs per sequence" in text
    codes = [element.value for element in app.code]
    assert any("http" not in code and "?vocab=1000&seq_len=36&embed_dim=6&heads=1" in code for code in codes)
    assert any("get_model(" in code and "token_num=1000" in code and "head_num=1" in code for code in codes)
    keys = {button.key for button in app.get("download_button")}
    assert {"explorer_download_json", "explorer_download_csv", "explorer_download_snippet"} <= keys


def test_the_downloaded_bert_config_is_googles_and_opens_back() -> None:
    """The explorer's bert_config.json download is Google's format, which its own opener reads: the
    same model, with a sequence as long as its positions (the format has no sequence length)."""
    config = ModelConfig(
        vocab=1000, seq_len=36, pos_num=128, embed_dim=48, heads=4, layers=3, ff_dim=96, encoder_only=False
    )
    written = json.dumps(bert_config_json(config)).encode()
    assert parse_bert_config(written, encoder_only=False) == config.with_changes(seq_len=128)
    app = _page(**{key: str(value) for key, value in config.to_query_params().items()})
    opened = _open_bert_config(app, written)
    assert not opened.exception and not opened.error
    assert opened.query_params["vocab"] == "1000" and opened.query_params["heads"] == "4"


def test_layer_table_csv_is_safe_and_complete() -> None:
    config = ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1)
    frame = pd.DataFrame(arithmetic_table(config))
    assert list(frame.columns[:4]) == list(TABLE_COLUMNS)
    assert frame["Param #"].sum() == 491_814
    evil = frame.copy()
    evil.loc[0, "Connected to"] = "=HYPERLINK(1)"
    csv = to_safe_csv(evil).decode()
    assert "'=HYPERLINK(1)" in csv
    app = _page(vocab="1000", seq_len="36", embed_dim="6", heads="1")
    table = app.dataframe[0].value
    assert len(table) == len(frame) and table["Param #"].sum() == 491_814


# --- the real model -----------------------------------------------------------------------------


def test_memory_guard_refusal_is_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTVIZ_MEMORY_BUDGET_MB", "100")
    app = _page()
    _assert_clean(app)
    assert any("more than the 100 MB this app allows" in element.value for element in app.info)
    assert not [button for button in app.button if button.key == "explorer_build_real"]
    assert _total(app) == DEFAULT_TOTAL


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_real_build_on_request_matches_and_comes_back_from_the_cache() -> None:
    query = {"vocab": "1000", "seq_len": "36", "embed_dim": "6", "heads": "1", "layers": "1", "ff_dim": "24"}
    app = _page(**query)
    assert not app.success
    app.button(key="explorer_build_real").click().run(timeout=240)
    rerun_until(app, lambda page: page.success)  # the page follows the build, a job in a worker
    _assert_clean(app)
    success = [element.value for element in app.success]
    assert success and "matches the arithmetic exactly" in success[0]
    config = ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1, layers=1, ff_dim=24)
    assert f"{total_params(config):,} parameters" in success[0]
    assert len(app.dataframe) == 2  # the arithmetic table and the real one
    # Away and back: the table returns from the cache without another click.
    app.slider(key="explorer_layers").set_value(2).run()
    assert not app.success and app.button(key="explorer_build_real")
    app.slider(key="explorer_layers").set_value(1).run(timeout=30)
    assert app.success and "matches the arithmetic exactly" in app.success[0].value


# --- TensorFlow stays out of the explorer's process ---------------------------------------------

_NO_TENSORFLOW_SCRIPT = textwrap.dedent(
    """
    import sys
    import time
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(sys.argv[1], default_timeout=60).run()
    app.select_slider(key="explorer_vocab").set_value(1000).run()
    app.pills(key="explorer_preset_notebook").set_value("notebook-5").run()
    for tab in ["Per layer", "Per component", "Per block", "Growth", "Sequence length"]:
        app.session_state["explorer_chart_tab"] = tab
        app.run()
    assert not app.exception, [e.value for e in app.exception]
    print("after-moves", "tensorflow" in sys.modules)
    if "--build" in sys.argv:
        app.button(key="explorer_build_real").click().run(timeout=240)
        for _ in range(240):  # the page follows the build, a job in a worker
            if app.success:
                break
            time.sleep(1)
            app.run()
        assert not app.exception, [e.value for e in app.exception]
        assert "matches the arithmetic exactly" in app.success[0].value
        print("after-build", "tensorflow" in sys.modules)
    """
)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_explorer_never_imports_tensorflow(repo_root) -> None:
    # A fresh interpreter: other tests in this process may have imported TensorFlow themselves.
    finished = subprocess.run(
        [sys.executable, "-c", _NO_TENSORFLOW_SCRIPT, ENTRY_POINT, "--build"],
        cwd=repo_root, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "after-moves False" in finished.stdout
    assert "after-build False" in finished.stdout  # the real build ran in a child process


def test_a_hugging_face_config_opens_as_its_bare_encoder_with_what_its_safetensors_weigh() -> None:
    """all-MiniLM-L6-v2's own config.json: the encoder keras-bert loads (22,565,376 parameters), and
    the note names what model.safetensors holds: that plus the pooler, 22,713,216 at 4 bytes each."""
    from tests.model.huggingface_files import minilm_folder

    app = _open_bert_config(_page(), (minilm_folder() / "config.json").read_bytes(), "config.json")
    assert not app.exception and not app.error, [element.value for element in app.error]
    assert _total(app) == "22,565,376"
    assert app.query_params["embed_dim"] == "384" and app.query_params["layers"] == "6"
    notes = " ".join(_plain(element.value) for element in app.info)
    assert "22,565,376 + 147,840 = 22,713,216 parameters" in notes and "90,852,864 bytes" in notes
    roberta = json.dumps({"model_type": "roberta", "vocab_size": 50265}).encode()
    refused = _open_bert_config(_page(), roberta, "config.json")
    (error,) = [element.value for element in refused.error]
    assert "describes a RoBERTa model" in error and _total(refused) == DEFAULT_TOTAL
