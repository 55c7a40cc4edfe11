"""Pretraining the chosen model on the data set's own texts, as a job like training.

The texts are those of the training split (the validation texts stay unseen, so a later
fine-tune is measured honestly); labels are ignored. The result is a checkpoint in Google's layout
in the visitor's run store: offered at once under "A pretrained checkpoint", and as a zip.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.budget import check_pretraining_fits, training_budget_mb
from bertviz_core.data.rows import Dataset, stratified_split
from bertviz_core.errors import UserError
from bertviz_core.jobs.protocol import DONE
from bertviz_core.jobs.requests import pretraining_request
from bertviz_core.model.checkpoint import zip_checkpoint
from bertviz_core.model.pretraining import DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE, LEARNING_RATE_HELP
from bertviz_core.runs import PRETRAINING
from bertviz_core.settings import TrainSettings
from bertviz_core.text import escape_markdown as md
from bertviz_ui import training_run
from bertviz_ui.jobs import store, submit, visitor
from bertviz_ui.start_from import stored_checkpoints

KIND = "pretrain"
_NOTICE = "pretrain_notice"
RATES = (1e-4, 3e-4, 5e-4, 1e-3)
EXPLAINED = (
    "BERT is worth fine-tuning because it was first pretrained: it learnt to fill in masked words and to "
    "tell whether two sentences follow each other, on texts without labels. Here the model above learns both "
    "from the texts of your training split (their labels unused, the validation texts unseen). The result is a "
    "checkpoint in Google's layout: pick it under 'Start from: A pretrained checkpoint' and train as usual."
)


def checkpoint_name(config: ModelConfig) -> str:
    """Named as Google names its releases, so a downloaded zip reads like one."""
    return f"pretrained_L-{config.layers}_H-{config.embed_dim}_A-{config.heads}"


def section(dataset: Dataset, source: str, config: ModelConfig, val_share: float, seed: int) -> None:
    """Settings, Pretrain (or the live view of a running pretraining), and the latest result."""
    _collect()
    st.caption(EXPLAINED)
    first, second, third = st.columns(3)
    epochs = int(
        first.number_input(
            "Pretraining epochs", 1, 100, DEFAULT_EPOCHS, key="pretrain_epochs", persist_state="session"
        )
    )
    batch = int(
        second.number_input("Batch size", 1, 512, 32, key="pretrain_batch_size", persist_state="session")
    )
    rate = float(third.select_slider("Learning rate", RATES, value=DEFAULT_LEARNING_RATE, key="pretrain_learning_rate",
                                     format_func=lambda value: f"{value:g}", help=LEARNING_RATE_HELP,
                                     persist_state="session"))  # fmt: skip
    budget = training_budget_mb(beside_server=True)
    try:
        settings = TrainSettings(epochs=epochs, batch_size=batch, learning_rate=rate, seed=seed)
        need = check_pretraining_fits(config, batch, budget_mb=budget)
    except UserError as error:
        st.error(md(error))
        return
    train_idx, _ = stratified_split(np.asarray(dataset.label_ids), val_share, seed)
    texts = [dataset.texts[i] for i in train_idx]
    st.caption(
        f"{len(texts):,} texts; the pretraining model has {need.parameters:,} parameters (the encoder plus the "
        f"masked-word and next-sentence heads) and needs about {need.total_mb:,} MB of the {budget:,} MB allowed."
    )
    if training_run.running(KIND):
        training_run.live_panel(kind=KIND)
    elif st.button("Pretrain", icon=":material/school:", key="pretrain_start"):
        _start(texts, source, config, settings)
        st.rerun()
    notice = st.session_state.get(_NOTICE)
    if notice:
        st.error(md(notice))
    _latest()


def _start(texts: list[str], source: str, config: ModelConfig, settings: TrainSettings) -> None:
    runs, key = store(), visitor()
    folder = runs.new_run_folder(key)
    try:
        job = submit(KIND, pretraining_request(texts, config, settings, folder, key))
    except UserError as error:
        runs.discard_folder(key, folder)
        st.session_state[_NOTICE] = str(error)
        return
    st.session_state.pop(_NOTICE, None)
    name = checkpoint_name(config)

    def keep(job) -> None:  # in the pool's thread, also when no tab of the visitor is open
        if job.state == DONE:
            runs.finish_run(key, folder, {"kind": PRETRAINING, "name": name, "source": source})
        else:
            runs.discard_folder(key, folder)

    job.add_done_callback(keep)


def _collect() -> None:
    snapshot = training_run.collect(KIND, _NOTICE)
    if snapshot is not None and snapshot.state == DONE:
        st.session_state.pop("train_checkpoint_choice", None)  # offer the new checkpoint first


def _latest() -> None:
    pretrained = [run for run in stored_checkpoints() if run.kind == PRETRAINING]
    if not pretrained:
        return
    run = pretrained[0]
    name = str(run.record.get("name", "pretrained"))
    history = [
        record for record in training_run.pretraining_history(run) if record.get("mlm_accuracy") is not None
    ]
    if history:
        last = history[-1]  # the last epoch with finite figures: the one kept
        st.success(
            f"Pretrained at {training_run.finished_at(run)}: after {last['epoch']} epochs the model guesses "
            f"{last['mlm_accuracy']:.1%} of masked words ({sum(record['seconds'] for record in history):.0f} s). "
            "Choose it under 'Start from: A pretrained checkpoint' above."
        )
        st.plotly_chart(training_run.charts.pretraining_curves(history), key="pretrain_result_curves")
    st.download_button("Checkpoint (zip, Google's layout)", lambda: zip_checkpoint(run.folder, inside=name),
                       file_name=f"{name}.zip", mime="application/zip", icon=":material/download:",
                       on_click="ignore", key="pretrain_download")  # fmt: skip
