"""``python -m bertviz_core bench``: the app's speeds against this machine's limits."""

from __future__ import annotations

import argparse
import json

TARGETS = {
    "arithmetic_speedup": (">=", 1000),
    "explorer_first_render_seconds": ("<=", 1.5),
    "explorer_rerun_ms_p50": ("<=", 100),
    "train_mfu": (">=", 0.5),
    "peak_rss_mb": ("<=", 1200),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure the explorer, a real build and training against this machine's limits",
        description="Benchmark in one process: arithmetic vs a real BERT-base build, the explorer's first "
        "render and slider reruns, and training throughput against TensorFlow's own matmul peak.",
    )
    parser.add_argument("--quick", action="store_true", help="a shorter run for CI (under a minute)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--training-only", action="store_true", help="only the training figures and the matmul peak (MFU)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bertviz_core.bench import figures

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
