"""Train a classifier: data in, a small keras-bert model, live training, results, prediction, export.

Everything a user loads, trains or sees lives in ``st.session_state``: two browser tabs never share
data, models or progress. TensorFlow is imported only inside functions (through ``bertviz_core``),
so the explorer page never pays for it.

Stopping: training runs inside the script run and updates placeholders from Keras callbacks. A
click on Stop (or on any widget) makes Streamlit end the run: it raises StopException (with
``runner.fastReruns``, our setting, while a new run starts at once in another thread) or
RerunException at the next ``st`` call, which is inside our callback. ``LiveTraining`` holds that
exception, tells the training loop to stop (``should_stop``), lets it restore the best epoch and
evaluate, stores the result and only then raises the exception again. The new run waits for that
(``collect_training_run``), so it shows the kept model.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from datetime import datetime

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import RerunException, StopException

from bertviz_core import data, train_charts
from bertviz_core.classifier import (
    TrainingError,
    check_training_fits,
    classifier_config,
    estimate_training_memory,
    training_budget_mb,
)
from bertviz_core.cli_train import TRAIN_MODEL_DEFAULTS
from bertviz_core.config import ConfigError, ModelConfig, valid_head_counts
from bertviz_core.errors import UserError
from bertviz_core.training import TrainSettings
from pages import enter_through_app

enter_through_app()

PREVIEW_ROWS = 20
STOP_WAIT_S = 60  # a stopping run finishes its batch, then evaluates: seconds, not minutes
UPDATES_PER_SECOND = 4  # progress-bar redraws at most; more would slow the training loop down
SAMPLE, UPLOAD = "A sample data set", "My CSV file"
LEARNING_RATES = (1e-5, 3e-5, 1e-4, 3e-4, 5e-4, 1e-3, 3e-3, 1e-2)

# Widget bounds. Generous: the memory guard, not these, decides what may be trained.
MODEL_BOUNDS = {
    "vocab": (16, 200_000),
    "seq_len": (8, 2048),
    "embed_dim": (1, 4096),
    "layers": (1, 48),
    "ff_dim": (1, 16_384),
}
MAX_HEADS = 64
MODEL_LABELS = {
    "vocab": "Vocabulary size",
    "seq_len": "Sequence length (tokens)",
    "embed_dim": "Embedding dimension",
    "heads": "Attention heads",
    "layers": "Encoder layers",
    "ff_dim": "Feed-forward width",
}
MODEL_HELP = {
    "vocab": "token_num: the most frequent words of the training texts get an id; others become [UNK].",
    "seq_len": "seq_len (and pos_num): tokens per text, [CLS] and [SEP] included; longer texts are cut.",
    "embed_dim": "embed_dim: the width of every token vector.",
    "heads": "head_num: only counts that divide the embedding dimension are offered.",
    "layers": "transformer_num: encoder blocks stacked on top of each other.",
    "ff_dim": "feed_forward_dim: the hidden width inside each block's feed-forward layer.",
}

# Session-state keys (one place, so the page's state can be read at a glance).
K_SOURCE, K_SAMPLE, K_UPLOAD = "train_source", "train_sample", "train_upload"
K_TABLE_CACHE, K_TOKEN_CACHE = "train_table_cache", "train_token_cache"
K_RESULT, K_NOTICE = "train_result", "train_notice"
K_RUN = "train_run"  # the last training run: a plain dict its thread fills in (see collect_training_run)
K_PREDICT = "train_predict_text"
SETTING_KEYS = {
    "epochs": "train_epochs",
    "batch_size": "train_batch_size",
    "learning_rate": "train_learning_rate",
    "val_share": "train_val_share",
    "seed": "train_seed",
    "patience": "train_patience",
}

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def md(text: object) -> str:
    """A user's string (file name, column, class) shown literally inside Streamlit markdown."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(text))


def model_key(field: str) -> str:
    return f"train_model_{field}"


# --- data -----------------------------------------------------------------------------------------
def load_table() -> tuple[str, data.Table] | None:
    """The table the user chose, as (an id for it, the table); None when there is none (yet)."""
    source = st.radio(
        "Data",
        (SAMPLE, UPLOAD),
        key=K_SOURCE,
        persist_state="session",
        horizontal=True,
        label_visibility="collapsed",
    )
    if source == SAMPLE:
        samples = {info.name: info for info in data.list_samples()}
        if not samples:
            st.error("No sample data sets are installed: upload a CSV file instead.")
            return None
        name = st.selectbox(
            "Sample",
            list(samples),
            key=K_SAMPLE,
            persist_state="session",
            format_func=lambda key: f"{samples[key].title} ({samples[key].rows:,} rows)",
        )
        info = samples[name]
        st.caption(md(info.description))
        table_id, read = f"sample:{name}", lambda: data.load_sample(name)
    else:
        uploaded = st.file_uploader(
            f"A CSV file with a column of texts and a column of labels (at most {data.MAX_UPLOAD_MB} MB)",
            type=["csv", "tsv", "txt"],
            key=K_UPLOAD,
        )
        if uploaded is None:
            st.info("Upload a file, or pick a sample data set above.")
            return None
        table_id = f"upload:{uploaded.file_id}"
        read = lambda: data.read_csv_bytes(uploaded.getvalue(), uploaded.name)  # noqa: E731

    # Parse once per file and session; the outcome (a table or the refusal) is kept for reruns.
    cached = st.session_state.get(K_TABLE_CACHE)
    if not cached or cached[0] != table_id:
        try:
            cached = (table_id, read(), None)
        except data.DataError as error:
            cached = (table_id, None, str(error))
        st.session_state[K_TABLE_CACHE] = cached
    _, table, problem = cached
    if problem:
        st.error(md(problem))
        return None
    return table_id, table


def choose_dataset(table_id: str, table: data.Table) -> tuple[data.Dataset, str, str] | None:
    frame = table.frame
    for note in table.notes:
        st.caption(":material/info: " + md(note))
    try:
        guessed_text, guessed_label = data.guess_columns(frame)
    except data.DataError as error:
        st.error(md(error))
        return None
    columns = [str(column) for column in frame.columns]
    # Keys carry the table's id: a new file starts from fresh guesses, not the last file's choice.
    suffix = hashlib.sha1(table_id.encode()).hexdigest()[:10]
    left, right = st.columns(2)
    text_column = left.selectbox(
        "Text column",
        columns,
        index=columns.index(guessed_text),
        key=f"train_text_col_{suffix}",
        persist_state="session",
    )
    label_column = right.selectbox(
        "Label column",
        columns,
        index=columns.index(guessed_label),
        key=f"train_label_col_{suffix}",
        persist_state="session",
    )
    st.dataframe(frame.head(PREVIEW_ROWS), hide_index=True, height=min(400, 38 + 35 * PREVIEW_ROWS))
    try:
        dataset = data.prepare_dataset(frame, text_column, label_column, max_rows=data.MAX_ROWS, seed=0)
    except data.DataError as error:
        st.caption(f"{len(frame):,} rows, {frame.shape[1]} columns.")
        st.error(md(error))
        return None
    for note in dataset.notes:
        st.caption(":material/info: " + md(note))
    st.caption(
        f"{len(frame):,} rows read; {len(dataset.texts):,} used, in {len(dataset.class_names)} classes."
    )
    counts = np.bincount(dataset.label_ids, minlength=len(dataset.class_names))
    st.plotly_chart(
        train_charts.class_balance_chart(dataset.class_names, counts.tolist()), key="train_balance"
    )
    return dataset, text_column, label_column


def dataset_fingerprint(dataset: data.Dataset) -> str:
    digest = hashlib.sha1()
    for text, label in zip(dataset.texts, dataset.labels, strict=True):
        digest.update(
            text.encode("utf-8", "surrogatepass") + b"\x00" + label.encode("utf-8", "surrogatepass") + b"\x01"
        )
    return digest.hexdigest()


def token_stats(
    dataset: data.Dataset, fingerprint: str, config: ModelConfig, val_share: float, seed: int
) -> dict:
    """How the texts fit the model, measured as training will: vocabulary from the training split.

    Kept per session for the last (data, vocabulary, sequence length, split) it was asked about.
    """
    key = (fingerprint, config.vocab, config.seq_len, round(val_share, 4), seed)
    cached = st.session_state.get(K_TOKEN_CACHE)
    if cached and cached[0] == key:
        return cached[1]
    from bertviz_core.tokens import build_vocabulary, encode_texts  # imports keras-bert (TensorFlow)

    train_idx, val_idx = data.stratified_split(dataset.label_ids, val_share, seed)
    train_texts = [dataset.texts[i] for i in train_idx]
    val_texts = [dataset.texts[i] for i in val_idx]
    vocabulary = build_vocabulary(train_texts, config.vocab)
    train_encoded = encode_texts(vocabulary, train_texts, config.seq_len)
    val_encoded = encode_texts(vocabulary, val_texts, config.seq_len)
    lengths = np.concatenate([train_encoded.token_lengths, val_encoded.token_lengths])
    stats = {
        "lengths": lengths.tolist(),
        "truncated": int(np.count_nonzero(lengths > config.seq_len)),
        "texts": int(len(lengths)),
        "vocabulary_size": len(vocabulary),
        "val_unknown_share": val_encoded.unknown_share,
        "val_unknown_tokens": val_encoded.unknown_tokens,
        "val_word_tokens": val_encoded.word_tokens,
    }
    st.session_state[K_TOKEN_CACHE] = (key, stats)
    return stats


def show_token_fit(stats: dict, config: ModelConfig) -> None:
    left, middle, right = st.columns(3)
    left.metric(
        "Vocabulary filled",
        f"{stats['vocabulary_size']:,} of {config.vocab:,}",
        help="Five special tokens ([PAD], [UNK], [CLS], [SEP], [MASK]) and then the most frequent words "
        "of the training texts, as many as fit.",
    )
    middle.metric(
        "Unknown words (validation)",
        f"{stats['val_unknown_share']:.1%}",
        help="Words of the validation texts that the vocabulary, built from the training texts only, "
        "does not hold: the model sees them as [UNK]. This is the rate new texts will meet.",
    )
    right.metric("Texts cut off", f"{stats['truncated']:,} of {stats['texts']:,}")
    st.plotly_chart(
        train_charts.token_length_histogram(stats["lengths"], config.seq_len), key="train_token_lengths"
    )
    if stats["vocabulary_size"] < config.vocab:
        st.caption(
            f"The training texts hold only {stats['vocabulary_size'] - 5:,} different words, so "
            f"{config.vocab - stats['vocabulary_size']:,} of the {config.vocab:,} embedding rows will never be used."
        )


# --- model ----------------------------------------------------------------------------------------
def default_model() -> ModelConfig:
    values = dict(TRAIN_MODEL_DEFAULTS)
    return ModelConfig(pos_num=values["seq_len"], encoder_only=True, **values)


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def describe(config: ModelConfig) -> str:
    return (
        f"{plural(config.layers, 'layer')}, {config.embed_dim} wide, {plural(config.heads, 'head')}, "
        f"feed-forward {config.ff_dim}, vocabulary {config.vocab:,}, {plural(config.seq_len, 'token')}"
    )


def fits_widgets(config: ModelConfig) -> bool:
    in_bounds = all(low <= getattr(config, name) <= high for name, (low, high) in MODEL_BOUNDS.items())
    return in_bounds and config.heads in valid_head_counts(config.embed_dim, max_heads=MAX_HEADS)


def apply_model(config: ModelConfig) -> None:
    """on_click: load a configuration into the model widgets (before they are drawn)."""
    for field in ("vocab", "seq_len", "embed_dim", "heads", "layers", "ff_dim"):
        st.session_state[model_key(field)] = getattr(config, field)


def explorer_offer(num_classes: int, batch_size: int) -> None:
    """Offer the explorer's configuration when it can be trained here; say why not otherwise."""
    explorer = st.session_state.get("model_config")
    if not isinstance(explorer, ModelConfig):
        return
    try:
        candidate = classifier_config(explorer.with_changes(pos_num=explorer.seq_len))
    except ConfigError:
        return
    need = estimate_training_memory(candidate, num_classes, batch_size)
    budget = training_budget_mb()
    if need.total_mb > budget:
        st.caption(
            f":material/block: The explorer's model ({md(describe(candidate))}) would need about "
            f"{need.total_mb:,} MB to train, more than the {budget:,} MB this app allows, so the page "
            "starts from a small model instead."
        )
    elif not fits_widgets(candidate):
        st.caption(
            f":material/block: The explorer's model ({md(describe(candidate))}) has settings outside "
            "what this page trains (sequence length up to 2,048, vocabulary from 16), so it is not offered."
        )
    else:
        st.button(
            f"Use the explorer's model ({describe(candidate)})",
            on_click=apply_model,
            args=(candidate,),
            icon=":material/input:",
            key="train_use_explorer",
        )


def model_number(column, field: str) -> int:
    low, high = MODEL_BOUNDS[field]
    return int(
        column.number_input(
            MODEL_LABELS[field],
            min_value=low,
            max_value=high,
            step=1,
            key=model_key(field),
            persist_state="session",
            help=MODEL_HELP[field],
        )
    )


def model_controls() -> ModelConfig | None:
    defaults = default_model()
    for field in ("vocab", "seq_len", "embed_dim", "heads", "layers", "ff_dim"):
        st.session_state.setdefault(model_key(field), getattr(defaults, field))
    first_row, second_row = st.columns(3), st.columns(3)
    values = {
        field: model_number(column, field)
        for column, field in zip(first_row, ("vocab", "seq_len", "embed_dim"), strict=True)
    }
    head_choices = valid_head_counts(values["embed_dim"], max_heads=MAX_HEADS)
    if st.session_state.get(model_key("heads")) not in head_choices:
        # The embedding changed under the chosen head count: take the closest count that divides it.
        previous = int(st.session_state.get(model_key("heads")) or 1)
        st.session_state[model_key("heads")] = min(head_choices, key=lambda h: (abs(h - previous), h))
    values["heads"] = second_row[0].selectbox(
        MODEL_LABELS["heads"],
        head_choices,
        key=model_key("heads"),
        persist_state="session",
        help=MODEL_HELP["heads"],
    )
    values["layers"] = model_number(second_row[1], "layers")
    values["ff_dim"] = model_number(second_row[2], "ff_dim")
    try:
        return ModelConfig(pos_num=values["seq_len"], encoder_only=True, **values)
    except ConfigError as error:
        st.error(md(error))
        return None


def setting_number(column, label: str, name: str, low: int, high: int, help: str | None = None) -> int:
    return int(
        column.number_input(
            label,
            min_value=low,
            max_value=high,
            value=getattr(TrainSettings(), name),
            step=1,
            key=SETTING_KEYS[name],
            persist_state="session",
            help=help,
        )
    )


def settings_controls() -> TrainSettings | None:
    defaults = TrainSettings()
    first, second, third = st.columns(3)
    epochs = setting_number(first, "Epochs", "epochs", 1, 100)
    batch_size = setting_number(second, "Batch size", "batch_size", 1, 1024)
    learning_rate = third.select_slider(
        "Learning rate",
        sorted({*LEARNING_RATES, defaults.learning_rate}),
        value=defaults.learning_rate,
        key=SETTING_KEYS["learning_rate"],
        persist_state="session",
        format_func=lambda rate: f"{rate:g}",
    )
    first, second, third = st.columns(3)
    val_share = first.slider(
        "Validation share",
        min_value=0.05,
        max_value=0.5,
        value=float(defaults.val_share),
        step=0.05,
        key=SETTING_KEYS["val_share"],
        persist_state="session",
        help="Rows kept aside, in every class's proportion, to measure the model on texts it never trained on.",
    )
    seed = setting_number(
        second,
        "Seed",
        "seed",
        0,
        2**31 - 1,
        help="The same seed gives the same split, the same starting weights and the same result.",
    )
    patience = setting_number(
        third,
        "Patience (epochs)",
        "patience",
        1,
        100,
        help="Stop early after this many epochs without a lower validation loss; the best epoch is kept.",
    )
    try:
        return TrainSettings(
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=float(learning_rate),
            val_share=round(float(val_share), 4),
            seed=seed,
            patience=patience,
        )
    except TrainingError as error:
        st.error(md(error))
        return None


def explain_the_head() -> None:
    with st.expander("Why the notebook's `Dense(...)(model.output)` failed, and what this page builds"):
        st.markdown(
            """
The notebook called `get_model(...)` with its default `training=True`. That builds BERT's
*pretraining* network, which ends in two heads: masked-word prediction (MLM) and next-sentence
prediction (NSP). Its `model.output` is therefore a list of two tensors. A Keras `Dense` layer wants
one tensor; given the list, Keras looks for the layer history of a single tensor, finds a tuple and
stops with `'tuple' object has no attribute 'layer'`.

Here the encoder is built with `training=False, trainable=True`. keras-bert then returns no model at
all but the pair `(inputs, output)`: the inputs and the last encoder block's output, one vector per
token. keras-bert's own `Extract(index=0)` layer takes the vector at position 0, the `[CLS]` token
that BERT trains to summarise the whole text, and one `Dense(classes, activation="softmax")` layer
turns it into class probabilities.

There is no `Lambda` layer: a Lambda would store Python code inside `model.h5`, code that runs when
the file is loaded. With keras-bert's layers only, the saved file holds configuration and weights,
and it loads with `keras_bert.get_custom_objects()`.
"""
        )
        st.code(
            """inputs, encoded = get_model(token_num=5000, seq_len=64, pos_num=64, embed_dim=128,
                             head_num=2, transformer_num=2, feed_forward_dim=512,
                             training=False, trainable=True)
cls_vector = keras_bert.layers.Extract(index=0)(encoded)
probabilities = tf.keras.layers.Dense(num_classes, activation="softmax")(cls_vector)
model = tf.keras.Model(inputs=inputs, outputs=probabilities)""",
            language="python",
        )


# --- training -------------------------------------------------------------------------------------
class LiveTraining:
    """The training loop's progress protocol, drawing into placeholders.

    Streamlit interrupts a run by raising at the next ``st`` call; that call is here. The exception
    is held (``interruption``), ``should_stop`` then ends training after the current batch, and the
    caller raises it again once the best epoch is evaluated and stored in the run record.
    """

    def __init__(self, settings: TrainSettings, progress_slot, curves_slot, status_slot):
        self.settings = settings
        self.progress_slot = progress_slot
        self.curves_slot = curves_slot
        self.status_slot = status_slot
        self.history: list[dict] = []
        self.interruption: RerunException | StopException | None = None
        self.last_draw = 0.0

    def _draw(self, draw) -> None:
        if self.interruption is not None:
            return  # after an interruption, no more st calls: the next one would raise again
        try:
            draw()
        except (RerunException, StopException) as interruption:
            self.interruption = interruption

    def on_batch_end(self, epoch: int, batch: int, batches_per_epoch: int) -> None:
        now = time.perf_counter()
        if now - self.last_draw < 1 / UPDATES_PER_SECOND:
            return
        self.last_draw = now
        done = ((epoch - 1) * batches_per_epoch + batch) / (self.settings.epochs * batches_per_epoch)
        text = f"Epoch {epoch} of {self.settings.epochs}: batch {batch} of {batches_per_epoch}"
        self._draw(lambda: self.progress_slot.progress(min(done, 1.0), text=text))

    def on_epoch_end(self, record: dict) -> None:
        self.history.append(dict(record))
        epoch = record["epoch"]

        def draw() -> None:
            self.progress_slot.progress(
                min(epoch / self.settings.epochs, 1.0),
                text=f"Epoch {epoch} of {self.settings.epochs} done",
            )
            self.curves_slot.plotly_chart(
                train_charts.training_curves(self.history, epochs=self.settings.epochs),
                key=f"train_live_curves_{epoch}",
            )
            self.status_slot.caption(
                f"Epoch {epoch}: validation accuracy {record['val_accuracy']:.1%}, validation loss "
                f"{record['val_loss']:.3f}; {record['seconds']:.1f} s, {record['samples_per_second']:,.0f} "
                "training texts per second."
            )

        self._draw(draw)

    def should_stop(self) -> bool:
        return self.interruption is not None


def collect_training_run() -> None:
    """Move the outcome of this session's last training run into the session, waiting if needed.

    With fastReruns a click during training starts a new script run at once, while the old one
    finishes its batch, restores the best epoch and evaluates. The old run may no longer touch
    ``st.session_state`` (Streamlit raises on every access), so it fills in the plain dict it put
    there before training (``K_RUN``); the new run waits for it here.
    """
    run = st.session_state.get(K_RUN)
    if run is None:
        return
    if not run["done"] and run["thread"] is not threading.current_thread():
        slot = st.empty()
        deadline = time.monotonic() + STOP_WAIT_S
        while not run["done"] and run["thread"].is_alive() and time.monotonic() < deadline:
            # An st call per round, so that a further click can interrupt this wait too.
            slot.info("Stopping the training and keeping its best epoch...", icon=":material/hourglass_top:")
            time.sleep(0.25)
        slot.empty()
    if not run["done"]:
        if run["thread"].is_alive():
            st.info("The training is still stopping; its result appears with your next click.")
        else:
            st.session_state.pop(K_RUN, None)  # the run died without a result (a crash is shown there)
        return
    # Store before forgetting the record: if this run is interrupted in between, the next one
    # collects the same record again.
    if "result" in run:
        st.session_state[K_RESULT] = run["result"]
    if "notice" in run:
        st.session_state[K_NOTICE] = run["notice"]
    st.session_state.pop(K_RUN, None)


def run_training(dataset: data.Dataset, source: str, config: ModelConfig, settings: TrainSettings) -> None:
    """Train with live progress; the outcome goes to the session (result or notice)."""
    from bertviz_core.training import train_classifier  # TensorFlow from here on

    run: dict = {"thread": threading.current_thread(), "done": False}
    st.session_state[K_RUN] = run
    st.session_state.pop(K_NOTICE, None)
    stop_slot = st.empty()
    stop_slot.button("Stop training", key="train_stop", icon=":material/stop_circle:")
    progress_slot = st.empty()
    progress_slot.progress(0.0, text="Building the model (the first run also loads TensorFlow)...")
    status_slot = st.empty()
    curves_slot = st.empty()
    live = LiveTraining(settings, progress_slot, curves_slot, status_slot)
    try:
        bundle = train_classifier(dataset, config, settings, live)
        run["result"] = {"bundle": bundle, "source": source, "finished": datetime.now().strftime("%H:%M:%S")}
    except UserError as error:
        run["notice"] = ("error", str(error))
    finally:
        run["done"] = True
    if live.interruption is not None:
        # End this run as Streamlit asked. No st call and no session access before this line:
        # each would raise again. The next run collects the result.
        raise live.interruption
    collect_training_run()
    stop_slot.empty()
    curves_slot.empty()
    status_slot.empty()
    if "result" in run:
        metrics = run["result"]["bundle"].metrics
        progress_slot.progress(
            1.0, text=f"Done: {len(metrics['history'])} epochs in {metrics['training_seconds']:.0f} s."
        )
    else:
        progress_slot.empty()


def training_section(
    dataset: data.Dataset, source: str, config: ModelConfig, settings: TrainSettings
) -> None:
    budget = training_budget_mb()
    try:
        need = check_training_fits(config, len(dataset.class_names), settings.batch_size, budget_mb=budget)
    except UserError as error:
        st.error(md(error))
        return
    st.caption(
        f"{need.parameters:,} parameters. Training needs about {need.total_mb:,} MB (Adam keeps 16 bytes "
        f"per parameter, plus activations for a batch of {settings.batch_size}); this app allows {budget:,} MB."
    )
    if st.button("Train", type="primary", icon=":material/model_training:", key="train_start"):
        run_training(dataset, source, config, settings)


# --- results --------------------------------------------------------------------------------------
def show_notice() -> None:
    notice = st.session_state.get(K_NOTICE)
    if notice:
        st.error(md(notice[1]))


def results_section(result: dict) -> None:
    from bertviz_core.bundle import export_zip

    bundle = result["bundle"]
    metrics = bundle.metrics
    history = metrics["history"]
    st.subheader("Results", divider="gray")
    st.caption(
        f"Trained at {result['finished']} on {md(result['source'])}: {metrics['train_samples']:,} training and "
        f"{metrics['val_samples']:,} validation texts; {md(describe(bundle.config))}; "
        f"{metrics['parameters']:,} parameters; {metrics['training_seconds']:.0f} s."
    )
    accuracy, baseline = metrics["val_accuracy"], metrics["majority_baseline"]
    left, middle, right = st.columns(3)
    left.metric(
        "Validation accuracy",
        f"{accuracy:.1%}",
        delta=f"{(accuracy - baseline) * 100:+.1f} points vs baseline",
        delta_color="normal" if round((accuracy - baseline) * 1000) else "off",
    )
    middle.metric(
        "Macro F1",
        f"{metrics['macro_f1']:.3f}",
        help="The mean of every class's F1: a rare class counts as much as a common one.",
    )
    right.metric(
        "Majority-class baseline",
        f"{baseline:.1%}",
        help=f"Always answering '{md(metrics['majority_class'])}', the most frequent class of the training texts.",
    )
    if accuracy > baseline:
        st.success(
            f"The model beats the majority-class baseline by {(accuracy - baseline) * 100:.1f} points: it learnt "
            "something from the texts."
        )
    else:
        st.warning(
            f"The model does not beat the majority-class baseline (always answering "
            f"'{md(metrics['majority_class'])}'): it has not learnt anything useful yet; try more epochs, "
            "a higher learning rate or more data."
        )
    best = metrics["best_epoch"]
    if metrics.get("stopped_by_user"):
        complete = len(history)
        st.info(
            f"Training was stopped after {complete} complete {'epoch' if complete == 1 else 'epochs'}; "
            f"the model of epoch {best} (the lowest validation loss) is kept."
        )
    elif metrics.get("stopped_early"):
        st.info(
            f"Stopped early after epoch {len(history)}: the validation loss had not fallen for "
            f"{bundle.settings.get('patience', '?')} epochs; the model of epoch {best} is kept."
        )
    elif best != len(history):
        st.caption(f"The model of epoch {best}, the one with the lowest validation loss, is kept.")
    st.plotly_chart(
        train_charts.training_curves(history, epochs=bundle.settings.get("epochs")), key="train_result_curves"
    )
    left, right = st.columns(2)
    with left:
        st.plotly_chart(
            train_charts.confusion_matrix_heatmap(metrics["confusion_matrix"], bundle.class_names),
            key="train_confusion",
        )
    with right:
        st.plotly_chart(train_charts.per_class_scores_chart(metrics["per_class"]), key="train_per_class")
    per_class = pd.DataFrame(metrics["per_class"])
    st.dataframe(
        per_class,
        hide_index=True,
        column_config={
            "precision": st.column_config.NumberColumn(format="%.3f"),
            "recall": st.column_config.NumberColumn(format="%.3f"),
            "f1": st.column_config.NumberColumn(format="%.3f"),
        },
    )

    st.subheader("Try it", divider="gray")
    predict_box(bundle)

    st.subheader("Export", divider="gray")
    if "zip" not in result:
        with st.spinner("Saving the model..."):
            result["zip"] = export_zip(bundle)
    st.caption(
        "The zip holds model.h5 (load it with `tf.keras.models.load_model(path, "
        "custom_objects=keras_bert.get_custom_objects())`), vocab.txt, labels.json, config.json and "
        'metrics.json; `python -m bertviz_core predict model.zip "a text"` uses it too.'
    )
    first, second, third = st.columns(3)
    first.download_button(
        "Model (zip)",
        result["zip"],
        file_name="bert_classifier.zip",
        mime="application/zip",
        icon=":material/download:",
        on_click="ignore",
        key="train_download_zip",
    )
    summary = {
        "class": "(all)",
        "precision": np.nan,
        "recall": np.nan,
        "f1": metrics["macro_f1"],
        "support": metrics["val_samples"],
    }
    metrics_frame = pd.concat([per_class, pd.DataFrame([summary])], ignore_index=True)
    metrics_frame["accuracy"] = [np.nan] * len(per_class) + [accuracy]
    second.download_button(
        "Metrics (CSV)",
        data.to_safe_csv(metrics_frame),
        file_name="metrics.csv",
        mime="text/csv",
        icon=":material/table:",
        on_click="ignore",
        key="train_download_metrics",
    )
    third.download_button(
        "History (CSV)",
        data.to_safe_csv(pd.DataFrame(history)),
        file_name="history.csv",
        mime="text/csv",
        icon=":material/show_chart:",
        on_click="ignore",
        key="train_download_history",
    )


def predict_box(bundle) -> None:
    from bertviz_core.classifier import predict_proba
    from bertviz_core.tokens import encode_texts

    text = st.text_input(
        "A text to classify",
        max_chars=5000,
        key=K_PREDICT,
        persist_state="session",
        placeholder="Type a sentence and press Enter",
    )
    if not text or not text.strip():
        st.caption("The model's answer and its probability for every class appear here.")
        return
    probabilities = predict_proba(bundle, [text])[0]
    best = int(np.argmax(probabilities))
    st.markdown(f"Predicted class: **{md(bundle.class_names[best])}** ({probabilities[best]:.1%})")
    encoded = encode_texts(bundle.vocabulary, [text], bundle.config.seq_len)
    notes = [
        f"{encoded.word_tokens} words, {encoded.unknown_tokens} of them unknown to the vocabulary ([UNK])"
    ]
    if encoded.truncated:
        notes.append(f"cut to {bundle.config.seq_len} tokens")
    st.caption("; ".join(notes) + ".")
    st.plotly_chart(
        train_charts.probability_chart(bundle.class_names, probabilities.tolist()), key="train_probabilities"
    )


# --- the page -------------------------------------------------------------------------------------
st.title("Train a classifier")
collect_training_run()
st.markdown(
    "Train a small keras-bert encoder with a softmax head on your own texts and labels, watch it learn, "
    "check it against a baseline, try it and take it home."
)

st.subheader("1. Data", divider="gray")
loaded = load_table()
chosen = choose_dataset(*loaded) if loaded else None

if chosen is None:
    if loaded:
        st.info("Choose a text column and a label column that work, or load another file.")
else:
    dataset, text_column, label_column = chosen
    table_id = loaded[0]
    source = (
        f"the sample '{table_id.split(':', 1)[1]}'"
        if table_id.startswith("sample:")
        else f"{st.session_state[K_UPLOAD].name}"
    )
    source += f" (text '{text_column}', label '{label_column}')"

    st.subheader("2. Model", divider="gray")
    batch_size_now = int(st.session_state.get(SETTING_KEYS["batch_size"], TrainSettings().batch_size))
    explorer_offer(len(dataset.class_names), batch_size_now)
    config = model_controls()
    if config is not None:
        with st.spinner("Counting tokens (the first time also loads TensorFlow)..."):
            try:
                stats = token_stats(
                    dataset,
                    dataset_fingerprint(dataset),
                    config,
                    float(st.session_state.get(SETTING_KEYS["val_share"], TrainSettings().val_share)),
                    int(st.session_state.get(SETTING_KEYS["seed"], TrainSettings().seed)),
                )
            except UserError as error:
                stats = None
                st.error(md(error))
        if stats:
            show_token_fit(stats, config)

    st.subheader("3. Training", divider="gray")
    settings = settings_controls()
    explain_the_head()
    if config is not None and settings is not None:
        training_section(dataset, source, config, settings)

show_notice()
if st.session_state.get(K_RESULT):
    results_section(st.session_state[K_RESULT])
