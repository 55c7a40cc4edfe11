"""Opening a start (``--checkpoint`` of ``train``, ``SRC`` of ``convert``) from a terminal: a folder, a
zip or a Hugging Face model id, fetched with its progress on stderr."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bertviz_core.model.checkpoint import CheckpointFiles, open_checkpoint
from bertviz_core.model.hub import default_cache_dir
from bertviz_core.text import MIB

START_HELP = (
    "a BERT to start from: a folder or zip in Google's layout (bert_config.json, a TF1 checkpoint such as "
    "bert_model.ckpt.* or model.ckpt-20.*, vocab.txt) or Hugging Face's (config.json, model.safetensors, "
    "vocab.txt or tokenizer.json), or a Hugging Face model id such as sentence-transformers/all-MiniLM-L6-v2"
)


def add_hub_cache_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--hub-cache", metavar="DIR", default=None,
        help=f"where a model id's files are fetched to and found again (default {default_cache_dir()}, or "
        "BERTVIZ_HUB_CACHE)",
    )  # fmt: skip


class _StderrProgress:
    """One line per tenth of a download, so a terminal sees it move without a flood."""

    def __init__(self, name: str) -> None:
        self.name, self.shown = name, -1

    def __call__(self, done: int, total: int) -> None:
        tenth = 10 * done // total if total else 10
        if tenth > self.shown:
            self.shown = tenth
            print(f"{self.name}: {done / MIB:,.1f} of {total / MIB:,.1f} MB", file=sys.stderr, flush=True)


def open_start(source: str, folder: str | Path, hub_cache: str | None) -> CheckpointFiles:
    """The start ``source`` names, stored in ``folder`` (raises BundleError in one sentence)."""
    return open_checkpoint(
        source,
        folder,
        Path(source).name,
        hub_cache=hub_cache or default_cache_dir(),
        progress=_StderrProgress(source),
    )
