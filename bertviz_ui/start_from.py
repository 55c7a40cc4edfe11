"""Where a training starts: a new model (the model boxes), or a BERT checkpoint in Google's layout,
uploaded as a zip or pretrained by the visitor on this page.

An uploaded zip is unpacked (checked, bounded) into the visitor's run store at once and the upload
released, so a session never holds it; the checkpoint is then one of the visitor's stored runs,
kept as long as their trained models are, and offered again like their own pretrainings.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from bertviz_core.arithmetic import explain
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.errors import UserError
from bertviz_core.fields import MODEL_FIELD, TRAINING_FIELD
from bertviz_core.model.checkpoint import MAX_CHECKPOINT_MB, CheckpointFiles, open_checkpoint, read_checkpoint
from bertviz_core.runs import CHECKPOINT as CHECKPOINT_RUN
from bertviz_core.runs import PRETRAINING, StoredRun
from bertviz_core.text import escape_markdown as md
from bertviz_core.train_state import SCRATCH, TrainState
from bertviz_ui.jobs import store, visitor
from bertviz_ui.session import remembered
from bertviz_ui.train_inputs import START_KEY, STARTS, model_boxes, model_key, setting_key
from bertviz_ui.training_run import finished_at

# Kinds of stored runs that hold a checkpoint in Google's layout.
CHECKPOINT_KINDS = (CHECKPOINT_RUN, PRETRAINING)
_GENERATION = "train_checkpoint_upload_generation"
_NOTICE = "train_checkpoint_notice"
FINE_TUNING_RATE, NEW_MODEL_RATE = 3e-5, TRAINING_FIELD["learning_rate"].default
_RATE_FOR = "train_rate_suggested_for"

WHERE_TO_GET = (
    "Google publishes its BERT checkpoints at github.com/google-research/bert: the 24 smaller BERTs "
    "(such as `uncased_L-2_H-128_A-2`, 17 MB zipped, or BERT-mini `uncased_L-4_H-256_A-4`) are linked from its "
    "README. Download one zip and upload it here as it is (up to {limit} MB; it holds bert_config.json, "
    "bert_model.ckpt.* and vocab.txt). BERT-base and larger do not fit this server's memory for fine-tuning."
)
HEAD_CHOICE = (
    "The head is the same as from scratch: the average of the last encoder layer's token vectors (padding "
    "left out) and one softmax `Dense` layer that classifies it, all of it trained. Google's own recipe puts "
    "the classifier on the pooler (a tanh layer over [CLS] that only next-sentence prediction trained); "
    "keras-bert leaves the pooler out when it loads an encoder, so one head serves both paths and their "
    "results compare."
)


@dataclass(frozen=True)
class Start:
    """The model a training begins with."""

    config: ModelConfig
    checkpoint: CheckpointFiles | None = None  # None: a new model


def sequence_length_box(start: Start) -> tuple[str, int]:
    """The key of the box that sets ``start``'s sequence length, and the longest it allows."""
    if start.checkpoint is None:
        return model_key("seq_len"), MODEL_FIELD["seq_len"].train_bounds[1]
    positions = start.checkpoint.config.pos_num
    return f"train_checkpoint_seq_len_{positions}", positions


def stored_checkpoints() -> list[StoredRun]:
    return [run for run in store().runs(visitor()) if run.kind in CHECKPOINT_KINDS]


def start_section(state: TrainState) -> Start | None:
    """The choice, then the model boxes or a checkpoint with its fixed size; None until usable."""
    st.radio("Start from", tuple(STARTS), format_func=STARTS.get, key=START_KEY, horizontal=True,
             persist_state="session", on_change=_suggest_rate)  # fmt: skip
    if state.start == SCRATCH:
        config = model_boxes(state)
        return None if config is None else Start(config)
    files = _checkpoint()
    if files is None:
        return None
    config = files.config
    st.caption(
        f"The model is the checkpoint's, fixed by its bert_config.json: {md(explain.describe_model(config))}, "
        f"{config.pos_num:,} positions. Its vocabulary is its own ({len(files.vocabulary):,} "
        f"{'cased' if files.vocabulary.cased else 'uncased'} word pieces); only the sequence length is yours."
    )
    field = MODEL_FIELD["seq_len"]
    low = min(field.train_bounds[0], config.pos_num)  # a checkpoint may know fewer positions
    key = sequence_length_box(Start(config, files))[0]
    st.session_state.setdefault(key, min(64, config.pos_num))
    seq_len = st.number_input(f"{field.title} (at most {config.pos_num:,}, the checkpoint's positions)", min_value=low,
                              max_value=config.pos_num, step=1, key=key, help=field.train_help)  # fmt: skip
    _suggest_rate_for(files)
    with st.expander("Why this head, and the learning rate"):
        st.markdown(HEAD_CHOICE)
        st.markdown(
            f"Fine-tuning changes pretrained weights a little: the BERT paper uses learning rates of 2e-5 to 5e-5, "
            f"so choosing one of Google's checkpoints moves the learning rate to {FINE_TUNING_RATE:g}. A checkpoint "
            f"pretrained here is small and briefly trained: it keeps the new model's {NEW_MODEL_RATE:g} (measured on "
            "the reviews sample, 3e-5 left it below the majority baseline)."
        )
    return Start(files.model_config(int(seq_len)), files)


def _suggest_rate() -> None:
    """Back to a new model: its learning rate again (a checkpoint's is set when one is chosen)."""
    if st.session_state.get(START_KEY) == SCRATCH:
        st.session_state[setting_key("learning_rate")] = NEW_MODEL_RATE
        st.session_state.pop(_RATE_FOR, None)


def _suggest_rate_for(files: CheckpointFiles) -> None:
    """Once per chosen checkpoint, before the learning-rate slider is drawn: a fine-tuning rate for
    a released BERT (word pieces), the new model's for one pretrained here."""
    if st.session_state.get(_RATE_FOR) == str(files.folder):
        return
    st.session_state[_RATE_FOR] = str(files.folder)
    st.session_state[setting_key("learning_rate")] = (
        FINE_TUNING_RATE if files.vocabulary.word_pieces else NEW_MODEL_RATE
    )


def _checkpoint() -> CheckpointFiles | None:
    stored = stored_checkpoints()
    _upload()
    notice = st.session_state.get(_NOTICE)
    if notice:
        st.error(md(notice))
    if not stored:
        st.info(WHERE_TO_GET.format(limit=MAX_CHECKPOINT_MB), icon=":material/download:")
        return None
    labels = {run.run_id: _label(run) for run in stored}
    chosen = st.selectbox("Checkpoint", list(labels), format_func=labels.get, key="train_checkpoint_choice")
    run = next(item for item in stored if item.run_id == chosen)
    try:
        return remembered(
            "checkpoint_files", run.run_id, lambda: read_checkpoint(run.folder, run.record.get("name"))
        )
    except UserError as error:
        st.error(md(error))
        return None


def _label(run: StoredRun) -> str:
    name = str(run.record.get("name", "checkpoint"))
    if run.kind == PRETRAINING:
        return f"{name} (pretrained here at {finished_at(run)})"
    return f"{name} (uploaded at {finished_at(run)})"


def _upload() -> None:
    generation = st.session_state.get(_GENERATION, 0)
    uploaded = st.file_uploader(
        f"Upload a BERT checkpoint zip (at most {MAX_CHECKPOINT_MB} MB)",
        type=["zip"],
        max_upload_size=MAX_CHECKPOINT_MB,
        key=f"train_checkpoint_upload_{generation}",
        help=WHERE_TO_GET.format(limit=MAX_CHECKPOINT_MB),
    )
    if uploaded is None:
        return
    runs, key = store(), visitor()
    folder = runs.new_run_folder(key)
    try:
        files = open_checkpoint(uploaded.getvalue(), folder, uploaded.name)
    except UserError as error:
        runs.discard_folder(key, folder)
        st.session_state[_NOTICE] = str(error)
    else:
        runs.finish_run(key, folder, {"kind": CHECKPOINT_RUN, "name": files.name, "source": uploaded.name})
        st.session_state.pop(_NOTICE, None)
        st.session_state.pop("train_checkpoint_choice", None)  # show the new one
    st.session_state[_GENERATION] = generation + 1
    st.rerun()  # a new uploader: Streamlit lets go of the zip's bytes
