"""Audit log (admin): who did what to which patient, when; searchable and exportable."""

import datetime as dt

import streamlit as st

from kdash import ui, vocab
from kdash.access import audit_view
from kdash.clinical import patient

ui.require_app_frame()

st.title("Audit log")
st.caption("Every sign-in and failed sign-in, view of a patient, export, import, recorded, edited or deleted session, "
           "eligibility decision and refused request, with user, role, time and patient. The app only ever adds "
           "rows to this log.")

c = st.columns(5)
username = c[0].text_input("User", max_chars=80).strip()
action = c[1].selectbox("Action", [None, *ui.fetch("audit_view.actions")], format_func=lambda a: vocab.label(a, "action") if a else "All actions")
pid = c[2].text_input("Patient ID", max_chars=200).strip()
start = c[3].date_input("From", value=None, min_value=dt.date(2000, 1, 1), format="YYYY-MM-DD")
end = c[4].date_input("To", value=None, min_value=dt.date(2000, 1, 1), format="YYYY-MM-DD")
if pid and patient.id_problem(pid):
    st.error(f"That patient ID cannot be searched for: {patient.id_problem(pid)}.", icon=":material/error:")
    st.stop()
if start and end and end < start:
    st.error("The period ends before it starts: choose a 'To' date on or after the 'From' date.", icon=":material/error:")
    st.stop()

filters = dict(username=username or None, action=action, patient_id=pid or None, start=start, end=end)
con = ui.connection_for("audit_view.search")
rows = audit_view.search(con, ui.clinic_settings(), **filters)
st.caption(f"{len(rows):,} most recent matching rows shown (of {audit_view.total(con, None):,} in the log).")
ui.data_table(rows, column_config={
    "logged_at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm:ss", width=150),
    "username": st.column_config.TextColumn("User", width=90), "role": st.column_config.TextColumn("Role", width=100),
    "action": st.column_config.TextColumn("Action", width=160),
    "patient_id": st.column_config.TextColumn("Patient ID", width=90),
    "detail": st.column_config.TextColumn("Detail", width=230)})


def full_csv() -> bytes:
    return vocab.to_csv(audit_view.search(con, ui.clinic_settings(), **filters, limit=None))


ui.download("Export every matching row (CSV)", full_csv, "kdash-audit.csv", "text/csv", "audit_export",
            "audit_view.search", detail=f"filters {filters}", icon=":material/download:")
