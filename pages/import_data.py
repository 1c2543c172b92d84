"""Import: not built yet (issue #7)."""

import streamlit as st

from kdash import ui

ui.require_app_frame()

st.title("Import")
st.info("Coming with issue #7. CSV folder and FHIR R4 import with a dry-run report.", icon=":material/construction:")
