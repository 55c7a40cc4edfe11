"""A visitor's training run as a job: start it, follow it live, stop it, keep its result.

The run is a job in the server's pool (a worker process trains), so it belongs to the visitor, not
to a page render: switching pages, typing a prediction, moving a slider or reloading the tab leaves
it running; only Stop (or the visitor leaving for good) ends it. While it runs, ``live_panel``
follows it (``jobs.follow``): its place in line, or its progress, Stop and the curves so far, all
drawn from the job's own request and events, so a reload shows the run as it is whatever the boxes
now hold. When it ends, its model goes to the visitor's run store and the page runs again to show it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import streamlit as st

from bertviz_core.arithmetic.bert_config import TANH_GELU
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.training_memory import TRAINING_RUNTIME_MB
from bertviz_core.budget import check_training_fits, training_budget_mb
from bertviz_core.charts import training as charts
from bertviz_core.data.rows import Dataset, TrainingRows
from bertviz_core.errors import UserError
from bertviz_core.jobs.protocol import DONE, QUEUED, JobSnapshot
from bertviz_core.jobs.requests import training_request, training_warm_up
from bertviz_core.model.bundle import SavedClassifier, read_saved
from bertviz_core.model.checkpoint import CheckpointFiles, started_from
from bertviz_core.runs import CLASSIFIER, MAX_MB, MAX_RUNS, StoredRun
from bertviz_core.settings import FROZEN, TrainSettings
from bertviz_core.text import MIB, escape_markdown, format_duration
from bertviz_ui.jobs import current, follow, forget, pool, queue_sentence, store, submit, visitor
from bertviz_ui.session import remembered
from bertviz_ui.timing import training_prediction

_NOTICE = "train_notice"


@dataclass(frozen=True)
class TrainedRun:
    """A finished training: the saved model's plain files, what it was trained on, and when."""

    run_id: str
    saved: SavedClassifier
    source: str
    finished: str


def start_training(
    dataset: Dataset,
    source: str,
    config: ModelConfig,
    settings: TrainSettings,
    checkpoint: CheckpointFiles | None = None,
) -> None:
    """Submit the training job; its model goes to the visitor's run store when it ends well."""
    runs, key = store(), visitor()
    folder = runs.new_run_folder(key)
    start_from = (checkpoint.folder, checkpoint.name) if checkpoint is not None else None
    request = training_request(dataset, config, settings, folder, key, checkpoint=start_from)
    request.inputs["source"] = source  # what the live view says is training, after a reload too
    try:
        job = submit("train", request)
    except UserError as error:
        runs.discard_folder(key, folder)
        st.session_state[_NOTICE] = str(error)
        return
    st.session_state.pop(_NOTICE, None)

    def keep(job) -> None:  # in the pool's thread, also when no tab of the visitor is open
        if job.state == DONE:
            runs.finish_run(key, folder, {"source": source})
        else:
            runs.discard_folder(key, folder)

    job.add_done_callback(keep)


def section(rows: TrainingRows, source: str, start, settings: TrainSettings) -> None:
    """What training this model takes (memory, time), then Train, or the live view of the run."""
    config, classes = start.config, len(rows.dataset.class_names)
    budget = training_budget_mb(beside_server=True)
    try:
        need = check_training_fits(
            config, classes, settings.batch_size, budget_mb=budget, encoder=settings.encoder
        )
    except UserError as error:
        st.error(escape_markdown(error))
        return
    # The same breakdown as the explorer's "Training memory" figure: one model, one figure.
    trained = "the head only" if settings.encoder == FROZEN else "every layer"
    st.caption(
        f":material/memory: {need.parameters:,} parameters, {trained} trained; training needs about "
        f"**{need.total_mb:,} MB** of the {budget:,} MB this app allows per training, in a worker process of its own."
    )
    gelu = start.checkpoint.gelu if start.checkpoint else TANH_GELU
    how_long = training_prediction(config, classes, settings, rows.dataset.label_ids, gelu)
    with st.expander("How the memory and the time are worked out"):
        st.markdown(
            escape_markdown(need.theory_sentence()) + "  \n" + escape_markdown(need.machine_sentence())
        )
        if how_long:
            st.markdown(how_long)
    if running():
        live_panel()
        return
    if start.checkpoint is None:  # a worker builds and traces this model while the visitor reads
        pool().prewarm(TRAINING_RUNTIME_MB, training_warm_up(config, classes, settings))
    _warn_of_drops(need.parameters)
    if st.button("Train", type="primary", icon=":material/model_training:", key="train_start"):
        start_training(rows.dataset, source, config, settings, start.checkpoint)
        st.rerun()


def _warn_of_drops(parameters: int) -> None:
    """Before Train: which of the visitor's runs the new one will push out of the store's caps."""
    dropped = store().would_drop(
        visitor(), adding_mb=parameters * 4 / MIB + 1
    )  # model.h5 in fp32, and the rest
    if dropped:
        names = "; ".join(f"{run.record.get('name') or run.record.get('source', 'a run')} ({finished_at(run)})"
                          for run in dropped)  # fmt: skip
        st.warning(
            f"When this training finishes, the server keeps your {MAX_RUNS} newest runs within {MAX_MB} MB, so it "
            f"will remove: {escape_markdown(names)}. Download or delete what you want first.",
            icon=":material/delete_sweep:",
        )


def notice() -> str | None:
    return st.session_state.get(_NOTICE)


def collect(kind: str = "train", notice_key: str = _NOTICE) -> JobSnapshot | None:
    """A finished job leaves the visitor's jobs; if it ended without a result, its sentence is kept
    under ``notice_key`` for the page to show. Returns the finished snapshot, once."""
    job = current(kind)
    if job is None or not job.snapshot().is_over:
        return None
    snapshot = job.snapshot()
    forget(kind, job)
    if snapshot.state != DONE:
        st.session_state[notice_key] = snapshot.error or f"The {kind} job was stopped."
    else:
        st.session_state.pop(notice_key, None)
    return snapshot


def finished_runs() -> list[StoredRun]:
    """The visitor's finished trainings, newest first (kept on the server for a while: ``runs``);
    their uploaded and pretrained checkpoints are runs of other kinds."""
    return store().runs(visitor(), kind=CLASSIFIER)


def finished_at(run: StoredRun) -> str:
    return datetime.fromtimestamp(run.finished).strftime("%H:%M:%S")


def trained_run(run: StoredRun) -> TrainedRun:
    # One slot per run: the comparison reads every run on each rerun.
    saved = remembered(f"saved_run_{run.run_id}", run.run_id, lambda: read_saved(run.folder))
    return TrainedRun(run.run_id, saved, str(run.record.get("source", "the data")), finished_at(run))


def run_label(run: TrainedRun) -> str:
    """How a run is named in pickers and charts: when it finished and what it started from."""
    return f"{run.finished} · {started_from(run.saved.metrics) or 'from scratch'}"


def pretraining_history(run: StoredRun) -> list[dict]:
    """A pretrained checkpoint's epoch records (its ``pretraining.json``), empty if unreadable."""
    from bertviz_core.model.pretraining import PRETRAINING_FILE

    def read() -> list[dict]:
        try:
            summary = json.loads((run.folder / PRETRAINING_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        history = summary.get("history") if isinstance(summary, dict) else None
        return history if isinstance(history, list) else []

    return remembered("pretraining_history", run.run_id, read)


def running(kind: str = "train") -> bool:
    """Whether the visitor's ``kind`` job (a training, or a pretraining) is queued or running."""
    job = current(kind)
    return job is not None and not job.snapshot().is_over


# How often a visitor's page asks how their training is doing. Every redraw is work for the one web
# server every visitor shares, so the live view is redrawn no faster than people read it: a room of
# thirty watching is thirty redraws per period, and most of a room is waiting in line, where only a
# place in line changes.
PROGRESS_SECONDS, QUEUED_SECONDS = 2.0, 5.0


def live_panel(kind: str = "train") -> None:
    """While the visitor's training (or pretraining, ``kind``) is queued or runs: what is training,
    its place in line or its progress, Stop, and the curves so far, redrawn together."""
    job = current(kind)
    if job is None:
        return
    every = QUEUED_SECONDS if job.snapshot().state == QUEUED else PROGRESS_SECONDS
    follow(job, lambda snapshot: _live(job, snapshot, kind), every)


def _live(job, snapshot: JobSnapshot, kind: str) -> None:
    inputs = job.request.inputs
    epochs = int(inputs["settings"]["epochs"])
    label = "Stop training" if kind == "train" else "Stop pretraining"
    st.button(label, key=f"{kind}_stop", icon=":material/stop_circle:", on_click=job.stop)
    if kind == "train":
        config = ModelConfig.from_mapping(inputs["config"])
        start = inputs["checkpoint"]["name"] if inputs.get("checkpoint") else "a new model"
        st.caption(
            f"Training {escape_markdown(start)} (L{config.layers} H{config.embed_dim} A{config.heads}, sequence "
            f"{config.seq_len}) on {escape_markdown(inputs.get('source', 'your data'))}, {epochs} epochs."
        )
    if snapshot.state == QUEUED:
        st.info(queue_sentence(snapshot), icon=":material/hourglass_top:")
        return
    last = snapshot.last_batch()
    if last is not None:
        text = f"Epoch {last.epoch} of {epochs}: batch {last.batch} of {last.batches}"
        if last.remaining_seconds is not None:
            text += f" · about {format_duration(last.remaining_seconds)} left for all {epochs} epochs"
        st.progress(last.share_done(epochs), text=text)
    else:
        st.progress(
            0.0, text=snapshot.stage() or "Starting a worker (the first run also loads TensorFlow)..."
        )
    history = snapshot.epochs()
    if history:
        st.caption(_epoch_sentence(history[-1], kind))
    if job.stop_requested:
        kept = "the best epoch so far is kept" if kind == "train" else "the last complete epoch is kept"
        st.info(f"Stopping after this batch; {kept}.", icon=":material/hourglass_top:")
    if history:
        chart = charts.training_curves if kind == "train" else charts.pretraining_curves
        st.plotly_chart(chart(history, epochs=epochs), key=f"{kind}_live_curves")


def _epoch_sentence(record: dict, kind: str) -> str:
    if kind == "train":
        return (
            f"Epoch {record['epoch']}: validation accuracy {record['val_accuracy']:.1%}, validation loss "
            f"{record['val_loss']:.3f}; {record['seconds']:.1f} s, {record['samples_per_second']:,.0f} "
            "training texts per second."
        )
    if record.get("loss") is None or record.get("mlm_accuracy") is None:
        return f"Epoch {record['epoch']}: the loss became infinite or NaN; lower the learning rate."
    return (
        f"Epoch {record['epoch']}: masked words guessed right {record['mlm_accuracy']:.1%}, loss "
        f"{record['loss']:.3f}; {record['seconds']:.1f} s."
    )
