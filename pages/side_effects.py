"""Side effects: not built yet (issue #5)."""

import streamlit as st

from kdash import ui

ui.require_app_frame()

st.title("Side effects")
st.info("Coming with issue #5. Side-effect frequencies by route, dose and session, with the trial rates beside them.", icon=":material/construction:")
