"""Entry point: only declares the pages. ``streamlit run app.py``.

The page files live in ``app_pages/``, not ``pages/``: Streamlit treats a ``pages/`` folder beside
the entry point as an old-style multipage app of its own, which ``st.navigation`` replaces.
"""

import streamlit as st

st.set_page_config(page_title="BERT size explorer", page_icon=":material/memory:", layout="wide")

navigation = st.navigation(
    [
        st.Page(
            "app_pages/explorer.py", title="Model size explorer", icon=":material/straighten:", default=True
        ),
        st.Page("app_pages/train.py", title="Train a classifier", icon=":material/model_training:"),
    ]
)
navigation.run()
