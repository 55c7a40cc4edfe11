"""``python -m bertviz_core size``: the parameter breakdown, as a table or as JSON."""

from __future__ import annotations

import argparse
import json

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.costs import size_report
from bertviz_core.cli import add_model_options
from bertviz_core.fields import MODEL_FIELDS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "size",
        help="parameters per keras-bert layer, memory and compute",
        description="Count a keras-bert model's parameters per layer by arithmetic (no build). "
        "Defaults are keras-bert's get_model defaults with BERT's vocabulary of 30522.",
    )
    add_model_options(parser, {field.name: field.default for field in MODEL_FIELDS})
    parser.add_argument("--encoder-only", action="store_true", help="count training=False (no MLM/NSP heads)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--verify", action="store_true", help="also build the real model and compare")
    parser.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> ModelConfig:
    values = {field.name: getattr(args, field.name) for field in MODEL_FIELDS}
    return ModelConfig(**values, encoder_only=args.encoder_only)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    result = size_report(config)
    status = 0
    if args.verify:
        from bertviz_core.budget import check_build_fits
        from bertviz_core.model import real_model

        check_build_fits(config)
        result["verify"] = real_model.verify(config)
        status = 0 if result["verify"]["matches"] else 1
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
        if args.verify:
            verdict = result["verify"]
            if verdict["matches"]:
                print(
                    f"Verified: the real keras-bert model has the same {len(verdict['real_layers'])} layers and counts."
                )
            else:
                print("MISMATCH with the real keras-bert model:")
                for problem in verdict["differences"]:
                    print(f"  {problem}")
    return status


def print_table(result: dict) -> None:
    name_width = max(len(row["name"]) + len(row["type"]) + 3 for row in result["layers"])
    shape_width = max(len(row["output_shape"]) for row in result["layers"])
    header = f"{'Layer (type)':<{name_width}}  {'Output Shape':<{shape_width}}  {'Param #':>13}  Component"
    print(header)
    print("=" * len(header))
    for row in result["layers"]:
        label = f"{row['name']} ({row['type']})"
        print(
            f"{label:<{name_width}}  {row['output_shape']:<{shape_width}}  {row['params']:>13,}  {row['component']}"
        )
    print("=" * len(header))
    print(f"Total params: {result['total_params']:,}")
    for component, count in result["components"].items():
        if count:
            print(f"  {component:<18} {count:>13,}  {count / result['total_params']:6.1%}")
