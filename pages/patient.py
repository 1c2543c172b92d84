"""Patient progress (/patient?patient_id=ID): header, mood-score trends, item view, session safety, flags."""

import pandas as pd
import streamlit as st

from kdash import charts, patient, roster, rules, scales, ui

ui.require_app_frame()

today = ui.today()
cfg = ui.clinic_settings()

st.title("Patient progress")
given = st.query_params.get("patient_id")
typed = st.text_input("Patient ID", value=given or "", placeholder="e.g. P000123",
                      help="Open a patient from the Patients list, or type the ID.")
pid = typed.strip()
if not pid:
    st.info("Choose a patient on the Patients page, or type an ID above.", icon=":material/person_search:")
    st.stop()
problem = patient.id_problem(pid)
if problem:
    st.error(f"That patient ID cannot be used: {problem}.", icon=":material/error:")
    st.stop()
h = ui.fetch("patient.header", patient_id=pid, today=today)
if h is None:
    st.error(f"No patient with ID {pid!r} in this store.", icon=":material/person_off:")
    st.stop()
if given != pid:
    st.query_params["patient_id"] = pid

rec = ui.fetch("patient.record", patient_id=pid)
flags = rules.evaluate(rec, cfg)
open_now = rules.open_flags(flags, cfg, today)
phase = patient.phase(h, today, cfg)

# --- header -----------------------------------------------------------------------------------------
st.subheader(f"{h['given_name']} {h['family_name']} · {pid} · {h['mrn']}")
planned = h["planned_induction"]
top = st.columns(4)
top[0].metric("Age · sex", f"{h['age']} · {h['sex']}")
top[1].metric("Diagnosis", {"mdd": "MDD", "bipolar_depression": "Bipolar depression", "pdd": "PDD"}.get(
    h["primary_diagnosis"], h["primary_diagnosis"] or "not recorded"))
top[2].metric("Route", roster.ROUTE_NAMES.get(h["route"], "none yet"))
top[3].metric("Phase", phase.capitalize())
low = st.columns(4)
low[0].metric("Sessions done", f"{int(h['n_sessions'] or 0)}",
              help=f"Induction plans {planned} sessions for this route." if planned else None)
low[1].metric("Induction", f"{int(h['n_induction'] or 0)} / {planned}" if planned else "—")
low[2].metric("Days since first treatment", "—" if h["days_since_first"] is None else f"{h['days_since_first']}")
low[3].metric("Open flags", f"{len(open_now)}",
              help=f"Safety rules with evidence from the last {cfg['safety']['flag_window_days']} days.")
st.caption(f"Clinician {h['clinician']} · referred {h['referral_date']:%Y-%m-%d} · "
           + (f"next session {h['next_session']:%a %d %b %H:%M}" if pd.notna(h["next_session"]) else "no session booked")
           + " · eligibility: see the Eligibility page")

# --- safety flags -------------------------------------------------------------------------------------
st.header("Safety flags", divider="gray")
BADGE = {"urgent": ":red-badge[:material/emergency: URGENT]", "high": ":orange-badge[:material/warning: HIGH]",
         "caution": ":yellow-badge[:material/error: CAUTION]", "review": ":blue-badge[:material/info: REVIEW]"}


def show(group: list[rules.Flag]) -> None:
    """One rule: its latest evidence, earlier evidence in brief, the threshold and the source."""
    latest, rule = group[0], rules.RULES[group[0].rule]
    also = "; ".join(f"{f.value} ({f.day:%d %b})" for f in group[1:6]) + (" …" if len(group) > 6 else "")
    st.markdown(f"{BADGE[latest.severity]} **{rule.title}**: {latest.value} on {latest.day:%Y-%m-%d}"
                + (f"  \nAlso: {also}" if also else "")
                + f"  \n:gray[Rule: {rules.threshold_text(latest.rule, cfg)} · Source: {rule.source}]")


def by_rule(flags: list[rules.Flag]) -> list[list[rules.Flag]]:
    groups: dict[str, list[rules.Flag]] = {}
    for f in flags:                       # already most severe first, then most recent first
        groups.setdefault(f.rule, []).append(f)
    return list(groups.values())


if open_now:
    st.caption(f"Open: evidence from the last {cfg['safety']['flag_window_days']} days, most severe first.")
    for group in by_rule(open_now):
        show(group)
else:
    st.success(f"No safety rule fired in the last {cfg['safety']['flag_window_days']} days.",
               icon=":material/check_circle:")
earlier = [f for f in flags if f not in open_now]
if earlier:
    with st.expander(f"Earlier flags ({len(earlier)})"):
        for group in by_rule(earlier):
            show(group)

# --- mood-score trends --------------------------------------------------------------------------------
st.header("Mood scores", divider="gray")
present = [code for code in scales.DEPRESSION_SCALES if (rec.assessments["scale"] == code).any()]
done = patient.completed_sessions(rec)
if not present:
    st.info("No depression scale recorded yet.", icon=":material/info:")
else:
    by = st.segmented_control("Time axis", ["session", "date"], default="session",
                              format_func=lambda v: "By session" if v == "session" else "By date") or "session"
    for tab, code in zip(st.tabs([scales.SCALES[c].name for c in present]), present):
        scale = scales.SCALES[code]
        with tab:
            scores = patient.scale_scores(rec, code)
            base = rules.baseline(rec, code, cfg)
            status, sentence = patient.status_line(rec, scale, cfg)
            fig = charts.mood_trend(scores, done, scale, base[0] if base else None, cfg["remission"].get(code),
                                    cfg["outcomes"]["response_pct"], by)
            st.plotly_chart(fig, theme=None, width="stretch", key=f"trend-{code}")
            st.markdown(f"**{sentence}**")
            table = scores[["assessed_on", "after_session", "total"]].rename(
                columns={"assessed_on": "date", "after_session": "sessions before"})
            with st.expander("Numbers behind the chart"):
                st.dataframe(table, hide_index=True, width="stretch")
                st.download_button("Download CSV", table.to_csv(index=False), f"{pid}-{code}.csv", "text/csv",
                                   key=f"csv-{code}")
            with_items = scores[scores["items"].notna()]
            if scale.n_items and len(with_items):
                st.plotly_chart(charts.item_heatmap(with_items, scale, by), theme=None, width="stretch",
                                key=f"items-{code}")

# --- session safety -----------------------------------------------------------------------------------
st.header("Session safety", divider="gray")
bp = patient.bp_by_session(rec)
s = cfg["safety"]
if bp.empty:
    st.info("No blood pressure recorded during a session yet.", icon=":material/info:")
else:
    left, right = st.columns(2)
    left.plotly_chart(charts.session_bp(bp, "systolic", s["predose_systolic_max"], s["postdose_systolic_max"]),
                      theme=None, width="stretch")
    right.plotly_chart(charts.session_bp(bp, "diastolic", s["predose_diastolic_max"], s["postdose_diastolic_max"]),
                       theme=None, width="stretch")
    with st.expander("Numbers behind the charts"):
        bp_table = bp[["session_number", "day", "minute", "point", "systolic", "diastolic", "heart_rate", "spo2"]]
        st.dataframe(bp_table, hide_index=True, width="stretch")
        st.download_button("Download CSV", bp_table.to_csv(index=False), f"{pid}-bp.csv", "text/csv")
left, right = st.columns(2)
cadss = patient.session_scale(rec, "CADSS")
moaas = patient.session_scale(rec, "MOAAS")
if len(cadss):
    left.plotly_chart(charts.session_scale(cadss, scales.SCALES["CADSS"], s["cadss_max"],
                                           f"Dissociation > {s['cadss_max']}"), theme=None, width="stretch")
if len(moaas):
    right.plotly_chart(charts.session_scale(moaas, scales.SCALES["MOAAS"], s["moaas_min"],
                                            f"Sedation ≤ {s['moaas_min']}"), theme=None, width="stretch")
effects = ui.fetch("patient.side_effects", patient_id=pid)
if len(effects):
    effects = effects.merge(done[["session_id", "session_number"]], on="session_id")
    st.plotly_chart(charts.side_effect_grid(effects), theme=None, width="stretch")
    with st.expander("Side effects, session by session"):
        st.dataframe(effects[["session_number", "day", "effect", "severity"]], hide_index=True, width="stretch")
else:
    st.caption("No side effects recorded.")
sessions = rec.sessions[["scheduled_at", "status", "route", "phase", "dose_mg", "mg_per_kg", "chair",
                         "chair_minutes", "session_number"]]
with st.expander(f"All bookings ({len(sessions)})"):
    st.dataframe(sessions, hide_index=True, width="stretch")
