"""The training page's model section: where training starts, how the texts fit that model, and
pretraining it first. The figures and offers are the core's (``training_notes``); this lays them out.
"""

from __future__ import annotations

import streamlit as st

from bertviz_core.arithmetic import explain
from bertviz_core.arithmetic.training_memory import estimate_training_memory
from bertviz_core.budget import check_training_fits, explorer_model_for_training, training_budget_mb
from bertviz_core.charts import training as charts
from bertviz_core.data.rows import TrainingRows
from bertviz_core.data.tokens import Vocabulary, encode_texts, token_preview
from bertviz_core.errors import UserError
from bertviz_core.settings import FINE_TUNE, FROZEN
from bertviz_core.text import escape_markdown as md
from bertviz_core.train_state import SCRATCH, TrainState
from bertviz_core.training_notes import sequence_offer, token_figures, unused_rows_note
from bertviz_ui import pretraining
from bertviz_ui.figures import figure_row
from bertviz_ui.session import remembered, shared_model
from bertviz_ui.start_from import Start, sequence_length_box, start_section
from bertviz_ui.train_inputs import load_model, set_box


def model_section(rows: TrainingRows, rows_key: tuple, source: str, state: TrainState) -> Start | None:
    """The explorer's model on offer, the start (a new model or a checkpoint), the texts' fit to it,
    and pretraining a new model on them first. None until the start is usable."""
    if state.start == SCRATCH:
        _explorer_offer(len(rows.dataset.class_names), state.batch_size)
    start = start_section(state)
    if start is None:
        return None
    classes, budget = len(rows.dataset.class_names), training_budget_mb(beside_server=True)
    try:  # the refusal of a model too big to train, next to the boxes that made it
        check_training_fits(start.config, classes, state.batch_size, budget_mb=budget, encoder=state.encoder)
    except UserError as error:
        st.error(md(error))
        if start.checkpoint is not None and state.encoder == FINE_TUNE:
            frozen = estimate_training_memory(start.config, classes, state.batch_size, FROZEN)
            if frozen.total_mb <= budget:
                st.info(f"Training the head only needs about {frozen.total_mb:,} MB: choose it under 'What to train'.",
                        icon=":material/lightbulb:")  # fmt: skip
        return None
    _token_fit(rows_key, rows, start, state)
    if start.checkpoint is None:
        with st.expander("Pretrain this model on your texts first (masked words, next sentence)"):
            pretraining.section(rows.dataset, source, start.config, state.val_share, state.seed)
    return start


def _explorer_offer(num_classes: int, batch_size: int) -> None:
    """Offer the explorer's model when it can be trained here; say why not otherwise."""
    shared = shared_model()
    if shared is None or shared.page != "explorer":
        return
    candidate, refusal = explorer_model_for_training(shared.config, num_classes, batch_size)
    if candidate is None:
        return
    if refusal:
        st.caption(
            f":material/block: The explorer's model ({md(explain.describe_model(candidate))}) {md(refusal)}"
        )
    else:
        st.button(f"Use the explorer's model ({explain.describe_model(candidate)})", on_click=load_model,
                  args=(candidate,), icon=":material/input:", key="train_use_explorer")  # fmt: skip


def _token_fit(rows_key: tuple, rows: TrainingRows, start: Start, state: TrainState) -> None:
    config, vocabulary = start.config, start.checkpoint.vocabulary if start.checkpoint else None
    key = (rows_key, config.vocab, config.seq_len, state.val_share, state.seed,
           start.checkpoint.folder if start.checkpoint else None)  # fmt: skip
    try:
        with st.spinner("Counting tokens..."):
            stats = remembered("token_fit", key, lambda: token_preview(rows.dataset, config.vocab, config.seq_len,
                                                                       state.val_share, state.seed, vocabulary))  # fmt: skip
    except UserError as error:
        st.error(md(error))
        return
    figure_row(token_figures(stats, config, vocabulary), key="train_token_figures")
    st.plotly_chart(
        charts.token_length_histogram(stats["lengths"], config.seq_len), key="train_token_lengths"
    )
    # Containers always drawn, filled or not: an element that comes and goes would move every box
    # below it, and a box the browser redraws loses what was being typed into it.
    with st.container():
        _longer_sequence(stats, start, len(rows.dataset.class_names), state.batch_size)
    notes = st.container()
    if vocabulary is not None:
        with notes:
            _pieces_example(rows, vocabulary, config.seq_len)
    elif note := unused_rows_note(stats, config):
        notes.caption(note)


def _longer_sequence(stats: dict, start: Start, classes: int, batch_size: int) -> None:
    """When a tenth of the texts lose their ends: a longer sequence that fits, and a button."""
    key, most = sequence_length_box(start)
    offer = sequence_offer(stats, start.config, classes, most)
    if offer is None:
        return
    try:
        check_training_fits(
            offer.config, classes, batch_size, budget_mb=training_budget_mb(beside_server=True)
        )
    except UserError:
        return  # the longer model would not fit: nothing to offer
    st.caption(":material/content_cut: " + offer.sentence)
    st.button(f"Use sequence length {offer.seq_len}", on_click=set_box, args=(key, offer.seq_len),
              key="train_longer_sequence", icon=":material/width:")  # fmt: skip


def _pieces_example(rows: TrainingRows, vocabulary: Vocabulary, seq_len: int) -> None:
    """How the checkpoint's tokenizer splits the first training text, as the model will see it."""
    ids = encode_texts(vocabulary, [rows.dataset.texts[0]], seq_len).token_ids[0]
    pieces = [vocabulary.tokens[int(i)] for i in ids if i]
    st.caption(f"The first text as the checkpoint's tokenizer splits it: {md(' · '.join(pieces))}")
