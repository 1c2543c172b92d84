"""Case conference: not built yet (issue #8)."""

import streamlit as st

st.title("Case conference")
st.info("Coming with issue #8. De-identified presentation mode and PDF / PowerPoint packs.", icon=":material/construction:")
