"""The training page's boxes: the model's fields and the training settings, from the field tables.

Each box keeps its value for the session (also across a visit to the explorer); the head count
offers only the counts that divide the embedding dimension, moving to the nearest one when the
embedding changes under it.
"""

from __future__ import annotations

import streamlit as st

from bertviz_core.arithmetic.config import ModelConfig, training_default_config, valid_head_counts
from bertviz_core.errors import ConfigError, TrainingError
from bertviz_core.fields import MODEL_FIELD, TRAINING_FIELD
from bertviz_core.settings import TrainSettings
from bertviz_core.text import escape_markdown

LEARNING_RATES = (1e-5, 2e-5, 3e-5, 5e-5, 1e-4, 3e-4, 5e-4, 1e-3, 3e-3, 1e-2)
_BOXES = ("vocab", "seq_len", "embed_dim", "heads", "layers", "ff_dim")


def model_key(name: str) -> str:
    return f"train_model_{name}"


def setting_key(name: str) -> str:
    return f"train_{name}"


def setting(name: str):
    """A training setting as its box holds it now (the default before the box is drawn)."""
    return st.session_state.get(setting_key(name), TRAINING_FIELD[name].default)


def load_model(config: ModelConfig) -> None:
    """For on_click: put a configuration into the model boxes (before they are drawn)."""
    for name in _BOXES:
        st.session_state[model_key(name)] = getattr(config, name)


def model_boxes() -> ModelConfig | None:
    """Six boxes (the position count follows the sequence length); None, with the sentence, if invalid."""
    defaults = training_default_config()
    for name in _BOXES:
        st.session_state.setdefault(model_key(name), getattr(defaults, name))
    first_row, second_row = st.columns(3), st.columns(3)
    values = {name: _number(column, name) for column, name in zip(first_row, _BOXES[:3], strict=True)}
    heads = MODEL_FIELD["heads"]
    choices = valid_head_counts(values["embed_dim"], max_heads=heads.train_bounds[1])
    if st.session_state.get(model_key("heads")) not in choices:
        previous = int(st.session_state.get(model_key("heads")) or 1)
        st.session_state[model_key("heads")] = min(choices, key=lambda count: (abs(count - previous), count))
    values["heads"] = second_row[0].selectbox(heads.title, choices, key=model_key("heads"),
                                              persist_state="session", help=heads.train_help)  # fmt: skip
    values["layers"] = _number(second_row[1], "layers")
    values["ff_dim"] = _number(second_row[2], "ff_dim")
    try:
        return ModelConfig(**values, pos_num=values["seq_len"], encoder_only=True)
    except ConfigError as error:
        st.error(escape_markdown(error))
        return None


def _number(column, name: str) -> int:
    field = MODEL_FIELD[name]
    low, high = field.train_bounds
    return int(column.number_input(field.title, min_value=low, max_value=high, step=1, key=model_key(name),
                                   persist_state="session", help=field.train_help))  # fmt: skip


def settings_boxes() -> TrainSettings | None:
    """Epochs, batch size, learning rate; validation share, seed, patience. None if invalid."""
    first, second, third = st.columns(3)
    epochs = _whole(first, "epochs")
    batch_size = _whole(second, "batch_size")
    rate = TRAINING_FIELD["learning_rate"]
    # Set through the session, not value=: choosing a checkpoint moves it (start_from).
    st.session_state.setdefault(setting_key("learning_rate"), rate.default)
    learning_rate = third.select_slider(rate.title, sorted({*LEARNING_RATES, rate.default}),
                                        key=setting_key("learning_rate"), persist_state="session",
                                        format_func=lambda value: f"{value:g}", help=rate.help)  # fmt: skip
    first, second, third = st.columns(3)
    share = TRAINING_FIELD["val_share"]
    val_share = first.slider(share.title, min_value=share.limits[0], max_value=share.limits[1], value=share.default,
                             step=0.05, key=setting_key("val_share"), persist_state="session", help=share.help)  # fmt: skip
    seed = _whole(second, "seed")
    patience = _whole(third, "patience")
    try:
        return TrainSettings(epochs=epochs, batch_size=batch_size, learning_rate=float(learning_rate),
                             val_share=round(float(val_share), 4), seed=seed, patience=patience)  # fmt: skip
    except TrainingError as error:
        st.error(escape_markdown(error))
        return None


def _whole(column, name: str) -> int:
    field = TRAINING_FIELD[name]
    low, high = (int(limit) for limit in field.limits)
    return int(column.number_input(field.title, min_value=low, max_value=high, value=field.default, step=1,
                                   key=setting_key(name), persist_state="session", help=field.help))  # fmt: skip
