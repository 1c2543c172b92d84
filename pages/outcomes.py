"""Outcomes: not built yet (issue #5)."""

import streamlit as st

from kdash import ui

ui.require_app_frame()

st.title("Outcomes")
st.info("Coming with issue #5. Response and remission with Wilson intervals, trajectories, waterfall, Kaplan–Meier and retention.", icon=":material/construction:")
