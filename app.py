"""kdash: router and frame only (settings, store, navigation, the demo banner)."""

import streamlit as st

from kdash import ui

# A local icon: a Material name would make the browser fetch the favicon from a font CDN.
st.set_page_config(page_title="kdash", page_icon="kdash/assets/icon.png", layout="wide")

con = ui.open_store_or_stop()
ui.demo_banner(con)

# Each url_path is its file's name: on a process's first run Streamlit resolves a deep link against the
# legacy pages/ folder before app.py has run (see kdash.ui.require_app_frame).
pages = {
    "Clinic": [
        st.Page("pages/home.py", title="Clinic at a glance", icon=":material/home:", default=True),
        st.Page("pages/roster.py", title="Patients", icon=":material/groups:", url_path="roster"),
        st.Page("pages/patient.py", title="Patient progress", icon=":material/monitoring:", url_path="patient"),
        st.Page("pages/eligibility.py", title="Eligibility", icon=":material/checklist:", url_path="eligibility"),
        st.Page("pages/record_session.py", title="Record a session", icon=":material/edit_note:",
                url_path="record_session"),
    ],
    "Clinic-wide": [
        st.Page("pages/outcomes.py", title="Outcomes", icon=":material/query_stats:", url_path="outcomes"),
        st.Page("pages/side_effects.py", title="Side effects", icon=":material/vital_signs:", url_path="side_effects"),
        st.Page("pages/throughput.py", title="Throughput", icon=":material/event_available:", url_path="throughput"),
        st.Page("pages/conference.py", title="Case conference", icon=":material/co_present:", url_path="conference"),
    ],
    "Admin": [
        st.Page("pages/import_data.py", title="Import", icon=":material/upload_file:", url_path="import_data"),
        st.Page("pages/audit.py", title="Audit log", icon=":material/policy:", url_path="audit"),
    ],
}
st.navigation(pages).run()
