"""The command-line interface: ``python -m bertviz_core COMMAND ...``.

Each command lives in a module with ``register(subparsers)``, which adds its parser and sets
``handler`` to a function ``(args) -> int``. Bad input exits with status 2 and one sentence on
stderr; argparse's own usage errors also exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bertviz_core.errors import UserError

# Modules that provide commands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "bertviz_core.cli_size",
    "bertviz_core.cli_train",
    "bertviz_core.cli_bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bertviz_core",
        description="Where a keras-bert model's size comes from, and training a small one on your data.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
