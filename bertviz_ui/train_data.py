"""The training page's data: a shipped sample or an upload, read once per file, and its two columns.

``choose_table`` returns the table a visitor picked, keyed by an id (the sample's name or the
upload's file id); the reading (or its refusal) is kept in the session, so reruns do not read again.
``data_section`` then shows the file's notes, the columns to use, a preview, and the rows training
will use.
What a session keeps of an upload is its table (at most ``MAX_UPLOAD_MB`` of cells, stored as
compact strings) and, on the page, the training rows prepared from it (at most ``MAX_ROWS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from bertviz_core.charts import training as charts
from bertviz_core.data.columns import guess_columns
from bertviz_core.data.limits import MAX_UPLOAD_MB
from bertviz_core.data.rows import TrainingRows, training_rows
from bertviz_core.data.samples import list_samples, load_sample
from bertviz_core.data.table import Table, read_csv_bytes
from bertviz_core.errors import DataError, UserError
from bertviz_core.text import escape_markdown
from bertviz_core.train_state import TrainState
from bertviz_ui.figures import before_first_chart

PREVIEW_ROWS = 20
UPLOAD_TYPES = ("csv", "tsv", "txt")  # what the uploader takes; others it refuses itself, in red

SAMPLE, UPLOAD = "A sample data set", "My CSV file"
UPLOADER_KEY = "train_upload"  # plus a generation number: each read file gets a fresh uploader
_READ, _HELD, _GENERATION = "train_table_cache", "train_uploaded_table", "train_upload_generation"


@dataclass(frozen=True)
class ChosenTable:
    table_id: str  # "sample:reviews" or "upload:<file id>": what the column choices are kept for
    source: str  # how results name it: "the sample 'reviews'" or the file's name
    table: Table


def choose_table() -> ChosenTable | None:
    """The radio, then a sample picker or an uploader; None (with a sentence) until a table is read."""
    source = st.radio("Data", (SAMPLE, UPLOAD), key="train_source", persist_state="session",
                      horizontal=True, label_visibility="collapsed")  # fmt: skip
    if source == SAMPLE:
        samples = {info.name: info for info in list_samples()}
        if not samples:
            st.error("No sample data sets are installed: upload a CSV file instead.")
            return None
        name = st.selectbox("Sample", list(samples), key="train_sample", persist_state="session",
                            format_func=lambda key: f"{samples[key].title} ({samples[key].rows:,} rows)")  # fmt: skip
        st.caption(escape_markdown(samples[name].description))
        return _read(f"sample:{name}", f"the sample '{name}'", lambda: load_sample(name))
    return _upload()


def _upload() -> ChosenTable | None:
    """An uploaded file, read once. Once its table is read, the uploader is replaced by the file's
    name (a new uploader widget: Streamlit then lets go of the file's bytes), so a session keeps the
    table's cells (compact strings, about the file's size) and never the upload itself."""
    held = st.session_state.get(_HELD)
    if isinstance(held, ChosenTable):
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.caption(
            f":material/description: {escape_markdown(held.source)}: read, and the upload itself released."
        )
        right.button("Upload another file", key="train_upload_another", on_click=_let_go)
        return held
    generation = st.session_state.get(_GENERATION, 0)
    uploaded = st.file_uploader(
        f"A CSV file with a column of texts and a column of labels (at most {MAX_UPLOAD_MB} MB)",
        type=list(UPLOAD_TYPES),
        max_upload_size=MAX_UPLOAD_MB,
        key=f"{UPLOADER_KEY}_{generation}",
    )
    if uploaded is None:
        st.info(
            f"Upload a {' or '.join('.' + kind for kind in UPLOAD_TYPES)} file of texts and labels (a spreadsheet "
            "saved as CSV), or pick a sample data set above."
        )
        return None
    chosen = _read(
        f"upload:{uploaded.file_id}",
        uploaded.name,
        lambda: read_csv_bytes(uploaded.getvalue(), uploaded.name),
    )
    if chosen is not None:
        st.session_state[_HELD] = chosen
        st.session_state[_GENERATION] = generation + 1
        st.session_state.pop(_READ, None)
        st.rerun()  # without the uploader that held the bytes
    return None


def _let_go() -> None:
    st.session_state.pop(_HELD, None)


def _read(table_id: str, source: str, read: Callable[[], Table]) -> ChosenTable | None:
    cached = st.session_state.get(_READ)
    if not cached or cached[0] != table_id:
        try:
            cached = (table_id, read(), None)
        except DataError as error:
            cached = (table_id, None, str(error))
        st.session_state[_READ] = cached
    _, table, problem = cached
    if problem:
        st.error(escape_markdown(problem))
        return None
    return ChosenTable(table_id, source, table)


def data_section(chosen: ChosenTable, state: TrainState) -> TrainingRows | None:
    """Notes from reading, the two columns, a preview, then the rows training will use."""
    frame = chosen.table.frame
    for note in chosen.table.notes:
        st.caption(":material/info: " + escape_markdown(note))
    try:
        guessed_text, guessed_label = guess_columns(frame)
    except UserError as error:
        st.error(escape_markdown(error))
        return None
    columns = [str(column) for column in frame.columns]
    # Keys carry the table's id: a new file starts from fresh guesses, not the last file's choice.
    left, right = st.columns(2)
    text_column = left.selectbox("Text column", columns, index=columns.index(guessed_text),
                                 key=f"train_text_col_{chosen.table_id}", persist_state="session")  # fmt: skip
    label_column = right.selectbox("Label column", columns, index=columns.index(guessed_label),
                                   key=f"train_label_col_{chosen.table_id}", persist_state="session")  # fmt: skip
    st.dataframe(frame.head(PREVIEW_ROWS), hide_index=True, height=min(400, 38 + 35 * PREVIEW_ROWS))
    try:
        rows = training_rows(chosen.table, text_column, label_column, seed=state.seed)
    except UserError as error:
        st.caption(f"{len(frame):,} rows, {frame.shape[1]} columns.")
        st.error(escape_markdown(error))
        return None
    dataset = rows.dataset
    for note in dataset.notes:
        st.caption(":material/info: " + escape_markdown(note))
    st.caption(
        f"{len(frame):,} rows read; {len(dataset.texts):,} used, in {len(dataset.class_names)} classes."
    )
    counts = np.bincount(dataset.label_ids, minlength=len(dataset.class_names))
    before_first_chart()
    st.plotly_chart(charts.class_balance_chart(dataset.class_names, counts.tolist()), key="train_balance")
    return rows
