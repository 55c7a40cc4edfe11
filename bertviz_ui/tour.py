"""The notebook's story as a walk above the explorer's figures: Back, Next, and a link per step.

Moving to a step applies its notebook preset through the controls (``change``), exactly as the
preset pills do, so the preset's notes (the 12-heads explanation) appear the same way. The walk
only remembers its step number; the explorer's state stays the one source of what is shown.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import streamlit as st

from bertviz_core.arithmetic import tour
from bertviz_core.text import escape_markdown
from bertviz_ui.controls import change
from bertviz_ui.session import TOUR_STEP, explorer_state

_STEP = TOUR_STEP


def _go_to(number: int) -> None:
    step = tour.step(number)
    st.session_state[_STEP] = step.number
    change(explorer_state().with_preset(step.preset_key))


def _leave() -> None:
    st.session_state.pop(_STEP, None)  # the controls keep the step's settings


def _address(step: tour.TourStep) -> str:
    """The step's full link on this server, like the export section's: page address plus query."""
    base = (st.context.url or "").split("?")[0] or "/"
    # quote: the page address comes from the visitor's browser and goes into a Markdown link.
    return quote(base, safe=":/%@") + "?" + urlencode(step.link_params)


def walk_tells(state) -> bool:
    """Whether the walk is on a step and the controls still hold that step's configuration."""
    number = st.session_state.get(_STEP)
    return number is not None and state.config == tour.step(number).config


def link_params(shown: dict[str, str]) -> dict[str, str]:
    """The address bar's query: the explorer's (``shown``), and the walk's step while the controls
    hold that step's configuration, so the address is the step's own link."""
    number = st.session_state.get(_STEP)
    if number is None or explorer_state().config != tour.step(number).config:
        return shown
    return {**shown, tour.STEP_KEY: str(number)}


def notebook_tour() -> None:
    """A bordered box: a Start button, or the current step with Back, Next, Leave and its link."""
    number = st.session_state.get(_STEP)
    with st.container(border=True, key="explorer_tour"):
        if number is None:
            row = st.container(horizontal=True, vertical_alignment="center")
            # One line while the walk is off: the summary waits in the button's tooltip.
            row.markdown("**Walk through the notebook's story**", width="content")
            row.button("Start the walk", key="explorer_tour_start", icon=":material/directions_walk:",
                       help=tour.summary(), on_click=_go_to, args=(1,))  # fmt: skip
            return
        step = tour.step(number)
        st.markdown(
            f"**Walk through the notebook's story** · Step {step.number} of {len(tour.STEPS)}: "
            f"{escape_markdown(step.title)}"
        )
        st.markdown(
            f"**The notebook saw:** {escape_markdown(step.notebook_saw)}  \n"
            f"**The explorer shows:** {escape_markdown(step.explorer_shows)}"
        )
        if explorer_state().config != step.config:
            st.caption("The settings have moved since this step; Back or Next returns to the story.")
        row = st.container(horizontal=True, vertical_alignment="center")
        row.button("Back", key="explorer_tour_back", icon=":material/arrow_back:",
                   disabled=step.number == 1, on_click=_go_to, args=(step.number - 1,))  # fmt: skip
        row.button("Next", key="explorer_tour_next", icon=":material/arrow_forward:", type="primary",
                   disabled=step.number == len(tour.STEPS), on_click=_go_to, args=(step.number + 1,))  # fmt: skip
        row.button("Leave the walk", key="explorer_tour_leave", icon=":material/close:", type="tertiary",
                   on_click=_leave)  # fmt: skip
        # Short link text keeps the buttons and the link on one line at 1024 px; the href is the link.
        row.markdown(f"[Link to step {step.number}]({_address(step)})", width="content")
