"""``python -m bertviz_core convert``: any start (Google's layout, Hugging Face's, a model id) written
in Google's layout (for keras-bert) or Hugging Face's (for transformers)."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bertviz_core.arithmetic.explain import describe_model
from bertviz_core.arithmetic.params import total_params
from bertviz_core.cli.starts import START_HELP, add_hub_cache_option, open_start
from bertviz_core.cli.train import quiet_tensorflow
from bertviz_core.errors import UserError
from bertviz_core.model.checkpoint import GOOGLE, HUGGING_FACE, convert_checkpoint
from bertviz_core.model.huggingface import ERF_GELU

HOW_TO_LOAD = {
    GOOGLE: "keras_bert.load_trained_model_from_checkpoint('{out}/bert_config.json', '{out}/bert_model.ckpt')",
    HUGGING_FACE: "transformers.BertModel.from_pretrained('{out}')",
}
LAYOUT_NAMES = {GOOGLE: "Google's layout", HUGGING_FACE: "Hugging Face's layout"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="write a BERT checkpoint in Google's layout (keras-bert) or Hugging Face's (transformers)",
        description="Read a BERT from any layout this app starts from and write it to --out: 'google' gives "
        "bert_config.json, bert_model.ckpt.* and vocab.txt (keras-bert's load_trained_model_from_checkpoint reads "
        "them), 'huggingface' gives config.json, model.safetensors, vocab.txt and tokenizer_config.json "
        "(transformers' BertModel.from_pretrained reads them).",
    )
    parser.add_argument("source", metavar="SRC", help=START_HELP)
    parser.add_argument("--out", required=True, metavar="DIR", help="a new (or empty) folder to write to")
    parser.add_argument("--to", required=True, choices=(GOOGLE, HUGGING_FACE), help="the layout to write")
    add_hub_cache_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(handler=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {args.out} already holds files; give a new or empty folder to write to.")
    with tempfile.TemporaryDirectory(prefix="bertviz-convert-") as folder:
        files = open_start(args.source, folder, args.hub_cache)
        quiet_tensorflow()
        convert_checkpoint(files, out, args.to)
    written = sorted(path.name for path in out.iterdir())
    report = {
        "name": files.name,
        "from": files.layout,
        "to": args.to,
        "out": str(out),
        "files": written,
        "config": files.config.to_dict(),
        "encoder_parameters": total_params(files.config),
        "lowercase": not files.vocabulary.cased,
        "gelu": files.gelu,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"Wrote {files.name} ({describe_model(files.config)}; {report['encoder_parameters']:,} encoder parameters, "
        f"{'lower-cased' if report['lowercase'] else 'cased'}) in {LAYOUT_NAMES[args.to]} to {out}: {', '.join(written)}."
    )
    print(f"Load it with {HOW_TO_LOAD[args.to].format(out=out)}.")
    if args.to == GOOGLE and files.gelu == ERF_GELU:
        print(
            f"Note: {files.name} was trained with the exact (erf) GELU, so bert_config.json says hidden_act "
            "'gelu_erf' (keras-bert's 'gelu' is the tanh approximation); load it inside "
            "tf.keras.utils.custom_object_scope({'gelu_erf': tf.keras.activations.gelu}), whose GELU is the exact one."
        )
    return 0
