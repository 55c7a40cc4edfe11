"""``python -m bertviz_core size``: the parameter breakdown, as a table or as JSON."""

from __future__ import annotations

import argparse
import json
import time

from bertviz_core import costs
from bertviz_core.config import DEFAULT_VOCAB, ModelConfig
from bertviz_core.params import component_totals, layer_rows, total_params


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "size",
        help="parameters per keras-bert layer, memory and compute",
        description="Count a keras-bert model's parameters per layer by arithmetic (no build). "
        "Defaults are keras-bert's get_model defaults with BERT's vocabulary of 30522.",
    )
    parser.add_argument("--vocab", type=int, default=DEFAULT_VOCAB, help="vocabulary size (token_num)")
    parser.add_argument("--seq-len", type=int, default=512, help="sequence length (seq_len)")
    parser.add_argument("--pos-num", type=int, default=None, help="position count (pos_num, default 512)")
    parser.add_argument("--embed-dim", type=int, default=768, help="embedding dimension (embed_dim)")
    parser.add_argument("--heads", type=int, default=12, help="attention heads (head_num)")
    parser.add_argument("--layers", type=int, default=12, help="encoder blocks (transformer_num)")
    parser.add_argument("--ff-dim", type=int, default=3072, help="feed-forward width (feed_forward_dim)")
    parser.add_argument("--encoder-only", action="store_true", help="count training=False (no MLM/NSP heads)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--verify", action="store_true", help="also build the real model and compare")
    parser.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> ModelConfig:
    return ModelConfig(
        vocab=args.vocab,
        seq_len=args.seq_len,
        pos_num=512 if args.pos_num is None else args.pos_num,
        embed_dim=args.embed_dim,
        heads=args.heads,
        layers=args.layers,
        ff_dim=args.ff_dim,
        encoder_only=args.encoder_only,
    )


def report(config: ModelConfig) -> dict:
    memory = costs.memory(config)
    compute = costs.compute(config)
    return {
        "config": config.to_dict(),
        "get_model_kwargs": config.get_model_kwargs(),
        "total_params": total_params(config),
        "components": component_totals(config),
        "layers": [row.as_dict() for row in layer_rows(config)],
        "memory_bytes": {
            "weights": memory.weights_bytes,
            "training_adam_fp32": memory.adam_state_bytes,
            "activations_per_sequence_fp32": memory.activation_bytes_per_sequence,
        },
        "flops_per_sequence": {"forward": compute.forward, "training": compute.training},
    }


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    result = report(config)
    status = 0
    if args.verify:
        from bertviz_core import real_model, tf_runtime

        real_model.check_build_fits(config)
        tf_runtime.keras_bert()  # the import is not part of the build time
        started = time.perf_counter()
        model = real_model.build(config)
        real = real_model.describe(model)
        problems = real_model.differences(config, real)
        if int(model.count_params()) != result["total_params"]:
            problems.append(f"count_params() is {model.count_params():,}, arithmetic {result['total_params']:,}")
        result["verify"] = {
            "matches": not problems,
            "differences": problems,
            "real_total_params": int(model.count_params()),
            "build_seconds": round(time.perf_counter() - started, 3),
            "real_layers": [layer.as_dict() for layer in real],
        }
        status = 0 if not problems else 1
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
        if args.verify:
            verdict = result["verify"]
            if verdict["matches"]:
                print(f"Verified: the real keras-bert model has the same {len(real)} layers and counts.")
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
        print(f"{label:<{name_width}}  {row['output_shape']:<{shape_width}}  {row['params']:>13,}  {row['component']}")
    print("=" * len(header))
    print(f"Total params: {result['total_params']:,}")
    for component, count in result["components"].items():
        if count:
            print(f"  {component:<18} {count:>13,}  {count / result['total_params']:6.1%}")
