"""A Hugging Face model id (``owner/name``) to a folder of its files, with huggingface_hub.

Only the files a start needs are fetched (``unpack.HF_FILES``: the configuration, the safetensors
weights, the tokenizer's vocabulary and settings), into a cache folder the caller owns, in
huggingface_hub's own cache layout, so a model fetched once is found again without a network. The
repository's file list comes first: a model that is not a BERT, has only pickled weights, or is too
large is refused before its weights are downloaded. Where the hub cannot be reached (no network, or
``HF_HUB_OFFLINE=1``), only the cache answers, and an id not in it gets one sentence pointing to
uploading the files instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from bertviz_core.errors import BundleError
from bertviz_core.model.unpack import (
    HF_CONFIG,
    HF_FILES,
    MAX_CHECKPOINT_BYTES,
    MAX_UNPACKED_MB,
    PICKLE,
    SAFETENSORS,
    SMALL_BERTS,
    TOKENIZER,
    VOCAB_NAME,
)
from bertviz_core.text import MIB

Progress = Callable[[int, int], None]  # (bytes so far, bytes in all)
# owner/name as the hub spells them: letters, digits, '-', '_', '.', no '--' or '..'.
_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.\-]{0,95}/[A-Za-z0-9][\w.\-]{0,95}$")
HUB_TIMEOUT_SECONDS = 10.0
UPLOAD_INSTEAD = (
    "download its folder (config.json, model.safetensors, vocab.txt) where the hub is reachable and upload it "
    "as a zip instead"
)


def looks_like_model_id(text: str) -> bool:
    """``owner/name``, as a Hugging Face model id is written (not a zip's name)."""
    return bool(_MODEL_ID.match(text)) and ".." not in text and "--" not in text and not text.endswith(".zip")


def default_cache_dir() -> Path:
    """Where the command line keeps what it fetched: ``BERTVIZ_HUB_CACHE``, else the user's cache."""
    return Path(os.environ.get("BERTVIZ_HUB_CACHE") or Path.home() / ".cache" / "bertviz" / "huggingface")


def fetch(model_id: str, cache_dir: str | Path, progress: Progress | None = None) -> Path:
    """The folder, in ``cache_dir``, holding ``model_id``'s files; downloaded when the hub answers,
    else found in the cache. ``progress`` hears (bytes so far, bytes in all) during downloads and
    once per file. Raises BundleError in one sentence."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    if not looks_like_model_id(model_id):
        raise BundleError(
            f"{model_id[:80]} is not a Hugging Face model id (owner/name, such as "
            "sentence-transformers/all-MiniLM-L6-v2), nor a folder or zip here."
        )
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        info = HfApi().model_info(model_id, files_metadata=True, timeout=HUB_TIMEOUT_SECONDS)
    except GatedRepoError:
        raise BundleError(
            f"{model_id} is gated on the Hugging Face hub: accept its terms on its page, then {UPLOAD_INSTEAD}."
        ) from None
    except RepositoryNotFoundError:
        raise BundleError(
            f"There is no public model {model_id} on the Hugging Face hub; check the id (such as "
            "sentence-transformers/all-MiniLM-L6-v2)."
        ) from None
    except HfHubHTTPError as error:
        status = getattr(error.response, "status_code", "an error")
        raise BundleError(
            f"The Hugging Face hub answered {status} for {model_id}; try again later, or {UPLOAD_INSTEAD}."
        ) from None
    except _unreachable():
        return _from_cache(model_id, cache_dir, progress)
    sizes = {sibling.rfilename: int(sibling.size or 0) for sibling in info.siblings or []}
    try:
        return _download(model_id, info.sha, sizes, cache_dir, progress)
    except _unreachable():  # the hub answered, then stopped (or answered an error for one file)
        raise BundleError(
            f"The download of {model_id} from the Hugging Face hub broke off; try again, or {UPLOAD_INSTEAD}."
        ) from None


def _unreachable() -> tuple[type[BaseException], ...]:
    """What huggingface_hub raises when no answer comes: offline mode (a ConnectionError), or its
    HTTP client's transport errors (no route, refused, DNS, timeout), which are not OSErrors."""
    import httpx2

    return (OSError, httpx2.TransportError)


def _download(model_id: str, revision: str | None, sizes: dict[str, int], cache_dir: Path,
              progress: Progress | None) -> Path:  # fmt: skip
    from huggingface_hub import hf_hub_download

    from bertviz_core.model.huggingface import config_from_huggingface

    if HF_CONFIG not in sizes:
        raise BundleError(
            f"{model_id} has no {HF_CONFIG} on the Hugging Face hub; it is not a transformers model."
        )
    config = Path(hf_hub_download(model_id, HF_CONFIG, revision=revision, cache_dir=cache_dir))
    config_from_huggingface(config.read_bytes())  # another architecture is refused before any weights come
    if SAFETENSORS not in sizes:
        if PICKLE in sizes:
            raise BundleError(
                f"{model_id} has its weights on the hub only as {PICKLE}, a Python pickle this app never opens; "
                "look for a model.safetensors in the model page's files (or its 'refs/pr' conversion), or write "
                "one with transformers' save_pretrained(folder, safe_serialization=True) and upload the folder."
            )
        raise BundleError(
            f"{model_id} has no {SAFETENSORS} on the Hugging Face hub; this app reads only that."
        )
    if VOCAB_NAME not in sizes and TOKENIZER not in sizes:
        raise BundleError(f"{model_id} has no {VOCAB_NAME} or {TOKENIZER} on the Hugging Face hub.")
    wanted = [name for name in HF_FILES if name in sizes]
    total = sum(sizes[name] for name in wanted)
    if total > MAX_CHECKPOINT_BYTES:
        raise BundleError(
            f"{model_id}'s files weigh {total / MIB:,.0f} MB; {SMALL_BERTS.format(limit=MAX_UNPACKED_MB)}."
        )
    done = 0
    for name in wanted:
        bar = _bar_class(progress, done, sizes[name], total)
        path = Path(hf_hub_download(model_id, name, revision=revision, cache_dir=cache_dir, tqdm_class=bar))
        done += sizes[name]
        if progress is not None:
            progress(done, total)
    return path.parent


def _from_cache(model_id: str, cache_dir: Path, progress: Progress | None) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    found: list[Path] = []
    for name in HF_FILES:
        try:
            found.append(Path(hf_hub_download(model_id, name, cache_dir=cache_dir, local_files_only=True)))
        except EntryNotFoundError:  # not cached (LocalEntryNotFoundError), or known not to exist
            continue
    if not {HF_CONFIG, SAFETENSORS} <= {path.name for path in found}:
        raise BundleError(
            f"The Hugging Face hub cannot be reached from this machine and {model_id} is not in its cache; "
            f"{UPLOAD_INSTEAD}."
        )
    if progress is not None:
        total = sum(path.stat().st_size for path in found)
        progress(total, total)
    return found[0].parent


def _bar_class(progress: Progress | None, done: int, size: int, total: int) -> type | None:
    """A tqdm class that prints nothing and reports one file's bytes as part of the whole.

    huggingface_hub makes one bar per file (two with its Xet transfer: bytes fetched and bytes
    written), so the file's share is the furthest any of its bars got, capped at its size."""
    if progress is None:
        return None
    from huggingface_hub.utils import tqdm

    furthest = [0]

    class _Bar(tqdm):
        def __init__(self, *args, **kwargs) -> None:
            kwargs["disable"] = True  # the caller shows its own progress
            super().__init__(*args, **kwargs)
            self.seen = int(kwargs.get("initial") or 0)

        def update(self, n: float | None = 1) -> bool | None:
            self.seen += int(n or 0)
            if self.seen > furthest[0]:
                furthest[0] = min(self.seen, size)
                progress(done + furthest[0], total)
            return None

    return _Bar
