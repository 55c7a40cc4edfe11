"""``python -m bertviz_core explain``: where a trained classifier looks, and what moved its answer."""

from __future__ import annotations

import argparse
import json
import time

from bertviz_core.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    explain = subparsers.add_parser(
        "explain",
        help="attention and word attributions of a trained classifier for one text",
        description="Load a folder or zip written by 'train' (or exported by the app), classify TEXT, "
        "and show every layer and head's attention (recomputed from each "
        "Encoder-N-MultiHeadSelfAttention layer) and each token's integrated-gradients attribution.",
    )
    explain.add_argument("model", metavar="MODEL", help="the folder 'train --out' wrote, or its zip")
    explain.add_argument("text", metavar="TEXT", help="the text to look inside the model with")
    explain.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: tokens, attention [layer][head][i][j], attributions, label, probabilities",
    )
    explain.set_defaults(handler=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    from bertviz_core.cli.train import quiet_tensorflow
    from bertviz_core.model.bundle import load_bundle
    from bertviz_core.model.inspect import explain

    if not args.text.strip():
        raise UserError("The text is empty; give a sentence to look inside the model with.")
    quiet_tensorflow()
    bundle = load_bundle(args.model)
    started = time.perf_counter()
    explanation = explain(bundle, args.text)
    seconds = time.perf_counter() - started
    result = explanation.to_dict()
    if args.json:
        print(json.dumps({**result, "seconds": round(seconds, 3)}))
        return 0
    shown = "  ".join(f"{name} {p:.3f}" for name, p in result["probabilities"].items())
    print(f"{result['label']}\t{shown}")
    print(f"Tokens and how much each moved p({result['label']}) (integrated gradients):")
    for token, value in zip(result["tokens"], result["attributions"], strict=True):
        print(f"  {value:+.4f}  {token}")
    change = (
        explanation.probabilities[explanation.predicted]
        - explanation.baseline_probabilities[explanation.predicted]
    )
    print(
        f"They add up to {sum(result['attributions']):+.4f}; the probability moved {change:+.4f} from a text "
        f"whose token embeddings are all zero ({result['steps']} points on the path)."
    )
    layers, heads = explanation.attention.shape[:2]
    print(f"[CLS] looks most at, per layer and head ({layers} x {heads}):")
    for layer in range(layers):
        picks = [
            explanation.tokens[int(explanation.attention[layer, head, 0].argmax())] for head in range(heads)
        ]
        print(f"  Encoder-{layer + 1}: " + "  ".join(picks))
    print(f"{seconds:.2f} s.")
    return 0
