"""The command line: ``python -m bertviz_core COMMAND ...``.

Each command lives in a module with ``register(subparsers)``, which adds its parser and sets
``handler`` to a function ``(args) -> int``. Bad input exits with status 2 and one sentence on
stderr; argparse's own usage errors also exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.errors import UserError
from bertviz_core.fields import MODEL_FIELDS

# Modules that provide commands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "bertviz_core.cli.size",
    "bertviz_core.cli.train",
    "bertviz_core.cli.ladder",
    "bertviz_core.cli.pretrain",
    "bertviz_core.cli.convert",
    "bertviz_core.cli.explain",
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


def add_model_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    defaults: dict[str, int],
    given_only: bool = False,
) -> None:
    """One ``--vocab``-style option per model field in ``defaults`` (from ``fields.MODEL_FIELDS``).

    With ``given_only``, an option not given reads as None (its default is the handler's to apply),
    so a handler can tell which options a user gave."""
    for field in MODEL_FIELDS:
        if field.name in defaults:
            parser.add_argument(
                field.option, type=int, default=None if given_only else defaults[field.name], metavar="N",
                help=f"{field.label} ({field.keras_name}, default {defaults[field.name]})",
            )  # fmt: skip


def model_arguments(config: ModelConfig) -> list[str]:
    """The command line's model options for ``config`` (what ``add_model_options`` reads back)."""
    arguments = [part for field in MODEL_FIELDS for part in (field.option, str(getattr(config, field.name)))]
    return arguments + (["--encoder-only"] if config.encoder_only else [])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return run_command(lambda: args.handler(args))


def run_command(command: Callable[[], int | None]) -> int:
    """A command's exit status: its own, 2 with its one sentence on stderr for bad input, 130 when
    interrupted (the benchmarks' command line uses it too)."""
    try:
        return int(command() or 0)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
