"""Eligibility: the checklist of clinical reference §2 computed from the record, its evidence, and a
clinician's sign-off or override; with the list of referred patients awaiting a decision."""

import pandas as pd
import streamlit as st

from kdash import ui, vocab
from kdash.clinical import decisions, eligibility, patient, roster

ui.require_app_frame()

today = ui.today()
cfg = ui.clinic_settings()
STATUS = {"met": ":green[:material/check_circle:] met", "not_met": ":red[:material/cancel:] not met",
          "warning": ":orange[:material/warning:] warning", "unknown": ":gray[:material/help:] unknown"}
VERDICT = vocab.VERDICTS

st.title("Eligibility")
st.caption("Computed from the record by the rules of clinical reference §2; every item shows its evidence and "
           "source. Thresholds and the minimum-dose table are clinic-editable defaults, not a guideline.")

left, right = st.columns([2, 1])
with left:
    pid = ui.patient_choice("eligibility")
    ui.patient_finder("eligibility")

if pid:
    problem = patient.id_problem(pid)
    if problem:
        st.error(f"That patient ID cannot be used: {problem}.", icon=":material/error:")
        st.stop()
    found = ui.fetch("eligibility.checklist_for", today=today, patient_ids=(pid,))
    if not found:
        st.error(f"No patient with ID {patient.plain(repr(pid))} in this store.", icon=":material/person_off:")
        st.stop()
    ui.patient_heading(ui.fetch("patient.header", patient_id=pid, today=today))
    default_route = found[0]["route"]
    route = right.segmented_control("Route", list(eligibility.ROUTES), default=default_route,
                                    format_func=roster.ROUTE_NAMES.get) or default_route
    result = found[0] if route == default_route else \
        ui.fetch("eligibility.checklist_for", today=today, patient_ids=(pid,), route=route)[0]
    ui.audit_view("view_eligibility", pid)

    counts = pd.Series([i["status"] for i in result["items"]]).value_counts().to_dict()
    summary = (f"**{VERDICT[result['verdict']]}** for {roster.ROUTE_NAMES[route]} · "
               f"{counts.get('met', 0)} met, {counts.get('not_met', 0)} not met, "
               f"{counts.get('warning', 0)} warning{'' if counts.get('warning', 0) == 1 else 's'}, "
               f"{counts.get('unknown', 0)} unknown")
    {"eligible": st.success, "not_eligible": st.error, "needs_review": st.warning}[result["verdict"]](
        summary, icon={"eligible": ":material/check_circle:", "not_eligible": ":material/block:",
                       "needs_review": ":material/rate_review:"}[result["verdict"]])
    decision = result["override"]
    if decision:
        what = "Signed off" if decision["kind"] == "sign_off" else "Overridden"
        st.info(f"{what} by {ui.plain(decision['decided_by'])} on {decision['decided_at']}: "
                f"**{VERDICT[decision['verdict']]}**" + (f". Reason: {ui.plain(decision['reason'])}"
                                                         if decision["reason"] else ""),
                icon=":material/verified_user:")

    for group in eligibility.GROUPS:
        items = [i for i in result["items"] if i["group"] == group]
        st.subheader(group)
        for i in items:
            st.markdown(f"{STATUS[i['status']]} · **{i['label']}**: {ui.plain(i['detail'])}  \n"
                        f":gray[Source: {i['source']}]")

    st.subheader("Antidepressant trials")
    trials = ui.fetch("eligibility.trial_table", patient_id=pid, today=today)
    if trials.empty:
        st.caption("No antidepressant trial on file.")
    else:
        ui.data_table(trials)
        st.caption(f"Adequate: at or above the minimum dose (clinic-editable defaults) for at least "
                   f"{cfg['eligibility']['adequate_weeks']} weeks in the current episode; failed: no or partial "
                   "response. Intolerance is shown, not counted as a failure of efficacy.")

    st.subheader("Clinician's decision")
    with st.form("decision", clear_on_submit=False):
        kind = st.radio("Decision", list(decisions.KINDS), horizontal=True,
                        format_func={"sign_off": "Sign off the computed verdict",
                                     "override": "Override the verdict"}.get)
        new_verdict = st.selectbox("Verdict (for an override)", list(decisions.VERDICTS),
                                   index=list(decisions.VERDICTS).index(result["verdict"]), format_func=VERDICT.get)
        reason = st.text_area("Reason (required for an override)", max_chars=2000)
        submitted = st.form_submit_button("Record decision", type="primary")
    if submitted:
        try:
            me = ui.user()
            saved = decisions.record(ui.connection_for("decisions.record"), pid, route, kind,
                                     result["verdict"] if kind == "sign_off" else new_verdict, reason, me["name"],
                                     role=me["role"])
        except decisions.DecisionError as exc:
            st.error(f"Not recorded: {exc}.", icon=":material/error:")
        else:
            ui.clear_caches()
            st.success(f"Recorded: {VERDICT[saved['verdict']]} ({saved['kind'].replace('_', '-')}) by "
                       f"{ui.plain(saved['decided_by'])} at {saved['decided_at']}.", icon=":material/task_alt:")

st.header("Awaiting decision", divider="gray")
waiting = ui.fetch("eligibility.awaiting", today=today, limit=100)
if waiting.empty:
    st.caption(f"Every patient referred in the last {cfg['eligibility']['awaiting_days']} days has a decision or "
               "has started treatment.")
else:
    st.caption(f"{len(waiting)} patients referred in the last {cfg['eligibility']['awaiting_days']} days, not yet "
               "treated and without a decision (oldest referral first; at most 100 shown).")
    table = pd.DataFrame({
        "patient_id": waiting["patient_id"], "name": waiting["name"], "referred": waiting["referral_date"],
        "route": waiting["route"], "verdict": waiting["verdict"], "to_check": waiting["to_check"],
        "clinician": waiting["clinician"]})
    st.caption("Click a row to open that patient's checklist.")
    ui.patient_table(table, "eligibility", "awaiting_pick", column_config={
        "patient_id": st.column_config.TextColumn("Patient", width=75),
        "name": st.column_config.TextColumn("Name", width=150),
        "referred": st.column_config.DateColumn("Referred", width=95),
        "route": st.column_config.TextColumn("Route", width=100),
        "verdict": st.column_config.TextColumn("Verdict", width=100),
        "to_check": st.column_config.TextColumn("To check", width=200),
        "clinician": st.column_config.TextColumn("Clinician", width=110)})
