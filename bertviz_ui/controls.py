"""The explorer's controls: one per model field, each bound to the session's ``ExplorerState``.

A control's change runs before the page script (a callback): the state takes the new value, and
every control is then set to show the state's values, so a head count snapped by the state or a
preset's values appear in the controls at once. A slider steps through the field's ``stops``; the
exact number box beside it takes any value in range, which then becomes one more stop.
"""

from __future__ import annotations

import streamlit as st

from bertviz_core.arithmetic.config import valid_head_counts
from bertviz_core.arithmetic.explorer_state import ExplorerState
from bertviz_core.fields import MODEL_FIELD, MODEL_FIELDS
from bertviz_ui.session import explorer_state, set_explorer_state

_COUNT_HEADS = "explorer_count_heads"  # the toggle shows "count the heads": the opposite of encoder_only


def _slider_key(name: str) -> str:
    return f"explorer_{name}"


def _exact_key(name: str) -> str:
    return f"explorer_{name}_exact"


def show_state(state: ExplorerState) -> None:
    """Make every control show ``state``'s values; only keys whose value differs are touched."""
    for field in MODEL_FIELDS:
        wanted = state.values[field.name]
        keys = [_slider_key(field.name)] + ([_exact_key(field.name)] if field.stops else [])
        for key in keys:
            if st.session_state.get(key) != wanted:
                st.session_state[key] = wanted
    count_heads = not state.values["encoder_only"]
    if st.session_state.get(_COUNT_HEADS) != count_heads:
        st.session_state[_COUNT_HEADS] = count_heads


def change(new_state: ExplorerState) -> None:
    """Store a new state and show it in the controls (for callbacks, which run before the page)."""
    set_explorer_state(new_state)
    show_state(new_state)


def _on_control(name: str, key: str) -> None:
    value = st.session_state[key]
    state = explorer_state()
    change(state.with_value(name, (not value) if name == "encoder_only" else int(value)))


def model_controls(state: ExplorerState) -> None:
    """The sidebar's controls for the seven fields and the pretraining heads."""
    show_state(state)
    for field in MODEL_FIELDS:
        if field.name == "heads":
            _heads_control(state.values["embed_dim"])
        elif field.stops:
            _stepped_control(field.name, state.values[field.name])
        else:
            low, high = field.limits
            key = _slider_key(field.name)
            st.slider(field.title, low, high, key=key, help=field.help, on_change=_on_control,
                      args=(field.name, key))  # fmt: skip
    st.toggle(
        "Count the pretraining heads (MLM + NSP)",
        key=_COUNT_HEADS,
        help="On: get_model(...) as the notebook calls it, with the masked-language-model and "
        "next-sentence heads. Off: the bare encoder (training=False).",
        on_change=_on_control,
        args=("encoder_only", _COUNT_HEADS),
    )


def _stepped_control(name: str, value: int) -> None:
    field = MODEL_FIELD[name]
    low, high = field.limits
    st.select_slider(
        field.title,
        sorted({*field.stops, value}),
        key=_slider_key(name),
        help=field.help,
        format_func=lambda stop: f"{stop:,}",
        on_change=_on_control,
        args=(name, _slider_key(name)),
    )
    st.number_input(
        f"Exact {field.label}",
        min_value=low,
        max_value=high,
        step=1,
        key=_exact_key(name),
        label_visibility="collapsed",
        on_change=_on_control,
        args=(name, _exact_key(name)),
    )


def _heads_control(embed_dim: int) -> None:
    field = MODEL_FIELD["heads"]
    choices = valid_head_counts(embed_dim)
    if len(choices) == 1:
        st.caption(f"{field.title}: 1, the only head count that divides an embedding of {embed_dim:,}.")
        return
    st.select_slider(
        field.title,
        choices,
        key=_slider_key("heads"),
        help=field.help + " Only the counts that divide the current d are offered.",
        on_change=_on_control,
        args=("heads", _slider_key("heads")),
    )
