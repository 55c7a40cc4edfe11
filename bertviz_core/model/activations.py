"""The exact GELU, for encoders whose weights were trained with it, and the custom objects every
saved classifier of this app loads with.

keras-bert builds the feed-forward GELU as Google's BERT code does, with keras-transformer's tanh
approximation; Hugging Face's BERTs (all-MiniLM-L6-v2 among them) were trained with the exact one,
x·Φ(x) through erf. On MiniLM the two put the last layer up to 4.3e-3 apart. ``GeluErf`` is the exact
one, and keras-bert builds it through its own ``get_model(feed_forward_activation=...)``: the
loader passes a ``bert_config.json``'s ``hidden_act`` there, so a checkpoint whose ``hidden_act`` is
"gelu_erf" (``arithmetic.bert_config``) loads with it inside ``erf_gelu_scope``.

Why a class and not a function: tf-keras writes a plain function activation into ``model.h5`` as a
"function" object that its own .h5 reader cannot read back (tried: with the function among the
custom objects, registered or not, the load fails). An object with a configuration is written as
``{"class_name": "GeluErf", "config": {}}`` and read back through the custom objects, and
``bundle``'s check of class names can list it. The name differs from keras-bert's "gelu" on purpose:
a model saved with ``tf.keras.activations.gelu`` (exact too) would be written as "gelu" and read
back as keras-bert's tanh form, silently.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator
from typing import Any

from bertviz_core.arithmetic.bert_config import ERF_GELU, GOOGLE_ACTIVATION
from bertviz_core.model import runtime

# What someone outside this project adds to keras-bert's custom objects to load a classifier that
# started from an exact-GELU checkpoint (tf.keras.activations.gelu is the exact form by default).
EXTRA_CUSTOM_OBJECT = '"GeluErf": lambda **config: tf.keras.activations.gelu'
# The export's caption, for such a classifier (``needs_gelu_erf``).
EXPORT_NOTE = (
    'This model started from a checkpoint trained with the exact GELU (Hugging Face\'s "gelu"), so its '
    f"model.h5 also needs `{EXTRA_CUSTOM_OBJECT}` among those custom objects."
)


def needs_gelu_erf(metrics: dict) -> bool:
    """Whether a trained classifier's encoder computes the exact GELU (``GeluErf``), from its metrics'
    ``start``; classifiers trained before the start's GELU was recorded all used keras-bert's tanh one."""
    start = metrics.get("start") if isinstance(metrics, dict) else None
    return isinstance(start, dict) and start.get("gelu") == ERF_GELU


class GeluErf:
    """GELU exactly: 0.5·x·(1 + erf(x / √2)), as Hugging Face's "gelu" and PyTorch's default."""

    __name__ = "GeluErf"  # Keras names activations by __name__ in its messages and summaries

    def __call__(self, x: Any) -> Any:
        return _gelu_erf(runtime.tensorflow())(x)

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> GeluErf:
        return cls()


def custom_objects() -> dict[str, Any]:
    """keras-bert's custom objects and ``GeluErf``: what a saved classifier of this app loads with."""
    return {**runtime.keras_bert().get_custom_objects(), "GeluErf": GeluErf}


@contextlib.contextmanager
def erf_gelu_scope() -> Iterator[None]:
    """Inside, Keras resolves the activation name "gelu_erf" (a ``bert_config.json``'s ``hidden_act``,
    which keras-bert's loader hands to ``get_model``) to ``GeluErf``."""
    tf = runtime.tensorflow()
    with tf.keras.utils.custom_object_scope({GOOGLE_ACTIVATION[ERF_GELU]: GeluErf()}):
        yield


@functools.cache
def _gelu_erf(tf: Any) -> Any:
    """GELU with its gradient written out, so that training keeps only its input for the backward pass.

    Differentiated op by op, GELU keeps four more tensors of the feed-forward layer's hidden size
    (x / √2, erf, 1 + erf, x / 2) per block until the backward pass; on all-MiniLM-L6-v2 (batch 32,
    64 tokens) they are 12.6 MB each, 300 MB in all. The gradient, Φ(x) + x·φ(x), is recomputed from x.
    """
    sqrt_half, inverse_sqrt_two_pi = math.sqrt(0.5), 1 / math.sqrt(2 * math.pi)

    @tf.custom_gradient
    def gelu(x: Any) -> Any:
        def gradient(upstream: Any) -> Any:
            cdf = 0.5 * (1.0 + tf.math.erf(x * sqrt_half))
            return upstream * (cdf + x * inverse_sqrt_two_pi * tf.exp(-0.5 * tf.square(x)))

        return tf.nn.gelu(x, approximate=False), gradient

    return gelu
