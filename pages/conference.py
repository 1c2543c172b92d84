"""Case conference: not built yet (issue #8)."""

import streamlit as st

from kdash import ui

ui.require_app_frame()

st.title("Case conference")
st.info("Coming with issue #8. De-identified presentation mode and PDF / PowerPoint packs.", icon=":material/construction:")
