"""Streamlit mechanics that are not a page themselves: session state, reusable widgets, live jobs.

The page files in ``app_pages/`` read as descriptions of their screens and call into this package
and into ``bertviz_core``; nothing in ``bertviz_core`` imports Streamlit.
"""
