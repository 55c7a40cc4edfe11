"""What a visitor's session holds, typed: the explorer's state and the model handed between pages.

Every session key of more than one page is named here, so a page never reaches into another's
keys; widget keys stay with the widgets that own them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import streamlit as st

from bertviz_core.arithmetic import tour
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.explorer_state import ExplorerState

_EXPLORER_STATE = "explorer_state"
_SHARED_MODEL = "shared_model"
TOUR_STEP = "explorer_tour_step"  # the walk's step shown (1..5), or absent when the walk is not on
T = TypeVar("T")


@dataclass(frozen=True)
class SharedModel:
    """The configuration one page last worked with, for the other pages to offer."""

    config: ModelConfig
    page: str  # "explorer" or "train"


def shared_model() -> SharedModel | None:
    shared = st.session_state.get(_SHARED_MODEL)
    return shared if isinstance(shared, SharedModel) else None


def share_model(config: ModelConfig, page: str) -> None:
    if shared_model() != SharedModel(config, page):
        st.session_state[_SHARED_MODEL] = SharedModel(config, page)


def explorer_state() -> ExplorerState:
    """The session's explorer state. The first time: the shared link decides, else a model another
    page shared, else keras-bert's defaults. Later, a model another page shared since wins."""
    state = st.session_state.get(_EXPLORER_STATE)
    shared = shared_model()
    if not isinstance(state, ExplorerState):
        params = st.query_params.to_dict()
        step = tour.step_in_link(params.pop(tour.STEP_KEY, ""))
        if step is not None:  # a step's link: the walk at that step, its preset's notes included
            state = tour.step(step).state
            st.session_state[TOUR_STEP] = step
        elif params:
            state = ExplorerState.from_link(params)
        elif shared is not None:
            state = ExplorerState.from_config(shared.config)
        else:
            state = ExplorerState()
        st.session_state[_EXPLORER_STATE] = state
    elif shared is not None and shared.page != "explorer" and shared.config != state.config:
        state = ExplorerState.from_config(shared.config)
        st.session_state[_EXPLORER_STATE] = state
    return state


def set_explorer_state(state: ExplorerState) -> None:
    st.session_state[_EXPLORER_STATE] = state


def remembered(name: str, key: object, compute: Callable[[], T]) -> T:
    """``compute()``'s result, kept in this session for the last ``key`` asked under ``name``."""
    kept = st.session_state.get(f"remembered_{name}")
    if kept is not None and kept[0] == key:
        return kept[1]
    value = compute()
    st.session_state[f"remembered_{name}"] = (key, value)
    return value
