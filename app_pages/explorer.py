"""Model size explorer: how big a keras-bert model is, by arithmetic, before anyone builds it.

The sidebar's controls, a preset or a shared link change the session's ``ExplorerState``; the page
shows its configuration: headline figures, charts, the layer table, the explanations, the exports.
Nothing here imports TensorFlow: a real build runs only on request, in another process.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode, urlsplit

import pandas as pd
import streamlit as st

from bertviz_core.arithmetic import explain, growth, presets
from bertviz_core.arithmetic.bert_config import MAX_CONFIG_BYTES, bert_config_json
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import (
    arithmetic_table,
    block_totals,
    layer_rows,
    total_params,
)
from bertviz_core.charts import explorer as charts
from bertviz_core.data.export import to_safe_csv
from bertviz_core.text import escape_markdown
from bertviz_ui.compare import comparison_section, pin_bar
from bertviz_ui.controls import change, model_controls
from bertviz_ui.figures import before_first_chart, layer_table_columns
from bertviz_ui.headline import headline
from bertviz_ui.real_model import real_model_section
from bertviz_ui.session import explorer_state, share_model
from bertviz_ui.timing import MEASURE_ASKED, follow_measurement, training_time_section
from bertviz_ui.tour import link_params, notebook_tour, walk_tells

BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
# The new figures paint before the charts redraw. Chromium runs Plotly's redraw of a changed chart
# (about 220 ms for the per-layer chart here) before it paints anything that arrived with it, so
# totals sent a few milliseconds ahead of the charts still waited for them. A short pause after the
# headline lets the browser paint it first; the script thread sleeps, no CPU is spent, and a newer
# change interrupts the run at the next element as before. benchmarks/latency.py, typing a new
# vocabulary size until the new total shows: 2.26-2.29x a bare Streamlit app without the pause,
# 1.58x with 30 ms, 1.34-1.55x with 60 ms before the charts, 1.27-1.28x with 100 ms.
FIGURES_FIRST_SECONDS = 0.1
CHART_TABS = ["Per layer", "Per component", "Per block", "Growth", "Sequence length"]


# Arithmetic is cheap, but a rerun on every slider move adds up; ModelConfig is hashable.
@st.cache_data(max_entries=64, show_spinner=False)
def sweep(config: ModelConfig, knob: str) -> dict:
    return dict(growth.sweep(config, knob))


@st.cache_data(max_entries=64, show_spinner=False)
def sequence_sweep(config: ModelConfig) -> dict:
    return dict(growth.sequence_sweep(config))


@st.cache_data(max_entries=64, show_spinner=False)
def layer_table(config: ModelConfig) -> pd.DataFrame:
    return pd.DataFrame(arithmetic_table(config))


def preset_pills() -> None:
    for group, name in ((presets.NOTEBOOK, "notebook"), (presets.GOOGLE, "google")):
        key = f"explorer_preset_{name}"
        st.pills(group, [preset.key for preset in presets.presets_in(group)],
                 format_func=lambda preset_key: presets.BY_KEY[preset_key].name,
                 key=key, on_change=apply_preset, args=(key,))  # fmt: skip


def apply_preset(widget_key: str) -> None:
    chosen = st.session_state.get(widget_key)
    st.session_state[widget_key] = None  # a preset is a one-off action, not a lasting selection
    if chosen is not None:
        change(explorer_state().with_preset(chosen))


def bert_config_opener() -> None:
    with st.expander("Open a checkpoint's configuration", icon=":material/folder_open:"):
        st.caption(
            "A BERT from Google (github.com/google-research/bert) comes with a `bert_config.json`, one from "
            "Hugging Face with a `config.json`: open it to see the model's figures, and what its weights should "
            "weigh, before loading anything; only that small file is read."
        )
        st.file_uploader(f"bert_config.json or config.json (at most {MAX_CONFIG_BYTES // 1024} KB)", type=["json"],
                         max_upload_size=1, key="explorer_bert_config", on_change=apply_bert_config)  # fmt: skip


def apply_bert_config() -> None:
    uploaded = st.session_state.get("explorer_bert_config")
    if uploaded is not None:  # None: the file was removed, which changes nothing
        change(explorer_state().with_bert_config(uploaded.getvalue(), uploaded.name))


def notes(state) -> None:
    """The last change's notes; while the walk tells this configuration's story, they are its
    details, folded under it instead of telling the same story again."""
    show = {"info": st.info, "warning": st.warning, "error": st.error}
    place = st.expander("The details of this step") if state.notes and walk_tells(state) else st.container()
    with place:
        for note in state.notes:
            show[note.kind](note.text)
    if state.sequence_problem:
        with st.container(border=True):
            st.warning(state.sequence_problem)
            left, right = st.columns([3, 2], vertical_alignment="center")
            left.caption(f"Until then every figure below uses a sequence length of {state.config.seq_len:,}.")
            right.button(f"Raise the position count to {state.values['seq_len']:,}", key="explorer_raise_positions",
                         on_click=lambda: change(explorer_state().with_positions_raised()))  # fmt: skip


def chart_tabs(config: ModelConfig) -> None:
    before_first_chart()
    tabs = st.tabs(CHART_TABS, key="explorer_chart_tab", on_change="rerun")
    rows = [row.as_dict() for row in layer_rows(config)]
    if tabs[0].open:
        tabs[0].plotly_chart(charts.layer_bar(rows), key="explorer_chart_layers")
    if tabs[1].open:
        tabs[1].plotly_chart(charts.component_treemap(rows), key="explorer_chart_components")
    if tabs[2].open:
        tabs[2].plotly_chart(charts.block_stack(block_totals(config)), key="explorer_chart_blocks")
    if tabs[3].open:
        with tabs[3]:
            knob = st.segmented_control("Grow along", list(growth.KNOBS), default="vocab",
                                        format_func=growth.KNOBS.get, key="explorer_growth_knob") or "vocab"  # fmt: skip
            along = sweep(config, knob)
            st.caption(along["note"])
            st.plotly_chart(charts.growth_line(along), key="explorer_chart_growth")
    if tabs[4].open:
        tabs[4].caption(
            "The count is flat along S, while the activations and the attention work grow with it "
            "(the attention scores with S²). Each line is relative to its value now; hover for numbers."
        )
        tabs[4].plotly_chart(charts.sequence_lines(sequence_sweep(config)), key="explorer_chart_sequence")


def layer_table_section(config: ModelConfig) -> None:
    st.subheader("The layer table")
    st.caption(
        "model.summary()'s columns, computed: the same layers, names, shapes and counts keras-bert "
        "would print, plus where each layer belongs and how its count is worked out."
    )
    frame = layer_table(config)
    st.dataframe(frame, hide_index=True, height=320, **layer_table_columns(frame.columns))
    st.caption(f"{len(frame):,} layers · total {total_params(config):,} parameters")
    real_model_section(config)


def explanations(config: ModelConfig) -> None:
    st.subheader("Why these numbers")
    with st.expander("Is this a pre-trained BERT?"):
        st.markdown(explain.UNTRAINED_MODEL)
    with st.expander("Why does the sequence length leave the count unchanged?"):
        st.markdown(escape_markdown(explain.sequence_length_note(config)))
    with st.expander("Where do the parameters sit?"):
        st.markdown(escape_markdown(explain.feed_forward_note(config)))
    with st.expander("How big should the embedding be? (the fourth-root rule)"):
        st.markdown(escape_markdown(explain.fourth_root_note(config)))


def export(config: ModelConfig, link_params: dict[str, str]) -> None:
    st.subheader("Export and share")
    base = (st.context.url or "").split("?")[0]
    if base and urlsplit(base).path == "":
        base += "/"
    st.caption("A link to exactly this configuration:")
    st.code(base + ("?" + urlencode(link_params) if link_params else ""), language=None)
    frame, snippet = layer_table(config), config.python_snippet()
    left, middle, right = st.columns(3)
    left.download_button("bert_config.json", json.dumps(bert_config_json(config), indent=2), file_name="bert_config.json",
                         mime="application/json", on_click="ignore", icon=":material/download:", key="explorer_download_json",
                         help="Google's format, which 'Open a checkpoint's configuration' above opens again; it has no "
                         "sequence length (the link keeps it).")  # fmt: skip
    middle.download_button("Layer table (CSV)", lambda: to_safe_csv(frame), file_name="bert_layers.csv",
                           mime="text/csv", on_click="ignore", icon=":material/download:",
                           key="explorer_download_csv")  # fmt: skip
    right.download_button("Python snippet", snippet, file_name="build_bert.py", mime="text/x-python",
                          on_click="ignore", icon=":material/download:", key="explorer_download_snippet")  # fmt: skip
    with st.expander("Build the same model with keras-bert"):
        st.code(snippet, language="python")


# --- the page -------------------------------------------------------------------------------------
state = explorer_state()
config = state.config
share_model(config, "explorer")

follow_measurement(start=st.session_state.get(MEASURE_ASKED, False))  # first: one place in every run
with st.sidebar:
    st.subheader("Model settings")
    model_controls(state)
    st.divider()
    batch_size = st.select_slider("Batch size (for training memory)", BATCH_SIZES, value=32,
                                  key="explorer_batch_size", format_func=lambda v: f"{v:,}")  # fmt: skip

st.title("Model size explorer")
st.caption(
    "How many parameters a keras-bert model has, where they sit, and what it costs to store and run, "
    "worked out by arithmetic as you move the controls; nothing is built unless you ask."
)
preset_pills()
notebook_tour()
bert_config_opener()
notes(state)
headline(config, batch_size)
time.sleep(FIGURES_FIRST_SECONDS)
training_time_section(config, batch_size)
pin_bar(state)
comparison_section(state, batch_size)
chart_tabs(config)
layer_table_section(config)
explanations(config)
export(config, state.share_params())
address = link_params(state.share_params())
if st.query_params.to_dict() != address:
    st.query_params.from_dict(address)
