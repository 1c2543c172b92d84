"""Patients: not built yet (issue #3)."""

import streamlit as st

from kdash import ui

ui.require_app_frame()

st.title("Patients")
st.info("Coming with issue #3. The roster: search, filters, baseline and latest score, status and open safety flags, sorted by urgency.", icon=":material/construction:")
