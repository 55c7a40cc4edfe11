"""The server's one job pool, and a session's view of its own jobs.

The pool is shared by every session (``st.cache_resource``): it is built to be, and a session only
ever holds handles to its own jobs (in its session state), so nobody sees another's work. Each job
is owned by the session that submitted it; when that session's browser tab is gone for a few
seconds, the pool stops the job. A session's files (trained models) live in a folder of its own,
removed when the session ends.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import weakref
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from bertviz_core.jobs import make_pool
from bertviz_core.jobs.protocol import Job, JobRequest


def _session_alive(session_id: str) -> bool:
    """True while the browser tab of ``session_id`` is connected (always, outside a server)."""
    from streamlit.runtime import Runtime

    return not Runtime.exists() or Runtime.instance().is_active_session(session_id)


@st.cache_resource
def pool():
    """The server's pool of workers (or a Ray cluster's, when configured: ``jobs.make_pool``)."""
    shared = make_pool(owner_alive=_session_alive)
    atexit.register(shared.shutdown)
    return shared


def owner() -> str:
    """This session's id: the owner of the jobs it submits."""
    context = get_script_run_ctx()
    return context.session_id if context is not None else ""


def submit(name: str, request: JobRequest) -> Job:
    """Submit a job for this session, remembered under ``name`` (one job per name at a time)."""
    previous = current(name)
    if previous is not None:
        previous.stop()
    job = pool().submit(request)
    st.session_state[f"job_{name}"] = job
    return job


def current(name: str) -> Job | None:
    job = st.session_state.get(f"job_{name}")
    return job if isinstance(job, Job) else None


def forget(name: str) -> None:
    st.session_state.pop(f"job_{name}", None)


class _SessionFolder:
    """A temporary folder for one session's files, deleted with the session (or the server)."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="bertviz-session-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, True)


_folder_lock = threading.Lock()


def session_folder() -> Path:
    """This session's own folder; it goes when the session does (its state is dropped)."""
    with _folder_lock:
        folder = st.session_state.get("session_folder")
        if not isinstance(folder, _SessionFolder) or not folder.path.is_dir():
            folder = _SessionFolder()
            st.session_state["session_folder"] = folder
    return folder.path
