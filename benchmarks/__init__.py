"""The lab: measurements of the app, run from the repository root. Not part of the product.

These modules import ``bertviz_core`` (and, for the browser probes, ``tests.browser``'s Chromium
helpers); nothing in ``bertviz_core``, ``bertviz_ui``, ``pages`` or ``app.py`` imports them, so the
app runs and ships without them.

- ``python -m benchmarks``: the app against this machine's limits in one run (``figures``), or
  alternated with a Hugging Face peer (``peer``, ``--peer``); ``cli`` reads the options.
  ``explorer_probe`` is its cold explorer, started in a fresh interpreter.
- ``python -m benchmarks.latency``: the explorer in Chromium against a bare Streamlit app.
- ``python -m benchmarks.room``: a room of visitors training at once on one server.
- ``python -m benchmarks.memory_calibration`` and ``python -m benchmarks.time_calibration``: real
  trainings that the memory estimate and the time prediction are fitted on.
- ``python -m benchmarks.make_samples``: writes the shipped samples in ``bertviz_core/data/samples``.
"""
