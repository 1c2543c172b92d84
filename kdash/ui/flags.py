"""The flag worklist and its acknowledgement form (kdash/clinical/worklist.py)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kdash import vocab
from kdash.ui.cache import clear_caches, clinic_settings, today
from kdash.ui.guard import audit_view, connection_for, fetch
from kdash.ui.session import user
from kdash.ui.show import data_table, patient_plain

WORKLIST_REFRESH_SECONDS = 30      # an open worklist redraws itself this often (a check-in's flag within a minute)

SEVERITY_TEXT = {k: vocab.SEVERITIES[k] for k in ("urgent", "high", "caution", "review")}   # one word everywhere


def flag_worklist(where: str) -> None:
    """The open safety flags, most severe and oldest first: a clicked row shows the flag with a way to open the
    patient (same tab) and to acknowledge it with one of the clinic's actions (kdash/clinical/worklist.py)."""
    from kdash.clinical import worklist
    cfg, me = clinic_settings(), user()["name"]
    mine = fetch("worklist.my_clinician", username=me)
    if mine:
        view = st.segmented_control("Flags of", ["mine", "all"], default="mine", key=f"worklist_view_{where}",
                                    format_func=lambda v: f"My patients ({mine})" if v == "mine" else "All patients")
    else:
        view = "all"
        st.caption("All patients' flags: your account is not linked to a clinician name for \"my patients\" (an "
                   "administrator can link it on the Users page).")
    rows = fetch("worklist.items", today=today(), clinician=mine if view == "mine" else None)
    # the worklist shows patients' names and evidence: audited as a list seen, like a roster view
    audit_view("view_worklist", None, detail=f"{where}: {'my patients' if view == 'mine' else 'all patients'}, "
                                            f"{len(rows)} open flags")
    if rows.empty:
        st.success("No open safety flag.", icon=":material/check_circle:")
        return
    overdue = int(rows["overdue"].sum())
    st.caption(f"{len(rows):,} open flag{'s' if len(rows) != 1 else ''}"
               + (f", **{overdue} urgent overdue** (not acknowledged within {cfg['flags']['overdue_hours']} h)"
                  if overdue else "") + ". Click a row to act on it.")
    table = pd.DataFrame({
        "Severity": [SEVERITY_TEXT[s] + (", overdue" if o else "") for s, o in zip(rows["severity"], rows["overdue"])],
        "Rule": rows["title"], "Since": [worklist_age(d) for d in rows["age_days"]],
        "Patient": [" ".join(str(x) for x in (g, f) if pd.notna(x)) or "Name not recorded"
                    for g, f in zip(rows["given_name"], rows["family_name"])],
        "Born": rows["birth_date"], "ID": rows["patient_id"],
        "Evidence": [e if n is None else f"{e} · {n}" for e, n in zip(rows["evidence"], map(worklist.newer_text,
                                                                                           rows.to_dict("records")))],
        **({} if view == "mine" else {"Clinician": rows["clinician"]})})     # my patients: all the same clinician
    # The clicked row is kept as (patient, rule), taken from the table as it was drawn when clicked: an index would
    # point at another patient's flag once this list changes (an acknowledgement here or by a colleague).
    shown, pick = f"worklist_rows_{where}", f"worklist_pick_{where}"
    st.session_state[shown] = list(zip(rows["patient_id"], rows["rule"]))

    grid = f"worklist_{where}_{st.session_state.get(f'worklist_gen_{where}', 0)}"   # a new key clears the selection

    def picked() -> None:
        chosen = st.session_state[grid].selection.rows
        drawn = st.session_state.get(f"{shown}_drawn", [])
        st.session_state[pick] = drawn[chosen[0]] if chosen and chosen[0] < len(drawn) else None

    small = st.column_config.TextColumn
    data_table(table, on_select=picked, selection_mode="single-row", key=grid, keep=tuple(table.columns),
               # widths that fit a 1280-pixel screen beside the sidebar
               column_config={"Severity": small("Severity", width=85), "Since": small("Since", width=85),
                              "Rule": small("Rule", width=170), "Patient": small("Patient", width=130),
                              "Born": st.column_config.DateColumn("Born", width=85),
                              "ID": small("ID", width=70),
                              "Evidence": small("Evidence", width=220 if view == "mine" else 135,
                                                help="The whole evidence is shown when the row is clicked"),
                              "Clinician": small("Clinician", width=85)})
    st.session_state[f"{shown}_drawn"] = st.session_state[shown]
    chosen = st.session_state.get(pick)
    match = rows[(rows["patient_id"] == chosen[0]) & (rows["rule"] == chosen[1])] if chosen else rows.iloc[0:0]
    if len(match):
        flag_panel(match.iloc[0].to_dict(), where)


def worklist_age(days: int) -> str:
    from kdash.clinical import worklist
    return worklist.age_text(int(days))


def flag_panel(r: dict, where: str) -> None:
    """One open flag: the patient's two identifiers, the evidence, "open the patient" and the acknowledgement."""
    from kdash.clinical import patient as patient_
    from kdash.clinical import rules, worklist
    who = patient_.identity(r)
    with st.container(border=True):
        st.markdown(f"**{who}**  \n{SEVERITY_TEXT[r['severity']]} · {rules.RULES[r['rule']].title}: "
                    f"{patient_.plain(r['evidence'])} ({worklist.age_text(int(r['age_days']))}"
                    + (f"; {int(r['n_evidence'])} pieces of evidence since {pd.Timestamp(r['first_day']):%Y-%m-%d}"
                       if r["n_evidence"] > 1 else "") + ")"
                    + (f"  \n**New evidence**, {patient_.plain(newer)}: still open until a clinician acts."
                       if (newer := worklist.newer_text(r)) else ""))
        if st.button("Open this patient", icon=":material/monitoring:", key=f"open_{where}"):
            forget_pick(where)
            st.switch_page("pages/patient.py", query_params={"patient_id": str(r["patient_id"])})
        acknowledge_form(r["patient_id"], r["rule"], f"{where}_{r['patient_id']}_{r['rule']}", where=where)


def forget_pick(where: str) -> None:
    """Nothing selected in the worklist any more (the browser keeps a grid's selection unless its key changes)."""
    st.session_state.pop(f"worklist_pick_{where}", None)
    st.session_state[f"worklist_gen_{where}"] = st.session_state.get(f"worklist_gen_{where}", 0) + 1


def acknowledge_form(patient_id: str, rule: str, key: str, where: str | None = None) -> None:
    """Acknowledge an open flag with an action from the clinic's list and an optional note (stored, audited)."""
    from kdash.clinical import rules, worklist
    cfg = clinic_settings()
    with st.form(f"ack_{key}", clear_on_submit=True, border=False):
        cols = st.columns([2, 3, 1], vertical_alignment="bottom")
        action = cols[0].selectbox("Action taken", cfg["flags"]["actions"], index=None,
                                   placeholder="Choose the action", key=f"ack_action_{key}")
        note = cols[1].text_input("Note (optional)", max_chars=worklist.NOTE_MAX, key=f"ack_note_{key}")
        done = cols[2].form_submit_button("Acknowledge", type="primary")
    if done:
        if action is None:
            st.error("Choose the action taken before acknowledging.", icon=":material/error:")
            return
        try:
            through = worklist.acknowledge(connection_for("worklist.acknowledge"), cfg, patient_id, rule, action,
                                           note, by=user()["name"], today=today())
        except worklist.AckError as exc:
            st.error(f"Not acknowledged: {exc}.", icon=":material/error:")
            return
        clear_caches()
        if where:
            forget_pick(where)          # nothing stays selected: the next click is a deliberate one
        st.session_state["ack_note"] = (f"{rules.RULES[rule].title} acknowledged for {patient_id} ({action}); "
                                        f"evidence up to {through:%Y-%m-%d} is covered, new evidence opens a new flag.")
        st.rerun()


def ack_note() -> None:
    note = st.session_state.pop("ack_note", None)
    if note:
        st.success(patient_plain(note), icon=":material/task_alt:")


def course_prompts(where: str) -> None:
    """Courses not on track (clinical reference §9): review prompts, apart from the safety flags in colour and words,
    each with its rule, threshold and the reference n in its reason."""
    rows = fetch("course.not_on_track", today=today())
    mine = fetch("worklist.my_clinician", username=user()["name"])
    if st.session_state.get(f"worklist_view_{where}", "mine") == "mine" and mine:
        rows = rows[rows["clinician"] == mine]
    label = f"Review prompts: courses not on track ({len(rows)})"
    with st.expander(label, icon=":material/insights:"):
        if rows.empty:
            st.caption("No course in induction is behind the clinic's earlier courses of its route.")
            return
        audit_view("view_course_prompts", None, detail=f"{where}: {len(rows)} courses not on track")
        from kdash.clinical import course
        data_table(pd.DataFrame({
            "Patient": [" ".join(str(x) for x in (g, f) if pd.notna(x)) or "Name not recorded"
                        for g, f in zip(rows["given_name"], rows["family_name"])],
            "ID": rows["patient_id"], "After": [f"{course.ROUTE_WORDS.get(r, 'session')} {k}"
                                                for r, k in zip(rows["route"], rows["session"])],
            "Change": [course.change_text(p) for p in rows["pct_change"]], "Why": rows["reason"]}),
            keep=("Why", "After", "Change"))
        st.caption("A review prompt from the clinic's own history, not a safety flag: open the patient for the "
                   "expected course and its numbers.")
