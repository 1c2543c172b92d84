"""Clinic at a glance: active patients, this week's sessions, the latest response rate, open safety flags."""

import pandas as pd
import streamlit as st

from kdash import rulebook, ui
from kdash.clinical import rules
from kdash.present import charts
from kdash.ui import checkin as ui_checkin

ui.require_app_frame()

today = ui.today()
glance = ui.fetch("clinic.at_a_glance", today=today)
out = glance["outcomes"]

st.title("Clinic at a glance")
st.caption(f"As of {today:%A %d %B %Y}")

c1, c2, c3, c4 = st.columns(4)
phases = glance["phases"]
c1.metric("Active patients", f"{glance['active_patients']:,}",
          delta=f"{phases['referred'] + phases['waiting']:,} not yet treated", delta_color="off", delta_arrow="off",
          help=f"Active: {rulebook.ACTIVE_MEANS[0].lower()}{rulebook.ACTIVE_MEANS[1:]} Now: "
               f"{phases['induction']:,} in induction, {phases['maintenance']:,} in maintenance, "
               f"{phases['waiting']:,} waiting for a first session, {phases['referred']:,} referred. The same "
               "patients as the Patients page's Active filter.")
c2.metric("Sessions this week", f"{glance['sessions_this_week']:,}",
          delta=f"{glance['sessions_this_week'] - glance['sessions_last_week']:+,} vs last week",
          delta_color="off", delta_arrow="off",
          help=f"Sessions of this week, Monday to Sunday, done or still booked (and any missed), against last week's "
               f"counted the same way ({glance['sessions_last_week']:,}); cancelled ones are left out of both.")
if out["n_evaluable"]:
    low, high = out["response_ci95"]
    c3.metric(f"Response rate, {out['scale']}", ui.percent(out["response_rate"]),
              delta=f"95% CI {low:.0%}–{high:.0%}, n = {out['n_evaluable']}", delta_color="off", delta_arrow="off",
              help="Courses begun in the last 12 months, all treated, last observation vs baseline; "
                   "response = a fall of at least 50 % (clinical reference §1), with a 95 % Wilson interval (one "
                   "that stays honest with few patients).")
else:
    c3.metric(f"Response rate, {out['scale']}", "n/a", help="No evaluable course in the last 12 months.")
flags = glance["flags"]
n = ui.count_text      # a manager sees patient counts of 1 to 4 as "<5"
c4.metric("Open safety flags", f"{n(flags['urgent'])} urgent",
          delta=f"{n(flags['overdue'])} overdue · {n(flags['high'])} high · {n(flags['caution'])} caution",
          delta_color="off", delta_arrow="off",
          help="Patients with a flag of clinical reference §4 not yet acknowledged and not cleared by a later "
               "observation, whatever its age, each counted once per severity; overdue: urgent flags not "
               "acknowledged within the clinic's time.")



@st.fragment(run_every=ui.WORKLIST_REFRESH_SECONDS)
def worklist() -> None:
    """Redrawn every half minute while open, alone (what is typed in an acknowledgement stays): a patient's
    check-in answer reaches it within a minute without a reload (clinical reference §8)."""
    ui.fragment_guard()
    ui.ack_note()
    ui.flag_worklist("home")
    ui.course_prompts("home")


if ui.user()["role"] == "clinician":      # managers see counts only
    st.subheader("Safety-flag worklist")
    worklist()
    ui_checkin.todays_checkins(today)

left, right = st.columns([3, 2])
with left:
    weekly = ui.fetch("clinic.sessions_per_week", today=today, weeks=12)
    if len(weekly) and weekly["sessions"].sum():
        ui.chart(charts.sessions_per_week(weekly))
        with st.expander("Numbers behind the chart"):
            ui.data_table(weekly)
    else:                   # a new clinic, or one whose imports are all older: an empty chart says nothing
        st.subheader("Sessions per week")
        st.info("No session booked in the last 12 weeks.", icon=":material/event_busy:")
with right:
    st.subheader("Open safety flags by rule")
    rows = sorted(glance["flag_rules"],            # most severe first, then most patients, then the rule's name
                  key=lambda r: (rules.SEVERITY_ORDER[r["severity"]], -r["patients"], rules.RULES[r["rule"]].title))
    table = pd.DataFrame([{"rule": rules.RULES[r["rule"]].title, "severity": r["severity"], "patients": r["patients"]}
                          for r in rows])
    if len(table):
        ui.word_table(ui.suppressed(table, ["patients"]))    # a rule's title wraps in this narrow column
    else:
        st.success("No open safety flag.", icon=":material/check_circle:")
    st.subheader("Outcome, last 12 months")
    st.write(f"{out['n_treated']:,} patients treated, {out['n_evaluable']:,} evaluable on {out['scale']}; "
             f"{out['responders']:,} responders and " + (
                 f"{out['remitters']:,} remitters ({ui.percent(out['remission_rate'])} remission)."
                 if out["remitters"] is not None else "remission not defined for this scale."))
