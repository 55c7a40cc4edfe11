"""The training-memory estimate against measured peak memory of real training runs.

``CALIBRATION`` is ``python -m benchmarks.memory_calibration``'s table: each grid point trained for
real, in a fresh process through ``python3 -m bertviz_core train`` on the reviews sample (2 classes),
its peak resident memory read from the child's own high-water mark (``VmHWM``). The eight new models
were measured 2026-12-02 on this 2-core machine, 2 epochs each, while other jobs ran (load average
2-16); the all-MiniLM-L6-v2 points (fine-tuned, and the head only: ``--encoder frozen``) 2026-12-07,
after the exact GELU kept its input alone for the gradient and the best epoch's weights stopped being
copied twice (load 5-10).
Re-run the tool and update this table whenever the training code, TensorFlow or the machine
constants of ``bertviz_core.arithmetic.training_memory`` change; the last test re-measures one point so the table
cannot silently go stale.
"""

from __future__ import annotations

import pytest

from benchmarks.memory_calibration import BY_NAME, measure_peak_mb

TOLERANCE = 0.15

# name: (vocab, seq_len, embed_dim, heads, layers, ff_dim, batch), measured peak MB (MiB)
CALIBRATION = {
    "tiny": ((2000, 32, 64, 2, 2, 256, 16), 867),
    "page default": ((5000, 64, 128, 2, 2, 512, 32), 1008),
    "batch 128": ((5000, 64, 128, 2, 2, 512, 128), 1368),
    "seq 256": ((5000, 256, 128, 4, 2, 512, 32), 1594),
    "vocab 30k": ((30000, 64, 256, 4, 2, 1024, 32), 1420),
    "mini 4/256": ((30522, 128, 256, 4, 4, 1024, 32), 2141),
    "deep 8/256": ((8000, 64, 256, 4, 8, 1024, 32), 2003),
    "wide 512": ((20000, 64, 512, 8, 4, 2048, 32), 2290),
    "minilm 64/32": ((30522, 64, 384, 12, 6, 1536, 32), 2248),
    "minilm 64/16": ((30522, 64, 384, 12, 6, 1536, 16), 1971),
    "minilm 128/16": ((30522, 128, 384, 12, 6, 1536, 16), 2328),
    "minilm 128/32": ((30522, 128, 384, 12, 6, 1536, 32), 3302),
    "minilm head 64": ((30522, 64, 384, 12, 6, 1536, 32), 1152),
    "minilm head 128": ((30522, 128, 384, 12, 6, 1536, 32), 1227),
}


def test_the_grid_varies_size_sequence_length_and_batch():
    assert len(CALIBRATION) >= 6
    for column in range(7):
        assert len({shape[column] for shape, _ in CALIBRATION.values()}) >= 2
    # The table is the tool's grid, point by point.
    for name, (shape, _) in CALIBRATION.items():
        point = BY_NAME[name]
        assert shape == (point.vocab, point.seq_len, point.embed_dim, point.heads, point.layers,
                         point.ff_dim, point.batch)  # fmt: skip


@pytest.mark.parametrize("name", list(CALIBRATION))
def test_estimate_is_within_15_percent_of_the_measured_peak(name):
    _, measured = CALIBRATION[name]
    estimate = BY_NAME[name].estimate().total_mb
    assert abs(estimate - measured) <= TOLERANCE * measured, (
        f"{name}: estimate {estimate:,} MB, measured {measured:,} MB"
    )


def test_the_head_only_needs_about_half_what_fine_tuning_minilm_does():
    assert CALIBRATION["minilm head 64"][1] < 0.55 * CALIBRATION["minilm 64/32"][1]
    for name in ("minilm head 64", "minilm head 128"):
        assert BY_NAME[name].estimate().encoder == "frozen"


@pytest.mark.slow
def test_a_fresh_training_run_still_peaks_near_the_estimate():
    """One grid point trained again now (one epoch), in a child process, against the estimate."""
    point = BY_NAME["page default"]
    measured, _ = measure_peak_mb(point, epochs=1)
    estimate = point.estimate().total_mb
    assert abs(estimate - measured) <= TOLERANCE * measured, (
        f"estimate {estimate:,} MB, measured {measured:,.0f} MB"
    )
