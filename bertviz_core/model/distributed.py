"""Training one model on several machines with ``tf.distribute.MultiWorkerMirroredStrategy``.

Every machine runs the same training (``train ... --distributed``, or ``tasks.train`` with
``distributed``) with its own ``TF_CONFIG``: the cluster's worker addresses and this machine's
place among them, which is what TensorFlow reads and what Ray Train sets. ``read_tf_config`` checks
it first, so a mistake is one sentence rather than a worker waiting forever for a peer.

How the workers stay one model:

- The strategy is created before any other TensorFlow operation in the process (TensorFlow
  configures its collective operations once, at start-up), so ``start`` must come first.
- The model is built and compiled inside ``strategy.scope()``: its variables are mirrored and
  start from the chief's values; each worker's loss is its share's mean divided by the number
  of workers and the gradients are summed over the workers (all-reduce), which makes the global
  batch's mean gradient, so every worker applies the same update.
- ``batch_size`` is the global batch: each step, the workers together take one batch of that
  many rows, each worker ``batch_size / workers`` of them. The input pipeline is the
  single-process one (same seed, so the same shuffled order on every worker), sharded by data
  (``AutoShardPolicy.DATA``): the rows are in memory, not in files, so sharding by file is not
  possible, and sharding by data after the global batch splits each global batch between the
  workers, so step k sees exactly the rows of the single-process run's step k.
- The validation figures that drive early stopping and the best epoch are averaged over the
  workers, so all of them decide alike even if their machines round differently.
- Only the chief (``chief`` task 0, else ``worker`` task 0) reports progress and writes the
  output; the others save into a temporary folder that is then removed, as TensorFlow's
  documentation recommends. No worker honours a stop request on its own: a worker leaving
  mid-epoch would leave the others waiting in an all-reduce, so a group is stopped by ending
  all of its processes. The run ends with a barrier, so no worker exits while another still
  saves (TensorFlow would report the peer as lost).

Dropout (keras-bert's rate 0.1) is the one thing that differs from a single-process run at the
same global batch: each worker draws masks for its share of the batch, the single process for
the whole batch, so the two runs follow different trajectories; without dropout they agree to
float32 rounding (the README gives the measured gaps and the tests' tolerance).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertviz_core.errors import TrainingError
from bertviz_core.model import runtime

TF_CONFIG = "TF_CONFIG"
TRAINING_ROLES = ("chief", "worker")  # MultiWorkerMirroredStrategy has no parameter servers
_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})$")
_FIX = "set it as the README's section 'Training beyond one machine' shows"


@dataclass(frozen=True)
class ClusterSetup:
    """What ``TF_CONFIG`` says: every training task's address and which one this process is."""

    cluster: dict[str, tuple[str, ...]]  # role -> addresses, roles among TRAINING_ROLES
    task_type: str
    task_index: int

    @property
    def workers(self) -> int:
        return sum(len(addresses) for addresses in self.cluster.values())

    @property
    def rank(self) -> int:
        """This task's place among all of them, the chief first (0 is the chief)."""
        before = len(self.cluster.get("chief", ())) if self.task_type == "worker" else 0
        return before + self.task_index

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    def check_batch(self, batch_size: int) -> None:
        """The global batch must split evenly: a worker's loss is its share's mean divided by the
        number of workers, which equals the global batch's mean only for equal shares."""
        if batch_size % self.workers:
            raise TrainingError(
                f"The batch size {batch_size} is the global batch and must split evenly between the "
                f"{self.workers} workers; choose a multiple of {self.workers}."
            )

    def to_tf_config(self) -> str:
        return json.dumps(
            {
                "cluster": {role: list(addresses) for role, addresses in self.cluster.items()},
                "task": {"type": self.task_type, "index": self.task_index},
            }
        )


def read_tf_config(text: str | None) -> ClusterSetup:
    """``TF_CONFIG``'s text checked; raises TrainingError (one sentence) when it cannot be used."""
    if text is None or not text.strip():
        raise TrainingError(
            f"Distributed training needs {TF_CONFIG} in the environment (the workers' host:port "
            f"addresses and this machine's task); {_FIX}."
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise TrainingError(
            f"{TF_CONFIG} is not valid JSON ({error.msg} at character {error.pos}); {_FIX}."
        ) from None
    if not isinstance(value, dict):
        raise TrainingError(f"{TF_CONFIG} must be a JSON object with 'cluster' and 'task'; {_FIX}.")
    raw_cluster, task = value.get("cluster"), value.get("task")
    if not isinstance(raw_cluster, dict) or not raw_cluster:
        raise TrainingError(
            f"{TF_CONFIG} has no 'cluster' object listing the workers' host:port addresses; {_FIX}."
        )
    other = sorted(set(raw_cluster) - set(TRAINING_ROLES))
    if other:
        raise TrainingError(
            f"{TF_CONFIG}'s cluster has the role '{other[0]}', but MultiWorkerMirroredStrategy only "
            "takes 'worker' (and one optional 'chief'); remove it."
        )
    cluster: dict[str, tuple[str, ...]] = {}
    for role in TRAINING_ROLES:
        if role not in raw_cluster:
            continue
        addresses = raw_cluster[role]
        if not isinstance(addresses, list) or not addresses:
            raise TrainingError(f"{TF_CONFIG}'s cluster '{role}' must be a list of host:port addresses.")
        for address in addresses:
            if not isinstance(address, str) or not _valid_address(address):
                raise TrainingError(
                    f"{TF_CONFIG}'s cluster '{role}' holds {address!r}, which is not a host:port "
                    "address (such as 10.0.0.2:12345)."
                )
        cluster[role] = tuple(addresses)
    if "worker" not in cluster:
        raise TrainingError(f"{TF_CONFIG}'s cluster has no 'worker' list; {_FIX}.")
    if len(cluster.get("chief", ())) > 1:
        raise TrainingError(f"{TF_CONFIG}'s cluster may have only one 'chief'; make the others workers.")
    every = [address for addresses in cluster.values() for address in addresses]
    repeated = sorted({address for address in every if every.count(address) > 1})
    if repeated:
        raise TrainingError(
            f"{TF_CONFIG} gives the address {repeated[0]} to two tasks; give each task its own port."
        )
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise TrainingError(
            f"{TF_CONFIG} has no 'task' with 'type' and 'index' saying which worker this machine is; {_FIX}."
        )
    task_type, task_index = task["type"], task["index"]
    if task_type not in cluster:
        raise TrainingError(
            f"{TF_CONFIG}'s task type {task_type!r} is not a role of its cluster "
            f"({', '.join(cluster)}); use one of them."
        )
    if (
        isinstance(task_index, bool)
        or not isinstance(task_index, int)
        or not 0 <= task_index < len(cluster[task_type])
    ):
        raise TrainingError(
            f"{TF_CONFIG}'s task index {task_index!r} is not between 0 and {len(cluster[task_type]) - 1}, "
            f"the {task_type} list's positions."
        )
    return ClusterSetup(cluster=cluster, task_type=task_type, task_index=task_index)


def _valid_address(address: str) -> bool:
    match = _ADDRESS.match(address)
    return bool(match) and 0 < int(match.group(2)) < 65536


@dataclass(frozen=True)
class DistributedTraining:
    """This process's part of a multi-worker training: its setup and its started strategy."""

    setup: ClusterSetup
    strategy: Any  # tf.distribute.MultiWorkerMirroredStrategy

    def check_batch(self, batch_size: int) -> None:
        self.setup.check_batch(batch_size)

    def scope(self) -> Any:
        return self.strategy.scope()

    def shard(self, dataset: Any) -> Any:
        """Shard the global-batch pipeline by data (see the module docstring for why)."""
        tf = runtime.tensorflow()
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return dataset.with_options(options)

    def agreed(self, measure: Any) -> Any:
        """``measure() -> tuple of floats``, averaged over the workers, so that each decides alike."""
        tf = runtime.tensorflow()
        strategy = self.strategy

        @tf.function
        def mean(values: Any) -> Any:
            local = strategy.run(lambda: tf.identity(values))
            return strategy.reduce(tf.distribute.ReduceOp.MEAN, local, axis=None)

        def measure_on_all() -> tuple[float, ...]:
            values = measure()
            averaged = mean(tf.constant(values, dtype=tf.float64)).numpy()
            return tuple(float(value) for value in averaged)

        return measure_on_all

    def barrier(self) -> None:
        """Wait until every worker gets here: the last step of a run, so that no worker leaves while
        another still works (TensorFlow's coordination service reports a peer gone as an error)."""
        self.agreed(lambda: (0.0,))()

    def progress(self, callbacks: Any) -> Any:
        """The chief's progress reports (epochs and batches) and nobody's stop requests."""
        return _ChiefProgress(callbacks if self.setup.is_chief else None)

    def summary(self, steps: int, batch_size: int) -> dict[str, Any]:
        return {
            "workers": self.setup.workers,
            "rank": self.setup.rank,
            "chief": self.setup.is_chief,
            "global_batch": batch_size,
            "worker_batch": batch_size // self.setup.workers,
            "steps": steps,
        }

    @contextlib.contextmanager
    def output_folder(self, folder: str | Path) -> Iterator[Path]:
        """``folder`` for the chief; for another worker a temporary folder, removed afterwards."""
        if self.setup.is_chief:
            yield Path(folder)
            return
        scratch = Path(tempfile.mkdtemp(prefix=f"bertviz-worker-{self.setup.rank}-"))
        try:
            yield scratch
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


class _ChiefProgress:
    def __init__(self, callbacks: Any) -> None:
        self._callbacks = callbacks

    def on_epoch_end(self, epoch_record: dict) -> None:
        method = getattr(self._callbacks, "on_epoch_end", None)
        if callable(method):
            method(epoch_record)

    def on_batch_end(self, epoch: int, batch: int, batches_per_epoch: int) -> None:
        method = getattr(self._callbacks, "on_batch_end", None)
        if callable(method):
            method(epoch, batch, batches_per_epoch)


_started: DistributedTraining | None = None


def start(setup: ClusterSetup) -> DistributedTraining:
    """Create the strategy for ``setup``: before any other TensorFlow operation in this process.

    One per process (TensorFlow configures collectives once); asking again with the same setup
    returns it, with another raises TrainingError.
    """
    global _started
    if _started is not None:
        if _started.setup == setup:
            return _started
        raise TrainingError(
            "This process already trained under another cluster setup; start a new process for each "
            "distributed training."
        )
    os.environ[TF_CONFIG] = setup.to_tf_config()  # what TensorFlow's cluster resolver reads
    tf = runtime.tensorflow()
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=tf.distribute.cluster_resolver.TFConfigClusterResolver()
        )
    except (RuntimeError, ValueError) as error:
        if "startup" in str(error) or "initialized" in str(error):
            raise TrainingError(
                "TensorFlow already ran in this process, so it cannot join a cluster any more; run "
                "each distributed training in a fresh process."
            ) from None
        raise
    _started = DistributedTraining(setup, strategy)
    return _started
