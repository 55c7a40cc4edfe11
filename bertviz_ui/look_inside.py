"""Looking inside a finished run: its mistakes (from the saved validation predictions, no
TensorFlow), its answer for a text the visitor types, and, for one text, its attention and word
attributions (short jobs in a worker, ``jobs.ask``)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from bertviz_core.charts import inspect as charts
from bertviz_core.charts import training as training_charts
from bertviz_core.data.tokens import encode_texts
from bertviz_core.jobs.requests import explanation_request, prediction_request
from bertviz_core.mistakes import ValidationPredictions
from bertviz_core.model.bundle import SavedClassifier
from bertviz_core.model.inspect import Explanation
from bertviz_core.text import escape_markdown as md
from bertviz_ui.jobs import ask, visitor

TEXT_KEY = "train_explain_text"
MISTAKES_SHOWN = 20
_PROBABILITY = st.column_config.NumberColumn(format="%.3f", width=105)  # wide enough for its header
_TABLE_COLUMNS = {"true class": st.column_config.TextColumn(width=95),
                  "predicted": st.column_config.TextColumn(width=95),
                  "p(predicted)": _PROBABILITY, "p(true class)": _PROBABILITY,
                  "loss": st.column_config.NumberColumn(format="%.3f", width=70),
                  "text": st.column_config.TextColumn(width="large")}  # fmt: skip
# The short columns first: with the text first, the predicted class, probabilities and loss were cut
# off at 1024 and 1280 px. The text, last, reads whole on hover.
_TABLE_ORDER = ("true class", "predicted", "p(predicted)", "p(true class)", "loss", "text")


def _look_at(table_key: str, table: pd.DataFrame) -> None:
    """A row picked in a table of texts becomes the text to look inside the model with."""
    rows = st.session_state[table_key].selection.rows
    if rows:
        st.session_state[TEXT_KEY] = str(table["text"].iloc[rows[0]])


def _texts_table(table: pd.DataFrame, key: str) -> None:
    st.dataframe(table, hide_index=True, column_config=_TABLE_COLUMNS, column_order=_TABLE_ORDER, key=key,
                 on_select=partial(_look_at, key, table),
                 selection_mode="single-row", height=min(400, 38 + 35 * max(len(table), 1)))  # fmt: skip


def mistakes(saved: SavedClassifier) -> None:
    """The confusion matrix as a table whose cells open their texts, and the surest mistakes."""
    validation = saved.validation
    if validation is None:
        st.caption("This run was saved without its validation predictions, so its mistakes cannot be shown.")
        return
    matrix = validation.confusion_matrix()
    names = list(saved.class_names)
    frame = pd.DataFrame(matrix, index=pd.Index(names, name="true class"), columns=names)
    picked = st.dataframe(frame, key=f"train_cells_{saved.folder.name}", on_select="rerun",
                          selection_mode="single-cell", selection_default=_worst_cell(validation))  # fmt: skip
    # Under the table, not over it: the table's tool bar, which appears on hover, covered a caption above.
    st.caption(
        "Rows are the true class, columns the predicted one. Click a cell to see its validation texts; "
        "tick a text to look inside the model with it below."
    )
    cells = picked.selection.get("cells", []) if picked else []
    true_id, predicted_id = (_cell(cells[0], names) if cells else None) or _worst_cell_ids(validation)
    cell = validation.cell(true_id, predicted_id)
    verdict = "right" if true_id == predicted_id else "wrong"
    st.markdown(
        f"**{len(cell):,}** validation {'text' if len(cell) == 1 else 'texts'} of class "
        f"**{md(names[true_id])}** predicted as **{md(names[predicted_id])}** ({verdict}; "
        + ("least sure first)." if verdict == "right" else "surest first).")
    )
    _texts_table(cell, f"train_cell_texts_{saved.folder.name}_{true_id}_{predicted_id}")
    wrong = int((validation.true_ids != validation.predicted_ids).sum())
    st.markdown(
        f"**Most confident mistakes** ({min(wrong, MISTAKES_SHOWN)} of {wrong:,}, highest loss first)"
    )
    if wrong:
        _texts_table(validation.most_confident_mistakes(MISTAKES_SHOWN), f"train_worst_{saved.folder.name}")
    else:
        st.caption("The model classified every validation text correctly.")


def _worst_cell_ids(validation: ValidationPredictions) -> tuple[int, int]:
    """The cell with the most mistakes, or the largest cell when there are none."""
    matrix = validation.confusion_matrix()
    mistakes_only = matrix - np.diag(np.diag(matrix))
    chosen = mistakes_only if mistakes_only.any() else matrix
    true_id, predicted_id = np.unravel_index(int(chosen.argmax()), matrix.shape)
    return int(true_id), int(predicted_id)


def _worst_cell(validation: ValidationPredictions) -> dict:
    true_id, predicted_id = _worst_cell_ids(validation)
    return {"selection": {"cells": [(true_id, validation.class_names[predicted_id])]}}


def _cell(cell: object, names: list[str]) -> tuple[int, int] | None:
    """Streamlit reports a cell as (row position, column name); a click on the row labels is no cell."""
    row, column = cell  # type: ignore[misc]
    if str(column) not in names or not 0 <= int(row) < len(names):
        return None
    return int(row), names.index(str(column))


def explanation(saved: SavedClassifier) -> None:
    """Attention of every layer and head and each token's attribution, for a text the visitor gives."""
    text = st.text_input("A text to look inside the model with", max_chars=2000, key=TEXT_KEY,
                         placeholder="Type a sentence, or tick a text in the tables above")  # fmt: skip
    if not text or not text.strip():
        st.caption(
            "Where each layer and head of the model looks, and which words moved its answer, appear here."
        )
        return
    snapshot = ask(
        "explain",
        (str(saved.folder), text),
        lambda: explanation_request(saved.folder, text, saved.config, len(saved.class_names), visitor()),
        "Looking inside the model",
    )
    if snapshot is None:
        return
    result = Explanation.from_dict(snapshot.result)
    _attributions(result)
    _attention(result)
    st.caption(f"Computed in {snapshot.result.get('seconds', 0):.2f} s by a worker.")


def _attributions(result: Explanation) -> None:
    names = list(result.class_names)
    predicted = result.predicted
    st.markdown(
        f"Predicted class: **{md(names[predicted])}** ({result.probabilities[predicted]:.1%}). "
        f"{len(result.tokens)} tokens, [CLS] and [SEP] included."
    )
    # Keyed by the text, so each new text starts on its predicted class; names escaped (options are markdown).
    towards = st.radio("Attributions towards", range(len(names)), index=predicted, format_func=lambda i: md(names[i]),
                       horizontal=True, key=f"train_explain_class_{hash(result.tokens)}")  # fmt: skip
    values = result.attributions[towards]
    st.plotly_chart(
        charts.attribution_tokens(result.tokens, values, names[towards]), key="train_attributions"
    )
    change = result.probabilities[towards] - result.baseline_probabilities[towards]
    st.caption(
        f"Integrated gradients: each token's share of the change in p({md(names[towards])}) from a text whose "
        f"token embeddings are all zero ({result.baseline_probabilities[towards]:.3f}) to this text "
        f"({result.probabilities[towards]:.3f}). The shares add up to {values.sum():+.4f} against a change of "
        f"{change:+.4f} ({result.steps} points on the path)."
    )


def _attention(result: Explanation) -> None:
    layers, heads = result.attention.shape[:2]
    st.info(
        "Attention shows where each token gathered information from, not why the model decided: a head can look "
        "hard at a token that changes nothing. The attributions above measure what moved the answer.",
        icon=":material/info:",
    )
    left, right = st.columns(2)
    layer = left.selectbox(
        "Layer", range(layers), format_func=lambda i: f"Encoder-{i + 1}", key="train_explain_layer"
    )
    head = right.selectbox(
        "Head", range(heads), format_func=lambda i: f"head {i + 1}", key="train_explain_head"
    )
    st.plotly_chart(
        charts.attention_heatmap(
            result.tokens,
            result.attention[layer, head],
            f"Encoder-{layer + 1}-MultiHeadSelfAttention, head {head + 1}",
        ),
        key="train_attention_head",
    )
    st.plotly_chart(charts.attention_grid(result.tokens, result.attention), key="train_attention_grid")


def try_it(saved: SavedClassifier) -> None:
    """A box for a text, and the model's answer with the probability of every class (a short job)."""
    text = st.text_input("A text to classify", max_chars=5000, key="train_predict_text", persist_state="session",
                         placeholder="Type a sentence and press Enter")  # fmt: skip
    if not text or not text.strip():
        st.caption("The model's answer and its probability for every class appear here.")
        return
    snapshot = ask(
        "predict",
        (str(saved.folder), text),
        lambda: prediction_request(saved.folder, [text], saved.config, len(saved.class_names), visitor()),
        "Classifying",
    )
    if snapshot is None:
        return
    probabilities = np.asarray(snapshot.result["probabilities"][0])
    best = int(np.argmax(probabilities))
    st.markdown(f"Predicted class: **{md(saved.class_names[best])}** ({probabilities[best]:.1%})")
    encoded = encode_texts(saved.vocabulary, [text], saved.config.seq_len)
    notes = [
        f"{encoded.word_tokens} words, {encoded.unknown_tokens} of them unknown to the vocabulary ([UNK])"
    ]
    if encoded.truncated:
        notes.append(f"cut to {saved.config.seq_len} tokens")
    st.caption("; ".join(notes) + ".")
    st.plotly_chart(
        training_charts.probability_chart(saved.class_names, probabilities.tolist()),
        key="train_probabilities",
    )
