"""Patient progress: not built yet (issue #3)."""

import streamlit as st

from kdash import ui

ui.require_app_frame()

st.title("Patient progress")
st.info("Coming with issue #3. Mood-score trends against baseline, response and remission lines, item heatmaps, session safety and flags.", icon=":material/construction:")
