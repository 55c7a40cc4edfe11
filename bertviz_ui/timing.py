"""Predicted training time on this machine: its matrix-product rate, measured per server.

The rate is a short job in a worker process (``jobs.tasks.measure_rate``, about 1.5 s of products
after TensorFlow's import there), started by the first page that needs it, shared by every session,
and measured again when the machine's load has moved (``jobs.measured_rate``). A page never waits
for it: until it is known the section says so, and the page's ``follow_measurement`` shows the
figure when it arrives. The arithmetic is ``bertviz_core.timing``'s.
"""

from __future__ import annotations

import math

import streamlit as st

from bertviz_core.arithmetic.bert_config import ERF_GELU, TANH_GELU
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.data.rows import split_sizes as rows_split_sizes
from bertviz_core.errors import UserError
from bertviz_core.jobs.measured_rate import RETRY_SECONDS, MeasuredRate
from bertviz_core.jobs.requests import machine_rate_request
from bertviz_core.settings import FINE_TUNE, FROZEN, TrainSettings
from bertviz_core.text import escape_markdown, format_duration
from bertviz_core.timing import predict_encoding_seconds, predict_epoch_seconds, steady_epoch_seconds
from bertviz_ui.jobs import pool

WAIT_SECONDS = 1.0  # how often a waiting page looks again
REFRESH_WAIT_SECONDS = 2.0  # how often a page showing a figure looks whether a newer one is in
MEASURE_ASKED = "explorer_timing_asked"  # the explorer's visitor asked for the measurement
EXPLORER_CLASSES = 2  # the explorer has no data: a two-class head (its cost is negligible anyway)
MEASURING = (
    "Measuring this machine's matrix-product speed (a second or two in a worker process; "
    "again when the load changes)..."
)


@st.cache_resource
def _machine_rate() -> MeasuredRate:
    return MeasuredRate(lambda: pool().submit(machine_rate_request()))


def follow_measurement(start: bool = True) -> None:
    """The page's one follower of the rate measurement, drawn in every run as the page's first
    element: while a measurement is under way it looks every ``WAIT_SECONDS`` (a new figure of a
    stale rate every ``REFRESH_WAIT_SECONDS``) and runs the whole page again once it is in; otherwise
    it does nothing and no timer runs. ``start``: start a measurement when one is due (the explorer
    measures on request only, and then does not follow another page's measurement).

    Always at the same place, so its fragment keeps one id and one place in every run. Fragments
    drawn where the sections are moved whenever a box above them changed the page's length, and a
    timer of the previous run's fragment, firing into the new page, left a trainer's page blank
    (and its connection closed) in busy test runs."""
    holder = _machine_rate()
    rate = holder.get(start)
    job = holder.job() if start else None
    every = None if job is None else (WAIT_SECONDS if rate is None else REFRESH_WAIT_SECONDS)
    st.fragment(_rerun_when_over, run_every=every)(job)


def _rerun_when_over(job) -> None:
    if job is not None and job.snapshot().is_over:
        st.rerun()  # the whole page, with the new figure


def machine_rate(start: bool = True, say: bool = True) -> float | None:
    """This server's matrix-product rate in FLOP/s; None (and a note drawn, unless not ``say``) while
    unknown. Without ``start``, nothing is started or drawn. While it is measured the section says so, and the
    page's ``follow_measurement`` draws the page again when the figure is in (a new measurement of a
    stale rate goes unsaid: the old figure stands until then)."""
    holder = _machine_rate()
    rate = holder.get(start)
    if not start or not say or rate is not None:
        return rate
    if holder.job() is not None:
        st.caption(":material/timer: " + MEASURING)
    elif holder.error:
        st.caption(
            f":material/timer_off: This machine's speed could not be measured ({holder.error}); "
            f"the prediction will try again in {RETRY_SECONDS / 60:.0f} minutes."
        )
    return rate


def training_time_section(config: ModelConfig, batch_size: int) -> None:
    """The explorer's "Training time on this machine": seconds per epoch for a number of texts."""
    st.subheader("Training time on this machine")
    left, right = st.columns([1, 3], vertical_alignment="center")
    texts = left.number_input("Texts per epoch", min_value=1, max_value=10_000_000, value=2000, step=500,
                              key="explorer_timing_texts")  # fmt: skip
    # Measured on request here: on the explorer's first visit of a fresh server, a worker importing
    # TensorFlow beside the first render took it from 6.8 s to 10.5 s (the training page, which warms
    # a worker anyway, starts the measurement by itself).
    asked = st.session_state.get(MEASURE_ASKED, False)
    rate = machine_rate(start=asked)
    if rate is None:
        if _machine_rate().job() is None and not _machine_rate().error:
            right.button("Measure this machine", key="explorer_timing_measure", icon=":material/timer:",
                         on_click=st.session_state.__setitem__, args=(MEASURE_ASKED, True),
                         help="A second or two of matrix products in a worker process, measured again when "
                         "the load changes; every page then predicts training times from it.")  # fmt: skip
        elif not asked and _machine_rate().job() is not None:  # another page's: shown on the next change
            right.caption(":material/timer: " + MEASURING)
        return
    prediction = predict_epoch_seconds(config, EXPLORER_CLASSES, batch_size, int(texts), rate)
    right.metric(
        "Predicted time per epoch",
        format_duration(prediction.seconds),
        help=f"{prediction.seconds:,.2f} s: training this encoder with a two-class head on {int(texts):,} texts "
        f"of {config.seq_len:,} tokens, batch {batch_size:,}, once warm (the first epoch also traces the "
        "training step and takes longer).",
    )
    st.caption(escape_markdown(prediction.explanation()) + ".")


def split_sizes(label_ids, val_share: float, seed: int) -> tuple[int, int] | None:
    """(training rows, validation rows) as training will split them; None if it cannot split."""
    try:
        return rows_split_sizes(label_ids, val_share, seed)
    except UserError:
        return None


def training_prediction(
    config: ModelConfig, classes: int, settings: TrainSettings, label_ids, gelu: str = TANH_GELU
) -> str | None:
    """Before Train: the predicted seconds per epoch of this model, batch size and rows (and, for the
    head only, the encoder's one reading of the texts before), in one line; returns how the figures
    are worked out (for the page to fold away), or None without a prediction."""
    sizes = split_sizes(label_ids, settings.val_share, settings.seed)
    if sizes is None:
        return None
    rate = machine_rate()
    if rate is None:
        return None
    prediction = predict_epoch_seconds(config, classes, settings.batch_size, sizes[0], rate, sizes[1],
                                       encoder=settings.encoder, gelu=gelu)  # fmt: skip
    rows = f"{sizes[0]:,} training texts in batches of {settings.batch_size:,}, then {sizes[1]:,} validation texts"
    if settings.encoder == FROZEN:
        reading = predict_encoding_seconds(config, sum(sizes), rate, gelu)
        st.caption(
            f":material/timer: Predicted on this machine: the frozen encoder reads the {sum(sizes):,} texts once in "
            f"about **{format_duration(reading.seconds)}**, then the head trains at about "
            f"**{format_duration(prediction.seconds)} per epoch** ({rows})."
        )
        return f"{escape_markdown(reading.explanation())}. {escape_markdown(prediction.explanation())}."
    st.caption(
        f":material/timer: Predicted on this machine: about **{format_duration(prediction.seconds)} per epoch** "
        f"({rows}); the first epoch also traces the training step and takes longer."
    )
    return escape_markdown(prediction.explanation()) + "."


def measured_against_predicted(config: ModelConfig, classes: int, settings: dict, metrics: dict) -> None:
    """After training: the measured seconds of the warm epochs against the prediction."""
    batch, history = int(settings.get("batch_size", 0) or 0), metrics.get("history") or []
    train, validation = int(metrics.get("train_samples", 0)), int(metrics.get("val_samples", 0))
    rate = machine_rate(say=False)  # the training section above says it is measured
    if rate is None or batch < 1 or not history:
        return
    start = metrics.get("start") or {}
    gelu = ERF_GELU if start.get("gelu") == ERF_GELU else TANH_GELU
    encoder = str(settings.get("encoder", FINE_TUNE))
    predicted = predict_epoch_seconds(
        config, classes, batch, train, rate, validation, encoder=encoder, gelu=gelu
    ).seconds
    steady = steady_epoch_seconds(history)
    if steady is None:
        st.caption(
            f":material/timer: Predicted {format_duration(predicted)} per epoch; only the first epoch ran "
            f"({format_duration(float(history[0]['seconds']))}, which also traces the training step), so there is "
            "no warm epoch to compare with."
        )
        return
    measured, epochs = steady
    which = f"epoch {epochs[0]}" if len(epochs) == 1 else f"epochs {epochs[0]}-{epochs[-1]}, median"
    ratio = predicted / measured if measured > 0 else math.inf
    st.caption(
        f":material/timer: Measured {format_duration(measured)} per epoch ({which}; the first, "
        f"{format_duration(float(history[0]['seconds']))}, also traced the training step) against "
        f"{format_duration(predicted)} predicted: predicted / measured = {ratio:.2f}."
    )
