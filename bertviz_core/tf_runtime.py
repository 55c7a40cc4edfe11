"""The one place TensorFlow is imported.

keras-bert 0.89.0 only works with Keras 2, which TensorFlow 2.21 provides through the tf-keras
package when ``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow's first import in the process.
Importing lazily also keeps the explorer free of TensorFlow's 3 s and 600 MB start-up cost.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import ModuleType

os.environ["TF_USE_LEGACY_KERAS"] = "1"
# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) means nothing on a CPU machine.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def tensorflow() -> ModuleType:
    """Import and return TensorFlow with Keras 2 as ``tf.keras``."""
    import tensorflow as tf

    # keras-bert shares one unseeded initializer between layers; the warning is about that, not us.
    warnings.filterwarnings("ignore", message="The initializer .* is unseeded")

    # keras-bert re-registers the module as "tensorflow.keras", so look at where it lives.
    keras_home = f"{tf.keras.__name__} {getattr(tf.keras, '__file__', '')}"
    if "tf_keras" not in keras_home:
        raise RuntimeError(
            "TensorFlow was imported before TF_USE_LEGACY_KERAS=1 was set, so tf.keras is Keras 3 "
            "and keras-bert cannot build; import bertviz_core before TensorFlow."
        )
    return tf


def keras_bert() -> ModuleType:
    tensorflow()
    import keras_bert

    return keras_bert


def is_loaded() -> bool:
    """True when TensorFlow is already imported in this process."""
    return "tensorflow" in sys.modules
