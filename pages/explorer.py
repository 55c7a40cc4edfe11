"""Model size explorer: how big a keras-bert model is, by arithmetic, before anyone builds it.

The controls keep one dict of values in the session; each run turns it into a valid ModelConfig
(or explains why it cannot), then shows counts, costs, charts and the layer table. Nothing here
imports TensorFlow: the real model is built only on request, in a child process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from urllib.parse import urlencode, urlsplit

import pandas as pd
import streamlit as st

from bertviz_core import charts, costs, explain, growth, presets, real_model
from bertviz_core.config import LIMITS, ConfigError, ModelConfig, valid_head_counts
from bertviz_core.data import to_safe_csv
from bertviz_core.errors import UserError
from bertviz_core.params import block_totals, layer_rows, total_params
from pages import enter_through_app

enter_through_app()

# --- session state keys -------------------------------------------------------------------------
VALUES = "explorer_values"  # field -> value, as the controls last set them
NOTES = "explorer_notes"  # (kind, markdown) messages shown until the next change of a control
READY = "explorer_ready"  # the link has been read for this session
WRITTEN = "explorer_written_config"  # the ModelConfig this page last stored for other pages
REAL_REQUESTED = "explorer_real_requested"  # configurations whose real build this session asked for
CHART_TAB = "explorer_chart_tab"
GROWTH_KNOB = "explorer_growth_knob"
BATCH = "explorer_batch_size"

# Values a slider steps through; the exact number box beside it accepts anything in range, and
# the slider then gains that value as one more stop.
STOPS: dict[str, list[int]] = {
    "vocab": [2, 100, 500, 1000, 2000, 5000, 8000, 10000, 16000, 20000, 30522, 32000, 50257, 64000,
              100000, 250000, 500000, 1000000],
    "seq_len": [1, 8, 16, 32, 36, 64, 128, 256, 384, 512, 1024, 2048, 4096, 8192],
    "pos_num": [1, 8, 16, 32, 36, 64, 128, 256, 384, 512, 1024, 2048, 4096, 8192],
    "embed_dim": [1, 2, 4, 6, 8, 16, 32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 4096, 8192],
    "ff_dim": [1, 16, 64, 128, 256, 512, 1024, 2048, 3072, 4096, 8192, 16384, 32768, 65536],
}  # fmt: skip

LABELS = {
    "vocab": ("Vocabulary size V", "token_num: how many different tokens the model knows."),
    "seq_len": ("Sequence length S", "seq_len: tokens per input sequence; shapes activations, not weights."),
    "pos_num": ("Position count P", "pos_num: rows of the position table; S may not exceed it."),
    "embed_dim": ("Embedding dimension d", "embed_dim: the model's width, the size of every token vector."),
    "heads": ("Head count A", "head_num: attention heads; each gets d / A dimensions, so A must divide d."),
    "layers": ("Layer count L", "transformer_num: encoder blocks stacked on the embeddings."),
    "ff_dim": (
        "Feed-forward width F",
        "feed_forward_dim: the hidden width inside each block's feed-forward layer.",
    ),
}
BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
CHART_TABS = ["Per layer", "Per component", "Per block", "Growth", "Sequence length"]


def _slider_key(field: str) -> str:
    return f"explorer_{field}"


def _exact_key(field: str) -> str:
    return f"explorer_{field}_exact"


# --- state changes (callbacks run before the script, so widgets may still be set) ---------------


def _sync_widgets(values: dict) -> None:
    """Make every control show ``values``; only touches keys whose value differs."""
    for field in ("vocab", "seq_len", "pos_num", "embed_dim", "heads", "layers", "ff_dim"):
        wanted = values[field]
        keys = [_slider_key(field)] + ([_exact_key(field)] if field in STOPS else [])
        for key in keys:
            if st.session_state.get(key) != wanted:
                st.session_state[key] = wanted
    count_heads = not values["encoder_only"]
    if st.session_state.get("explorer_count_heads") != count_heads:
        st.session_state["explorer_count_heads"] = count_heads


def _on_control(field: str, key: str) -> None:
    value = st.session_state[key]
    values = st.session_state[VALUES]
    values[field] = (not value) if field == "encoder_only" else int(value)
    st.session_state[NOTES] = []
    _sync_widgets(values)


def _apply_preset(widget_key: str) -> None:
    chosen = st.session_state.get(widget_key)
    st.session_state[widget_key] = None  # a preset is a one-off action, not a lasting selection
    if chosen is None:
        return
    preset = presets.BY_KEY[chosen]
    values = ModelConfig().to_dict() | dict(preset.settings)
    notes = [("info", f"**{preset.name}**: {preset.description}")]
    if preset.explanation:
        nearest = explain.nearest_head_count(values["embed_dim"], values["heads"])
        notes.append(("error", preset.explanation))
        notes.append(
            ("info", f"The head count is set to {nearest} here, the valid count nearest {values['heads']}.")
        )
        values["heads"] = nearest
    st.session_state[VALUES] = values
    st.session_state[NOTES] = notes
    _sync_widgets(values)


def _raise_position_count() -> None:
    values = st.session_state[VALUES]
    values["pos_num"] = values["seq_len"]
    st.session_state[NOTES] = []
    _sync_widgets(values)


def _request_real(key: str) -> None:
    requested = st.session_state.setdefault(REAL_REQUESTED, [])
    if key not in requested:
        requested.append(key)


# --- the real model: built in a child process, cached for every session -------------------------


@st.cache_data(
    max_entries=32, show_spinner="Building the real keras-bert model in a separate Python process..."
)
def _real_report(config_json: str) -> dict:
    return real_model.describe_in_child_process(ModelConfig.from_json(config_json))


class _BuiltConfigs:
    """Which configurations were built lately (by any session), so their table shows at once."""

    def __init__(self, size: int = 32) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def add(self, key: str) -> None:
        with self._lock:
            self._keys[key] = None
            self._keys.move_to_end(key)
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._keys


@st.cache_resource
def _built_configs() -> _BuiltConfigs:
    return _BuiltConfigs()


# --- arithmetic, cached (ModelConfig is hashable; each call is cheap, but reruns add up) ---------


@st.cache_data(max_entries=64, show_spinner=False)
def _sweep(config: ModelConfig, knob: str) -> dict:
    return dict(growth.sweep(config, knob))


@st.cache_data(max_entries=64, show_spinner=False)
def _sequence_sweep(config: ModelConfig) -> dict:
    return dict(growth.sequence_sweep(config))


@st.cache_data(max_entries=64, show_spinner=False)
def _table(config: ModelConfig) -> pd.DataFrame:
    return pd.DataFrame(explain.arithmetic_table(config))


# --- reading the state ----------------------------------------------------------------------------


def _initialise() -> None:
    """First run of the session: the link decides, else what another page left, else defaults."""
    if not st.session_state.get(READY):
        notes: list[tuple[str, str]] = []
        params = st.query_params.to_dict()
        stored = st.session_state.get("model_config")
        if params:
            config, problems = explain.config_from_link(params)
            notes = [("warning", explain.escape_markdown(problem)) for problem in problems]
        elif isinstance(stored, ModelConfig):
            config = stored
        else:
            config = ModelConfig()
        st.session_state[VALUES] = config.to_dict()
        st.session_state[NOTES] = notes
        st.session_state[READY] = True
    else:
        # Another page may have changed the shared configuration since this page last wrote it.
        stored = st.session_state.get("model_config")
        if isinstance(stored, ModelConfig) and stored != st.session_state.get(WRITTEN):
            st.session_state[VALUES] = stored.to_dict()
            st.session_state[NOTES] = []
    st.session_state.setdefault(NOTES, [])


def _resolve() -> tuple[ModelConfig, str | None]:
    """The configuration to show, and the sentence explaining a sequence longer than P, if any."""
    values = st.session_state[VALUES]
    if values["embed_dim"] % values["heads"]:
        chosen = explain.nearest_head_count(values["embed_dim"], values["heads"])
        st.session_state[NOTES].append(
            ("warning", explain.head_count_note(values["embed_dim"], values["heads"], chosen))
        )
        values["heads"] = chosen
    try:
        return ModelConfig(**values), None
    except ConfigError as error:
        if values["seq_len"] > values["pos_num"]:
            return ModelConfig(**(values | {"seq_len": values["pos_num"]})), str(error)
        # Values only ever come from in-range controls, presets or a checked link; should that
        # change, fall back to the defaults with the sentence rather than stop the page.
        st.session_state[VALUES] = ModelConfig().to_dict()
        return ModelConfig(), str(error)


# --- sections -------------------------------------------------------------------------------------


def _controls() -> int:
    """The sidebar: one control per setting, plus the batch size for training memory."""
    values = st.session_state[VALUES]
    _sync_widgets(values)
    with st.sidebar:
        st.subheader("Model settings")
        for field in ("vocab", "seq_len", "pos_num", "embed_dim"):
            _stepped_control(field, values[field])
        _heads_control(values["embed_dim"])
        label, help_text = LABELS["layers"]
        low, high = LIMITS["layers"]
        st.slider(label, low, high, key=_slider_key("layers"), help=help_text,
                  on_change=_on_control, args=("layers", _slider_key("layers")))  # fmt: skip
        _stepped_control("ff_dim", values["ff_dim"])
        st.toggle(
            "Count the pretraining heads (MLM + NSP)",
            key="explorer_count_heads",
            help="On: get_model(...) as the notebook calls it, with the masked-language-model and "
            "next-sentence heads. Off: the bare encoder (training=False).",
            on_change=_on_control,
            args=("encoder_only", "explorer_count_heads"),
        )
        st.divider()
        batch = st.select_slider(
            "Batch size (for training memory)",
            BATCH_SIZES,
            value=32,
            key=BATCH,
            format_func=lambda v: f"{v:,}",
        )
    return int(batch)


def _stepped_control(field: str, value: int) -> None:
    label, help_text = LABELS[field]
    low, high = LIMITS[field]
    stops = sorted(set(STOPS[field]) | {value})
    st.select_slider(
        label,
        stops,
        key=_slider_key(field),
        help=help_text,
        format_func=lambda stop: f"{stop:,}",
        on_change=_on_control,
        args=(field, _slider_key(field)),
    )
    st.number_input(
        f"Exact {label.lower()}",
        min_value=low,
        max_value=high,
        step=1,
        key=_exact_key(field),
        label_visibility="collapsed",
        on_change=_on_control,
        args=(field, _exact_key(field)),
    )


def _heads_control(embed_dim: int) -> None:
    label, help_text = LABELS["heads"]
    choices = valid_head_counts(embed_dim)
    if len(choices) == 1:
        st.caption(f"{label}: 1, the only head count that divides an embedding of {embed_dim:,}.")
        return
    st.select_slider(
        label,
        choices,
        key=_slider_key("heads"),
        help=help_text + " Only the counts that divide the current d are offered.",
        on_change=_on_control,
        args=("heads", _slider_key("heads")),
    )


def _presets() -> None:
    for group, name in ((presets.NOTEBOOK, "notebook"), (presets.GOOGLE, "google")):
        key = f"explorer_preset_{name}"
        st.pills(
            group,
            [preset.key for preset in presets.presets_in(group)],
            format_func=lambda preset_key: presets.BY_KEY[preset_key].name,
            key=key,
            on_change=_apply_preset,
            args=(key,),
        )


def _notes(sequence_problem: str | None, config: ModelConfig) -> None:
    show = {"info": st.info, "warning": st.warning, "error": st.error}
    for kind, text in st.session_state[NOTES]:
        show[kind](text)
    if sequence_problem:
        with st.container(border=True):
            st.warning(sequence_problem)
            left, right = st.columns([3, 2], vertical_alignment="center")
            left.caption(f"Until then every figure below uses a sequence length of {config.seq_len:,}.")
            right.button(
                f"Raise the position count to {st.session_state[VALUES]['seq_len']:,}",
                on_click=_raise_position_count,
                key="explorer_raise_positions",
            )


def _headline(config: ModelConfig, batch: int) -> None:
    params = total_params(config)
    memory = costs.memory(config, batch_size=batch)
    work = costs.compute(config)
    columns = st.columns([1.8, 1, 1.15, 1, 1])
    columns[0].metric(
        "Parameters", explain.format_count(params), help="model.count_params() of the real model"
    )
    columns[0].caption(
        f"≈ {explain.format_short_count(params)} · {'bare encoder' if config.encoder_only else 'with MLM + NSP heads'}"
    )
    columns[1].metric(
        "Weights", explain.format_bytes(memory.weights_bytes["fp32"]), help="fp32, 4 bytes each"
    )
    columns[1].caption(
        f"fp32 · fp16 {explain.format_bytes(memory.weights_bytes['fp16'])} · "
        f"int8 {explain.format_bytes(memory.weights_bytes['int8'])}"
    )
    columns[2].metric("Training memory", explain.format_bytes(memory.training_bytes), help="Adam in fp32")
    columns[2].caption(
        f"Adam, batch {batch:,}: {explain.format_bytes(memory.adam_state_bytes)} weights, gradients and "
        f"moments + {explain.format_bytes(memory.activation_bytes)} activations"
    )
    columns[3].metric(
        "Forward FLOPs", explain.format_flops(work.forward, short=True), help=f"{work.forward:,} FLOPs"
    )
    columns[3].caption(f"per sequence of {config.seq_len:,} tokens")
    columns[4].metric(
        "Training FLOPs", explain.format_flops(work.training, short=True), help=f"{work.training:,} FLOPs"
    )
    columns[4].caption("per sequence: forward + backward ≈ 3 × forward")
    with st.expander("The formulas behind these figures"):
        st.caption(explain.notation(config, batch))
        results = {
            "params": f"{params:,} parameters",
            "weights": f"{memory.weights_bytes['fp32']:,} bytes in fp32",
            "training_state": f"{memory.adam_state_bytes:,} bytes",
            "activations": f"{memory.activation_bytes:,} bytes for batch {batch:,}",
            "forward_flops": f"{work.forward:,} FLOPs",
            "training_flops": f"{work.training:,} FLOPs",
        }
        titles = {
            "params": "Parameters",
            "weights": "Weights",
            "training_state": "Training state (Adam)",
            "activations": "Activations",
            "forward_flops": "Forward FLOPs per sequence",
            "training_flops": "Training FLOPs per sequence",
        }
        for key, formula in costs.FORMULAS.items():
            st.markdown(
                f"**{titles.get(key, key)}**: {explain.escape_markdown(formula)} = **{results.get(key, '')}**"
            )
        st.caption(
            "A multiply-add counts as 2 FLOPs and only matrix products are counted; memory counts "
            "fp32 activations kept for the backward pass."
        )


def _charts(config: ModelConfig) -> None:
    tabs = st.tabs(CHART_TABS, key=CHART_TAB, on_change="rerun")
    rows = [row.as_dict() for row in layer_rows(config)]
    with tabs[0]:
        if tabs[0].open:
            st.plotly_chart(charts.layer_bar(rows), key="explorer_chart_layers")
    with tabs[1]:
        if tabs[1].open:
            st.plotly_chart(charts.component_treemap(rows), key="explorer_chart_components")
    with tabs[2]:
        if tabs[2].open:
            st.plotly_chart(charts.block_stack(block_totals(config)), key="explorer_chart_blocks")
    with tabs[3]:
        if tabs[3].open:
            knob = (
                st.segmented_control(
                    "Grow along",
                    list(growth.KNOBS),
                    default="vocab",
                    format_func=lambda name: growth.KNOBS[name],
                    key=GROWTH_KNOB,
                )
                or "vocab"
            )
            sweep = _sweep(config, knob)
            st.caption(sweep["note"])
            st.plotly_chart(charts.growth_line(sweep), key="explorer_chart_growth")
    with tabs[4]:
        if tabs[4].open:
            st.caption(
                "The count is flat along S, while the activations and the attention work grow with it "
                "(the attention scores with S²). Each line is relative to its value now; hover for numbers."
            )
            st.plotly_chart(charts.sequence_lines(_sequence_sweep(config)), key="explorer_chart_sequence")


def _layer_table(config: ModelConfig) -> None:
    st.subheader("The layer table")
    st.caption(
        "model.summary()'s columns, computed: the same layers, names, shapes and counts keras-bert "
        "would print, plus where each layer belongs and how its count is worked out."
    )
    frame = _table(config)
    st.dataframe(
        frame,
        hide_index=True,
        height=320,
        column_config={"Param #": st.column_config.NumberColumn(format="localized")},
    )
    st.caption(f"{len(frame):,} layers · total {total_params(config):,} parameters")
    _real_model(config)


def _real_model(config: ModelConfig) -> None:
    key = config.to_json()
    try:
        real_model.check_build_fits(config)
    except real_model.MemoryGuardError as refusal:
        st.info(str(refusal))
        return
    requested = st.session_state.setdefault(REAL_REQUESTED, [])
    if key not in requested and key not in _built_configs():
        left, right = st.columns([2, 3], vertical_alignment="center")
        left.button(
            "Build the real model and compare",
            on_click=_request_real,
            args=(key,),
            key="explorer_build_real",
            icon=":material/construction:",
        )
        right.caption(
            f"Runs keras-bert's get_model in a separate Python process (about "
            f"{real_model.estimated_build_mb(config):,} MB, a few seconds) and reads model.summary()'s "
            "columns back; moving a control never builds anything."
        )
        return
    try:
        report = _real_report(key)
    except UserError as failure:
        st.info(str(failure))
        if key in requested:
            requested.remove(key)
        return
    verdict = report.get("verify", {})
    _built_configs().add(key)
    if verdict.get("matches"):
        st.success(
            f"The real keras-bert model matches the arithmetic exactly: {len(verdict['real_layers']):,} layers, "
            f"{verdict['real_total_params']:,} parameters, built in {verdict['build_seconds']:.1f} s."
        )
    else:
        st.warning("The real keras-bert model differs from the arithmetic:")
        for difference in verdict.get("differences", []):
            st.text(difference)
    with st.expander("The real model's table (from the built model)"):
        st.dataframe(
            pd.DataFrame(explain.real_table(verdict.get("real_layers", []))),
            hide_index=True,
            height=320,
            column_config={"Param #": st.column_config.NumberColumn(format="localized")},
        )


def _explanations(config: ModelConfig) -> None:
    st.subheader("Why these numbers")
    with st.expander("Is this a pre-trained BERT?"):
        st.markdown(explain.UNTRAINED_MODEL)
    with st.expander("Why does the sequence length leave the count unchanged?"):
        st.markdown(explain.escape_markdown(explain.sequence_length_note(config)))
    with st.expander("Where do the parameters sit?"):
        st.markdown(explain.escape_markdown(explain.feed_forward_note(config)))
    with st.expander("How big should the embedding be? (the fourth-root rule)"):
        st.markdown(explain.escape_markdown(explain.fourth_root_note(config)))


def _export(config: ModelConfig) -> None:
    st.subheader("Export and share")
    params = config.to_query_params()
    base = (st.context.url or "").split("?")[0]
    if base and urlsplit(base).path == "":
        base += "/"
    st.caption("A link to exactly this configuration:")
    st.code(base + ("?" + urlencode(params) if params else ""), language=None)
    frame = _table(config)
    snippet = config.python_snippet()
    left, middle, right = st.columns(3)
    left.download_button(
        "Configuration (JSON)", config.to_json(), file_name="bert_config.json", mime="application/json",
        on_click="ignore", icon=":material/download:", key="explorer_download_json",
    )  # fmt: skip
    middle.download_button(
        "Layer table (CSV)", lambda: to_safe_csv(frame), file_name="bert_layers.csv", mime="text/csv",
        on_click="ignore", icon=":material/download:", key="explorer_download_csv",
    )  # fmt: skip
    right.download_button(
        "Python snippet", snippet, file_name="build_bert.py", mime="text/x-python",
        on_click="ignore", icon=":material/download:", key="explorer_download_snippet",
    )  # fmt: skip
    with st.expander("Build the same model with keras-bert"):
        st.code(snippet, language="python")


def _keep_link_in_sync(config: ModelConfig) -> None:
    wanted = config.to_query_params()
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


# --- the page -------------------------------------------------------------------------------------

_initialise()
config, sequence_problem = _resolve()
st.session_state["model_config"] = config
st.session_state[WRITTEN] = config

batch_size = _controls()
st.title("Model size explorer")
st.caption(
    "How many parameters a keras-bert model has, where they sit, and what it costs to store and run, "
    "worked out by arithmetic as you move the controls; nothing is built unless you ask."
)
_presets()
_notes(sequence_problem, config)
_headline(config, batch_size)
_charts(config)
_layer_table(config)
_explanations(config)
_export(config)
_keep_link_in_sync(config)
