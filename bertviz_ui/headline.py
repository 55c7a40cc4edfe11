"""The explorer's headline: five figures for the configuration, and the formulas behind them."""

from __future__ import annotations

import streamlit as st

from bertviz_core.arithmetic import costs, explain
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params
from bertviz_core.arithmetic.training_memory import MACHINE_FORMULA, explorer_training_memory
from bertviz_core.text import escape_markdown, format_bytes, format_count, format_flops, format_short_count
from bertviz_core.training_notes import Figure
from bertviz_ui.figures import figure_row

FORMULA_TITLES = {
    "params": "Parameters",
    "weights": "Weights",
    "training_state": "Training state (Adam)",
    "activations": "Activations",
    "forward_flops": "Forward FLOPs per sequence",
    "training_flops": "Training FLOPs per sequence",
}


def headline(config: ModelConfig, batch: int) -> None:
    params, memory, work = total_params(config), costs.memory(config, batch_size=batch), costs.compute(config)
    # The training figure is the training page's own: this model fine-tuned as a 2-class classifier.
    training = explorer_training_memory(config, batch)
    # A row that wraps instead of five fixed columns: at 1024 px five columns cut every figure
    # ("110,106…"); here each figure is as wide as it needs and moves to the next line when needed.
    figures = (
        ("Parameters", format_count(params), "model.count_params() of the real model",
         f"≈ {format_short_count(params)} · {'bare encoder' if config.encoder_only else 'with MLM + NSP heads'}"),
        ("Weights", format_bytes(memory.weights_bytes["fp32"]), "fp32, 4 bytes each",
         f"fp32 · fp16 {format_bytes(memory.weights_bytes['fp16'])} · int8 {format_bytes(memory.weights_bytes['int8'])}"),
        ("Training memory", f"{training.total_mb:,} MB",
         "Peak memory of a process training this model as the training page does: its encoder (MLM and NSP "
         "heads left out, positions = sequence length) with a 2-class softmax on the tokens' average, Adam in fp32. "
         "Calibrated on real training runs on this kind of machine (within 15 %).",
         f"as a classifier, batch {batch:,}: theory {training.theory_mb:,} MB + this machine {training.machine_mb:,} MB"),
        ("Forward FLOPs", format_flops(work.forward, short=True), f"{work.forward:,} FLOPs",
         f"per sequence of {config.seq_len:,} tokens"),
        ("Training FLOPs", format_flops(work.training, short=True), f"{work.training:,} FLOPs",
         "per sequence: forward + backward ≈ 3 × forward"),
    )  # fmt: skip
    figure_row([Figure(*figure) for figure in figures], key="explorer_headline")
    with st.expander("The formulas behind these figures"):
        st.caption(explain.notation(config, batch))
        state = training.weights + training.gradients + training.adam_moments
        results = {
            "params": f"{params:,} parameters",
            "weights": f"{memory.weights_bytes['fp32']:,} bytes in fp32",
            "training_state": f"{state:,} bytes for the {training.parameters:,} parameters trained",
            "activations": f"{training.activations:,} bytes for batch {batch:,} (the encoder's)",
            "forward_flops": f"{work.forward:,} FLOPs",
            "training_flops": f"{work.training:,} FLOPs",
        }
        for key, formula in costs.FORMULAS.items():
            st.markdown(f"**{FORMULA_TITLES[key]}**: {escape_markdown(formula)} = **{results[key]}**")
        st.markdown(
            f"**What this machine adds**: {escape_markdown(MACHINE_FORMULA)} = **{training.machine_mb:,} MB**; "
            f"training memory = theory {training.theory_mb:,} MB + {training.machine_mb:,} MB = "
            f"**{training.total_mb:,} MB**"
        )
        st.caption(
            "A multiply-add counts as 2 FLOPs and only matrix products are counted; memory counts "
            "fp32 activations kept for the backward pass. Training memory is for the model the training "
            "page trains from this one (the encoder and a 2-class head); an MB is 1,048,576 bytes (2^20) on every page."
        )
