"""``python -m benchmarks``: the app's speeds against this machine's limits, in one run.

Run from the repository root (the explorer probe starts ``app.py`` there). ``--json`` prints one
JSON object; otherwise one figure a line, with its target where it has one. Bad input exits with
status 2 and one sentence on stderr, as the product's command line does.
"""

from __future__ import annotations

import argparse
import json

from benchmarks import figures, peer
from bertviz_core.cli import run_command
from bertviz_core.errors import UserError

TARGETS = {
    "arithmetic_speedup": (">=", 1000),
    "explorer_first_render_seconds": ("<=", 1.5),
    "explorer_rerun_ms_p50": ("<=", 100),
    "train_mfu": (">=", 0.5),
    "peak_rss_mb": ("<=", 1200),
}

# The lab's other measurements are modules of their own; --help names them, so this command is
# where someone new finds all of them.
OTHER_MEASUREMENTS = """\
other measurements, each a module of its own (run from the repository root, --help for options):
  python -m benchmarks.latency             the explorer in Chromium against a bare Streamlit app
  python -m benchmarks.room                K visitors training at once on one server
  python -m benchmarks.memory_calibration  peak memory of real trainings against the estimate
  python -m benchmarks.time_calibration    seconds per epoch of real trainings against the prediction
  python -m benchmarks.minilm_peer         fine-tuning all-MiniLM-L6-v2, ours against transformers on PyTorch
  python -m benchmarks.premise             a pretrained BERT against a bag of words on a corpus you give
  python -m benchmarks.make_samples        rewrite the shipped samples in bertviz_core/data/samples
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        # Line breaks by hand: the raw formatter keeps the epilog's table, and the description with it.
        description="Benchmark in one process: arithmetic vs a real BERT-base build, the explorer's first\n"
        "render and slider reruns, and training throughput against TensorFlow's own matmul peak.\n"
        "Run it from the repository root.",
        epilog=OTHER_MEASUREMENTS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a shorter run for CI (under a minute)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--training-only", action="store_true", help="only the training figures and the matmul peak (MFU)"
    )
    parser.add_argument(
        "--peer",
        action="store_true",
        help="training only, alternated with the same run through Hugging Face transformers on PyTorch "
        "(optional: pip install -r requirements-peer.txt)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        metavar="N",
        help="with --peer: rounds of ours and the peer's (default 3)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(lambda: run_peer(args) if args.peer else run_figures(args))


def run_figures(args: argparse.Namespace) -> int:
    """Every figure of ``figures.run``, each beside its target."""
    results = figures.run(quick=args.quick, training_only=args.training_only)
    if args.json:
        print(json.dumps(results))
        return 0
    for key, value in results.items():
        target = TARGETS.get(key)
        shown = f"{value:,.4g}" if isinstance(value, float) else str(value)
        if target:
            direction, limit = target
            met = value >= limit if direction == ">=" else value <= limit
            shown += f"   (target {direction} {limit:,}: {'met' if met else 'NOT met'})"
        print(f"{key:<40} {shown}")
    return 0


def run_peer(args: argparse.Namespace) -> int:
    """Ours and the peer's, alternated in fresh processes: both medians and their ratio."""
    if args.rounds < 1:
        raise UserError(f"--rounds must be at least 1, not {args.rounds}; give a positive number.")
    peer.require_peer()
    results = peer.compare(rounds=args.rounds, epochs=2 if args.quick else 4)
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"samples per second: {results['train_samples_per_second_definition']}")
    for index, (ours, theirs, ratio, mfu, peer_mfu, bound) in enumerate(
        zip(results["ours_samples_per_second"], results["peer_samples_per_second"], results["ratios"],
            results["train_mfu"], results["peer_train_mfu"], results["train_matmul_only_mfu"], strict=True),
        start=1,
    ):  # fmt: skip
        print(
            f"round {index}: ours {ours:,.0f}   peer {theirs:,.0f}   ratio {ratio:.2f}   "
            f"train_mfu ours {mfu:.2f}, peer {peer_mfu:.2f}   matrix products alone {bound:.2f} (the bound)"
        )
    print(
        f"median: ours {results['ours_median']:,.0f}   peer {results['peer_median']:,.0f}   "
        f"ratio {results['ratio_median']:.2f}   (target >= 1.0, aim 1.5)"
    )
    print(
        f"parameters: ours {results['ours_parameters']:,}   peer {results['peer_parameters']:,} "
        f"(transformers' pooler adds {results['peer_extra_parameters_expected']:,})"
    )
    print(
        f"load average: {results['load_average_at_start']:.2f} at start, {results['load_average_at_end']:.2f} at end"
    )
    return 0
