"""Audit log: not built yet (issue #9)."""

import streamlit as st

from kdash import ui

ui.require_app_frame()

st.title("Audit log")
st.info("Coming with issue #9. Who saw which patient, searchable and exportable.", icon=":material/construction:")
