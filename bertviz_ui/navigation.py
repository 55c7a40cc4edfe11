"""Pages enter through ``app.py``'s navigation, also on a cold server's first deep link.

Streamlit treats a ``pages/`` folder next to the entry point as an old-style multipage app until
``st.navigation`` has run once in the process. On a freshly started server whose first request is a
deep link (``/train``), it would run that page alone, without ``app.py``'s navigation and layout.
"""

import streamlit as st


def enter_through_app() -> None:
    """On that first request, switch the server to ``app.py``'s navigation and run again."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a future Streamlit without the old mechanism: nothing to do
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
