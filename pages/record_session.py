"""Record a session: not built yet (issue #7)."""

import streamlit as st

from kdash import ui

ui.require_app_frame()

st.title("Record a session")
st.info("Coming with issue #7. Entering a session: dose, vitals, scale scores, CADSS, MOAA/S and side effects.", icon=":material/construction:")
