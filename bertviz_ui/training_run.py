"""A visitor's training run and predictions as jobs: start, follow live, stop, keep the result.

The run is a job in the server's pool (a worker process trains), so it belongs to the visitor, not
to a page render: switching pages, typing a prediction, moving a slider or reloading the tab leaves
it running; only Stop (or the visitor leaving for good) ends it. While it runs, fragments redraw
its place in line, progress and curves on timers (``PROGRESS_SECONDS`` and the like); when it ends, its model goes to the visitor's
run store and the whole page runs again to show it. Predictions are short jobs of their own, on a
finished run the visitor picks, never on a run in progress.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import streamlit as st

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.charts import training as charts
from bertviz_core.data.rows import Dataset
from bertviz_core.errors import UserError
from bertviz_core.jobs.protocol import DONE, JobRequest, JobSnapshot
from bertviz_core.jobs.requests import prediction_request, training_request
from bertviz_core.model.bundle import SavedClassifier, read_saved
from bertviz_core.model.checkpoint import CheckpointFiles, started_from
from bertviz_core.runs import CLASSIFIER, StoredRun
from bertviz_core.settings import TrainSettings
from bertviz_core.text import escape_markdown
from bertviz_ui.jobs import current, forget, pool, store, submit, visitor
from bertviz_ui.session import remembered

_NOTICE = "train_notice"


@dataclass(frozen=True)
class TrainedRun:
    """A finished training: the saved model's plain files, what it was trained on, and when."""

    run_id: str
    saved: SavedClassifier
    source: str
    finished: str


def start(
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
    try:
        job = submit("train", training_request(dataset, config, settings, folder, key, checkpoint=start_from))
    except UserError as error:
        runs.discard_folder(key, folder)
        st.session_state[_NOTICE] = str(error)
        return
    st.session_state.pop(_NOTICE, None)

    def keep(job) -> None:  # in the pool's thread, also when no tab of the visitor is open
        if job.snapshot().state == DONE:
            runs.finish_run(key, folder, {"source": source})
        else:
            runs.discard_folder(key, folder)

    job.add_done_callback(keep)


def notice() -> str | None:
    return st.session_state.get(_NOTICE)


def collect() -> None:
    """A finished training leaves the visitor's jobs; if it ended without a model, say why."""
    job = current("train")
    if job is None or not job.snapshot().is_over:
        return
    snapshot = job.snapshot()
    forget("train", job)
    if snapshot.state != DONE:
        st.session_state[_NOTICE] = snapshot.error or "The training was stopped."
    else:
        st.session_state.pop(_NOTICE, None)


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


def run_row(run: TrainedRun) -> dict:
    """One line of the runs table: settings and results, from the run's saved files."""
    metrics, config = run.saved.metrics, run.saved.config
    return {
        "run": run.finished,
        "data": run.source,
        "start": started_from(metrics) or "new model",
        "model": f"L{config.layers} H{config.embed_dim} A{config.heads}, S {config.seq_len}",
        "epochs": f"{metrics.get('best_epoch', '?')} of {len(metrics.get('history', []))}",
        "learning rate": f"{run.saved.settings.get('learning_rate', 0):g}",
        "val accuracy": metrics.get("val_accuracy"),
        "macro F1": metrics.get("macro_f1"),
        "TF-IDF baseline": metrics.get("tfidf_baseline"),
    }


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
PROGRESS_SECONDS, CURVES_SECONDS, QUEUED_SECONDS = 2.0, 5.0, 5.0


def live_panel(epochs: int, kind: str = "train") -> None:
    """While a training (or a pretraining, ``kind``) runs: its place in line, or its progress and
    Stop and the curves so far, each redrawn on its own timer (a chart costs the server more than a
    progress bar)."""
    job = current(kind)
    snapshot = job.snapshot() if job is not None else None
    if snapshot is None or snapshot.is_over:
        return
    if snapshot.state == "queued":
        st.fragment(_progress, run_every=QUEUED_SECONDS)(epochs, kind, queued=True)
    else:
        st.fragment(_progress, run_every=PROGRESS_SECONDS)(epochs, kind)
        st.fragment(_curves, run_every=CURVES_SECONDS)(epochs, kind)


def _curves(epochs: int, kind: str) -> None:
    job = current(kind)
    history = job.snapshot().epochs() if job is not None else []
    if not history:
        return
    if kind == "train":
        st.plotly_chart(charts.training_curves(history, epochs=epochs), key="train_live_curves")
    else:
        st.plotly_chart(charts.pretraining_curves(history, epochs=epochs), key=f"{kind}_live_curves")


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


def _progress(epochs: int, kind: str, queued: bool = False) -> None:
    job = current(kind)
    if job is None:
        return
    snapshot = job.snapshot()
    if snapshot.is_over or (queued and snapshot.state != "queued"):
        st.rerun()  # the whole page: collect() shows the result, or the live view of a started run
    label = "Stop training" if kind == "train" else "Stop pretraining"
    st.button(label, key=f"{kind}_stop", icon=":material/stop_circle:", on_click=job.stop)
    if snapshot.state == "queued":
        st.info(_queue_sentence(snapshot), icon=":material/hourglass_top:")
        return
    last = snapshot.last_batch()
    if last is not None:
        text = f"Epoch {last.epoch} of {epochs}: batch {last.batch} of {last.batches}"
        if last.remaining_seconds is not None:
            text += f" · about {_duration(last.remaining_seconds)} left for all {epochs} epochs"
        st.progress(last.share_done(epochs), text=text)
    else:
        stage = snapshot.stage()
        st.progress(0.0, text=stage or "Starting a worker (the first run also loads TensorFlow)...")
    history = snapshot.epochs()
    if history:
        st.caption(_epoch_sentence(history[-1], kind))
    if snapshot.state == "running" and job.stop_requested:
        kept = "the best epoch so far is kept" if kind == "train" else "the last complete epoch is kept"
        st.info(f"Stopping after this batch; {kept}.", icon=":material/hourglass_top:")


def _queue_sentence(snapshot: JobSnapshot) -> str:
    status = pool().status()
    wait = f", about {_duration(snapshot.wait_seconds)} from now" if snapshot.wait_seconds else ""
    return (
        f"Waiting for a free worker: you are number {snapshot.place_in_line} in line{wait} "
        f"({status.busy} of {status.max_workers} workers are training). It starts by itself."
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    return f"{round(seconds / 60)} min"


# --- predictions and other short jobs on a finished run ----------------------------------------
def short_job(kind: str, key: tuple, request: Callable[[], JobRequest]) -> JobSnapshot | None:
    """The visitor's ``kind`` job for ``key``: submitted when the key is new, then waited for a
    moment. Returns the finished snapshot, or None after drawing why there is none yet (waiting in
    line, running, refused); a fragment then reruns the page when it ends."""
    job = current(kind)
    if job is None or st.session_state.get(f"{kind}_key") != key:
        try:
            job = submit(kind, request())
        except UserError as error:
            st.error(escape_markdown(error))
            return None
        st.session_state[f"{kind}_key"] = key
    snapshot = job.wait(timeout=20)  # a warm worker answers in a fraction of a second
    if not snapshot.is_over:
        st.fragment(_waiting, run_every=1.0)(kind)
        return None
    if snapshot.state != DONE:
        st.error(escape_markdown(snapshot.error or "The job was stopped."))
        return None
    return snapshot


def prediction(saved: SavedClassifier, text: str) -> None:
    """The class probabilities of ``text`` from the saved model, computed by a short job."""
    snapshot = short_job(
        "predict",
        (str(saved.folder), text),
        lambda: prediction_request(saved.folder, [text], saved.config, len(saved.class_names), visitor()),
    )
    if snapshot is None:
        return
    probabilities = np.asarray(snapshot.result["probabilities"][0])
    best = int(np.argmax(probabilities))
    st.markdown(
        f"Predicted class: **{escape_markdown(saved.class_names[best])}** ({probabilities[best]:.1%})"
    )
    from bertviz_core.data.tokens import encode_texts

    encoded = encode_texts(saved.vocabulary, [text], saved.config.seq_len)
    notes = [
        f"{encoded.word_tokens} words, {encoded.unknown_tokens} of them unknown to the vocabulary ([UNK])"
    ]
    if encoded.truncated:
        notes.append(f"cut to {saved.config.seq_len} tokens")
    st.caption("; ".join(notes) + ".")
    st.plotly_chart(
        charts.probability_chart(saved.class_names, probabilities.tolist()), key="train_probabilities"
    )


_WORKING = {"predict": "Classifying", "explain": "Looking inside the model"}


def _waiting(kind: str) -> None:
    job = current(kind)
    if job is None or job.snapshot().is_over:
        st.rerun()
    snapshot = job.snapshot()
    if snapshot.state == "queued":
        st.info(_queue_sentence(snapshot), icon=":material/hourglass_top:")
    else:
        st.caption(
            f"{_WORKING.get(kind, 'Working')}... ({time.time() - (snapshot.started or time.time()):.0f} s)"
        )
