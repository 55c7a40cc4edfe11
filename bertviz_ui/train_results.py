"""The training page's results: the visitor's finished runs compared, one run's figures and what
they support saying (``training_notes.result_verdicts``), its mistakes, trying it, looking inside
it, and taking it home."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bertviz_core.arithmetic import explain
from bertviz_core.charts import training as charts
from bertviz_core.data.export import metrics_table, to_safe_csv
from bertviz_core.model.activations import EXPORT_NOTE, needs_gelu_erf
from bertviz_core.model.bundle import quantized_in, zip_folder
from bertviz_core.model.checkpoint import started_from
from bertviz_core.runs import KEEP_SECONDS, MAX_RUNS, StoredRun
from bertviz_core.settings import FROZEN
from bertviz_core.text import escape_markdown as md
from bertviz_core.training_notes import accuracy_interval, result_verdicts
from bertviz_ui import look_inside
from bertviz_ui.timing import measured_against_predicted
from bertviz_ui.training_run import TrainedRun, finished_at, run_label, trained_run

_SCORES = ("val accuracy", "macro F1", "TF-IDF baseline")
_SHOW = {"success": st.success, "warning": st.warning, "info": st.info, "caption": st.caption}


def results_section(runs: list[StoredRun]) -> None:
    """The runs compared (when there are several), the one picked, and everything about it."""
    st.subheader("Results", divider="gray")
    st.caption(
        f"Your finished runs are kept on this server for {KEEP_SECONDS // 3600} hours after your last visit "
        f"(the last {MAX_RUNS}, uploaded and pretrained checkpoints included, which are kept longest), for this "
        "browser only, also through a reload; a restart of the server clears them."
    )
    run = runs[0] if len(runs) == 1 else _choose(runs)
    _one_run(trained_run(run))


def _choose(runs: list[StoredRun]) -> StoredRun:
    _compare(runs)
    labels = {
        run.run_id: f"{finished_at(run)} · {_ladder_size(run)}{run.record.get('source', '')}" for run in runs
    }
    # Keyed by the newest run: when a training finishes, the page shows it (and compares it), whatever
    # was picked before; a widget keeps its value while its options change.
    chosen = st.selectbox("Run", list(labels), format_func=labels.get, key=f"train_run_choice_{runs[0].run_id}",
                          help="Every run you finished lately; the results, predictions and downloads below are of this one.")  # fmt: skip
    return next(run for run in runs if run.run_id == chosen)


def _ladder_size(run: StoredRun) -> str:
    ladder = run.record.get("ladder")
    return f"ladder size {ladder['result']['name']} · " if isinstance(ladder, dict) else ""


def run_row(run: TrainedRun) -> dict:
    """One line of the runs table: the scores first (what is compared), then what made them."""
    metrics, config = run.saved.metrics, run.saved.config
    return {
        "run": run.finished,
        "val accuracy": metrics.get("val_accuracy"),
        "macro F1": metrics.get("macro_f1"),
        "TF-IDF baseline": metrics.get("tfidf_baseline"),
        "start": started_from(metrics) or "new model",
        "trained": "head only" if run.saved.settings.get("encoder") == FROZEN else "every layer",
        "model": f"L{config.layers} H{config.embed_dim} A{config.heads}, S {config.seq_len}",
        "epochs": f"{metrics.get('best_epoch', '?')} of {len(metrics.get('history', []))}",
        "learning rate": f"{run.saved.settings.get('learning_rate', 0):g}",
        "data": run.source,
    }


def _compare(runs: list[StoredRun]) -> None:
    """Every finished run of the visitor in one table, and the validation curves of those picked."""
    trained = [trained_run(run) for run in runs]
    labels = {item.run_id: run_label(item) for item in trained}
    with st.expander(f"Compare your {len(runs)} runs", expanded=True):
        st.dataframe(pd.DataFrame([run_row(item) for item in trained]), hide_index=True,
                     column_config={name: st.column_config.NumberColumn(format="%.3f") for name in _SCORES})  # fmt: skip
        picked = st.multiselect("Runs on the chart", list(labels), default=list(labels), format_func=labels.get,
                                key=f"train_compare_runs_{runs[0].run_id}")  # fmt: skip
        histories = {
            labels[item.run_id]: item.saved.metrics["history"] for item in trained if item.run_id in picked
        }
        if histories:
            st.plotly_chart(charts.compared_runs_chart(histories), key="train_compare_chart")


def _one_run(run: TrainedRun) -> None:
    saved = run.saved
    metrics, history = saved.metrics, saved.metrics["history"]
    checkpoint = started_from(metrics)
    begun = f" from the checkpoint {md(checkpoint)}" if checkpoint else " from scratch"
    st.caption(
        f"Trained{begun} at {run.finished} on {md(run.source)}: {metrics['train_samples']:,} training and "
        f"{metrics['val_samples']:,} validation texts; {md(explain.describe_model(saved.config))}; "
        f"{metrics['parameters']:,} parameters; {metrics['training_seconds']:.0f} s."
    )
    accuracy, texts = metrics["val_accuracy"], metrics["val_samples"]
    low, high = accuracy_interval(accuracy, texts)
    first, second, third, fourth = st.columns(4)
    first.metric("Validation accuracy", f"{accuracy:.1%}",
                 help=f"95 % interval {low:.1%} to {high:.1%}: what {texts:,} validation texts can tell.")  # fmt: skip
    second.metric("Macro F1", f"{metrics['macro_f1']:.3f}",
                  help="The mean of every class's F1: a rare class counts as much as a common one.")  # fmt: skip
    third.metric("Majority baseline", f"{metrics['majority_baseline']:.1%}",
                 help=f"Always answering '{md(metrics['majority_class'])}', the most frequent class of the training texts.")  # fmt: skip
    if metrics.get("tfidf_baseline") is not None:
        fourth.metric("TF-IDF baseline", f"{metrics['tfidf_baseline']:.1%}", delta=f"F1 {metrics['tfidf_macro_f1']:.3f}",
                      delta_color="off", delta_arrow="off",
                      help="TF-IDF word weights and a logistic regression (scikit-learn), trained and validated on exactly "
                      "the same texts as the model; F1 is its macro F1.")  # fmt: skip
    for verdict in result_verdicts(
        metrics, saved.validation, checkpoint is not None, saved.settings.get("patience", "?")
    ):
        _SHOW[verdict.kind](md(verdict.text))
    st.plotly_chart(
        charts.training_curves(history, epochs=saved.settings.get("epochs")), key="train_result_curves"
    )
    measured_against_predicted(saved.config, len(saved.class_names), saved.settings, metrics)
    st.plotly_chart(charts.per_class_scores_chart(metrics["per_class"]), key="train_per_class")
    st.subheader("Mistakes", divider="gray")
    look_inside.mistakes(saved)
    st.subheader("Try it", divider="gray")
    look_inside.try_it(saved)
    st.subheader("Look inside", divider="gray")
    look_inside.explanation(saved)
    st.subheader("Export", divider="gray")
    _export(saved, metrics, history)


def _export(saved, metrics: dict, history: list[dict]) -> None:
    st.caption(
        "The zip holds model.h5 (load it with `tf.keras.models.load_model(path, "
        "custom_objects=keras_bert.get_custom_objects())`), vocab.txt, labels.json, config.json, "
        "metrics.json and validation.json (the validation texts and their probabilities); `python -m bertviz_core "
        'predict model.zip "a text"` and `explain model.zip "a text"` use it too.'
    )
    if needs_gelu_erf(metrics):
        st.caption(EXPORT_NOTE)
    quantized = quantized_in(saved.folder)
    first, second, third = st.columns(3)
    first.download_button("Model (zip)", lambda: zip_folder(saved.folder), file_name="bert_classifier.zip",
                          mime="application/zip", icon=":material/download:", on_click="ignore",
                          key="train_download_zip")  # fmt: skip
    for precision in quantized:  # a ladder's sizes: their TensorFlow Lite file instead of model.h5
        first.download_button(f"{precision} model (zip)", lambda precision=precision: zip_folder(saved.folder, precision),
                              file_name=f"bert_classifier_{precision}.zip", mime="application/zip",
                              icon=":material/compress:", on_click="ignore", key=f"train_download_{precision}",
                              help=f"model-{precision}.tflite (TensorFlow Lite) with vocab.txt, labels.json and "
                              f"config.json; `python -m bertviz_core predict bert_classifier_{precision}.zip \"a text\"` "
                              "runs it.")  # fmt: skip
    second.download_button("Metrics (CSV)", to_safe_csv(metrics_table(metrics)), file_name="metrics.csv",
                           mime="text/csv", icon=":material/table:", on_click="ignore", key="train_download_metrics")  # fmt: skip
    third.download_button("History (CSV)", to_safe_csv(pd.DataFrame(history)), file_name="history.csv",
                          mime="text/csv", icon=":material/show_chart:", on_click="ignore", key="train_download_history")  # fmt: skip
