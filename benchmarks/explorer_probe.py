"""The explorer, timed as a cold app: the benchmark (``python -m benchmarks``) runs this.

Usage (from the repository root): ``python -m benchmarks.explorer_probe MOVES LAUNCH_TIME``. Runs
``app.py`` in Streamlit's AppTest from a fresh interpreter (``LAUNCH_TIME`` is the parent's clock
when it started this process, so interpreter start-up counts), then moves sliders ``MOVES`` times,
and prints one JSON object: the first render's seconds, each move's milliseconds, peak resident
memory and whether TensorFlow was imported.
"""

import json
import resource
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"


def option_value(shown: str):
    # AppTest lists a select_slider's options as shown ("30,522"); set_value wants the value.
    try:
        return int(shown.replace(",", ""))
    except ValueError:
        return shown


def sliders(app: AppTest) -> list:
    return [*app.slider, *app.select_slider]


def main(moves: int, started: float) -> dict:
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    first = time.time() - started
    assert not app.exception, [e.value for e in app.exception]
    timings = []
    for step in range(moves):
        controls = sliders(app)
        widget = controls[step % len(controls)]
        options = getattr(widget, "options", None)
        if options:
            value = option_value(options[(step * 7 + 3) % len(options)])
        else:
            low, high = widget.min, widget.max
            value = type(widget.value)(low + (high - low) * ((step * 37) % 100) // 100)
        began = time.perf_counter()
        widget.set_value(value).run()
        timings.append((time.perf_counter() - began) * 1000)
        assert not app.exception, [e.value for e in app.exception]
    return {
        "first_render_seconds": first,
        "rerun_ms": timings,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "imported_tensorflow": "tensorflow" in sys.modules,
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), float(sys.argv[2]))))
