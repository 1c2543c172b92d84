"""Patient progress (/patient?patient_id=ID): header, safety flags, mood-score trends, item view, session safety."""

import pandas as pd
import streamlit as st

from kdash import ui, vocab
from kdash.clinical import eligibility, patient, roster, rules
from kdash.clinical.sections import Failed
from kdash.ui import checkin as ui_checkin

ui.require_app_frame()

today = ui.today()
cfg = ui.clinic_settings()

st.title("Patient progress")
pid = ui.patient_choice("patient", help="Open a patient from the Patients list, or type the ID.")
ui.patient_finder("patient")
if not pid:
    st.info("Choose a patient on the Patients page, or type an ID above.", icon=":material/person_search:")
    st.stop()
problem = patient.id_problem(pid)
if problem:
    st.error(f"That patient ID cannot be used: {problem}.", icon=":material/error:")
    st.stop()
v = ui.fetch("patient.view", patient_id=pid, today=today, by=st.session_state.get("time_axis") or "auto")
if v is None:
    st.error(f"No patient with ID {patient.plain(repr(pid))} in this store.", icon=":material/person_off:")
    st.stop()
by = v["by"]              # "auto": by session once treated, else by date
ui.audit_view("view_patient", pid)
h, open_now = v["header"], v["open"]

# --- header -----------------------------------------------------------------------------------------
ui.patient_heading(h)
planned = h["planned_induction"]
top = st.columns(4)
top[0].metric("Age · sex", f"{h['age'] if pd.notna(h['age']) else '—'} · {h['sex'] if pd.notna(h['sex']) else '—'}",
              help=f"Sex: {vocab.SEX.get(h['sex'], 'not recorded')}.")
# short words fit the tile on a 1280-pixel screen; the full name is in its help
top[1].metric("Diagnosis", {"mdd": "MDD", "bipolar_depression": "Bipolar", "pdd": "PDD", "other": "Other"}.get(
    h["primary_diagnosis"], "—"), help=vocab.DIAGNOSES.get(h["primary_diagnosis"], "No primary diagnosis recorded.")
    .capitalize() + ".")
top[2].metric("Route", roster.ROUTE_NAMES.get(h["route"], "Not started"))
top[3].metric("Phase", (v["phase"] or "unknown").capitalize())
low = st.columns(4)
low[0].metric("Sessions done", f"{int(h['n_sessions'] or 0)}")
low[1].metric("Induction", f"{int(h['n_induction'] or 0)} / {planned}" if planned else "—",
              help="Completed induction sessions of the planned course for this route.")
low[2].metric("Days since first treatment", "—" if h["days_since_first"] is None else f"{h['days_since_first']}")
open_rules = rules.by_rule(open_now)
low[3].metric("Open flags", f"{len(open_rules)}", help="Safety rules with evidence not yet acknowledged and not cleared "
              f"by a later observation, as listed below ({len(open_now)} pieces of evidence).")
next_text = f"next session {h['next_session']:%a %d %b %H:%M}" if pd.notna(h["next_session"]) else "no session booked"
VERDICT = {"eligible": "eligible", "not_eligible": "not eligible", "needs_review": "needs review"}
e = v["eligibility"]
if isinstance(e, Failed) or e is None:
    eligibility_text = "eligibility could not be computed (see the Eligibility page)"
else:
    decided = e["override"]
    eligibility_text = (f"eligibility for {roster.ROUTE_NAMES[e['route']]}: {VERDICT[e['verdict']]} (computed)"
                        + (f", {VERDICT[decided['verdict']]} ({decided['kind'].replace('_', '-')} by "
                           f"{decided['decided_by']}, {decided['decided_at'][:10]})" if decided else ", no decision yet"))
referred = f"referred {h['referral_date']:%Y-%m-%d}" if pd.notna(h["referral_date"]) else "referral date not recorded"
clinician = f"Clinician {ui.plain(h['clinician'])}" if pd.notna(h["clinician"]) else "No clinician recorded"
st.caption(f"{clinician} · {referred} · {next_text} · {eligibility_text}")
med = v["medication"]
st.markdown("**Antidepressants now:** " + ("; ".join(ui.plain(m) for m in med["antidepressants"])
                                          or "none on file (from the trial history)")
            + "  \n**Last dose:** " + (med["last_dose"] or "no session yet"))
# Page links move within this tab and signed-in session (a markdown link would open a new tab, a new session).
links = st.columns([1, 1, 1.4])
links[0].page_link("pages/eligibility.py", label="Eligibility checklist", icon=":material/checklist:",
                   query_params={"patient_id": pid})
links[1].page_link("pages/record_session.py", label="Record a session", icon=":material/edit_note:",
                   query_params={"patient_id": pid})
links[2].page_link("pages/conference.py", label=f"Present as {v['case']}", help="The de-identified case-conference view",
                   icon=":material/co_present:", query_params={"case": v["case"]})

# --- safety flags -------------------------------------------------------------------------------------
st.header("Safety flags", divider="gray")
ui_checkin.todays_self_report(pid)
BADGE = {"urgent": ":red-badge[:material/emergency: Urgent]", "high": ":orange-badge[:material/warning: High]",
         "caution": ":yellow-badge[:material/error: Caution]", "review": ":blue-badge[:material/info: Review]"}


def show(group: list[rules.Flag], newer: str | None = None) -> None:
    """One rule: its latest evidence, earlier evidence in brief, a later observation kept on an urgent flag as new
    evidence, the threshold and the source."""
    latest, rule = group[0], rules.RULES[group[0].rule]
    also = "; ".join(f"{ui.plain(f.value)} ({f.day:%d %b})" for f in group[1:6]) + (" …" if len(group) > 6 else "")
    st.markdown(f"{BADGE[latest.severity]} **{rule.title}**: {ui.plain(latest.value)} on {latest.day:%Y-%m-%d}"
                + (f"  \nAlso: {also}" if also else "")
                + (f"  \n**New evidence**, {ui.plain(newer)}: still open until a clinician acts." if newer else "")
                + f"  \n:gray[Rule: {rules.threshold_text(latest.rule, cfg)} · Source: {rule.source}]")


ui.ack_note()
if open_now:
    st.caption("Open until acknowledged or cleared by a later observation, whatever their age; most severe first.")
    for group in open_rules:
        show(group, v["newer"].get(group[0].rule))
        ui.acknowledge_form(pid, group[0].rule, f"patient_{group[0].rule}")
else:
    st.success("No open safety flag.", icon=":material/check_circle:")
if not isinstance(e, Failed) and not h["deceased"] and eligibility.undecided(e, bool(h["n_sessions"])):
    st.warning(f"{BADGE['review']} **Treated without an eligibility decision**: the computed verdict for "
               f"{roster.ROUTE_NAMES[e['route']]} is {VERDICT[e['verdict']]} and no clinician's sign-off or override "
               "is on file. Review the checklist and record a decision (an override needs a written reason).",
               icon=":material/rule:")
    st.page_link("pages/eligibility.py", label="Record the eligibility decision", icon=":material/checklist:",
                 query_params={"patient_id": pid})
earlier = [f for f in v["flags"] if f not in open_now]
acks = v["acks"]
if earlier or not acks.empty:
    with st.expander(f"Flag history ({len(earlier)} earlier, {len(acks)} acknowledgement{'s' if len(acks) != 1 else ''})"):
        if not acks.empty:
            ui.data_table(pd.DataFrame({
                "Acknowledged": acks["acknowledged_at"], "By": acks["acknowledged_by"],
                "Rule": [rules.RULES[r].title if r in rules.RULES else r for r in acks["rule"]],
                "Evidence up to": acks["through_day"], "Action": acks["action"], "Note": acks["note"]}),
                keep=("Action", "Rule"),
                column_config={"Acknowledged": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                               "Evidence up to": st.column_config.DateColumn()})
        for group in rules.by_rule(earlier):
            show(group)



def course_view(pid: str, route: str) -> None:
    """Is this patient on track against the clinic's earlier courses of the route (clinical reference §9)?"""
    from kdash.clinical import course
    from kdash.present import charts
    ref = ui.fetch("course.reference_for", route=route)
    doc = course.course(ui.connection_for("course.course"), cfg, pid, ref=ref)
    badge = ":violet-badge[:material/insights: NOT ON TRACK]" if doc["on_track"] is False else \
        ":gray-badge[:material/insights: on track]" if doc["on_track"] else ":gray-badge[:material/insights: course]"
    st.markdown(f"{badge} **Expected course:** {ui.plain(doc['sentence'])}")
    box = st.expander("Against the clinic's earlier courses", key="course_open", on_change="rerun")
    with box:
        if box.open:
            ui.chart(charts.expected_course(doc, response_pct=cfg["outcomes"]["response_pct"]).to_dict())
            st.caption(f"Earlier courses: other patients' finished inductions of this route on {doc['scale']}, with a "
                       "baseline (clinical reference §9); band shown where at least "
                       f"{cfg['course']['min_reference']} have a score after that session, percentiles by linear "
                       "interpolation. A review prompt, not a safety flag.")


# --- mood-score trends --------------------------------------------------------------------------------
st.header("Mood scores", divider="gray")
for broken in [t for t in v["trends"] if isinstance(t, Failed)]:
    ui.failed(broken)
trends = [t for t in v["trends"] if not isinstance(t, Failed)]
if not trends:
    st.info("No depression scale recorded yet." + (" Other scores are below." if v["other_scales"] else ""),
            icon=":material/info:")
else:
    with ui.section("mood-score trend"):
        names = {t["code"]: t["name"] for t in trends}
        pick, axis = st.columns([3, 2])
        code = pick.segmented_control("Scale", list(names), default=list(names)[0], format_func=names.get,
                                      key="scale") or list(names)[0]
        code = code if code in names else list(names)[0]
        axis.segmented_control("Time axis", ["session", "date"], default=by, key="time_axis",
                               format_func=lambda x: "By session" if x == "session" else "By date")
        t = next(t for t in trends if t["code"] == code)
        ui.chart(t["trend"])
        st.markdown(f"**{t['sentence']}**")
        with st.expander("Numbers behind the chart"):
            ui.data_table(t["table"])
            ui.csv_download(t["table"], f"{pid}-{code}.csv", "patient.page_view", patient_id=pid)
        if t["items"]:
            # Drawn when opened (on_change="rerun"): five charts at once took 0.4 s to draw in a browser (issue 20).
            items = st.expander("Item scores, session by session", key="items_open", on_change="rerun")
            with items:
                if items.open:
                    ui.chart(t["items"])
        if code == cfg["clinic"]["main_scale"] and h["route"]:
            course_view(pid, h["route"])
        if t["totals_only"]:
            st.caption(f"{t['totals_only']} of the {t['name']} scores were recorded as a total without item scores, so "
                       "they have no place in the item view.")

# --- other scales and readings ---------------------------------------------------------------------------
others, outside = v["other_scales"], v["outside_bp"]
if others or outside:
    st.header("Other scores and readings", divider="gray")
    for broken in [x for x in [*others, outside] if isinstance(x, Failed)]:
        ui.failed(broken)
    for o in [x for x in others if not isinstance(x, Failed)]:
        st.subheader(o["name"])
        ui.chart(o["chart"])
        with st.expander(f"{o['name']} scores"):
            ui.data_table(o["table"])
    if outside and not isinstance(outside, Failed):
        st.subheader("Blood pressure outside sessions")
        ui.chart(outside["chart"])
        st.caption("Screening and other readings outside a session, by date; eligibility reads the latest before "
                   f"the first treatment, within {cfg['eligibility']['bp_valid_days']} days of it.")
        with st.expander("Readings"):
            ui.data_table(outside["table"])

# --- check-in -------------------------------------------------------------------------------------------
st.header("Check-in and self-reports", divider="gray")
if h["deceased"]:
    st.caption("The record says this patient has died: no check-in code is issued.")
else:
    ui_checkin.checkin_panel(pid)

# --- session safety -----------------------------------------------------------------------------------
st.header("Session safety", divider="gray")
safety = v["safety"]
if isinstance(safety, Failed):
    ui.failed(safety)
else:
    with ui.section("session safety"):
        # One tab drawn at a time (on_change="rerun"); the flags above already name any reading over a line.
        tabs = st.tabs(["Blood pressure", "Dissociation and sedation", "Side effects"], key="safety_section",
                       on_change="rerun")
        with tabs[0]:
            if tabs[0].open:
                if safety["bp_chart"]:
                    ui.chart(safety["bp_chart"])
                    with st.expander("Numbers behind the chart"):
                        ui.data_table(safety["bp"])
                        ui.csv_download(safety["bp"], f"{pid}-bp.csv", "patient.page_view", patient_id=pid)
                else:
                    st.info("No blood pressure recorded during a session yet.", icon=":material/info:")
        with tabs[1]:
            if tabs[1].open:
                if safety["alertness"]:
                    ui.chart(safety["alertness"])
                    st.caption("CADSS: the Clinician-Administered Dissociative States Scale, 0–92; a peak above "
                               f"{cfg['safety']['cadss_max']} is marked dissociation. MOAA/S: the Modified Observer's "
                               "Assessment of Alertness/Sedation, 5 alert to 0 no response; "
                               f"{cfg['safety']['moaas_min']} or less is deep sedation.")
                else:
                    st.caption("No dissociation (CADSS) or sedation (MOAA/S) score recorded yet.")
        with tabs[2]:
            if tabs[2].open:
                if safety["effects_chart"]:
                    ui.chart(safety["effects_chart"])
                    with st.expander("Side effects, session by session"):
                        ui.data_table(safety["effects"])
                else:
                    st.caption("No side effects recorded.")
with st.expander(f"All bookings ({len(v['sessions'])})"):
    ui.data_table(v["sessions"], column_config={
        "scheduled_at": st.column_config.DatetimeColumn("Booked for", format="YYYY-MM-DD HH:mm"),
        "mg_per_kg": st.column_config.NumberColumn("mg/kg", format="%.2f")})
