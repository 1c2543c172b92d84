"""Flag rules (admin): how often each safety rule fired over the last 90 days, per patient and per session, with its
severity and threshold, so a clinic can see which rule is noise (counts only; the rules are clinic-editable in
[safety] and [flags.severity] of the clinic's settings)."""

import streamlit as st

from kdash import ui

ui.require_app_frame()
today = ui.today()

st.title("Flag rules")
st.caption("How often each rule of clinical reference §4 found evidence in the last 90 days: patients, and sessions "
           "(days with evidence), against the patients treated and the sessions completed in that time. Thresholds "
           "and severities are the clinic's; change them in the clinic settings file.")
freq = ui.fetch("worklist.rule_frequency", today=today, days=90)
treated, sessions = int(freq["treated_patients"].iloc[0]), int(freq["sessions"].iloc[0])
table = freq.assign(
    patient_share=[p / treated if treated else None for p in freq["patients"]],
    session_share=[d / sessions if sessions else None for d in freq["patient_days"]])
st.metric("Treated in the last 90 days", f"{treated:,} patients", f"{sessions:,} completed sessions",
          delta_color="off", delta_arrow="off")
ui.data_table(table[["title", "severity", "threshold", "patients", "patient_share", "patient_days", "session_share"]],
             column_config={
                 "title": st.column_config.TextColumn("Rule", width=190),
                 "severity": st.column_config.TextColumn("Severity", width=80),
                 "threshold": st.column_config.TextColumn(
                     "Fires when", width=300, help="PHQ-9 item 9, MADRS item 10, HAM-D item 3: the scales' suicide "
                     "items; C-SSRS: the Columbia suicide screener; CADSS: dissociation, 0–92; MOAA/S: alertness, 5 "
                     "alert to 0; SBP/DBP: systolic and diastolic blood pressure"),
                 "patients": st.column_config.NumberColumn("Patients"),
                 "patient_share": st.column_config.NumberColumn("of treated", format="percent"),
                 "patient_days": st.column_config.NumberColumn("Sessions"),
                 "session_share": st.column_config.NumberColumn("of sessions", format="percent")})
