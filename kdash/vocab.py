"""Words, not codes: every code the store holds and every column a page or file shows, with its label.

Pages, tables, CSV downloads and packs all take their words from here, so a screen never shows `no_show`,
`heart_rate` or `None`: a code has a label, a column a header (with its unit), an empty value "—", and a
timestamp at midnight is a date.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from kdash.rulebook import RULES as _RULES

EMPTY = "—"

ROUTES = {"iv_ketamine": "IV ketamine", "esketamine": "Esketamine", "sc_ketamine": "SC ketamine",
          "im_ketamine": "IM ketamine", "oral_ketamine": "Oral ketamine"}
SESSION_STATUSES = {"completed": "Completed", "scheduled": "Scheduled", "cancelled": "Cancelled", "no_show": "No-show"}
PHASES = {"induction": "Induction", "maintenance": "Maintenance", "referred": "Referred", "finished": "Finished",
          "stopped": "Stopped", "deceased": "Deceased"}
ROLES = {"clinician": "Clinician", "manager": "Clinic manager", "presenter": "Presenter", "admin": "Administrator", "cli": "Command line"}
SEVERITIES = {"urgent": "Urgent", "high": "High", "caution": "Caution", "review": "Review", "clear": "Cleared"}
SIDE_EFFECT_SEVERITIES = {"mild": "mild", "moderate": "moderate", "severe": "severe"}
SEX = {"F": "Female", "M": "Male", "X": "Sex X"}
DIAGNOSES = {"mdd": "major depressive disorder", "pdd": "persistent depressive disorder",
             "bipolar_depression": "bipolar depression", "other": "other diagnosis"}
VERDICTS = {"eligible": "Eligible", "needs_review": "Needs review", "not_eligible": "Not eligible"}
ITEM_STATUSES = {"met": "met", "not_met": "not met", "warning": "warning", "unknown": "unknown"}
TRIAL_OUTCOMES = {"no_response": "no response", "partial_response": "partial response", "response": "response",
                  "intolerance": "intolerance", "unknown": "unknown"}
DECISION_KINDS = {"sign_off": "Sign-off", "override": "Override"}
SIDE_EFFECTS = {"dissociation": "dissociation", "vomiting": "vomiting", "sedation": "sedation", "headache": "headache",
                "anxiety": "anxiety", "paraesthesia": "paraesthesia", "dysgeusia": "dysgeusia (taste change)",
                "dizziness": "dizziness", "somnolence": "somnolence", "vertigo": "vertigo",
                "hypoaesthesia": "hypoaesthesia (numbness)", "nausea": "nausea", "blurred_vision": "blurred vision",
                "blood_pressure_increased": "blood pressure increased", "other": "other"}
FLAG_RULES = {r.id: r.title for r in _RULES.values()}     # one name per rule: the rulebook's title
# The roster's narrow flag column: a few words per rule (the full title is on the patient page).
FLAG_SHORT = {"suicidal_thoughts": "suicidal thoughts", "predose_bp": "BP before dose",
              "emergent_hypertension": "BP after dose", "dissociation": "dissociation rising", "sedation": "sedation",
              "monitoring": "monitoring incomplete", "dose_creep": "dose creep", "long_term_use": "long-term use",
              "worsening": "worsening", "iv_nonresponse": "no IV response", "esketamine_nonresponse":
              "no esketamine response", "suicide_item_unknown": "no suicide item", "iv_unscored":
              "IV response not measured", "dissociation_unsettled": "dissociated at discharge",
              "sedation_unresolved": "still sedated", "rems_form": "REMS form not sent"}
AUDIT_ACTIONS = {
    "sign_in": "Signed in", "sign_in_failed": "Sign-in failed", "sign_in_locked": "Sign-in refused (locked)",
    "sign_out": "Signed out", "signin_resumed": "Sign-in resumed in a tab", "signin_ended": "Sign-in ended",
    "signed_out_idle": "Signed out (idle)", "signed_out_expired": "Signed out (time limit)",
    "signed_out_disabled": "Signed out (account disabled)", "signed_out_password_reset": "Signed out (password reset)",
    "view_patient": "Viewed patient", "view_record_session": "Opened Record a session", "load_session":
    "Loaded a session to edit", "view_worklist": "Viewed the flag worklist", "view_roster": "Viewed the patient list", "roster_search": "Searched the roster", "view_eligibility": "Viewed eligibility", "view_case": "Viewed case",
    "record_session": "Recorded session", "edit_session": "Edited session", "delete_session": "Deleted session",
    "flag_acknowledged": "Acknowledged flag", "eligibility_decision": "Eligibility decision",
    "import": "Imported data", "settings_changed": "Changed the clinic settings", "export": "Exported", "audit_export": "Exported audit log",
    "user_added": "Added user", "user_disabled": "Disabled user", "user_enabled": "Enabled user",
    "user_linked": "Linked user to clinician", "password_reset": "Reset password", "refused": "Refused",
    "export_csv": "Exported table (CSV)", "export_pdf": "Exported PDF handout", "export_pptx": "Exported PowerPoint deck", "export_png": "Exported figure (PNG)",
    "export_svg": "Exported figure (SVG)", "export_report_pdf": "Exported manager's report (PDF)",
    "export_report_pptx": "Exported manager's report (PowerPoint)",
    "checkin_issued": "Issued a check-in code", "checkin_revoked": "Revoked a check-in code",
    "checkin_opened": "Check-in opened by the patient", "checkin_refused": "Check-in refused",
    "checkin_sent": "Check-in sent by the patient", "self_report_struck": "Struck a self-report",
    "export_checkin_slip": "Printed a check-in slip", "signed_out_checkin": "Signed out (check-in opened)",
    "view_todays_checkins": "Viewed today's check-ins", "view_patient_checkin": "Opened a patient's check-in",
    "view_course_prompts": "Viewed the courses not on track", "view_data_quality": "Viewed a data-quality list",
    "export_roster": "Exported the roster (CLI)", "export_quality": "Exported the data-quality lists (CLI)",
    "export_course": "Exported a patient's expected course (CLI)", "export_flags": "Exported open flags (CLI)",
    "export_eligibility": "Exported eligibility (CLI)"}

# Column names of frames shown or downloaded → header (with the unit where there is one).
COLUMNS = {
    "patient_id": "Patient ID", "name": "Name", "birth_date": "Birth date", "age": "Age", "sex": "Sex",
    "route": "Route", "phase": "Phase", "status": "Status", "clinician": "Clinician", "chair": "Chair",
    "session_id": "Session ID", "session_number": "Session", "sessions": "Sessions", "day": "Day",
    "scheduled_at": "Booked for", "started_at": "Started", "ended_at": "Ended", "assessed_on": "Assessed on",
    "minute": "Minute", "point": "When", "systolic": "Systolic (mmHg)", "diastolic": "Diastolic (mmHg)",
    "heart_rate": "Heart rate (/min)", "spo2": "SpO₂ (%)", "weight_kg": "Weight (kg)", "dose_mg": "Dose (mg)",
    "mg_per_kg": "mg/kg", "chair_minutes": "Chair time (min)", "chair_hours": "Chair hours",
    "scale": "Scale", "total": "Total", "after_session": "Sessions before", "reported_by": "Reported by",
    "devices": "Devices (28 mg)", "baseline": "Baseline",
    "latest": "Latest", "change": "Change", "next_session": "Next session", "flags": "Open flags",
    "effect": "Side effect", "severity": "Severity", "patients": "Patients", "n_patients": "Patients treated",
    "n_sessions": "Sessions", "per_patient": "Share of patients", "per_session": "Share of sessions",
    "per_patient_low": "Patients: 95 % CI low", "per_patient_high": "Patients: 95 % CI high",
    "per_session_low": "Sessions: 95 % CI low", "per_session_high": "Sessions: 95 % CI high",
    "events": "Events", "dose_band": "Dose band", "k": "Session number",
    "label": "Timepoint", "timepoint": "Timepoint", "n": "Patients", "n_evaluable": "Evaluable",
    "under_way": "Still in induction (shown apart)", "carried_last": "Last score carried forward",
    "carried_baseline": "Baseline carried forward",
    "evaluable": "Evaluable", "responders": "Responders", "remitters": "Remitters",
    "response_rate": "Response", "response_low": "Response: 95 % CI low", "response_high": "Response: 95 % CI high",
    "remission_rate": "Remission", "remission_low": "Remission: 95 % CI low",
    "remission_high": "Remission: 95 % CI high", "mean": "Mean", "low": "95 % CI low", "high": "95 % CI high",
    "week": "Week", "month": "Month", "period": "Period", "completed": "Completed", "scheduled": "Scheduled",
    "cancelled": "Cancelled", "no_show": "No-shows", "late_cancel": "Late cancellations",
    "no_show_rate": "No-show rate", "late_cancel_rate": "Late-cancellation rate",
    "utilisation": "Chair utilisation", "scheduled_utilisation": "Chair use, booked",
    "lead_days": "Lead time (days)", "waiting_days": "Waiting (days)", "referred": "Referred",
    "logged_at": "When", "username": "User", "role": "Role", "action": "Action", "detail": "Detail",
    "failed_attempts": "Failed sign-ins", "locked_until": "Locked until", "disabled": "Disabled",
    "created_at": "Created", "last_sign_in": "Last sign-in", "verdict": "Verdict", "reason": "Reason",
    "decided_by": "Decided by", "decided_at": "Decided", "to_check": "To check", "kind": "Decision",
    "drug": "Drug", "dose_mg_per_day": "Dose (mg/day)", "start_date": "Started", "end_date": "Ended",
    "outcome": "Outcome", "rule": "Rule", "evidence": "Evidence", "evidence_at": "Evidence from",
    "acknowledged_at": "Acknowledged", "acknowledged_by": "Acknowledged by", "note": "Note",
    "hours_open": "Hours open", "raised": "Raised", "acknowledged": "Acknowledged",
    "median_hours": "Median hours to acknowledge", "p90_hours": "90th percentile hours", "overdue": "Overdue",
    "response_ci": "Response (95 % CI)", "remission_ci": "Remission (95 % CI)",
    "patients_ci": "Patients with it (95 % CI)", "item_status": "Status", "measure": "Measure",
    "this_period": "This period", "comparison_period": "Comparison period", "period_from": "From", "period_to": "To", "whole_or_part": "Whole or part period",
    "scores": "Main scale", "course": "Course", "mrn": "MRN", "share": "Share",
    "late_cancelled": "Late cancellations", "open_days": "Open days", "available_hours": "Chair-hours on offer",
    "booked_hours": "Booked chair-hours", "completed_hours": "Completed chair-hours",
    "actual_utilisation": "Chair use, actual", "stage": "Stage", "median_days_waiting": "Median days waiting",
    "step": "Step", "q1": "Lower quartile", "q3": "Upper quartile", "median": "Median",
    "induction_sessions": "Induction sessions", "planned": "Planned", "urgent": "Urgent",
    "urgent_overdue": "Urgent overdue", "weekday": "Weekday", "hour": "Hour", "occupancy": "Occupancy", "treated": "Treated", "group": "Group", "item": "Item",
}

# Each coded column and the codes it holds.
CODED = {"route": ROUTES, "status": {**SESSION_STATUSES, **PHASES}, "phase": PHASES, "role": ROLES,
         "severity": {**SEVERITIES, **SIDE_EFFECT_SEVERITIES}, "sex": SEX, "verdict": VERDICTS, "primary_diagnosis": DIAGNOSES, "diagnosis": DIAGNOSES,
         "outcome": TRIAL_OUTCOMES, "kind": DECISION_KINDS, "effect": SIDE_EFFECTS, "rule": FLAG_RULES, "item_status": ITEM_STATUSES,
         "action": AUDIT_ACTIONS}


def label(code, kind: str | None = None) -> str:
    """The label of a code (of a coded column when kind is given); an unknown code in plain words."""
    if code is None or (not isinstance(code, str) and pd.isna(code)):
        return EMPTY
    table = CODED.get(kind) if kind else None
    if table and code in table:
        return table[code]
    for t in CODED.values():
        if code in t:
            return t[code]
    return str(code).replace("_", " ")


def header(column: str) -> str:
    return COLUMNS.get(column, column.replace("_", " ").capitalize())


def all_codes() -> set[str]:
    """Every code and column name this module translates (what the screens must never show raw)."""
    return set(COLUMNS) | {c for t in CODED.values() for c in t}


def is_date_only(values: pd.Series) -> bool:
    """Timestamps that are all at midnight are dates: shown without '00:00:00'."""
    stamps = pd.to_datetime(values.dropna(), errors="coerce")
    return len(stamps) > 0 and bool((stamps == stamps.dt.normalize()).all())


def values(df: pd.DataFrame, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """A frame's values as a person reads them: coded columns as labels, midnight timestamps as dates (columns
    in `keep` keep their codes, e.g. an ID a page acts on). Column names are unchanged."""
    out = df.copy()
    for col in out.columns:
        if col in keep:
            continue
        series = out[col]
        if col in CODED and (series.dtype == object or pd.api.types.is_string_dtype(series)):
            out[col] = pd.Series([None if _empty(v) else label(v, col) for v in series], index=out.index,
                                 dtype=object)
        elif pd.api.types.is_datetime64_any_dtype(series) and is_date_only(series):
            out[col] = pd.Series([None if pd.isna(v) else v.date() for v in series], index=out.index, dtype=object)
    return out


def readable(df: pd.DataFrame, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """values() with the headers in words: what a CSV download or a pack's table shows."""
    return values(df, keep).rename(columns={c: header(c) for c in df.columns if c not in keep})


def _empty(v) -> bool:
    return v is None or (not isinstance(v, (str, list, tuple)) and pd.isna(v))


def csv_cell(value) -> str:
    """One CSV cell: empty for nothing, dates as ISO dates, timestamps to the minute."""
    if _empty(value):
        return ""
    if isinstance(value, pd.Timestamp) or isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if (value.hour, value.minute, value.second) == (0, 0, 0) \
            else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    # OWASP's rule against formula injection: a spreadsheet must not run a cell that came from data
    text = "'" + text if text[:1] in FORMULA_STARTS else text
    return text.replace("\r\n", "\n").replace("\r", "\n")      # pandas quotes a cell with \n, not one with \r


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def to_csv(df: pd.DataFrame) -> bytes:
    """A table as the CSV a person downloads: the same words as on screen."""
    shown = readable(df)
    shown.columns = [csv_cell(c) for c in shown.columns]
    return shown.map(csv_cell).to_csv(index=False).encode("utf-8")
