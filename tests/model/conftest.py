"""Fixtures of the model tests: a tiny configuration and one classifier trained once per session."""

from __future__ import annotations

import pytest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.model.training import train_classifier
from bertviz_core.settings import TrainSettings
from tests.helpers import separable_dataset

TINY = ModelConfig(vocab=200, seq_len=16, pos_num=16, embed_dim=16, heads=2, layers=1, ff_dim=32)
FAST = TrainSettings(epochs=6, batch_size=8, learning_rate=0.005, patience=3, seed=0)


@pytest.fixture(scope="session")
def trained():
    return train_classifier(separable_dataset(), TINY, FAST)


def export_zip(bundle) -> bytes:
    """A trained bundle as the page's download gives it: saved, then zipped by its plain names."""
    import tempfile

    from bertviz_core.model.bundle import save_bundle, zip_folder

    with tempfile.TemporaryDirectory(prefix="bertviz-export-") as folder:
        return zip_folder(save_bundle(bundle, folder))
