"""Train a classifier: data in, a small keras-bert model, live training, results, prediction, export.

Everything a visitor loads, trains or sees lives in their own session: two browser tabs never
share data, models or progress. The page's own process never imports TensorFlow to show data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from bertviz_core.arithmetic import costs, explain
from bertviz_core.arithmetic.training_memory import TRAINING_RUNTIME_MB
from bertviz_core.budget import check_training_fits, explorer_model_for_training, training_budget_mb
from bertviz_core.charts import training as charts
from bertviz_core.data.columns import guess_columns
from bertviz_core.data.export import metrics_table, to_safe_csv
from bertviz_core.data.rows import TrainingRows, training_rows
from bertviz_core.data.tokens import encode_texts, longer_sequence, token_preview
from bertviz_core.errors import UserError
from bertviz_core.evaluation import tfidf_sentence
from bertviz_core.jobs.requests import training_warm_up
from bertviz_core.model.bundle import zip_folder
from bertviz_core.model.checkpoint import started_from
from bertviz_core.runs import KEEP_SECONDS, MAX_RUNS, StoredRun
from bertviz_core.settings import TrainSettings
from bertviz_core.text import escape_markdown as md
from bertviz_ui import look_inside, pretraining, training_run
from bertviz_ui.data_source import ChosenTable, choose_table
from bertviz_ui.figures import Figure, figure_row
from bertviz_ui.jobs import pool
from bertviz_ui.navigation import enter_through_app
from bertviz_ui.session import remembered, shared_model
from bertviz_ui.start_from import SCRATCH, Start, sequence_length_box, start_section
from bertviz_ui.timing import measured_against_predicted, training_prediction
from bertviz_ui.training_inputs import load_model, setting, settings_boxes

enter_through_app()

PREVIEW_ROWS = 20


def data_section(chosen: ChosenTable) -> TrainingRows | None:
    """Notes from reading, the two columns, a preview, then the rows training will use."""
    frame = chosen.table.frame
    for note in chosen.table.notes:
        st.caption(":material/info: " + md(note))
    try:
        guessed_text, guessed_label = guess_columns(frame)
    except UserError as error:
        st.error(md(error))
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
        rows = training_rows(chosen.table, text_column, label_column, seed=int(setting("seed")))
    except UserError as error:
        st.caption(f"{len(frame):,} rows, {frame.shape[1]} columns.")
        st.error(md(error))
        return None
    dataset = rows.dataset
    for note in dataset.notes:
        st.caption(":material/info: " + md(note))
    st.caption(
        f"{len(frame):,} rows read; {len(dataset.texts):,} used, in {len(dataset.class_names)} classes."
    )
    counts = np.bincount(dataset.label_ids, minlength=len(dataset.class_names))
    st.plotly_chart(charts.class_balance_chart(dataset.class_names, counts.tolist()), key="train_balance")
    return rows


def explorer_offer(num_classes: int, batch_size: int) -> None:
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


def token_fit_section(rows_key: tuple, rows: TrainingRows, start: Start) -> None:
    config, vocabulary = start.config, start.checkpoint.vocabulary if start.checkpoint else None
    val_share, seed = float(setting("val_share")), int(setting("seed"))
    key = (
        rows_key,
        config.vocab,
        config.seq_len,
        val_share,
        seed,
        start.checkpoint.folder if start.checkpoint else None,
    )
    try:
        with st.spinner("Counting tokens..."):
            stats = remembered("token_fit", key, lambda: token_preview(rows.dataset, config.vocab, config.seq_len,
                                                                       val_share, seed, vocabulary))  # fmt: skip
    except UserError as error:
        st.error(md(error))
        return
    if vocabulary is None:
        figures = [
            Figure("Vocabulary filled", f"{stats['vocabulary_size']:,} of {config.vocab:,}",
                   "Five special tokens ([PAD], [UNK], [CLS], [SEP], [MASK]) and then the most frequent words of the "
                   "training texts, as many as fit."),
            Figure("Unknown words (validation)", f"{stats['val_unknown_share']:.1%}",
                   "Words of the validation texts that the vocabulary, built from the training texts only, does not "
                   "hold: the model sees them as [UNK]. This is the rate new texts will meet."),
        ]  # fmt: skip
    else:
        figures = [
            Figure("Vocabulary", f"{len(vocabulary):,}",
                   "The checkpoint's own vocab.txt: its pretraining learnt these tokens." + (
                       " A word it does not hold is split into known pieces (play, ##ing) before it becomes [UNK]."
                       if vocabulary.word_pieces else "")),
            Figure("Unknown tokens (validation)", f"{stats['val_unknown_share']:.1%}",
                   "Tokens of the validation texts that even the checkpoint's pieces cannot spell: [UNK]."),
        ]  # fmt: skip
    figures.append(Figure("Texts cut off", f"{stats['truncated']:,} of {stats['texts']:,}"))
    figure_row(figures, key="train_token_figures")
    st.plotly_chart(
        charts.token_length_histogram(stats["lengths"], config.seq_len), key="train_token_lengths"
    )
    # Containers always drawn, filled or not: an element that comes and goes would move every box
    # below it, and a box the browser redraws loses what was being typed into it.
    with st.container():
        _longer_sequence_offer(stats, start, len(rows.dataset.class_names))
    notes = st.container()
    if vocabulary is not None:
        with notes:
            _pieces_example(rows, vocabulary, config.seq_len)
    elif stats["vocabulary_size"] < config.vocab:
        notes.caption(
            f"The training texts hold only {stats['vocabulary_size'] - 5:,} different words, so "
            f"{config.vocab - stats['vocabulary_size']:,} of the {config.vocab:,} embedding rows will never be used."
        )


def _longer_sequence_offer(stats: dict, start: Start, classes: int) -> None:
    """When a tenth of the texts lose their ends: a longer sequence, what it would still cut, and a button."""
    config = start.config
    key, most = sequence_length_box(start)
    longer = longer_sequence(stats["lengths"], config.seq_len, most)
    if longer is None:
        return
    wider = config.with_changes(seq_len=longer, pos_num=longer)  # a checkpoint's too: its encoder, longer
    try:
        check_training_fits(
            wider, classes, int(setting("batch_size")), budget_mb=training_budget_mb(beside_server=True)
        )
    except UserError:
        return  # the longer model would not fit: nothing to offer
    still_cut = int(np.count_nonzero(np.asarray(stats["lengths"]) > longer))
    flops = costs.compute(wider, classes).training / costs.compute(config, classes).training
    st.caption(
        f":material/content_cut: {stats['truncated']:,} of the {stats['texts']:,} texts are longer than "
        f"{config.seq_len} tokens and lose their ends. At a sequence length of {longer:,}, "
        f"{'none would' if still_cut == 0 else f'{still_cut:,} would'}, for {flops:.1f}x the arithmetic's FLOPs "
        "per text (training time grows a little less)."
    )
    st.button(f"Use sequence length {longer}", on_click=_set_box, args=(key, longer), key="train_longer_sequence",
              icon=":material/width:")  # fmt: skip


def _set_box(key: str, value: int) -> None:
    """For on_click: a box's new value, set before it is drawn."""
    st.session_state[key] = value


def _pieces_example(rows: TrainingRows, vocabulary, seq_len: int) -> None:
    """How the checkpoint's tokenizer splits the first training text, as the model will see it."""
    text = rows.dataset.texts[0]
    ids = encode_texts(vocabulary, [text], seq_len).token_ids[0]
    pieces = [vocabulary.tokens[int(i)] for i in ids if i]
    st.caption(f"The first text as the checkpoint's tokenizer splits it: {md(' · '.join(pieces))}")


def training_section(rows: TrainingRows, source: str, start: Start, settings: TrainSettings) -> None:
    config = start.config
    budget = training_budget_mb(beside_server=True)
    try:
        need = check_training_fits(
            config, len(rows.dataset.class_names), settings.batch_size, budget_mb=budget
        )
    except UserError as error:
        st.error(md(error))
        return
    # The same breakdown as the explorer's "Training memory" figure: one model, one figure.
    st.caption(
        f"{need.parameters:,} parameters. Training needs about {need.total_mb:,} MB of the {budget:,} MB this "
        f"app allows per training, which runs in a worker process of its own.  \n{md(need.theory_sentence())}  \n"
        f"{md(need.machine_sentence())}"
    )
    training_prediction(config, len(rows.dataset.class_names), settings, rows.dataset.label_ids)
    if training_run.running():
        training_run.live_panel(settings.epochs)
        return
    if start.checkpoint is None:  # a worker builds and traces this model while the visitor reads
        pool().prewarm(TRAINING_RUNTIME_MB, training_warm_up(config, len(rows.dataset.class_names), settings))
    if st.button("Train", type="primary", icon=":material/model_training:", key="train_start"):
        training_run.start(rows.dataset, source, config, settings, start.checkpoint)
        st.rerun()


def choose_run(runs: list[StoredRun]) -> StoredRun:
    """The newest run, or the one picked when there are several; and how long runs are kept."""
    st.subheader("Results", divider="gray")
    st.caption(
        f"Your finished runs are kept on this server for {KEEP_SECONDS // 3600} hours after your last visit "
        f"(the last {MAX_RUNS}, uploaded and pretrained checkpoints included, which are kept longest), for this "
        "browser only, also through a reload; a restart of the server clears them."
    )
    if len(runs) == 1:
        return runs[0]
    compare_section(runs)
    labels = {run.run_id: f"{training_run.finished_at(run)} · {run.record.get('source', '')}" for run in runs}
    # Keyed by the newest run: when a training finishes, the page shows it (and compares it), whatever
    # was picked before; a widget keeps its value while its options change.
    chosen = st.selectbox("Run", list(labels), format_func=labels.get, key=f"train_run_choice_{runs[0].run_id}",
                          help="Every run you finished lately; the results, predictions and downloads below are of this one.")  # fmt: skip
    return next(run for run in runs if run.run_id == chosen)


def compare_section(runs: list[StoredRun]) -> None:
    """Every finished run of the visitor in one table, and the validation curves of those picked."""
    trained = [training_run.trained_run(run) for run in runs]
    labels = {item.run_id: training_run.run_label(item) for item in trained}
    with st.expander(f"Compare your {len(runs)} runs", expanded=True):
        st.dataframe(pd.DataFrame([training_run.run_row(item) for item in trained]), hide_index=True,
                     column_config={name: st.column_config.NumberColumn(format="%.3f")
                                    for name in ("val accuracy", "macro F1", "TF-IDF baseline")})  # fmt: skip
        picked = st.multiselect("Runs on the chart", list(labels), default=list(labels)[:2], format_func=labels.get,
                                key=f"train_compare_runs_{runs[0].run_id}")  # fmt: skip
        histories = {
            labels[item.run_id]: item.saved.metrics["history"] for item in trained if item.run_id in picked
        }
        if histories:
            st.plotly_chart(charts.compared_runs_chart(histories), key="train_compare_chart")


def results_section(run: training_run.TrainedRun) -> None:
    saved = run.saved
    metrics, history = saved.metrics, saved.metrics["history"]
    checkpoint = started_from(metrics)
    begun = f" from the checkpoint {md(checkpoint)}" if checkpoint else " from scratch"
    st.caption(
        f"Trained{begun} at {run.finished} on {md(run.source)}: {metrics['train_samples']:,} training and "
        f"{metrics['val_samples']:,} validation texts; {md(explain.describe_model(saved.config))}; "
        f"{metrics['parameters']:,} parameters; {metrics['training_seconds']:.0f} s."
    )
    accuracy, baseline = metrics["val_accuracy"], metrics["majority_baseline"]
    first, second, third, fourth = st.columns(4)
    first.metric("Validation accuracy", f"{accuracy:.1%}", delta=f"{(accuracy - baseline) * 100:+.1f} pts",
                 delta_color="normal" if round((accuracy - baseline) * 1000) else "off")  # fmt: skip
    second.metric("Macro F1", f"{metrics['macro_f1']:.3f}",
                  help="The mean of every class's F1: a rare class counts as much as a common one.")  # fmt: skip
    third.metric("Majority baseline", f"{baseline:.1%}",
                 help=f"Always answering '{md(metrics['majority_class'])}', the most frequent class of the training texts.")  # fmt: skip
    tfidf = metrics.get("tfidf_baseline")
    if tfidf is not None:
        fourth.metric("TF-IDF baseline", f"{tfidf:.1%}", delta=f"F1 {metrics['tfidf_macro_f1']:.3f}", delta_color="off", delta_arrow="off",
                      help="TF-IDF word weights and a logistic regression (scikit-learn), trained and validated on exactly "
                      "the same texts as the model; F1 is its macro F1.")  # fmt: skip
        st.caption(tfidf_sentence(accuracy, tfidf, checkpoint is not None))
    if accuracy > baseline:
        st.success(
            f"The model beats the majority-class baseline by {(accuracy - baseline) * 100:.1f} points: it learnt "
            "something from the texts."
        )
    else:
        st.warning(
            f"The model does not beat the majority-class baseline (always answering '{md(metrics['majority_class'])}'): "
            "it has not learnt anything useful yet; try more epochs, a higher learning rate or more data."
        )
    best = metrics["best_epoch"]
    if metrics.get("stopped_by_user"):
        complete = len(history)
        st.info(
            f"Training was stopped after {complete} complete {'epoch' if complete == 1 else 'epochs'}; "
            f"the model of epoch {best} (the best validation accuracy) is kept."
        )
    elif metrics.get("stopped_early"):
        st.info(
            f"Stopped early after epoch {len(history)}: the validation accuracy had not risen for "
            f"{saved.settings.get('patience', '?')} epochs; the model of epoch {best} is kept."
        )
    elif best != len(history):
        st.caption(
            f"The model of epoch {best}, the one with the best validation accuracy (the lower loss on a tie), is kept."
        )
    st.plotly_chart(
        charts.training_curves(history, epochs=saved.settings.get("epochs")), key="train_result_curves"
    )
    measured_against_predicted(saved.config, len(saved.class_names), saved.settings, metrics)
    left, right = st.columns(2)
    left.plotly_chart(charts.confusion_matrix_heatmap(metrics["confusion_matrix"], saved.class_names),
                      key="train_confusion")  # fmt: skip
    right.plotly_chart(charts.per_class_scores_chart(metrics["per_class"]), key="train_per_class")
    st.dataframe(pd.DataFrame(metrics["per_class"]), hide_index=True,
                 column_config={name: st.column_config.NumberColumn(format="%.3f") for name in ("precision", "recall", "f1")})  # fmt: skip

    st.subheader("Mistakes", divider="gray")
    look_inside.mistakes(saved)

    st.subheader("Try it", divider="gray")
    text = st.text_input("A text to classify", max_chars=5000, key="train_predict_text", persist_state="session",
                         placeholder="Type a sentence and press Enter")  # fmt: skip
    if text and text.strip():
        training_run.prediction(saved, text)
    else:
        st.caption("The model's answer and its probability for every class appear here.")

    st.subheader("Look inside", divider="gray")
    look_inside.explanation(saved)

    st.subheader("Export", divider="gray")
    st.caption(
        "The zip holds model.h5 (load it with `tf.keras.models.load_model(path, "
        "custom_objects=keras_bert.get_custom_objects())`), vocab.txt, labels.json, config.json, "
        "metrics.json and validation.json (the validation texts and their probabilities); `python -m bertviz_core "
        'predict model.zip "a text"` and `explain model.zip "a text"` use it too.'
    )
    first, second, third = st.columns(3)
    first.download_button("Model (zip)", lambda: zip_folder(saved.folder), file_name="bert_classifier.zip",
                          mime="application/zip", icon=":material/download:", on_click="ignore",
                          key="train_download_zip")  # fmt: skip
    second.download_button("Metrics (CSV)", to_safe_csv(metrics_table(metrics)), file_name="metrics.csv",
                           mime="text/csv", icon=":material/table:", on_click="ignore", key="train_download_metrics")  # fmt: skip
    third.download_button("History (CSV)", to_safe_csv(pd.DataFrame(history)), file_name="history.csv",
                          mime="text/csv", icon=":material/show_chart:", on_click="ignore", key="train_download_history")  # fmt: skip


# --- the page -------------------------------------------------------------------------------------
st.title("Train a classifier")
training_run.collect()
pool().prewarm(TRAINING_RUNTIME_MB)  # a visitor here will likely train: a worker loads TensorFlow now
st.markdown(
    "Train a small keras-bert encoder with a softmax head on your own texts and labels, watch it learn, "
    "check it against a baseline, try it and take it home."
)

st.subheader("1. Data", divider="gray")
chosen = choose_table()
rows = data_section(chosen) if chosen else None
if chosen and rows is None:
    st.info("Choose a text column and a label column that work, or load another file.")

if rows is not None:
    source = f"{chosen.source} (text '{rows.text_column}', label '{rows.label_column}')"
    rows_key = (chosen.table_id, rows.text_column, rows.label_column, int(setting("seed")))

    st.subheader("2. Model", divider="gray")
    if st.session_state.get("train_start_from", SCRATCH) == SCRATCH:
        explorer_offer(len(rows.dataset.class_names), int(setting("batch_size")))
    start = start_section()
    if start is not None:
        token_fit_section(rows_key, rows, start)
    if start is not None and start.checkpoint is None:
        with st.expander("Pretrain this model on your texts first (masked words, next sentence)"):
            pretraining.section(
                rows.dataset, source, start.config, float(setting("val_share")), int(setting("seed"))
            )

    st.subheader("3. Training", divider="gray")
    settings = settings_boxes()
    with st.expander("Why the notebook's `Dense(...)(model.output)` failed, and what this page builds"):
        st.markdown(explain.CLASSIFIER_HEAD)
        st.code(explain.CLASSIFIER_HEAD_CODE, language="python")
    if start is not None and settings is not None:
        training_section(rows, source, start, settings)
elif training_run.running():  # the data changed under a running training: it goes on, shown here
    training_run.live_panel(int(setting("epochs")))

if training_run.notice():
    st.error(md(training_run.notice()))
finished = training_run.finished_runs()
if finished:
    results_section(training_run.trained_run(choose_run(finished)))
