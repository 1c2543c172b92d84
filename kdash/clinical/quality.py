"""Data quality (data-contract §11): every gap in the record that leaves a patient out of a figure or hides a risk,
with who is affected and what to do about it, and each import source with the date of its last import.

Each check is one SQL query over the record, giving one row per thing wrong (a course, a session, a day's scores) with
its patient and its day; the page and `quality --json` both read `report`, so they always agree. The counts by week
(the day of the session or score at fault) show whether a clinic's records are getting better.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import duckdb
import pandas as pd

from kdash import rulebook, scales

MAX_LISTED = 50


@dataclasses.dataclass(frozen=True)
class Check:
    code: str
    title: str
    what: str           # what one row is ("course", "session", "day")
    fix: str
    sql: str            # rows: patient_id, day, what (a short description, never a name)


CHECKS = (
    Check("no_baseline", "Course without a baseline", "course",
          "Record a score of the clinic's main scale on or before the first session's day (at most the baseline "
          "look-back before it): without one the course is 'not evaluable' in every outcome (clinical reference §1).",
          """SELECT c.patient_id, c.first_day AS day, 'first session ' || strftime(c.first_day, '%Y-%m-%d') AS what
             FROM course_facts c
             WHERE NOT EXISTS (SELECT 1 FROM score_points p WHERE p.patient_id = c.patient_id AND p.scale = $scale
                               AND p.after_session = 0 AND p.assessed_on >= c.first_day - $lookback::INTEGER
                               AND p.total > 0)"""),
    Check("session_without_score", "Session with no score after it", "session",
          "Record the main-scale score before the next session (or within the window after the last one): the "
          "session then counts for response at its number (clinical reference §1).",
          """WITH done AS (
                 SELECT patient_id, session_id, scheduled_at::DATE AS day,
                        row_number() OVER (PARTITION BY patient_id ORDER BY scheduled_at, session_id) AS k,
                        lead(scheduled_at::DATE) OVER (PARTITION BY patient_id ORDER BY scheduled_at, session_id)
                          AS next_day
                 FROM sessions WHERE status = 'completed'
             ),
             last_of_day AS (SELECT patient_id, day, max(k) AS k, any_value(next_day) AS next_day FROM done
                             GROUP BY patient_id, day)
             SELECT d.patient_id, d.day, 'session ' || d.k || ' on ' || strftime(d.day, '%Y-%m-%d') AS what
             FROM done d JOIN last_of_day l USING (patient_id, day)
             WHERE d.k = l.k AND coalesce(d.next_day, d.day + $window::INTEGER) < $today::DATE
               AND NOT EXISTS (SELECT 1 FROM score_points p WHERE p.patient_id = d.patient_id AND p.scale = $scale
                               AND p.after_session = d.k AND p.first_after)"""),
    Check("esketamine_bp_incomplete", "Esketamine session without both blood pressures", "session",
          "Record the blood pressure before dosing and after it (about 40 minutes): the REMS monitoring of "
          "esketamine needs both (clinical reference §4).",
          """SELECT s.patient_id, s.scheduled_at::DATE AS day,
                    'session on ' || strftime(s.scheduled_at, '%Y-%m-%d') || ': '
                    || CASE WHEN NOT coalesce(bool_or(v.minute < 0), FALSE) AND NOT coalesce(bool_or(v.minute >= 0), FALSE)
                            THEN 'no blood pressure' WHEN NOT coalesce(bool_or(v.minute < 0), FALSE)
                            THEN 'none before dosing' ELSE 'none after dosing' END AS what
             FROM sessions s LEFT JOIN vitals v USING (session_id)
             WHERE s.status = 'completed' AND s.route = 'esketamine'
             GROUP BY s.patient_id, s.session_id, s.scheduled_at
             HAVING NOT (coalesce(bool_or(v.minute < 0), FALSE) AND coalesce(bool_or(v.minute >= 0), FALSE))"""),
    Check("session_without_dose", "Session without a dose (or an IV session without a weight)", "session",
          "Record the dose given, and for IV ketamine the weight: dose per kilogram, dose creep and the dose bands of "
          "the side-effect rates need them.",
          """SELECT patient_id, scheduled_at::DATE AS day,
                    'session on ' || strftime(scheduled_at, '%Y-%m-%d') || ': '
                    || CASE WHEN dose_mg IS NULL THEN 'no dose' ELSE 'no weight' END AS what
             FROM sessions
             WHERE status = 'completed' AND (dose_mg IS NULL OR (route = 'iv_ketamine' AND weight_kg IS NULL))"""),
    Check("missing_demographics", "Patient without a birth date or sex", "patient",
          "Record the birth date and sex from the clinic's record: ages, age bands and the de-identified packs need "
          "them.",
          """SELECT patient_id, NULL::DATE AS day,
                    CASE WHEN birth_date IS NULL THEN 'no birth date' ELSE 'no sex recorded' END AS what
             FROM patients WHERE birth_date IS NULL OR sex IS NULL"""),
    Check("no_recent_assessment", "Course under way without an assessment in 30 days", "patient",
          "Score the patient at their next visit: a course in induction or maintenance without a recent score "
          "cannot be judged (response, worsening, the suicide item).",
          """SELECT c.patient_id, c.last_day AS day,
                    'last assessment ' || coalesce(strftime(max(a.assessed_on), '%Y-%m-%d'), 'never') AS what
             FROM course_facts c JOIN patients p USING (patient_id)
             LEFT JOIN assessments a ON a.patient_id = c.patient_id
                                    AND list_contains($depression, a.scale)
             WHERE NOT coalesce(p.deceased, FALSE)
               AND (c.last_day >= $today::DATE - $stopped::INTEGER
                    OR EXISTS (SELECT 1 FROM sessions s WHERE s.patient_id = c.patient_id AND s.status = 'scheduled'
                               AND s.scheduled_at >= $today::DATE))
             GROUP BY c.patient_id, c.last_day
             HAVING coalesce(max(a.assessed_on), DATE '1900-01-01') < $today::DATE - 30"""),
    Check("conflicting_scores", "The same scale twice on one day with different totals", "day",
          "Keep the right one and correct or remove the other: of two scores on one day kdash counts the higher as "
          "the later, which may not be what happened.",
          f"""SELECT patient_id, assessed_on AS day,
                     scale || ' on ' || strftime(assessed_on, '%Y-%m-%d') || ': ' || lo || ' to ' || hi AS what
              FROM (SELECT patient_id, scale, assessed_on, min(total) AS lo, max(total) AS hi FROM assessments
                    WHERE scale IN ({", ".join(f"'{c}'" for c in (*scales.DEPRESSION_SCALES, "GAD7"))})
                    GROUP BY patient_id, scale, assessed_on HAVING min(total) <> max(total))"""),
)
BY_CODE = {c.code: c for c in CHECKS}


def _params(cfg: dict, today: dt.date) -> dict:
    return {"scale": cfg["clinic"]["main_scale"], "lookback": cfg["outcomes"]["baseline_lookback_days"],
            "window": cfg["outcomes"]["after_session_window_days"], "today": today,
            "depression": list(scales.DEPRESSION_SCALES), "stopped": rulebook.UNDER_WAY_DAYS}


def _bind(text: str, params: dict) -> dict:
    return {k: v for k, v in params.items() if f"${k}" in text}


def rows(con: duckdb.DuckDBPyConnection, cfg: dict, code: str, today: dt.date | None = None) -> pd.DataFrame:
    """One check's rows (patient_id, day, what) with the patients' names, oldest first."""
    today = today or dt.date.today()
    check = BY_CODE[code]
    text = f"""SELECT r.patient_id, r.day, r.what, p.given_name, p.family_name, p.birth_date
               FROM ({check.sql}) r LEFT JOIN patients p USING (patient_id)
               ORDER BY r.day NULLS FIRST, r.patient_id, r.what"""
    cur = con.cursor()
    try:
        return cur.execute(text, _bind(text, _params(cfg, today))).df()
    finally:
        cur.close()


def report(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date | None = None,
           found: dict[str, pd.DataFrame] | None = None) -> list[dict]:
    """data-contract §11: every check, with its count of patients, of rows, up to 50 patient IDs and the fix; then
    the import sources. `found`: each check's rows when the caller has them already (the page)."""
    today = today or dt.date.today()
    out = []
    for check in CHECKS:
        if found is not None:
            per = found[check.code].groupby("patient_id").size().sort_index()
            pairs = list(per.items())
        else:
            text = f"SELECT patient_id, count(*) AS n FROM ({check.sql}) GROUP BY patient_id ORDER BY patient_id"
            cur = con.cursor()
            try:
                pairs = cur.execute(text, _bind(text, _params(cfg, today))).fetchall()
            finally:
                cur.close()
        out.append({"check": check.code, "title": check.title, "count": len(pairs),
                    f"{check.what}s" if check.what != "patient" else "rows": int(sum(n for _, n in pairs)),
                    "patients": [p for p, _ in pairs[:MAX_LISTED]], "fix": check.fix})
    out.append({"check": "sources", "title": "Import sources", "count": None, "sources": sources(con),
                "patients": [], "fix": "Import each source again when the clinic's system has newer records."})
    return out


_SOURCE = re.compile(r"; source: (.+)$")


def sources(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Each import source (as the import's audit row names it: a CSV or FHIR folder, or a number of FHIR files) with
    the date of its last import; imports made before sources were recorded are counted apart."""
    cur = con.cursor()
    try:
        rows_ = cur.execute("SELECT detail, logged_at FROM audit_log WHERE action = 'import' ORDER BY logged_at"
                            ).fetchall()
    finally:
        cur.close()
    last: dict[str, dict] = {}
    for detail, at in rows_:
        m = _SOURCE.search(detail or "")
        name = m.group(1) if m else "an import before sources were recorded"
        entry = last.setdefault(name, {"source": name, "imports": 0})
        entry["imports"] += 1
        entry["last_import"] = pd.Timestamp(at).date().isoformat()
    return sorted(last.values(), key=lambda e: e["last_import"], reverse=True)


def by_week(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date | None = None, weeks: int = 12) -> pd.DataFrame:
    """Rows found by each check per week (of the session or score at fault) over the last `weeks` weeks: check, week,
    rows. A course's or patient's check is counted in the week of its day (first session, last session)."""
    today = today or dt.date.today()
    start = today - dt.timedelta(days=today.weekday()) - dt.timedelta(weeks=weeks - 1)
    parts = [f"SELECT '{c.code}' AS check_code, date_trunc('week', day)::DATE AS week FROM ({c.sql}) "
             f"WHERE day >= $start AND day <= $today" for c in CHECKS]
    text = "SELECT check_code, week, count(*) AS rows FROM (" + " UNION ALL ".join(parts) + ") GROUP BY ALL ORDER BY ALL"
    cur = con.cursor()
    try:
        found = cur.execute(text, _bind(text, {**_params(cfg, today), "start": start})).df()
    finally:
        cur.close()
    grid = pd.MultiIndex.from_product([[c.code for c in CHECKS],
                                       [start + dt.timedelta(weeks=i) for i in range(weeks)]],
                                      names=["check_code", "week"]).to_frame(index=False)
    found["week"] = pd.to_datetime(found["week"]).dt.date
    return grid.merge(found, how="left", on=["check_code", "week"]).fillna({"rows": 0}).astype({"rows": int})


def page_view(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date) -> dict:
    """The Data quality page: the report, each check's rows (for the lists), the weekly counts."""
    found = {c.code: rows(con, cfg, c.code, today) for c in CHECKS}
    return {"report": report(con, cfg, today, found), "weeks": by_week(con, cfg, today),
            "rows": {code: r.head(2000) for code, r in found.items()}}
