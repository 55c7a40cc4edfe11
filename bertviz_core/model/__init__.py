"""keras-bert models for real: the only package that imports TensorFlow (through ``runtime``).

``real_model`` (a build, to prove the arithmetic), ``classifier`` (the encoder with a [CLS] head,
and predictions), ``training`` (fit with early stopping and progress), ``bundle`` (saving and
loading, safely). In the app these run in worker processes (``bertviz_core.jobs``), never in the
web server's process.
"""
