"""Sweeps of one setting with the rest held still: how the count (and the costs) grow along it.

Each sweep has at most ``points`` values (plus the current one, marked on the chart), so a chart
stays light enough to redraw on every slider move.
"""

from __future__ import annotations

from typing import TypedDict

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params
from bertviz_core.fields import MODEL_FIELD, MODEL_FIELDS

# The settings a sweep can follow, with the label a chart shows ("vocabulary size V").
KNOBS: dict[str, str] = {
    field.name: f"{field.label} {field.symbol}" for field in MODEL_FIELDS if field.sweep_span is not None
}


class Sweep(TypedDict):
    knob: str
    label: str
    values: list[int]
    totals: list[int]
    current_value: int
    current_total: int
    trend: str  # "linear", "quadratic" or "flat"
    note: str  # one sentence: how much each step adds, computed from the configuration


class SequenceSweep(TypedDict):
    values: list[int]
    totals: list[int]
    activation_bytes: list[int]  # per sequence, fp32
    attention_flops: list[int]  # Q·Kᵀ and the weighted sum, per sequence
    forward_flops: list[int]
    current_value: int


def _spaced(low: int, high: int, current: int, points: int) -> list[int]:
    """At most ``points`` whole numbers from low to high, evenly spaced, plus ``current``."""
    if high - low + 1 <= points:
        values = set(range(low, high + 1))
    else:
        step = (high - low) / (points - 1)
        values = {round(low + index * step) for index in range(points)}
    values.add(current)
    return sorted(values)


def _range(config: ModelConfig, knob: str) -> tuple[int, int]:
    current = getattr(config, knob)
    low, limit = MODEL_FIELD[knob].limits
    if knob == "pos_num":
        low = config.seq_len  # positions below the sequence length cannot build
    if knob == "seq_len":
        return 1, config.pos_num  # the sequence cannot be longer than the position table
    return low, min(limit, max(2 * current, MODEL_FIELD[knob].sweep_span))


def _at(config: ModelConfig, knob: str, value: int) -> ModelConfig:
    changes: dict[str, int] = {knob: value}
    if knob == "embed_dim":
        changes["heads"] = 1  # any width splits into one head; the head count adds no weights
    return config.with_changes(**changes)


def sweep(config: ModelConfig, knob: str, points: int = 60) -> Sweep:
    """Total parameters along ``knob`` (one of KNOBS), the rest of ``config`` unchanged."""
    if knob not in KNOBS:
        raise ValueError(f"Unknown setting {knob!r}: choose one of {', '.join(KNOBS)}.")
    current = getattr(config, knob)
    low, high = _range(config, knob)
    values = _spaced(low, high, current, points)
    totals = [total_params(_at(config, knob, value)) for value in values]
    trend, note = _describe(config, knob)
    return Sweep(
        knob=knob,
        label=KNOBS[knob],
        values=values,
        totals=totals,
        current_value=current,
        current_total=total_params(config),
        trend=trend,
        note=note,
    )


def _describe(config: ModelConfig, knob: str) -> tuple[str, str]:
    """The curve's shape and what one step adds, read off the arithmetic by differences."""
    if knob == "seq_len":
        return "flat", "Flat: the sequence length is in no weight's shape, so the count does not move."
    value = getattr(config, knob)
    low, limit = MODEL_FIELD[knob].limits
    base = value if value < limit else value - 1
    # The sequence length adds no weights; setting it to 1 lets the position count step anywhere.
    probe = config.with_changes(seq_len=1)
    step = total_params(_at(probe, knob, base + 1)) - total_params(_at(probe, knob, base))
    d, f, layers = config.embed_dim, config.ff_dim, config.layers
    if knob == "vocab":
        where = f"a row of d = {d:,} in the token embedding" + (
            "" if config.encoder_only else " and one MLM output bias"
        )
        return "linear", f"Linear: each extra token adds {step:,} parameters ({where})."
    if knob == "embed_dim":
        centre = max(base, low + 1)
        below, here, above = (total_params(_at(probe, knob, centre + offset)) for offset in (-1, 0, 1))
        squared = (above - 2 * here + below) // 2
        return "quadratic", (
            f"Quadratic: the count holds {squared:,}·d² (four d × d attention matrices in each of the "
            f"{layers} layers"
            + ("" if config.encoder_only else ", plus the MLM and NSP dense layers")
            + "), and everything else grows linearly with d."
        )
    if knob == "layers":
        return (
            "linear",
            f"Linear: each extra encoder layer adds {step:,} parameters (4·d² + 2·F·d + F + 9·d, with d = {d:,}, F = {f:,}).",
        )
    if knob == "ff_dim":
        return (
            "linear",
            f"Linear: each unit of feed-forward width adds {step:,} parameters (L × (2·d + 1) = {layers} × {2 * d + 1:,}).",
        )
    return (
        "linear",
        f"Linear: each extra position adds {step:,} parameters (a row of d = {d:,} in the position table).",
    )


def sequence_sweep(config: ModelConfig, points: int = 40) -> SequenceSweep:
    """Parameters, activation memory and attention compute along the sequence length, 1 to P."""
    values = _spaced(1, config.pos_num, config.seq_len, points)
    totals, activation_bytes, attention_flops, forward_flops = [], [], [], []
    for value in values:
        at_length = config.with_changes(seq_len=value)
        work = costs.compute(at_length)
        totals.append(total_params(at_length))
        activation_bytes.append(costs.memory(at_length, batch_size=1).activation_bytes_per_sequence)
        attention_flops.append(work.attention_scores)
        forward_flops.append(work.forward)
    return SequenceSweep(
        values=values,
        totals=totals,
        activation_bytes=activation_bytes,
        attention_flops=attention_flops,
        forward_flops=forward_flops,
        current_value=config.seq_len,
    )
