"""The explorer's real keras-bert build: asked for by a visitor, built once, shared by every session.

The build is a short job in a worker process (``jobs.ask``). Its report (``size --verify --json``'s
object) is kept for the whole server (``recently_built``), so a configuration any visitor built
lately shows at once for everyone instead of behind a button.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import pandas as pd
import streamlit as st

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import summary_table
from bertviz_core.arithmetic.training_memory import estimated_build_mb
from bertviz_core.budget import check_build_fits
from bertviz_core.errors import MemoryGuardError
from bertviz_core.jobs.requests import build_request
from bertviz_core.text import format_duration
from bertviz_core.timing import TENSORFLOW_IMPORT_SECONDS, predict_build_seconds
from bertviz_ui.figures import layer_table_columns
from bertviz_ui.jobs import ask, visitor


def real_report(config: ModelConfig) -> dict | None:
    """The build's report: at once when any visitor built this configuration lately; otherwise the
    build is asked for (or followed, if it already was) and None is returned meanwhile, with the
    wait, the progress or the refusal drawn."""
    key = config.to_json()
    report = recently_built().get(key)
    if report is not None:
        return report
    snapshot = ask(
        "build", key, lambda: build_request(config, visitor()), "Building the real keras-bert model"
    )
    if snapshot is None:
        return None
    recently_built().add(key, snapshot.result)
    return snapshot.result


class _RecentlyBuilt:
    """The reports of the last ``size`` configurations built, by any session (thread-safe)."""

    def __init__(self, size: int = 32) -> None:
        self._reports: OrderedDict[str, dict] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def add(self, key: str, report: dict) -> None:
        with self._lock:
            self._reports[key] = report
            self._reports.move_to_end(key)
            while len(self._reports) > self._size:
                self._reports.popitem(last=False)

    def get(self, key: str) -> dict | None:
        with self._lock:
            return self._reports.get(key)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None


@st.cache_resource
def recently_built() -> _RecentlyBuilt:
    return _RecentlyBuilt()


def real_model_section(config: ModelConfig) -> None:
    """A button that builds the configuration for real in a worker, then the proof: keras-bert's own
    layer table against the arithmetic's (at once when any visitor built it lately)."""
    key = config.to_json()
    try:
        check_build_fits(config, beside_server=True)
    except MemoryGuardError as refusal:
        st.info(str(refusal))
        return
    requested = st.session_state.setdefault("explorer_real_requested", [])
    if key not in requested and key not in recently_built():
        # The button on a row of its own: in a column at 1024 px its label was cut ("Build the real model and c…").
        st.button("Build the real model and compare", on_click=requested.append, args=(key,),
                  key="explorer_build_real", icon=":material/construction:")  # fmt: skip
        st.caption(
            f"Runs keras-bert's get_model in a worker process (about {estimated_build_mb(config):,} MB, about "
            f"{format_duration(predict_build_seconds(config))}, plus {TENSORFLOW_IMPORT_SECONDS:.0f} s if the worker "
            "still has to load TensorFlow) and reads model.summary()'s columns back; moving a control never "
            "builds anything."
        )
        return
    report = real_report(config)
    if report is None:
        return
    verdict = report.get("verify", {})
    if verdict.get("matches"):
        st.success(
            f"The real keras-bert model matches the arithmetic exactly: {len(verdict['real_layers']):,} layers, "
            f"{verdict['real_total_params']:,} parameters, built in {verdict['build_seconds']:.1f} s "
            f"(predicted {predict_build_seconds(config):.1f} s)."
        )
    else:
        st.warning("The real keras-bert model differs from the arithmetic:")
        for difference in verdict.get("differences", []):
            st.text(difference)
    with st.expander("The real model's table (from the built model)"):
        real = pd.DataFrame(summary_table(verdict.get("real_layers", [])))
        st.dataframe(real, hide_index=True, height=320, **layer_table_columns(real.columns))
