"""The server's job pool and run store, and a visitor's view of their own jobs and runs.

A visitor is one browser: every tab and every reload of it. Streamlit gives each browser a random
XSRF cookie that only that browser holds; a keyed hash of its token names the visitor, so jobs
and finished runs follow the visitor through a reload or a reconnect, and nobody else can name
them. Without that cookie (a test harness), the visitor is the session.

The pool and the store are shared by every session (``st.cache_resource``): they are built to be,
and each session reaches only its own visitor's jobs and runs. A job belongs to its visitor, not
to a page render: it stops only when asked, or when none of the visitor's tabs has been connected
for a few seconds.
"""

from __future__ import annotations

import atexit
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from bertviz_core.errors import UserError
from bertviz_core.jobs import make_pool
from bertviz_core.jobs.backend import JobBackend
from bertviz_core.jobs.protocol import DONE, Job, JobRequest, JobSnapshot
from bertviz_core.runs import RunStore
from bertviz_core.text import escape_markdown, format_duration

_XSRF_COOKIE = "_streamlit_xsrf"


class _Visitors:
    """Which sessions each visitor has had, and each visitor's current jobs (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, set[str]] = {}
        self._jobs: dict[tuple[str, str], Job] = {}
        self._ladders: dict[str, Any] = {}  # each visitor's last size ladder (jobs.ladder_run.LadderRun)

    def seen(self, visitor: str, session_id: str) -> None:
        with self._lock:
            self._sessions.setdefault(visitor, set()).add(session_id)

    def alive(self, visitor: str) -> bool:
        """True while any tab of the visitor is connected (always, outside a server)."""
        from streamlit.runtime import Runtime

        if not Runtime.exists():
            return True
        runtime = Runtime.instance()
        with self._lock:
            sessions = set(self._sessions.get(visitor, ()))
        gone = {session for session in sessions if not runtime.is_active_session(session)}
        with self._lock:  # sessions that ended are forgotten, so the sets stay small
            self._sessions[visitor] = self._sessions.get(visitor, set()) - gone
        return len(gone) < len(sessions)

    def ladder(self, visitor: str) -> Any:
        with self._lock:
            return self._ladders.get(visitor)

    def set_ladder(self, visitor: str, ladder: Any) -> None:
        with self._lock:
            self._ladders[visitor] = ladder

    def job(self, visitor: str, name: str) -> Job | None:
        with self._lock:
            return self._jobs.get((visitor, name))

    def set_job(self, visitor: str, name: str, job: Job | None) -> None:
        with self._lock:
            if job is None:
                self._jobs.pop((visitor, name), None)
            else:
                self._jobs[(visitor, name)] = job


@st.cache_resource
def _visitors() -> _Visitors:
    return _Visitors()


@st.cache_resource
def pool() -> JobBackend:
    """The server's pool of workers (or a Ray cluster's, when configured: ``jobs.make_pool``)."""
    shared = make_pool(owner_alive=_visitors().alive)
    atexit.register(shared.shutdown)
    return shared


@st.cache_resource
def hub_cache() -> Path:
    """Where models fetched from the Hugging Face hub are kept, for every visitor (public files)."""
    from bertviz_core.model.hub import default_cache_dir

    return default_cache_dir()


@st.cache_resource
def store() -> RunStore:
    """Finished runs of every visitor, in a temporary folder of this server's (gone with it)."""
    return RunStore(Path(tempfile.mkdtemp(prefix="bertviz-runs-")))


def _browser_secret() -> str | None:
    """The token of Streamlit's XSRF cookie ("2|mask|masked token|time"), unmasked: random, set once
    per browser, sent only by that browser. None when there is no such cookie."""
    cookie = st.context.cookies.get(_XSRF_COOKIE)
    if not isinstance(cookie, str):  # no cookie, or a test harness's stand-in
        return None
    parts = cookie.split("|")
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except (IndexError, ValueError):
        return None
    if parts[0] != "2" or len(mask) != 4 or len(masked) < 16:
        return None
    return bytes(byte ^ mask[index % 4] for index, byte in enumerate(masked)).hex()


def visitor() -> str:
    """This browser's visitor key (this session's, without the cookie)."""
    key = st.session_state.get("visitor_key")
    if key is None:
        context = get_script_run_ctx()
        session = context.session_id if context is not None else "no-session"
        key = store().visitor_key(_browser_secret() or f"session:{session}")
        st.session_state["visitor_key"] = key
        _visitors().seen(key, session)
    return key


def submit(name: str, request: JobRequest) -> Job:
    """Submit a job for this visitor under ``name`` (one job per name at a time: a new one replaces
    and stops the last)."""
    previous = current(name)
    if previous is not None:
        previous.stop()
    job = pool().submit(request)
    _visitors().set_job(visitor(), name, job)
    return job


def current_ladder() -> Any:
    """The visitor's last size ladder (``jobs.ladder_run.LadderRun``), climbing or over, or None."""
    return _visitors().ladder(visitor())


def set_ladder(ladder: Any) -> None:
    _visitors().set_ladder(visitor(), ladder)


def current(name: str) -> Job | None:
    return _visitors().job(visitor(), name)


def forget(name: str, job: Job) -> None:
    """Drop the visitor's job under ``name`` if it is still ``job`` (another tab may have replaced it)."""
    if current(name) is job:
        _visitors().set_job(visitor(), name, None)


def follow(
    job: Job, draw: Callable[[JobSnapshot], None], every: float, wait_seconds: float = 0.0
) -> JobSnapshot | None:
    """The one way a page follows a job. Returns its snapshot once it is over, for the caller to show
    its end; until then draws it with ``draw(snapshot)`` (its place in line, its progress) in a
    fragment that draws again every ``every`` seconds and runs the whole page again once the job is
    over. ``wait_seconds``: wait that long first, so that a quick job's answer shows in this run."""
    snapshot = job.wait(wait_seconds) if wait_seconds else job.snapshot()
    if snapshot.is_over:
        return snapshot
    st.fragment(_following, run_every=every)(job, draw)
    return None


def _following(job: Job, draw: Callable[[JobSnapshot], None]) -> None:
    snapshot = job.snapshot()
    if snapshot.is_over:
        st.rerun()  # the whole page, which shows the end
    draw(snapshot)


def queue_sentence(snapshot: JobSnapshot) -> str:
    """Where a queued job stands, for the visitor waiting for it."""
    status = pool().status()
    wait = f", about {format_duration(snapshot.wait_seconds)} from now" if snapshot.wait_seconds else ""
    return (
        f"Waiting for a free worker: you are number {snapshot.place_in_line} in line{wait} "
        f"({status.busy} of {status.max_workers} workers are busy). It starts by itself."
    )


def ask(kind: str, key: object, request: Callable[[], JobRequest], working: str) -> JobSnapshot | None:
    """The visitor's short ``kind`` job for ``key`` (a prediction, a look inside a model): submitted
    when the key is new, then followed. Returns the snapshot when it ended well; otherwise draws why
    there is nothing yet (in line, ``working``, refused, failed) and returns None."""
    job = current(kind)
    if job is None or st.session_state.get(f"{kind}_key") != key:
        try:
            job = submit(kind, request())
        except UserError as error:
            st.error(escape_markdown(error))
            return None
        st.session_state[f"{kind}_key"] = key
    # A warm worker answers in a fraction of a second: wait a little before drawing a wait.
    snapshot = follow(job, lambda now: _working(now, working), every=1.0, wait_seconds=QUICK_SECONDS)
    if snapshot is None:
        return None
    if snapshot.state != DONE:
        st.error(escape_markdown(snapshot.error or "The job was stopped."))
        return None
    return snapshot


QUICK_SECONDS = 20.0


def _working(snapshot: JobSnapshot, working: str) -> None:
    if snapshot.place_in_line:
        st.info(queue_sentence(snapshot), icon=":material/hourglass_top:")
    else:
        elapsed = time.time() - (snapshot.started or time.time())
        st.caption(f"{working}... ({elapsed:.0f} s)")
