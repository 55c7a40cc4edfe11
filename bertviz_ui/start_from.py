"""Where a training starts: a new model (the model boxes), or a BERT checkpoint in Google's layout,
uploaded as a zip or pretrained by the visitor on this page.

An uploaded zip is unpacked (checked, bounded) into the visitor's run store at once and the upload
released, so a session never holds it; the checkpoint is then one of the visitor's stored runs,
kept as long as their trained models are, and offered again like their own pretrainings.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass

import streamlit as st

from bertviz_core.arithmetic import explain
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.errors import UserError
from bertviz_core.fields import MODEL_FIELD, TRAINING_FIELD
from bertviz_core.model.checkpoint import MAX_CHECKPOINT_MB, CheckpointFiles, open_checkpoint, read_checkpoint
from bertviz_core.runs import CHECKPOINT as CHECKPOINT_RUN
from bertviz_core.runs import PRETRAINING, StoredRun
from bertviz_core.settings import (
    FINE_TUNE,
    FINE_TUNING_RATE,
    FROZEN,
    FROZEN_EPOCHS,
    FROZEN_PATIENCE,
    FROZEN_RATE,
    NEW_MODEL_RATE,
)
from bertviz_core.text import MIB
from bertviz_core.text import escape_markdown as md
from bertviz_core.train_state import SCRATCH, TrainState
from bertviz_ui.jobs import hub_cache, store, visitor
from bertviz_ui.session import remembered
from bertviz_ui.train_inputs import START_KEY, STARTS, model_boxes, model_key, setting_key
from bertviz_ui.training_run import finished_at

# Kinds of stored runs that hold a checkpoint in Google's layout.
CHECKPOINT_KINDS = (CHECKPOINT_RUN, PRETRAINING)
_GENERATION = "train_checkpoint_upload_generation"
_NOTICE = "train_checkpoint_notice"
ENCODER_CHOICES = {
    FINE_TUNE: "Fine-tune every layer",
    FROZEN: "Train the head only (the encoder stays as it is)",
}
_RATE_FOR = "train_rate_suggested_for"

WHERE_TO_GET = (
    "A BERT pretrained elsewhere: a Hugging Face model id (such as `sentence-transformers/all-MiniLM-L6-v2` or "
    "`google/bert_uncased_L-2_H-128_A-2`), or an upload of up to {limit} MB: a Hugging Face folder (config.json, "
    "model.safetensors, vocab.txt), one of Google's checkpoints (github.com/google-research/bert links the 24 "
    "smaller BERTs, such as `uncased_L-2_H-128_A-2`, 17 MB zipped: bert_config.json, bert_model.ckpt.*, vocab.txt), "
    "or a checkpoint of your own pretraining (model.ckpt-N.* beside bert_config.json and vocab.txt), zipped or as "
    "its files. BERT-base and larger do not fit this server's memory for fine-tuning."
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
    chosen = _checkpoint()
    if chosen is None:
        return None
    run, files = chosen
    config = files.config
    st.caption(
        f"The model is the checkpoint's, fixed by its configuration: {md(explain.describe_model(config))}, "
        f"{config.pos_num:,} positions. Its vocabulary is its own ({len(files.vocabulary):,} "
        f"{'cased' if files.vocabulary.cased else 'uncased'} word pieces); only the sequence length is yours."
    )
    field = MODEL_FIELD["seq_len"]
    low = min(field.train_bounds[0], config.pos_num)  # a checkpoint may know fewer positions
    key = sequence_length_box(Start(config, files))[0]
    st.session_state.setdefault(key, min(64, config.pos_num))
    seq_len = st.number_input(f"{field.title} (at most {config.pos_num:,}, the checkpoint's positions)", min_value=low,
                              max_value=config.pos_num, step=1, key=key, help=field.train_help)  # fmt: skip
    _suggest_rate_for(run)
    st.radio("What to train", (FINE_TUNE, FROZEN), format_func=ENCODER_CHOICES.get, key=setting_key("encoder"),
             horizontal=True, persist_state="session", on_change=_suggest_for_encoder, args=(run,),
             help=TRAINING_FIELD["encoder"].help + " Choosing one sets the learning rate, epochs and patience that suit it.")  # fmt: skip
    with st.expander("Why this head, and the learning rate"):
        st.markdown(HEAD_CHOICE)
        st.markdown(
            f"Fine-tuning changes pretrained weights a little: the BERT paper uses learning rates of 2e-5 to 5e-5, "
            f"so choosing a BERT pretrained elsewhere (uploaded or fetched) moves the learning rate to "
            f"{FINE_TUNING_RATE:g}. A checkpoint pretrained here is small and briefly trained: it keeps the new "
            f"model's {NEW_MODEL_RATE:g} (measured on the reviews sample, 3e-5 left it below the majority baseline)."
        )
    return Start(files.model_config(int(seq_len)), files)


def _suggest_rate() -> None:
    """Back to a new model: its learning rate again (a checkpoint's is set when one is chosen)."""
    if st.session_state.get(START_KEY) == SCRATCH:
        st.session_state[setting_key("learning_rate")] = NEW_MODEL_RATE
        st.session_state.pop(_RATE_FOR, None)


def _suggest_rate_for(run: StoredRun) -> None:
    """Once per chosen checkpoint, before the learning-rate slider is drawn: a fine-tuning rate for a
    BERT pretrained elsewhere (uploaded or fetched), the new model's for one pretrained here."""
    if st.session_state.get(_RATE_FOR) == run.run_id:
        return
    st.session_state[_RATE_FOR] = run.run_id
    st.session_state[setting_key("learning_rate")] = (
        NEW_MODEL_RATE if run.kind == PRETRAINING else FINE_TUNING_RATE
    )


def _suggest_for_encoder(run: StoredRun) -> None:
    """The head alone learns fast and cheaply (an epoch takes a fraction of a second): a high rate and
    many epochs; every layer, the checkpoint's fine-tuning rate and the page's epochs again."""
    frozen = st.session_state.get(setting_key("encoder")) == FROZEN
    rate = FROZEN_RATE if frozen else (NEW_MODEL_RATE if run.kind == PRETRAINING else FINE_TUNING_RATE)
    epochs, patience = (FROZEN_EPOCHS, FROZEN_PATIENCE) if frozen else (TRAINING_FIELD["epochs"].default,
                                                                           TRAINING_FIELD["patience"].default)  # fmt: skip
    for name, value in (("learning_rate", rate), ("epochs", epochs), ("patience", patience)):
        st.session_state[setting_key(name)] = value


def _checkpoint() -> tuple[StoredRun, CheckpointFiles] | None:
    """The stored starts to choose from, and the ways to add one: an upload or a model id."""
    left, right = st.columns(2)
    with left:
        _upload()
    with right:
        _from_hub()
    notice = st.session_state.get(_NOTICE)
    if notice:
        st.error(md(notice))
    stored = stored_checkpoints()
    if not stored:
        st.info(WHERE_TO_GET.format(limit=MAX_CHECKPOINT_MB), icon=":material/download:")
        return None
    labels = {run.run_id: _label(run) for run in stored}
    row = st.columns([4, 1], vertical_alignment="bottom")
    chosen = row[0].selectbox(
        "Checkpoint", list(labels), format_func=labels.get, key="train_checkpoint_choice"
    )
    run = next(item for item in stored if item.run_id == chosen)
    row[1].button("Delete", key="train_checkpoint_delete", icon=":material/delete:", on_click=_delete, args=(run.run_id,),
                  help="Remove this checkpoint from your runs on this server.")  # fmt: skip
    try:
        files = remembered(
            "checkpoint_files", run.run_id, lambda: read_checkpoint(run.folder, run.record.get("name"))
        )
    except UserError as error:
        st.error(md(error))
        return None
    return run, files


def _delete(run_id: str) -> None:
    store().remove(visitor(), run_id)
    st.session_state.pop("train_checkpoint_choice", None)


def _label(run: StoredRun) -> str:
    name = str(run.record.get("name", "checkpoint"))
    if run.kind == PRETRAINING:
        return f"{name} (pretrained here at {finished_at(run)})"
    how = "fetched" if run.record.get("from_hub") else "uploaded"
    return f"{name} ({how} at {finished_at(run)})"


def _store_start(digest: str, label: str, source: str, open_into, from_hub: bool = False) -> None:
    """Unpack a start into a new run of the visitor, unless the same one is stored already (by its
    bytes, or its model id): then that one is chosen again."""
    runs, key = store(), visitor()
    same = next((run for run in stored_checkpoints() if run.record.get("digest") == digest), None)
    if same is not None:
        st.session_state["train_checkpoint_choice"] = same.run_id
        st.session_state.pop(_NOTICE, None)
        return
    folder = runs.new_run_folder(key)
    try:
        files = open_into(folder)
    except UserError as error:
        runs.discard_folder(key, folder)
        st.session_state[_NOTICE] = str(error)
        return
    name = files.name
    if name == folder.name:  # loose files name no folder: named as Google names its releases
        name = f"uploaded_L-{files.config.layers}_H-{files.config.embed_dim}_A-{files.config.heads}"
    record = {
        "kind": CHECKPOINT_RUN,
        "name": name,
        "source": source,
        "digest": digest,
        "from_hub": from_hub,
    }
    stored = runs.finish_run(key, folder, record)
    st.session_state.pop(_NOTICE, None)
    st.session_state["train_checkpoint_choice"] = stored.run_id  # show the new one


def _upload() -> None:
    generation = st.session_state.get(_GENERATION, 0)
    uploaded = st.file_uploader(
        f"Upload a BERT: its zip, or the files of its folder (at most {MAX_CHECKPOINT_MB} MB each)",
        accept_multiple_files=True,
        max_upload_size=MAX_CHECKPOINT_MB,
        key=f"train_checkpoint_upload_{generation}",
        help=WHERE_TO_GET.format(limit=MAX_CHECKPOINT_MB),
    )
    if not uploaded:
        return
    if len(uploaded) == 1 and uploaded[0].name.lower().endswith(".zip"):
        payload, label = uploaded[0].getvalue(), uploaded[0].name
    else:
        payload = {file.name: file.getvalue() for file in uploaded}
        label = "the uploaded files"
    digest = _digest(payload)
    _store_start(digest, label, label, lambda folder: open_checkpoint(payload, folder, label))
    st.session_state[_GENERATION] = generation + 1
    st.rerun()  # a new uploader: Streamlit lets go of the files' bytes


def _digest(payload: bytes | dict[str, bytes]) -> str:
    hasher = hashlib.sha256()
    for name, content in sorted(payload.items()) if isinstance(payload, dict) else [("", payload)]:
        hasher.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return hasher.hexdigest()


def _from_hub() -> None:
    """A Hugging Face model id, fetched into the server's cache (once for everyone), then stored."""
    with st.form("train_hub_form", border=False, enter_to_submit=True):
        model_id = st.text_input("Or a Hugging Face model id", key="train_hub_id", max_chars=200,
                                 placeholder="sentence-transformers/all-MiniLM-L6-v2",
                                 help="A BERT on huggingface.co, such as google/bert_uncased_L-2_H-128_A-2: its "
                                 "config.json, model.safetensors and vocabulary are downloaded once for this server.")  # fmt: skip
        fetch = st.form_submit_button("Fetch", icon=":material/cloud_download:")
    model_id = (model_id or "").strip()
    if not fetch or not model_id:
        return
    bar = st.progress(0.0, text=f"Fetching {model_id}...")

    def progress(done: int, total: int) -> None:
        with contextlib.suppress(Exception):  # heard from a download thread: the bar may not be reachable
            bar.progress(
                min(1.0, done / total) if total else 0.0,
                text=f"Fetching {model_id}: {done / MIB:,.0f} of {total / MIB:,.0f} MB",
            )

    _store_start(f"hub:{model_id}", model_id, model_id,
                 lambda folder: open_checkpoint(model_id, folder, model_id, hub_cache=hub_cache(), progress=progress),
                 from_hub=True)  # fmt: skip
    bar.empty()
