"""Record a session: dose, times, vitals, scores, CADSS, MOAA/S and side effects; checked field by field,
saved in one transaction; the patient's new safety flags shown at once."""

import datetime as dt
import uuid

import pandas as pd
import streamlit as st

from kdash import scales, ui, vocab
from kdash.clinical import patient, recording, roster, rules
from kdash.importers.csv_folder import EFFECTS
from kdash.ui import checkin as ui_checkin

ui.require_app_frame()
cfg = ui.clinic_settings()
today = ui.today()
errors: dict = st.session_state.get("record_errors", {})


def problem(*keys: str) -> None:
    for k in keys:
        if k in errors:
            st.error(errors[k], icon=":material/error:")


st.title("Record a session")
pid = ui.patient_choice("record_session")
ui.patient_finder("record_session")
problem("patient_id")
if not pid:
    st.info("Type the patient's ID (or open this page from the patient's page).", icon=":material/person_search:")
    st.stop()
if patient.id_problem(pid):
    st.error(f"That patient ID cannot be used: {patient.id_problem(pid)}.", icon=":material/error:")
    st.stop()
h = ui.fetch("patient.header", patient_id=pid, today=today)
if h is None:
    st.error(f"No patient with ID {patient.plain(repr(pid))} in this store.", icon=":material/person_off:")
    st.stop()
ui.patient_heading(h)
ui.audit_view("view_record_session", pid)       # the page shows who the patient is and their sessions
st.caption(f"{int(h['n_sessions'] or 0)} sessions so far")
ui_checkin.todays_self_report(pid)       # the patient's own check-in before this session (clinical reference §8)


def initial(key: str, value) -> dict:
    """A widget's starting value, unless an edit has loaded one into its key."""
    return {} if key in st.session_state else {"value": value}


with st.expander("Edit or delete an earlier session of this patient"):
    done = ui.fetch("patient.record", patient_id=pid).sessions
    done = done[done["status"] == "completed"].sort_values("scheduled_at", ascending=False).head(20)
    if done.empty:
        st.caption("No completed session yet.")
    else:
        labels = {r.session_id: f"{r.scheduled_at:%Y-%m-%d %H:%M} · {roster.ROUTE_NAMES.get(r.route, r.route)} · "
                                + (f"{r.dose_mg:g} mg" if r.dose_mg == r.dose_mg else "dose not recorded")
                  for r in done.itertuples()}
        chosen_sid = st.selectbox("Session", list(labels), format_func=labels.get, key="rec_pick")
        left, right = st.columns(2)
        if left.button("Load it into the form to edit"):
            old = recording.load(ui.connection_for("recording.load"), chosen_sid)
            ui.audit_now("load_session", pid, detail=chosen_sid)
            st.session_state.update({
                "rec_editing": chosen_sid, "rec_day": old.day, "rec_route": old.route, "rec_phase": old.phase,
                "rec_chair": old.chair, "rec_weight": old.weight_kg, "rec_dose": old.dose_mg, "rec_start": old.start,
                "rec_end": old.end, "score-MADRS": old.scores.get("MADRS", ""), "score-PHQ9": old.scores.get("PHQ9", ""),
                "rec_cadss": old.cadss, "rec_moaas": old.moaas, "rec_effects": [e["effect"] for e in old.side_effects],
                "rec_vitals_start": pd.DataFrame(old.vitals or [{"minute": -5}]),
                "rec_ratings_start": pd.DataFrame(old.ratings or [{"minute": 40}]), "rec_rems": old.rems_form_sent_on,
                "record_errors": {}})
            for e in old.side_effects:
                st.session_state[f"sev-{e['effect']}"] = e["severity"]
            st.rerun()
        if right.button("Delete this session", type="secondary"):
            st.session_state["rec_delete"] = chosen_sid          # asked first: nothing is deleted on one click
        if st.session_state.get("rec_delete") == chosen_sid:
            st.warning(f"Delete the session of {patient.plain(labels[chosen_sid])} for {patient.plain(pid)}? Its vitals, scores and "
                       "side effects go with it (the audit log keeps a copy).", icon=":material/delete_forever:")
            yes, no = st.columns(2)
            if yes.button("Yes, delete it", type="primary", key="rec_delete_yes"):
                me = ui.user()
                recording.delete(ui.connection_for("recording.delete"), cfg, chosen_sid, username=me["name"])
                st.session_state.pop("rec_delete", None)
                ui.clear_caches()
                st.success(f"Deleted {patient.plain(labels[chosen_sid])}; the audit log keeps what it held.", icon=":material/delete:")
            if no.button("Keep it", key="rec_delete_no"):
                st.session_state.pop("rec_delete", None)
                st.rerun()
editing = st.session_state.get("rec_editing")
if editing:
    st.info(f"Editing session {patient.plain(editing)}: saving replaces it (its earlier version stays in the audit log).",
            icon=":material/edit:")

c = st.columns(4)
day = c[0].date_input("Date", max_value=today, format="YYYY-MM-DD", key="rec_day", **initial("rec_day", today))
problem("day")
routes = list(roster.ROUTE_NAMES)
route = c[1].selectbox("Route", routes, format_func=roster.ROUTE_NAMES.get, key="rec_route",
                       **({} if "rec_route" in st.session_state else
                          {"index": routes.index(h["route"]) if h["route"] in routes else 0}))
phase = c[2].selectbox("Phase", ["induction", "maintenance"], key="rec_phase", format_func=str.capitalize,
                       **({} if "rec_phase" in st.session_state else
                          {"index": 1 if (h["n_induction"] or 0) >= (h["planned_induction"] or 99) else 0}))
chair = c[3].selectbox("Chair", [None, *ui.fetch("throughput.chairs")], format_func=lambda v: v or "—", key="rec_chair")
c = st.columns(4)
weight = c[0].number_input("Weight (kg)", min_value=0.0, max_value=400.0, step=0.1, key="rec_weight",
                           **initial("rec_weight", None))
problem("weight_kg")
dose = c[1].number_input("Dose (mg)", min_value=0.0, max_value=2000.0, step=0.5, key="rec_dose",
                         **initial("rec_dose", None))
problem("dose_mg")
per_kg = recording.mg_per_kg(dose, weight)
if route == "esketamine":        # a fixed dose in 28 mg devices, never mg/kg
    c[1].caption(f"= {dose / 28:g} devices of 28 mg" if dose else "28, 56 or 84 mg: 1 to 3 devices")
else:
    c[1].caption(f"= {per_kg:.2f} mg/kg" if per_kg else "mg/kg shows once dose and weight are in")
start = c[2].time_input("Started", step=300, key="rec_start", **initial("rec_start", dt.time(9, 0)))
end = c[3].time_input("Ended", step=300, key="rec_end",
                      **initial("rec_end", dt.time(11, 15) if route == "esketamine" else dt.time(10, 15)))
problem("times")

st.subheader("Blood pressure and vitals")
discharge = 120 if route == "esketamine" else 70
start_vitals = st.session_state.get("rec_vitals_start")
if start_vitals is None:
    start_vitals = pd.DataFrame({"minute": [-5, 40, discharge]})
start_vitals = start_vitals.reindex(columns=["minute", "systolic", "diastolic", "heart_rate", "spo2"]).astype("Int64")
vitals = st.data_editor(
    start_vitals, num_rows="dynamic", hide_index=True, width="stretch", placeholder="—",
    key=f"vitals-{st.session_state.get('rec_editing') or 'new'}",
    column_config={"minute": st.column_config.NumberColumn("Minute from dose", min_value=-240, max_value=1440, step=1,
                                                           help="Minutes from the dose: −5 is five minutes before it"),
                   "systolic": st.column_config.NumberColumn("Systolic (mmHg)", step=1),
                   "diastolic": st.column_config.NumberColumn("Diastolic (mmHg)", step=1),
                   "heart_rate": st.column_config.NumberColumn("Heart rate (/min)", step=1),
                   "spo2": st.column_config.NumberColumn("SpO₂ (%)", step=1,
                                                         help="Oxygen saturation by pulse oximetry")})
problem(*[k for k in errors if k.startswith("vitals:")])

st.subheader("Scores")
c = st.columns(2)
score_inputs = {}
for col, code in zip(c, ("MADRS", "PHQ9")):
    s = scales.SCALES[code]
    score_inputs[code] = col.text_input(f"{s.name}: {s.n_items} item scores separated by ';', or the total",
                                        key=f"score-{code}")
    with col:
        problem(f"score:{code}")
st.markdown("**Dissociation (CADSS, 0–92) and sedation (MOAA/S, 5 = alert), by minute from the dose**")
st.caption("Rate at the peak (about 40 minutes) and again before discharge: dissociation should have settled and the "
           "patient be back to MOAA/S 5 by about 90 minutes.")
start_ratings = st.session_state.get("rec_ratings_start")
if start_ratings is None:
    start_ratings = pd.DataFrame({"minute": [40, discharge]})
start_ratings = start_ratings.reindex(columns=["minute", "cadss", "moaas"]).astype("Int64")
ratings = st.data_editor(
    start_ratings, num_rows="dynamic", hide_index=True, width="stretch", placeholder="—",
    key=f"ratings-{st.session_state.get('rec_editing') or 'new'}",
    column_config={"minute": st.column_config.NumberColumn("Minute from dose", min_value=-240, max_value=1440, step=1),
                   "cadss": st.column_config.NumberColumn(
                       "CADSS", min_value=0, max_value=92, step=1,
                       help="Clinician-Administered Dissociative States Scale, 0–92; above 4 is a caution flag"),
                   "moaas": st.column_config.NumberColumn(
                       "MOAA/S", min_value=0, max_value=5, step=1,
                       help="Modified Observer's Assessment of Alertness/Sedation: 5 alert, 0 no response; 3 or "
                            "less is deep sedation, a caution flag")})
problem("ratings", *[k for k in errors if k.startswith("ratings:")])
old_cadss, old_moaas = st.session_state.get("rec_cadss"), st.session_state.get("rec_moaas")
if old_cadss is not None or old_moaas is not None:     # an edit of a session rated once, without a minute
    st.caption(f"Also recorded without a minute: CADSS {old_cadss if old_cadss is not None else '—'}, "
               f"MOAA/S {old_moaas if old_moaas is not None else '—'} (kept as they are).")
problem("cadss", "moaas")
rems_sent = None
if route == "esketamine":
    rems_sent = st.date_input("REMS patient monitoring form sent on (due within "
                              f"{cfg['safety']['rems_form_days']} days)", value=None, min_value=day, max_value=today,
                              format="YYYY-MM-DD", key="rec_rems")
    problem("rems_form")

st.subheader("Side effects")
chosen = st.multiselect("Effects after this session", list(EFFECTS), format_func=lambda e: vocab.label(e, "effect"),
                        key="rec_effects")
effects = []
for i, effect in enumerate(chosen, start=1):
    severity = st.radio(f"{effect.replace('_', ' ')}: severity", ["mild", "moderate", "severe"], horizontal=True,
                        key=f"sev-{effect}")
    effects.append({"effect": effect, "severity": severity})
    problem(f"effect:{i}")

# Before dosing: what the clinician must read and confirm (stored with the session and audited).
rows = [r for r in vitals.to_dict("records") if any(pd.notna(r[k]) for k in ("systolic", "diastolic"))]
needs = [] if editing else ui.fetch(      # an edit corrects a session given already; cached per patient and route
    "recording.to_acknowledge", patient_id=pid, route=route, has_vitals=bool(rows), today=today)
acknowledged = False
if needs:
    st.warning("**Before this session is recorded, confirm that you have seen:**  \n"
               + "  \n".join(f"- {patient.plain(n)}" for n in needs), icon=":material/gpp_maybe:")
    acknowledged = st.checkbox("I have reviewed these and the session went ahead", key="rec_ack")
    problem("acknowledge")

# One save per filled-in form: the button's token is spent by the first save, so a second press (or a double
# click that reaches the server twice) cannot record the session again; a saved form is cleared.
token = st.session_state.setdefault("rec_token", uuid.uuid4().hex)
if st.button("Save session", type="primary") and st.session_state.get("rec_spent") != token:
    entry = recording.Entry(
        patient_id=pid, day=day, route=route, phase=phase, weight_kg=weight, dose_mg=dose, chair=chair,
        start=start, end=end, clinician=h["clinician"],
        vitals=[{k: (None if pd.isna(v) else int(v)) for k, v in r.items()} for r in rows],
        scores=score_inputs, cadss=old_cadss, moaas=old_moaas, side_effects=effects, rems_form_sent_on=rems_sent,
        ratings=[{k: (None if pd.isna(v) else int(v)) for k, v in r.items()} for r in ratings.to_dict("records")
                 if any(pd.notna(r[k]) for k in ("cadss", "moaas"))],      # a minute alone is an unused row
        acknowledged="; ".join(needs) if needs and acknowledged else None)
    found = recording.validate(ui.connection_for("recording.validate"), entry, today)
    if needs and not acknowledged:
        found["acknowledge"] = "tick the confirmation above: the warnings must be read before the session is recorded"
    st.session_state["record_errors"] = found
    if found:
        st.rerun()
    st.session_state["rec_spent"] = token
    sid = recording.save(ui.connection_for("recording.save"), cfg, entry, replaces=st.session_state.pop("rec_editing", None),
                         username=ui.user()["name"])
    ui.clear_caches()
    for key in [k for k in st.session_state if str(k).startswith(("rec_", "score-", "sev-", "vitals-", "ratings-"))
                and k not in ("rec_token", "rec_spent")]:
        del st.session_state[key]                 # a fresh, empty form for the next session …
    st.session_state["rec_token"] = uuid.uuid4().hex        # … with a token of its own
    st.session_state["record_saved"] = (sid, pid, day)
    st.rerun()

saved = st.session_state.get("record_saved")
if saved and saved[1] == pid:
    sid, _, saved_day = saved
    st.success(f"Saved session {patient.plain(sid)} for {saved_day:%Y-%m-%d}.", icon=":material/task_alt:")
    new = [f for f in rules.evaluate(patient.record(ui.connection_for("patient.record"), cfg, pid), cfg) if f.day == saved_day]
    serious = [f for f in new if f.severity in ("urgent", "high")]
    if serious:                                  # urgent and high apart from cautions, in red
        st.error("Act on these now: " + "; ".join(f"{vocab.SEVERITIES[f.severity]} {f.title}: {patient.plain(f.value)}"
                                                  for f in serious),
                 icon=":material/emergency:")
    if len(new) > len(serious):
        st.warning("Safety flags from this session: " + "; ".join(f"{vocab.SEVERITIES[f.severity]} {f.title}: {patient.plain(f.value)}"
                                                                  for f in new if f not in serious),
                   icon=":material/warning:")
    if not new:
        st.caption("No safety rule fired for this session.")
    st.page_link("pages/patient.py", label="Open the patient's progress page", icon=":material/monitoring:",
                 query_params={"patient_id": pid})
elif errors:
    st.error(f"Not saved: {len(errors)} field(s) need attention (marked above).", icon=":material/error:")
