"""Side effects: how often, for whom, at which dose, and whether they fade; beside the trial rates (§6)."""

import pandas as pd
import streamlit as st

from kdash import ui
from kdash.clinical import side_effects

ui.require_app_frame()
cfg = ui.clinic_settings()

st.title("Side effects")
st.caption("Per patient: the share of treated patients who had the effect at least once; per session: the share "
           "of completed sessions followed by it. 95 % Wilson intervals (which stay honest with few patients). "
           "Trial rates: clinical reference §6 "
           "(esketamine trials; IV ketamine is similar in kind).")
f = ui.cohort_filters(with_scale=False)
v = ui.fetch("side_effects.page_view", **f, hide_small=ui.counts_only())
size = v["size"]
if size["patients"] == 0:
    st.info("No patients match these filters.", icon=":material/search_off:")
    st.stop()
if ui.too_few(size["patients"]):
    st.stop()
overall = v["overall"]
c = st.columns(3)
c[0].metric("Treated patients", f"{size['patients']:,}")
c[1].metric("Completed sessions", f"{size['sessions']:,}")
c[2].metric("Reports", f"{int(overall['sessions'].sum()):,}")
if overall.empty:
    st.info("No side effect recorded for these patients.", icon=":material/info:")
    st.stop()

# Only the open tab runs and draws (on_change="rerun"): five figures at once took 0.7 s to draw in a browser.
tabs = st.tabs(["Frequency", "By route and dose", "Over the course"], key="side_effects_section", on_change="rerun")
with tabs[0]:
    if tabs[0].open:
        ui.chart(v["frequency_chart"])
        table = overall[["effect", "patients", "n_patients", "per_patient", "per_patient_low", "per_patient_high",
                         "sessions", "n_sessions", "per_session", "per_session_low", "per_session_high",
                         "mild", "moderate", "severe"]].merge(side_effects.TRIAL_RATES, on="effect", how="left")
        if ui.counts_only():
            st.caption("Effects seen in fewer than 5 patients are left out of the figures and tables.")
        with st.expander("Numbers behind the chart"):
            ui.data_table(table, column_config=ui.percent_columns(table))
            ui.csv_download(table, "side-effects.csv", "side_effects.page_view")

with tabs[1]:
    if tabs[1].open:
        ui.chart(v["route_chart"])
        ui.chart(v["dose_chart"])

with tabs[2]:
    if tabs[2].open:
        left, right = st.columns(2)
        ui.chart(v["session_chart"], left)
        ui.chart(v["severity_chart"], right)

st.header("Blood pressure, dissociation and sedation", divider="gray")
events = v["events"]
st.caption("Each tile: the share of completed sessions with the event; beneath it, the patients who had it at least once.")
cols = st.columns(len(events))
for col, e in zip(cols, events.itertuples()):
    hidden = ui.counts_only() and 0 < e.patients < 5
    col.metric(e.event, "—" if pd.isna(e.per_session) or hidden else f"{e.per_session:.1%}",
               ("<5 of " + f"{e.n_patients:,} patients" if hidden else
                f"{e.patients:,} of {e.n_patients:,} patients ({e.per_patient:.0%})") if e.n_patients else "no readings",
               delta_color="off", delta_arrow="off")
shown_events = ui.suppressed(events, ["patients"], {"patients": ["per_patient", "per_patient_low", "per_patient_high",
                                                                 "per_session", "per_session_low", "per_session_high",
                                                                 "sessions"]})
with st.expander("Numbers behind these figures"):
    ui.data_table(shown_events, column_config=ui.percent_columns(events) if not ui.counts_only() else None)
