"""The explorer's real keras-bert build: asked for by a visitor, built once, shared by every session.

The build is a job in a worker process. Its report (``size --verify --json``'s object) is an
immutable dict: ``st.cache_data`` hands each session a copy, so a configuration any visitor built
lately shows at once for everyone (``recently_built``) instead of behind a button.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import streamlit as st

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.errors import JobError
from bertviz_core.jobs.protocol import DONE
from bertviz_core.jobs.requests import build_request
from bertviz_core.text import short
from bertviz_ui.jobs import pool, visitor

BUILD_WAIT_SECONDS = 300


@st.cache_data(max_entries=32, show_spinner="Building the real keras-bert model in a worker process...")
def real_report(config_json: str) -> dict:
    """The build's report; a failure raises (and so is not cached) with its sentence."""
    job = pool().submit(build_request(ModelConfig.from_json(config_json), visitor()))
    snapshot = job.wait(timeout=BUILD_WAIT_SECONDS)
    if not snapshot.is_over:
        job.stop()
        raise JobError(
            f"Building the real model took longer than {BUILD_WAIT_SECONDS} s; the arithmetic above is exact."
        )
    if snapshot.state != DONE:
        raise JobError(
            f"Building the real model failed ({short(snapshot.error, 200)}); the arithmetic above is exact."
        )
    return snapshot.result


class _RecentlyBuilt:
    """The last ``size`` configurations built, by any session (thread-safe: sessions are threads)."""

    def __init__(self, size: int = 32) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def add(self, key: str) -> None:
        with self._lock:
            self._keys[key] = None
            self._keys.move_to_end(key)
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._keys


@st.cache_resource
def recently_built() -> _RecentlyBuilt:
    return _RecentlyBuilt()
