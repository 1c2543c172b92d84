"""Side effects: how often, for whom, at which dose, and whether they fade; beside the trial rates (§6)."""

import streamlit as st

from kdash import charts, side_effects, ui

ui.require_app_frame()
cfg = ui.clinic_settings()

st.title("Side effects")
st.caption("Per patient: the share of treated patients who had the effect at least once; per session: the share "
           "of completed sessions followed by it. 95 % Wilson intervals. Trial rates: clinical-reference §6 "
           "(esketamine trials; IV ketamine is similar in kind).")
f = ui.cohort_filters(with_scale=False)
size = ui.fetch("side_effects.cohort_size", **f)
if size["patients"] == 0:
    st.info("No patients match these filters.", icon=":material/search_off:")
    st.stop()
rates = ui.fetch("side_effects.rates", **f)
overall = rates[rates["by"] == "all"]
c = st.columns(3)
c[0].metric("Treated patients", f"{size['patients']:,}")
c[1].metric("Completed sessions", f"{size['sessions']:,}")
c[2].metric("Reports", f"{int(overall['sessions'].sum()):,}")
if overall.empty:
    st.info("No side effect recorded for these patients.", icon=":material/info:")
    st.stop()

st.plotly_chart(charts.effect_frequencies(overall, side_effects.TRIAL_RATES), theme=None, width="stretch")
table = overall[["effect", "patients", "n_patients", "per_patient", "per_patient_low", "per_patient_high",
                 "sessions", "n_sessions", "per_session", "per_session_low", "per_session_high",
                 "mild", "moderate", "severe"]].merge(side_effects.TRIAL_RATES, on="effect", how="left")
with st.expander("Numbers behind the chart"):
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="percent") for c in table.columns if c.startswith("per_")})
    st.download_button("Download CSV", table.to_csv(index=False), "side-effects.csv", "text/csv")

top = list(overall.sort_values("patients", ascending=False)["effect"].head(6))
st.header("By route and dose", divider="gray")
st.plotly_chart(charts.grouped_rates(rates[rates["by"] == "route"], "per_patient",
                                     "Per patient, by route (top effects)", "Route", top), theme=None, width="stretch")
st.plotly_chart(charts.grouped_rates(rates[rates["by"] == "dose_band"], "per_session",
                                     "Per session, by dose (IV/SC in mg/kg; esketamine in mg)", "Dose", top),
                theme=None, width="stretch")
st.header("Over the course", divider="gray")
left, right = st.columns(2)
left.plotly_chart(charts.by_session_number(rates[rates["by"] == "k"], top[:5]), theme=None, width="stretch")
right.plotly_chart(charts.severity_split(overall), theme=None, width="stretch")

st.header("Blood pressure, dissociation and sedation", divider="gray")
events = ui.fetch("side_effects.excursions", **f)
cols = st.columns(len(events))
for col, e in zip(cols, events.itertuples()):
    col.metric(e.event, "n/a" if e.per_session is None else f"{e.per_session:.1%} of sessions",
               f"{e.patients:,} of {e.n_patients:,} patients ({e.per_patient:.0%})" if e.n_patients else "no readings",
               delta_color="off", delta_arrow="off")
with st.expander("Numbers behind these figures"):
    st.dataframe(events, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="percent") for c in events.columns if c.startswith("per_")})
