"""Choosing a patient: the ID box that follows the URL, the finder, a table whose clicked row opens the patient."""

from __future__ import annotations

import streamlit as st

from kdash.ui.cache import today
from kdash.ui.guard import audit_view, fetch
from kdash.ui.session import fragment_guard
from kdash.ui.show import data_table


def patient_choice(page: str, help: str | None = None) -> str:
    """The patient ID this page shows, as typed (stripped). The box has a stable key and is driven from session
    state, never from `value=` (a changing value makes a new widget, which dropped what was typed); the URL's
    patient_id follows the box, and a link or the back button that changes the URL sets the box."""
    key, url_key = f"patient_choice_{page}", f"patient_choice_{page}_url"
    given = st.query_params.get("patient_id", "")
    # First visit, a link, the browser's back button, or back from another page (Streamlit drops the state of a
    # widget that a run did not draw, so the box's own key is gone then): the URL says which patient.
    if st.session_state.get(url_key) != given or key not in st.session_state:
        st.session_state[key] = given
        st.session_state[url_key] = given
    typed = st.text_input("Patient ID", key=key, max_chars=200, placeholder="e.g. P000123", help=help)
    pid = typed.strip()
    if pid != given:
        if pid:
            st.query_params["patient_id"] = pid
        else:
            st.query_params.pop("patient_id", None)
        st.session_state[url_key] = pid
    return pid


def patient_table(table, page: str, key: str, **kwargs) -> None:
    """A table of patients (a patient_id column) whose clicked row opens that patient's page in this tab and this
    signed-in session: a link would open a new tab, which is a new Streamlit session and asks for the password."""
    drawn = f"{key}_drawn"

    def picked() -> None:
        # the patient of the row as it was drawn when clicked: this run's table may differ (a new import, a
        # colleague's change), and an index into it could open someone else
        rows = st.session_state[key].selection.rows
        ids_ = st.session_state.get(drawn, [])
        st.session_state[f"{key}_open"] = ids_[rows[0]] if rows and rows[0] < len(ids_) else None

    data_table(table, on_select=picked, selection_mode="single-row", key=key, keep=("patient_id",), **kwargs)
    st.session_state[drawn] = [str(x) for x in table["patient_id"]]
    chosen = st.session_state.pop(f"{key}_open", None)
    if chosen:
        st.session_state.pop(key, None)                 # back on this page later: nothing still selected
        st.switch_page(f"pages/{page}.py", query_params={"patient_id": chosen})


def patient_finder(page: str) -> None:
    """Find a patient by name, ID or MRN (the roster's search, as one types) and open the one clicked on this page."""
    with st.expander("Find a patient by name, ID or MRN"):
        _finder(page)


@st.fragment
def _finder(page: str) -> None:
    """Typing reruns only the finder (a fragment), a pause of 300 ms after the last key."""
    fragment_guard()
    text = st.text_input("Name, ID or MRN", key=f"finder_{page}", max_chars=80, placeholder="e.g. Garcia",
                         type="search", live="300ms")
    if not text.strip():
        return
    audit_view("roster_search", None, detail=f"finder on {page}: search={text.strip()}")
    found = fetch("roster.page", today=today(), search=text.strip(), page_no=1, page_size=10)
    if found.empty:
        st.caption("No patient matches.")
        return
    st.caption(f"{int(found['total'].iloc[0]):,} match" + (" (the first 10 shown)" if found["total"].iloc[0] > 10
                                                         else "") + ". Click a row to open the patient.")
    patient_table(found[["patient_id", "name", "birth_date", "mrn"]], page, f"finder_pick_{page}", column_config={
        "patient_id": st.column_config.TextColumn("Patient"), "name": "Name",
        "birth_date": st.column_config.DateColumn("Born"), "mrn": "MRN"})
