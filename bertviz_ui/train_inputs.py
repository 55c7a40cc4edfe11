"""The training page's boxes: the new model's fields and the training settings, from the field tables.

``train_state`` reads every box once, at the top of the page, into the core's ``TrainState``;
the boxes are drawn further down with the same keys, and every section takes its values from that
state. Each box keeps its value for the session (also across a visit to the explorer).
"""

from __future__ import annotations

import streamlit as st

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.fields import MODEL_FIELD, TRAINING_FIELD
from bertviz_core.settings import TrainSettings
from bertviz_core.text import escape_markdown
from bertviz_core.train_state import (
    CHECKPOINT,
    LEARNING_RATES,
    MODEL_BOXES,
    SCRATCH,
    TrainState,
    heads_offered,
)

START_KEY = "train_start_from"
STARTS = {SCRATCH: "A new model (from scratch)", CHECKPOINT: "A pretrained checkpoint"}


def model_key(name: str) -> str:
    return f"train_model_{name}"


def setting_key(name: str) -> str:
    return f"train_{name}"


def train_state() -> TrainState:
    """Every box's value as it stands for this run (its default before the box was first drawn)."""
    state = TrainState.read(
        lambda name: st.session_state.get(model_key(name)),
        lambda name: st.session_state.get(setting_key(name)),
        st.session_state.get(START_KEY, SCRATCH),
    )
    for name in MODEL_BOXES:  # the boxes show what the state settled on (a head count that divides d)
        if st.session_state.get(model_key(name)) != state.model[name]:
            st.session_state[model_key(name)] = state.model[name]
    return state


def load_model(config: ModelConfig) -> None:
    """For on_click: put a configuration into the model boxes (before they are drawn)."""
    for name in MODEL_BOXES:
        st.session_state[model_key(name)] = getattr(config, name)


def set_box(key: str, value: object) -> None:
    """For on_click: a box's new value, set before it is drawn."""
    st.session_state[key] = value


def model_boxes(state: TrainState) -> ModelConfig | None:
    """Six boxes (the position count follows the sequence length); None, with the sentence, if invalid."""
    first_row, second_row = st.columns(3), st.columns(3)
    for column, name in zip(first_row, MODEL_BOXES[:3], strict=True):
        _number(column, name)
    heads = MODEL_FIELD["heads"]
    second_row[0].selectbox(heads.title, heads_offered(state.model["embed_dim"]), key=model_key("heads"),
                            persist_state="session", help=heads.train_help)  # fmt: skip
    _number(second_row[1], "layers")
    _number(second_row[2], "ff_dim")
    if state.model_problem:
        st.error(escape_markdown(state.model_problem))
    return state.config


def _number(column, name: str) -> None:
    """A box for any whole number: a value out of the page's bounds gets the state's sentence right
    under the boxes (a box with a maximum would only turn red and keep its old value)."""
    field = MODEL_FIELD[name]
    column.number_input(field.title, min_value=1, step=1, key=model_key(name), persist_state="session",
                        help=f"{field.train_help} From {field.train_bounds[0]:,} to {field.train_bounds[1]:,} here.")  # fmt: skip


def settings_boxes(state: TrainState) -> TrainSettings | None:
    """Epochs, batch size, learning rate; validation share, seed, patience. None if invalid."""
    first, second, third = st.columns(3)
    _whole(first, "epochs")
    _whole(second, "batch_size")
    rate = TRAINING_FIELD["learning_rate"]
    # Set through the session, not value=: choosing a checkpoint moves it (train_model).
    st.session_state.setdefault(setting_key("learning_rate"), rate.default)
    third.select_slider(rate.title, LEARNING_RATES, key=setting_key("learning_rate"), persist_state="session",
                        format_func=lambda value: f"{value:g}", help=rate.help)  # fmt: skip
    first, second, third = st.columns(3)
    share = TRAINING_FIELD["val_share"]
    first.slider(share.title, min_value=share.limits[0], max_value=share.limits[1], value=share.default, step=0.05,
                 key=setting_key("val_share"), persist_state="session", help=share.help)  # fmt: skip
    _whole(second, "seed")
    _whole(third, "patience")
    if state.settings_problem:
        st.error(escape_markdown(state.settings_problem))
    return state.settings


def _whole(column, name: str) -> None:
    field = TRAINING_FIELD[name]
    low, high = (int(limit) for limit in field.limits)
    column.number_input(field.title, min_value=low, max_value=high, value=field.default, step=1,
                        key=setting_key(name), persist_state="session", help=field.help)  # fmt: skip
