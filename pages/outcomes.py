"""Outcomes: how well the clinic does, for whom, with honest statistics (clinical reference §1, §5)."""

import pandas as pd
import streamlit as st

from kdash import scales, ui, vocab
from kdash.clinical import outcomes
from kdash.present import charts

ui.require_app_frame()
cfg = ui.clinic_settings()

st.title("Outcomes")
st.caption("Response: a fall of ≥ 50 % from baseline; remission: at or under the scale's threshold; baseline: the "
           "last score up to the first session (30 days back at most); patients without one are counted as not "
           "evaluable. Rates carry n and a 95 % interval (Wilson's, which stays honest with few patients).")
f = ui.cohort_filters()
f["today"] = ui.today()
scale = scales.SCALES[f["scale"]]
v = ui.fetch("outcomes.page_view", **f, hide_small=ui.counts_only())
summary = v["summary"]
if v.get("suppressed"):
    st.metric("Treated", f"{summary['n_treated']:,}", help="Patients with at least one completed session in the cohort.")
    st.warning(f"Outcomes not shown: {v['suppressed']}.", icon=":material/visibility_off:")
    st.stop()
if summary["n_treated"] == 0:
    st.info("No patients match these filters.", icon=":material/search_off:")
    st.stop()
if ui.too_few(summary["n_treated"]) or ui.too_few(summary["n_evaluable"], "evaluable patients"):
    st.stop()

c = st.columns(4)
c[0].metric("Treated", f"{summary['n_treated']:,}", help="Patients with at least one completed session in the cohort.")
c[1].metric("Not evaluable", f"{summary['n_treated'] - summary['n_evaluable']:,}",
            help="No baseline score within 30 days before the first session (or a baseline of 0).")
if not summary["n_evaluable"]:
    st.info("No patient in this cohort has a baseline score: rates cannot be given.", icon=":material/info:")
    st.stop()
r, m = summary["response_ci95"], summary["remission_ci95"]


def small(count) -> bool:
    """A count of 1 to 4 patients, which a counts-only user does not see (nor its rate)."""
    return ui.counts_only() and count is not None and 0 < count < 5


if small(summary["responders"]):
    c[2].metric("Response, last observation", "—", f"<5 of {summary['n_evaluable']:,}", delta_color="off",
                delta_arrow="off", help="Fewer than 5 responders: not shown, so that no one can be recognised.")
else:
    c[2].metric("Response, last observation", f"{summary['response_rate']:.1%}",
                f"95% CI {r[0]:.1%}–{r[1]:.1%} · {summary['responders']:,}/{summary['n_evaluable']:,}",
                delta_color="off", delta_arrow="off")
if small(summary["remitters"]):
    c[3].metric("Remission, last observation", "—", f"<5 of {summary['n_evaluable']:,}", delta_color="off",
                delta_arrow="off", help="Fewer than 5 remitters: not shown, so that no one can be recognised.")
elif summary["remission_rate"] is None:   # no sourced remission threshold for this scale (BDI-II)
    c[3].metric("Remission, last observation", "not defined",
                help=f"{scale.name} has no sourced remission threshold (clinical reference §1): no rate is given.")
else:
    c[3].metric("Remission, last observation", f"{summary['remission_rate']:.1%}",
                f"95% CI {m[0]:.1%}–{m[1]:.1%} · {summary['remitters']:,}/{summary['n_evaluable']:,}",
                delta_color="off", delta_arrow="off")

st.caption(v["set_caption"])
if summary["n_treated"] > summary["n_evaluable"]:
    st.page_link("pages/data_quality.py", label=f"Who is not evaluable, and what to record ({summary['n_treated'] - summary['n_evaluable']:,} "
                 "courses without a baseline)", icon=":material/fact_check:", query_params={"check": "no_baseline"})

# Only the open tab runs and draws (on_change="rerun"): five figures at once took 0.7 s to draw in a browser.
tabs = st.tabs(["By timepoint", "Course of scores", "Time to first response", "Published results beside ours",
               "Expected course: does it work here?"],
               key="outcomes_section", on_change="rerun")
with tabs[0]:
    if tabs[0].open:
        ui.chart(v["timepoint_chart"])
        points = v["points"]
        columns = ["label", "n", "under_way", "n_evaluable", "not_evaluable", "responders", "response_rate",
                   "response_low", "response_high", "remitters", "remission_rate", "remission_low", "remission_high"]
        if f["analysis_set"] == "itt":
            columns[4:4] = ["carried_last", "carried_baseline"]
        table = points[columns]
        if ui.counts_only():
            table = ui.suppressed(table, ["under_way", "not_evaluable", "responders", "remitters"]
                                  + (["carried_last", "carried_baseline"] if f["analysis_set"] == "itt" else []),
                                  {"responders": ["response_rate", "response_low", "response_high"],
                                   "remitters": ["remission_rate", "remission_low", "remission_high"]})
        with st.expander("Numbers behind the chart"):
            ui.data_table(table, column_config=ui.percent_columns(table) if not ui.counts_only() else None)
            ui.csv_download(table, "outcomes-timepoints.csv", "outcomes.page_view")

with tabs[1]:
    if tabs[1].open:
        ui.chart(v["trajectory_chart"])
        with st.expander("Numbers behind the chart"):
            ui.data_table(v["means"])

        left, right = st.columns(2)
        if v["waterfall_chart"]:
            ui.chart(v["waterfall_chart"], left)
        elif ui.counts_only():
            left.caption("Counts and rates only: the patient-by-patient change is for clinicians.")
        if v["funnel_chart"]:
            ui.chart(v["funnel_chart"], right)

with tabs[2]:
    if tabs[2].open:
        unit = st.segmented_control("Time in", ["sessions", "days"], default="sessions") or "sessions"
        if v["incidence_charts"][unit]:
            st.caption("The share of patients who had responded by each point, counting those who stopped treatment "
                       "without a response as having stopped, not as if they might still respond: patients who stop "
                       "are mostly those not improving, so leaving them out (as a Kaplan–Meier curve does) would "
                       "overstate response. Dotted: the share who stopped without a response. Courses still under way "
                       "count up to their last score.")
            ui.chart(v["incidence_charts"][unit])
            with st.expander("Numbers at risk"):
                st.caption(f"Patients still followed (not yet responded, not stopped, still scored) at each tick, "
                           f"in {unit}:")
                st.table(v["at_risk"][unit])
        else:
            st.caption("No response in this cohort yet.")

with tabs[3]:
    if tabs[3].open:
        st.caption("Compare like with like: the same scale and a similar timepoint. Trials select their patients; "
                   "real-world clinics do not.")
        ours = {"study": f"This clinic ({v['set_name']})", "design": "this clinic (real-world)", "n": f"{summary['n_evaluable']:,}",
                "treatment": vocab.ROUTES.get(f["route"], "all routes"), "comparator": None, "scale": scale.name,
                "timepoint": "last observation", "response": summary["response_rate"], "response_comparator": None,
                "remission": summary["remission_rate"], "remission_comparator": None}
        side_by_side = outcomes.published_beside(ours)
        if summary["remission_rate"] is None:
            side_by_side.loc[0, "Remission"] = "not defined"
        st.table(side_by_side.set_index("Study"))
        st.caption("Murrough 2013 measured 24 hours after a single infusion, not after a course; the real-world cohorts had no "
                   "comparator. Rates: treatment vs comparator where the study had one (clinical reference §5).")

with tabs[4]:
    if tabs[4].open:
        proof = ui.fetch("course.proof")
        check, cal = proof["check"], proof["calibration"]
        st.caption("Each of the clinic's finished inductions judged against all the others (leave-one-out), as a "
                   "patient in induction is (clinical reference §9, thresholds in the [course] settings): at each "
                   "session from which a route is judged, how many courses were not on track, how many of those "
                   "responded anyway (false alarms), and how many of the eventual non-responders it caught, with 95 % "
                   "Wilson intervals. Whole clinic, main scale; the filters above do not apply.")
        if check.empty:
            st.info("Not enough finished courses yet to check the expected course on this clinic's data.",
                    icon=":material/info:")
        else:
            def ci(pair):
                return "—" if pair is None or pair != pair else f"{pair[0]:.0%}–{pair[1]:.0%}"
            table = pd.DataFrame({
                "route": [vocab.ROUTES.get(r, r) for r in check["route"]], "after session": check["session"],
                "courses": check["courses"], "not on track": check["not_on_track"],
                "responded anyway": check["responded_anyway"],
                "false alarms": [f"{r:.0%} ({ci(c)})" if r == r and r is not None else "—"
                                 for r, c in zip(check["false_alarm_rate"], check["false_alarm_ci95"])],
                "non-responders": check["non_responders"], "caught": check["caught"],
                "caught share": [f"{r:.0%} ({ci(c)})" if r == r and r is not None else "—"
                                 for r, c in zip(check["caught_rate"], check["caught_ci95"])],
                "what it means": check["verdict"]})
            if ui.counts_only():
                table = ui.suppressed(table, ["not on track", "responded anyway", "non-responders", "caught"])
            ui.word_table(table)
            if len(cal):
                ui.chart(charts.course_calibration(cal).to_dict())
                st.caption("Bins of at least 10 predictions by rank; on the dotted line the predicted chance held. A "
                           "course is counted at every session it was judged at, so bins are not independent.")
