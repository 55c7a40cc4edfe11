"""Fixtures and settings shared by every test.

Keep this file small: only what more than one test module needs belongs here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# keras-bert needs Keras 2, which TensorFlow only gives when this is set before its first import.
# bertviz_core sets it too; setting it here as well means a test that imports TensorFlow directly
# (to compare against the real build) still gets the right Keras.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Page tests (AppTest) share one job pool per test process: its workers stay between tests instead
# of leaving after 20 s idle, so a training a few tests later does not pay TensorFlow's import again.
# A test about idle workers, and each browser test's server that needs it, sets its own.
os.environ.setdefault("BERTVIZ_WORKER_IDLE_SECONDS", "600")
# Job workers at the test process's own CPU priority. The product's default, SCHED_IDLE (so that a
# room's trainings never slow the web server), yields to every other process: beside the suite's
# other xdist process running TensorFlow in-process, a worker got almost no CPU (a warm-up did not
# end in 240 s beside two CPU-bound processes; at normal priority the same test took 24 s). The
# tests of the idle default (test_local_pool, test_ray_backend) take this setting away.
os.environ.setdefault("BERTVIZ_WORKER_PRIORITY", "normal")

# Hypothesis' per-example deadline is a timed assertion; on a shared 2-core machine it fails for
# reasons that have nothing to do with the code. Correctness is what property tests check here.
settings.register_profile("bertviz", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "bertviz"))

REPO_ROOT = Path(__file__).resolve().parent.parent
BROWSER_TESTS = REPO_ROOT / "tests" / "browser"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The suite's two processes (pytest-xdist, ``--dist loadgroup``) each take whole files, so a
    file's module fixtures start once; and every browser test goes to one of them: one app server and
    one Chromium at a time, as a visitor's machine and the server would see them."""
    for item in items:
        path = Path(item.fspath).resolve()
        group = "browser" if BROWSER_TESTS in path.parents else str(path.relative_to(REPO_ROOT))
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root folder (where app.py and requirements.txt live)."""
    return REPO_ROOT
