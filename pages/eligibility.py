"""Eligibility: not built yet (issue #4)."""

import streamlit as st

from kdash import ui

ui.require_app_frame()

st.title("Eligibility")
st.info("Coming with issue #4. The eligibility checklist computed from the record, with its evidence, and a clinician's sign-off.", icon=":material/construction:")
