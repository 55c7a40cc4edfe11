"""Where a BERT model's size comes from, and training one on your own data. No Streamlit in here.

Packages, from the bottom up:

- ``arithmetic``: model configurations, parameter counts, memory and compute by arithmetic, presets,
  the explorer's state and the sentences that explain the figures. Pure Python.
- ``data``: users' CSV files to training rows and token ids. No TensorFlow.
- ``charts``: plotly figures from plain data.
- ``memory``: the memory budget and the one guard every build, training and job goes through.
- ``model``: the only package that imports TensorFlow: real builds, training, saving, predicting.
- ``jobs``: TensorFlow work in worker processes: a bounded, queued pool, or a Ray cluster.
- ``cli``: the command line.
"""

import os

# keras-bert needs Keras 2, which TensorFlow 2.21 gives only when this is set before TensorFlow's
# first import in the process; setting it here, first, covers every way into the package.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
