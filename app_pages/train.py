"""Train a classifier: data in, a keras-bert model, live training, results, prediction, export.

Everything a visitor loads, trains or sees lives in their own session: two browser tabs never
share data, models or progress. The page's own process never imports TensorFlow. Every box is
read once, at the top (``train_state``), and each section takes its values from that state.
"""

from __future__ import annotations

import streamlit as st

from bertviz_core.arithmetic import explain
from bertviz_core.arithmetic.training_memory import TRAINING_RUNTIME_MB
from bertviz_core.text import escape_markdown as md
from bertviz_ui import ladder, training_run
from bertviz_ui.jobs import pool
from bertviz_ui.timing import follow_measurement
from bertviz_ui.train_data import choose_table, data_section
from bertviz_ui.train_inputs import settings_boxes, train_state
from bertviz_ui.train_model import model_section
from bertviz_ui.train_results import results_section

follow_measurement()  # first, so that its fragment keeps its place in every run
st.title("Train a classifier")
training_run.collect()
pool().prewarm(TRAINING_RUNTIME_MB)  # a visitor here will likely train: a worker loads TensorFlow now
st.markdown(
    "Train a keras-bert encoder with a softmax head on your own texts and labels, watch it learn, "
    "check it against a baseline, try it and take it home."
)
state = train_state()

st.subheader("1. Data", divider="gray")
chosen = choose_table()
rows = data_section(chosen, state) if chosen else None
if chosen and rows is None:
    st.info("Choose a text column and a label column that work, or load another file.")

if rows is not None:
    source = f"{chosen.source} (text '{rows.text_column}', label '{rows.label_column}')"
    rows_key = (chosen.table_id, rows.text_column, rows.label_column, state.seed)

    st.subheader("2. Model", divider="gray")
    start = model_section(rows, rows_key, source, state)

    st.subheader("3. Training", divider="gray")
    settings = settings_boxes(state)
    with st.expander("Why the notebook's `Dense(...)(model.output)` failed, and what this page builds"):
        st.markdown(explain.CLASSIFIER_HEAD)
        st.code(explain.CLASSIFIER_HEAD_CODE, language="python")
    if start is not None and settings is not None:
        training_run.section(rows, source, start, settings)
        st.subheader("4. How small can it be?", divider="gray")
        ladder.section(rows, source, start, settings)
elif training_run.running():  # the data changed under a running training: it goes on, shown here
    training_run.live_panel()

if training_run.notice():
    st.error(md(training_run.notice()))
finished = training_run.finished_runs()
if finished:
    results_section(finished)
