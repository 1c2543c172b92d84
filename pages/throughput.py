"""Throughput: not built yet (issue #6)."""

import streamlit as st

from kdash import ui

ui.require_app_frame()

st.title("Throughput")
st.info("Coming with issue #6. Sessions per week, no-shows, chair utilisation, waiting times and retention.", icon=":material/construction:")
