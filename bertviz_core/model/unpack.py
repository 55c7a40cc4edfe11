"""A start's files from a zip (bytes or path), a folder or uploaded files: the safety rules, and
which names make which layout. No TensorFlow.

A BERT to start from comes in one of two layouts:

- Google's (TensorFlow 1): ``bert_config.json``, ``vocab.txt`` and one checkpoint, ``PREFIX.index``
  with its ``PREFIX.data-00000-of-00001``, under any prefix: ``bert_model.ckpt`` as Google releases
  them, ``model.ckpt-20`` as run_pretraining.py leaves them, ``biobert_model.ckpt``. Where several
  are present, TF's text file ``checkpoint`` names the one to use.
- Hugging Face's: ``config.json``, ``model.safetensors``, and ``vocab.txt`` or ``tokenizer.json``
  (plus ``tokenizer_config.json`` and ``special_tokens_map.json`` when present). sentence-transformers'
  own files (``modules.json``, ``1_Pooling/``, ...) are known and left behind.

Only the files a start needs are copied, under the names of the stored layout (Google's checkpoint
always as ``bert_model.ckpt``), sizes capped before and while copying. A zip or uploaded files may
come from anyone: every name in them must be known, at most one folder deep (sentence-transformers'
module folders one more), and nothing is executed or unpickled; a ``pytorch_model.bin`` is
recognised by its name only, to say what to bring instead. A folder given on the command line is
the user's own: names this code does not know are ignored there rather than refused.
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from bertviz_core.arithmetic.bert_config import CONFIG_NAME, HF_CONFIG
from bertviz_core.errors import BundleError

GOOGLE, HUGGING_FACE = "google", "huggingface"
VOCAB_NAME = "vocab.txt"
PREFIX = "bert_model.ckpt"  # the stored name of a Google checkpoint, whatever it was called
SAFETENSORS, TOKENIZER = "model.safetensors", "tokenizer.json"
TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP = "tokenizer_config.json", "special_tokens_map.json"
PICKLE = "pytorch_model.bin"
POINTER = "checkpoint"  # TF's text file naming the latest checkpoint of a folder
# A Hugging Face start's files, in the order they are fetched (the hub downloads these only).
HF_FILES = (HF_CONFIG, TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP, VOCAB_NAME, TOKENIZER, SAFETENSORS)
# Known names that are never unpacked: other frameworks' weights (pickles among them: never
# opened), sentence-transformers' module descriptions, training logs and documentation.
LEFT_BEHIND = frozenset(
    {
        PICKLE,
        "tf_model.h5",
        "flax_model.msgpack",
        "rust_model.ot",
        "model.onnx",
        "training_args.bin",
        "added_tokens.json",
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "data_config.json",
        "graph.pbtxt",
        "eval_results.txt",
        "pretraining.json",  # what this app's own pretraining writes beside its checkpoint
        "README.md",
        "LICENSE",
        "LICENSE.txt",
    }
)
_CHECKPOINT_FILE = re.compile(
    r"^(?P<prefix>[\w.\-]+)\.(?:(?P<index>index)|data-(?P<shard>\d{5})-of-(?P<shards>\d{5})|(?P<meta>meta))$"
)
_TF_EVENTS = re.compile(r"^events\.out\.tfevents\.")
# sentence-transformers' module folders (1_Pooling, 2_Normalize, ...): their names, not any folder.
_MODULE_FOLDER = re.compile(
    r"^\d+_(Pooling|Normalize|Dense|LayerNorm|WordWeights|WeightedLayerPooling|CNN|LSTM)$"
)
_POINTED = re.compile(r'^\s*model_checkpoint_path:\s*"([^"]+)"', re.MULTILINE)

# Google's BERT-small (L-4, H-512) is 107 MB zipped and 116 MB unpacked, all-MiniLM-L6-v2's
# model.safetensors 91 MB (87 MiB): the largest whose fine-tuning fits a worker here.
MAX_CHECKPOINT_MB = 110  # the zip (the upload)
MAX_UNPACKED_MB = 130  # the files a start keeps
MAX_CHECKPOINT_BYTES = MAX_UNPACKED_MB * 1024 * 1024
# A release zip holds six names, a sentence-transformers folder about a dozen; the directory of a
# zip is read whole before any name is checked, and a crafted one with a million entries costs
# 600 MB and seconds, so it is counted first.
MAX_ZIP_ENTRIES = 64
MAX_POINTER_BYTES = 64 * 1024
SMALL_BERTS = "this app fine-tunes BERTs up to {limit} MB, such as Google's small BERTs or all-MiniLM-L6-v2"
LAYOUTS = (
    "a BERT to start from is Google's layout (bert_config.json, bert_model.ckpt.* and vocab.txt) "
    "or Hugging Face's (config.json, model.safetensors and vocab.txt)"
)


@dataclass(frozen=True)
class Unpacked:
    """What ``unpack_start`` copied: the layout, and the start's name (the folder that held it)."""

    layout: str  # GOOGLE or HUGGING_FACE
    name: str


@dataclass(frozen=True)
class _Member:
    name: str  # the file's name inside the start's folder
    size: int  # as declared (a zip's directory) or found (a folder)
    handle: Any  # what the source opens


Opener = Callable[[Any], contextlib.AbstractContextManager[BinaryIO]]


def unpack_start(
    source: bytes | str | Path | Mapping[str, bytes], folder: str | Path, label: str = "the zip"
) -> Unpacked:
    """Copy a start's files from a zip (bytes or path), a folder (or its one subfolder that holds
    the files) or uploaded files (name -> bytes, names as in a zip) into ``folder``.

    Raises BundleError in one sentence for anything that is not a BERT start in a known layout.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(source, Mapping):
        if len(source) > MAX_ZIP_ENTRIES:
            raise BundleError(f"{label} are {len(source):,} files; a BERT checkpoint is a handful.")
        if sum(len(data) for data in source.values()) > MAX_CHECKPOINT_MB * 1024 * 1024:
            raise BundleError(f"{label} are larger than {MAX_CHECKPOINT_MB} MB; {_small(MAX_CHECKPOINT_MB)}.")
        members, inner = _checked_names(((name, len(data), name) for name, data in source.items()), label)
        return _unpack(
            members, lambda name: contextlib.closing(io.BytesIO(source[name])), folder, label, inner
        )
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        root = _start_folder(Path(source))
        members = {
            path.name: _Member(path.name, path.stat().st_size, path)
            for path in sorted(root.iterdir())
            if path.is_file() and _known(path.name)
        }
        return _unpack(members, lambda path: open(path, "rb"), folder, root.name, root.name)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise BundleError(
                f"{source} does not exist; give a checkpoint folder or its zip, or a Hugging Face model id."
            )
        label = path.name
        if path.stat().st_size > MAX_CHECKPOINT_MB * 1024 * 1024:
            raise BundleError(f"{label} is larger than {MAX_CHECKPOINT_MB} MB; {_small(MAX_CHECKPOINT_MB)}.")
        source = path.read_bytes()
    if len(source) > MAX_CHECKPOINT_MB * 1024 * 1024:
        raise BundleError(f"{label} is larger than {MAX_CHECKPOINT_MB} MB; {_small(MAX_CHECKPOINT_MB)}.")
    entries = _zip_entry_count(source)
    if entries is not None and entries > MAX_ZIP_ENTRIES:
        raise BundleError(f"{label} lists {entries:,} files; a BERT checkpoint's zip holds a handful.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(source))
    except (zipfile.BadZipFile, ValueError):
        raise BundleError(f"{label} is not a zip file; give the zip of a checkpoint folder.") from None
    with archive:
        infos = [entry for entry in archive.infolist() if not entry.is_dir()]
        members, inner = _checked_names(((e.filename, e.file_size, e) for e in infos), label)
        if any(member.handle.flag_bits & 0x1 for member in members.values()):
            raise BundleError(f"{label} is encrypted; zip the checkpoint again without a password.")
        stem = PurePosixPath(label).stem if label.lower().endswith(".zip") else "checkpoint"
        return _unpack(members, archive.open, folder, label, inner or stem)


def _small(limit: int) -> str:
    return SMALL_BERTS.format(limit=limit)


def _known(name: str) -> bool:
    """Whether a file of a start's folder has a name this code knows (needed or left behind)."""
    return (
        name in (CONFIG_NAME, POINTER, *HF_FILES)
        or name in LEFT_BEHIND
        or bool(_CHECKPOINT_FILE.match(name) or _TF_EVENTS.match(name))
    )


def _start_folder(root: Path) -> Path:
    """``root``, or its one subfolder, that holds a configuration (as a release zip unpacks)."""
    for candidate in [root, *sorted(path for path in root.iterdir() if path.is_dir())]:
        if (candidate / CONFIG_NAME).is_file() or (candidate / HF_CONFIG).is_file():
            return candidate
    raise BundleError(f"{root.name} holds no {CONFIG_NAME} or {HF_CONFIG}; {LAYOUTS}.")


def _checked_names(entries: Iterator[tuple[str, int, Any]], label: str) -> tuple[dict[str, _Member], str]:
    """The members of an archive's one folder (or its top level), every name checked; and that folder."""
    members: dict[str, _Member] = {}
    folders: set[str] = set()
    for filename, size, handle in entries:
        parts = PurePosixPath(filename.replace("\\", "/")).parts
        if ".." in parts or filename.startswith(("/", "\\")) or not parts:
            raise BundleError(
                f"{label} holds {filename[:80]!r}, outside a checkpoint folder; it was not unpacked."
            )
        if parts[0] == "__MACOSX" or parts[-1].startswith("."):  # macOS' resource forks, .gitattributes
            continue
        if len(parts) >= 2 and _MODULE_FOLDER.match(parts[-2]) and len(parts) <= 3:
            continue  # sentence-transformers' pooling and normalising modules: not BERT's weights
        if len(parts) > 2:
            raise BundleError(
                f"{label} holds {filename[:80]!r}, outside a checkpoint folder; it was not unpacked."
            )
        name = parts[-1]
        if not _known(name):
            raise BundleError(
                f"{label} holds {name[:80]!r}, which is not part of a BERT checkpoint "
                f"({CONFIG_NAME} or {HF_CONFIG}, the weights and {VOCAB_NAME}); it was not unpacked."
            )
        if name in members:
            raise BundleError(f"{label} holds {name} twice; zip one checkpoint folder.")
        members[name] = _Member(name, size, handle)
        folders.add(parts[0] if len(parts) == 2 else "")
    if len(folders) > 1:
        shown = ", ".join(sorted(name or "the top level" for name in folders))
        raise BundleError(f"{label} holds files in several folders ({shown}); zip one checkpoint folder.")
    return members, next(iter(folders), "")


def _unpack(members: dict[str, _Member], opener: Opener, folder: Path, label: str, name: str) -> Unpacked:
    if CONFIG_NAME in members:
        layout, copies = GOOGLE, _google_copies(members, opener, label)
    elif HF_CONFIG in members:
        layout, copies = HUGGING_FACE, _hugging_face_copies(members, label)
    else:
        raise BundleError(f"{label} has no {CONFIG_NAME} or {HF_CONFIG}; {LAYOUTS}.")
    if sum(member.size for member, _ in copies) > MAX_CHECKPOINT_BYTES:
        raise BundleError(f"{label} unpacks to more than {MAX_UNPACKED_MB} MB; {_small(MAX_UNPACKED_MB)}.")
    remaining = MAX_CHECKPOINT_BYTES
    for member, target in copies:
        try:
            with opener(member.handle) as source, open(folder / target, "wb") as copy:
                remaining -= _copy_at_most(source, copy, remaining + 1)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError):
            raise BundleError(
                f"{member.name} in {label} is damaged; download the checkpoint again."
            ) from None
        if remaining < 0:  # a zip's directory may understate what an entry inflates to
            raise BundleError(
                f"{label} unpacks to more than {MAX_UNPACKED_MB} MB; {_small(MAX_UNPACKED_MB)}."
            )
    return Unpacked(layout, name)


def _google_copies(members: dict[str, _Member], opener: Opener, label: str) -> list[tuple[_Member, str]]:
    """bert_config.json, vocab.txt and the one checkpoint to use, stored as ``bert_model.ckpt``."""
    if VOCAB_NAME not in members:
        raise BundleError(f"{label} has {CONFIG_NAME} but no {VOCAB_NAME}; give the whole checkpoint.")
    parts = {name: _CHECKPOINT_FILE.match(name) for name in members}
    prefixes = sorted(match["prefix"] for match in parts.values() if match and match["index"])
    if not prefixes:
        raise BundleError(
            f"{label} has {CONFIG_NAME} but no checkpoint (a .index file such as {PREFIX}.index); "
            "give the whole checkpoint."
        )
    prefix = _pointed_prefix(members, opener, label, prefixes)
    shards = {
        int(match["shard"]): (name, int(match["shards"]))
        for name, match in parts.items()
        if match and match["prefix"] == prefix and match["shard"] is not None
    }
    counts = {count for _, count in shards.values()}
    expected = counts.pop() if len(counts) == 1 else 1
    missing = [i for i in range(expected) if i not in shards]
    if counts or missing or not shards:
        raise BundleError(
            f"{label} has {prefix}.index but not its {prefix}.data-{(missing or [0])[0]:05d}-of-{expected:05d}; "
            "give the whole checkpoint."
        )
    copies = [(members[CONFIG_NAME], CONFIG_NAME), (members[VOCAB_NAME], VOCAB_NAME)]
    if TOKENIZER_CONFIG in members:  # where a converted checkpoint keeps its casing
        copies.append((members[TOKENIZER_CONFIG], TOKENIZER_CONFIG))
    copies.append((members[f"{prefix}.index"], f"{PREFIX}.index"))
    copies += [
        (members[name], f"{PREFIX}.data-{i:05d}-of-{count:05d}") for i, (name, count) in shards.items()
    ]
    return copies


def _pointed_prefix(members: dict[str, _Member], opener: Opener, label: str, prefixes: list[str]) -> str:
    """The checkpoint TF's ``checkpoint`` file names, else the only one present."""
    if POINTER in members and members[POINTER].size <= MAX_POINTER_BYTES:
        with opener(members[POINTER].handle) as pointer:
            found = _POINTED.search(pointer.read(MAX_POINTER_BYTES).decode("utf-8", "replace"))
        if found:
            # run_pretraining.py may write the path it saved to: only its last part names the files here.
            pointed = PurePosixPath(found[1].replace("\\", "/")).name
            if pointed not in prefixes:
                raise BundleError(
                    f"{label}'s checkpoint file names {pointed[:80]}, but there is no {pointed[:80]}.index "
                    "beside it; add that checkpoint's files or remove the checkpoint file."
                )
            return pointed
    if len(prefixes) > 1:
        raise BundleError(
            f"{label} holds several checkpoints ({', '.join(prefixes[:6])}) and no checkpoint file naming one; "
            "keep only the one to start from."
        )
    return prefixes[0]


def _hugging_face_copies(members: dict[str, _Member], label: str) -> list[tuple[_Member, str]]:
    """config.json, model.safetensors and the tokenizer's files, as they are."""
    if SAFETENSORS not in members:
        if PICKLE in members:
            raise BundleError(
                f"{label} holds its weights only as {PICKLE}, a Python pickle this app never opens; download "
                "the model's model.safetensors file from its Hugging Face page instead, or write one with "
                "transformers' save_pretrained(folder, safe_serialization=True)."
            )
        raise BundleError(
            f"{label} has {HF_CONFIG} but no {SAFETENSORS}; download that file from the model's Hugging Face "
            "page and add it."
        )
    if VOCAB_NAME not in members and TOKENIZER not in members:
        raise BundleError(
            f"{label} has no {VOCAB_NAME} or {TOKENIZER}; add the model's vocabulary (one of the two)."
        )
    return [(members[name], name) for name in HF_FILES if name in members]


def _zip_entry_count(payload: bytes) -> int | None:
    """The entry count in a zip's end-of-directory record (None if there is none: not a zip)."""
    tail = payload[-(65535 + 22) :]
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or end + 22 > len(tail):
        return None
    count = int.from_bytes(tail[end + 10 : end + 12], "little")
    return MAX_ZIP_ENTRIES + 1 if count == 0xFFFF else count  # 0xFFFF: a ZIP64 count, far too many


def _copy_at_most(source: Any, target: Any, limit: int) -> int:
    copied = 0
    while copied < limit:
        chunk = source.read(min(1 << 20, limit - copied))
        if not chunk:
            break
        target.write(chunk)
        copied += len(chunk)
    return copied
