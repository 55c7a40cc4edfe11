"""Entry point: only declares the pages. ``streamlit run app.py``."""

from bertviz_core import tf_runtime  # noqa: F401, I001  (sets TF_USE_LEGACY_KERAS=1 before any TensorFlow import)

import streamlit as st

st.set_page_config(page_title="BERT size explorer", page_icon=":material/memory:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/explorer.py", title="Model size explorer", icon=":material/straighten:", default=True),
        st.Page("pages/train.py", title="Train a classifier", icon=":material/model_training:"),
    ]
)
navigation.run()
