"""The core of the BERT size explorer: arithmetic, data, training. No Streamlit in here."""

from bertviz_core import tf_runtime as _tf_runtime  # noqa: F401  (sets TF_USE_LEGACY_KERAS first)
from bertviz_core.config import ConfigError, ModelConfig, valid_head_counts

__all__ = ["ConfigError", "ModelConfig", "valid_head_counts"]
