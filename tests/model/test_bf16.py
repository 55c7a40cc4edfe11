"""``BERTVIZ_BF16=on``: oneDNN's automatic bfloat16 is turned on where the CPU has bf16 instructions,
ignored elsewhere, and a training says whether it ran with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bertviz_core.model import runtime

pytestmark = pytest.mark.timeout(300)
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("value", "cpu", "used"), [
    ("on", True, True), ("1", True, True), ("on", False, False), ("", True, False), ("off", True, False),
])  # fmt: skip
def test_bf16_needs_the_setting_and_the_cpu(monkeypatch, value: str, cpu: bool, used: bool) -> None:
    monkeypatch.setenv(runtime.BF16_SETTING, value)
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: cpu)
    assert runtime.bf16_in_use() is used


def test_cpu_flags_are_read_from_cpuinfo() -> None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            flags = cpuinfo.read()
    except OSError:
        pytest.skip("no /proc/cpuinfo on this system")
    assert runtime.cpu_has_bf16() == ("avx512_bf16" in flags or "amx_bf16" in flags)


@pytest.mark.slow
def test_a_worker_with_the_setting_turns_on_onednn_bf16_and_the_training_says_so() -> None:
    program = (
        "import json\n"
        "from bertviz_core.model import runtime\n"
        "from benchmarks.figures import synthetic_dataset\n"
        "from bertviz_core.arithmetic.config import ModelConfig\n"
        "from bertviz_core.model.training import train_classifier\n"
        "from bertviz_core.settings import TrainSettings\n"
        "tf = runtime.tensorflow()\n"
        "options = tf.config.optimizer.get_experimental_options()\n"
        "config = ModelConfig(vocab=200, seq_len=16, pos_num=16, embed_dim=16, heads=2, layers=1, ff_dim=32)\n"
        "bundle = train_classifier(synthetic_dataset(64), config, TrainSettings(epochs=1, batch_size=16))\n"
        "print(json.dumps({'option': bool(options.get('auto_mixed_precision_onednn_bfloat16')),"
        " 'metrics': bundle.metrics['bf16'], 'accuracy': bundle.metrics['val_accuracy']}))\n"
    )
    environment = {**os.environ, runtime.BF16_SETTING: "on"}
    child = subprocess.run([sys.executable, "-c", program], cwd=REPO_ROOT, env=environment,
                           capture_output=True, text=True, timeout=240, check=False)  # fmt: skip
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    expected = runtime.cpu_has_bf16()
    assert result["option"] is expected and result["metrics"] is expected
    assert 0.0 <= result["accuracy"] <= 1.0
