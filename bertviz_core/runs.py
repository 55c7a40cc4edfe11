"""A visitor's finished runs, kept on disk for a stated time: they survive a reload and a reconnect.

Each visitor (one browser) has a folder of its own under the store's root, named by a key only
their browser can produce (``visitor_key``: a keyed hash of a secret their browser holds), so
another visitor cannot reach it by guessing. A run is a folder: the saved classifier's files (or a
pretraining's checkpoint, ``kind`` "pretraining") and ``run.json`` (what it was trained on, when,
its kind). The store keeps at most ``max_runs`` runs of any kind and
``max_mb`` megabytes per visitor (the oldest go first) and forgets a visitor ``keep_seconds`` after
their last visit. Nothing here is shared between visitors; no Streamlit, no TensorFlow.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bertviz_core.text import MIB

KEEP_SECONDS = 2 * 3600
MAX_RUNS = 5
MAX_MB = 300
RECORD_FILE = "run.json"
# The kinds of run a record may name (``StoredRun.kind``); the store keeps them all under the same caps.
CLASSIFIER, CHECKPOINT, PRETRAINING = "classifier", "checkpoint", "pretraining"
SWEEP_EVERY_SECONDS = 60
_KEY = re.compile(r"^[0-9a-f]{64}$")
_RUN = re.compile(r"^run-[0-9]{13}-[0-9a-f]{8}$")


@dataclass(frozen=True)
class StoredRun:
    """One finished run: its folder (the saved classifier) and its record."""

    run_id: str
    folder: Path
    record: dict

    @property
    def finished(self) -> float:
        return float(self.record.get("finished", 0.0))

    @property
    def group(self) -> str:
        """What counts as one run against the caps: a ladder's sizes together (the record's
        ``ladder.id``), any other run alone."""
        ladder = self.record.get("ladder")
        return f"ladder:{ladder['id']}" if isinstance(ladder, dict) and "id" in ladder else self.run_id

    @property
    def kind(self) -> str:
        """What the run made: ``CLASSIFIER`` (a saved classifier; also every run recorded without a
        kind) or ``PRETRAINING`` (a checkpoint in Google's layout), from the record's ``kind``."""
        return str(self.record.get("kind", CLASSIFIER))


class RunStore:
    """Finished runs per visitor on disk. Thread-safe; one per server."""

    def __init__(
        self, root: Path, keep_seconds: float = KEEP_SECONDS, max_runs: int = MAX_RUNS, max_mb: float = MAX_MB
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep_seconds, self.max_runs, self.max_mb = keep_seconds, max_runs, max_mb
        self._secret = secrets.token_bytes(32)  # per server: keys mean nothing outside it
        self._lock = threading.Lock()
        self._last_sweep = 0.0

    def visitor_key(self, browser_secret: str) -> str:
        """The folder name for the browser holding ``browser_secret`` (64 hex digits)."""
        return hmac.new(
            self._secret, browser_secret.encode("utf-8", "surrogatepass"), hashlib.sha256
        ).hexdigest()

    def new_run_folder(self, visitor: str) -> Path:
        """An empty folder for a run that is about to be trained (not listed until it has a record)."""
        stamp = f"{int(time.time() * 1000):013d}"
        folder = self._visitor_folder(visitor) / f"run-{stamp}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        return folder

    def finish_run(self, visitor: str, folder: Path, record: dict) -> StoredRun:
        """Record a run whose files are in ``folder``; then keep the visitor within the caps."""
        folder = Path(folder)
        self._check_inside(visitor, folder)
        record = {**record, "finished": time.time()}
        (folder / RECORD_FILE).write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        with self._lock:
            self._touch(visitor)
            self._enforce_caps(visitor)
        return StoredRun(folder.name, folder, record)

    def runs(self, visitor: str, kind: str | None = None) -> list[StoredRun]:
        """The visitor's finished runs, newest first (and their visit noted: the clock restarts), only
        those of ``kind`` when given (``StoredRun.kind``). Visitors gone for the kept time are swept at
        most once a minute, on the way."""
        if time.time() - self._last_sweep > SWEEP_EVERY_SECONDS:
            self._last_sweep = time.time()
            self.sweep()
        with self._lock:
            self._touch(visitor)
            found = self._runs(visitor)
        return found if kind is None else [run for run in found if run.kind == kind]

    def remove(self, visitor: str, run_id: str) -> None:
        if not _RUN.match(run_id):
            return
        with self._lock:
            shutil.rmtree(self._visitor_folder(visitor) / run_id, ignore_errors=True)

    def discard_folder(self, visitor: str, folder: Path) -> None:
        """A run folder that will not be finished (its training failed or was abandoned)."""
        self._check_inside(visitor, Path(folder))
        shutil.rmtree(folder, ignore_errors=True)

    def sweep(self, now: float | None = None) -> int:
        """Forget visitors not seen for ``keep_seconds``; returns how many were forgotten."""
        now = time.time() if now is None else now
        forgotten = 0
        with self._lock:
            for folder in self.root.iterdir():
                if not (folder.is_dir() and _KEY.match(folder.name)):
                    continue
                try:
                    last_visit = (folder / ".visited").stat().st_mtime
                except OSError:
                    last_visit = folder.stat().st_mtime
                if now - last_visit > self.keep_seconds:
                    shutil.rmtree(folder, ignore_errors=True)
                    forgotten += 1
        return forgotten

    # --- inside -------------------------------------------------------------------------------------
    def _visitor_folder(self, visitor: str) -> Path:
        if not _KEY.match(visitor):
            raise ValueError("not a visitor key")  # a programming error: keys come from visitor_key
        return self.root / visitor

    def _check_inside(self, visitor: str, folder: Path) -> None:
        if folder.parent != self._visitor_folder(visitor) or not _RUN.match(folder.name):
            raise ValueError(f"{folder} is not a run folder of this visitor")

    def _touch(self, visitor: str) -> None:
        folder = self._visitor_folder(visitor)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".visited").touch()

    def _runs(self, visitor: str) -> list[StoredRun]:
        found = []
        for folder in self._visitor_folder(visitor).glob("run-*"):
            try:
                record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # still training, or abandoned: not a finished run
            if _RUN.match(folder.name) and isinstance(record, dict):
                found.append(StoredRun(folder.name, folder, record))
        return sorted(found, key=lambda run: run.run_id, reverse=True)

    def would_drop(self, visitor: str, adding_mb: float) -> list[StoredRun]:
        """The runs that a new run of ``adding_mb`` would push out of the caps when it is finished:
        what a page warns about before it starts that run."""
        with self._lock:
            kept = self._runs(visitor)
        new = StoredRun("new", Path("new"), {"finished": time.time() + 1, "kind": CLASSIFIER})
        sizes = {run.run_id: _size_mb(run.folder) for run in kept} | {"new": adding_mb}
        return [run for run in self._over_caps([new, *kept], sizes) if run is not new]

    def _enforce_caps(self, visitor: str) -> None:
        runs = self._runs(visitor)
        for run in self._over_caps(runs, {run.run_id: _size_mb(run.folder) for run in runs}):
            shutil.rmtree(run.folder, ignore_errors=True)

    def _over_caps(self, runs: list[StoredRun], sizes: dict[str, float]) -> list[StoredRun]:
        """Over the caps, the newest run stays; then checkpoints (uploaded or pretrained, which later
        trainings start from) are kept before trained classifiers, each newest first. The sizes of
        one ladder (``group``) count as one run and stay or go together: the newest ladder is whole."""
        newest_first = sorted(runs, key=lambda run: run.finished, reverse=True)
        newest = [run for run in newest_first if run.group == newest_first[0].group] if newest_first else []
        rest = sorted((run for run in newest_first if run not in newest),
                      key=lambda run: (run.kind != CLASSIFIER, run.finished), reverse=True)  # fmt: skip
        total, dropped, groups = 0.0, set(), []
        for run in newest + rest:
            if run.group not in groups:
                groups.append(run.group)
            index = groups.index(run.group)
            total += sizes[run.run_id]
            if index >= self.max_runs or (index > 0 and total > self.max_mb):
                dropped.add(run.group)
        return [run for run in newest + rest if run.group in dropped]


def _size_mb(folder: Path) -> float:
    try:
        return sum(path.stat().st_size for path in folder.iterdir() if path.is_file()) / MIB
    except OSError:
        return 0.0
