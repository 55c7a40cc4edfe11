"""Entry point: only declares the pages. ``streamlit run app.py``."""

import streamlit as st

st.set_page_config(page_title="BERT size explorer", page_icon=":material/memory:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/explorer.py", title="Model size explorer", icon=":material/straighten:", default=True),
        st.Page("pages/train.py", title="Train a classifier", icon=":material/model_training:"),
    ]
)
navigation.run()
