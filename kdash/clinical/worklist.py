"""Safety flags as work (issue 17): open until acknowledged with an action or cleared by a later observation.

A flag is a patient and a rule. Its evidence is every row the rules found since the last acknowledgement of that
rule for that patient; an acknowledgement covers the evidence up to the day of its newest row, so new evidence
opens a new flag. A rule's clearing observation dated after all of the open evidence (a later PHQ-9 with item 9
under the line, a later pre-dose BP within it, a later CADSS at or under its line …) resolves it without one.
An urgent flag not acknowledged within the clinic's `[flags] overdue_hours` of its evidence is overdue.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from kdash import ids, rulebook
from kdash.access import audit
from kdash.store import db, flag_log

NOTE_MAX = 500
# of a flag's evidence rows, the most severe one's severity (a severe total without its suicide item is urgent)
MOST_SEVERE = "arg_min({s}, CASE {s} WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'caution' THEN 2 ELSE 3 END)"


class AckError(ValueError):
    """An acknowledgement that cannot be stored, with the reason."""


def open_query(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date,
               patient_ids: list[str] | None = None) -> tuple[str, dict]:
    """SQL and parameters for the open flags' evidence rows (patient_id, rule, severity, day, value, evidence_at)."""
    log, params = flag_log.logged_query(con, cfg, today, patient_ids)
    return db.sql("open_flag_rows").format(log=log), {**params, "today": today, "ids": patient_ids}


def open_rows(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date,
              patient_ids: list[str] | None = None) -> pd.DataFrame:
    text, params = open_query(con, cfg, today, patient_ids)
    return _df(con, text, params)


def items(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, clinician: str | None = None,
          now: dt.datetime | None = None, limit: int = 500, patient_ids: list[str] | None = None) -> pd.DataFrame:
    """The worklist: one row per open flag, most severe then oldest first, with the patient's identifiers, the
    evidence's age in days and whether an urgent flag is overdue."""
    now = now or dt.datetime.combine(today, dt.datetime.now().time())
    text, params = open_query(con, cfg, today, patient_ids)
    text = db.sql("worklist").format(open=text)
    rows = _df(con, text, {**params, "clinician": clinician, "limit": limit})
    rows["age_days"] = [(today - pd.Timestamp(d).date()).days for d in rows["last_day"]]
    rows["overdue"] = [(s == "urgent" and pd.notna(at) and now - pd.Timestamp(at).to_pydatetime()
                        > dt.timedelta(hours=cfg["flags"]["overdue_hours"]))
                       for s, at in zip(rows["severity"], rows["raised_at"])]
    rows["title"] = [rulebook.RULES[r].title for r in rows["rule"]]
    return rows


def acknowledged(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date,
                 patient_ids: list[str] | None = None) -> pd.DataFrame:
    """Flags closed by an acknowledgement made by today: one row per acknowledgement, with the evidence it covered
    (after the one before it, up to its day), the most severe and latest of it, when it was raised and the action."""
    log, params = flag_log.logged_query(con, cfg, today, patient_ids)
    text = f"""
        WITH ev AS (SELECT * FROM ({log}) WHERE severity <> 'clear'),
        acks AS (
            SELECT *, lag(through_day) OVER (PARTITION BY patient_id, rule ORDER BY through_day, acknowledged_at, ack_id)
                        AS before_day
            FROM flag_acks
            WHERE acknowledged_at < $today::DATE + 1 AND ($ids IS NULL OR list_contains($ids, patient_id))
        )
        SELECT a.patient_id, a.rule, {MOST_SEVERE.format(s='e.severity')} AS severity,
               arg_max(e.value, (e.day, e.evidence_at, e.value)) AS evidence, min(e.evidence_at) AS raised_at,
               any_value(a.acknowledged_at) AS acknowledged_at, any_value(a.acknowledged_by) AS acknowledged_by,
               any_value(a.action) AS action
        FROM acks a JOIN ev e ON e.patient_id = a.patient_id AND e.rule = a.rule AND e.day <= a.through_day
                                 AND (a.before_day IS NULL OR e.day > a.before_day)
        GROUP BY a.ack_id, a.patient_id, a.rule"""
    return _df(con, text, {**params, "today": today, "ids": patient_ids})


def contract_rows(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, patient_ids: list[str] | None = None,
                  include_acknowledged: bool = False) -> list[dict]:
    """data-contract §9: open flags (with include_acknowledged, those closed by an acknowledgement too), most severe
    and oldest first."""
    def when(x):
        return None if x is None or pd.isna(x) else pd.Timestamp(x).isoformat()

    out = [{"patient_id": r["patient_id"], "rule": r["rule"], "severity": r["severity"], "evidence": r["evidence"],
            "newer_evidence": newer_text(r), "source": source_of(r["evidence"]), "raised_at": when(r["raised_at"]),
            "acknowledged_at": None} for r in items(con, cfg, today, patient_ids=patient_ids, limit=10**9)
            .to_dict("records")]
    if include_acknowledged:
        out += [{"patient_id": r["patient_id"], "rule": r["rule"], "severity": r["severity"],
                 "evidence": r["evidence"], "newer_evidence": None, "source": source_of(r["evidence"]),
                 "raised_at": when(r["raised_at"]), "acknowledged_at": when(r["acknowledged_at"]),
                 "acknowledged_by": r["acknowledged_by"], "action": r["action"]}
                for r in acknowledged(con, cfg, today, patient_ids).to_dict("records")]
    rank = rulebook.SEVERITY_ORDER
    return sorted(out, key=lambda f: (rank[f["severity"]], f["raised_at"] or "", f["patient_id"], f["rule"],
                                      f["acknowledged_at"] or ""))


def source_of(evidence: str | None) -> str:
    """'self_report' for evidence the patient gave (a check-in, clinical reference §8), else 'record'."""
    return "self_report" if evidence and evidence.endswith("(self-reported)") else "record"


def newer_text(row) -> str | None:
    """"later: PHQ-9 item 9 = 0 on 04 Mar 2026": an observation after an open urgent flag's evidence that would have
    cleared a less severe one, shown as new evidence (clinical reference §4); None when there is none."""
    value, day = row.get("newer_value"), row.get("newer_day")
    if value is None or pd.isna(value):
        return None
    return f"later: {value} on {pd.Timestamp(day):%d %b %Y}"


def age_text(days: int) -> str:
    return "today" if days <= 0 else "yesterday" if days == 1 else f"{days} days ago"


def acknowledge(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, rule: str, action: str,
                note: str | None, by: str, today: dt.date | None = None,
                now: dt.datetime | None = None) -> dt.date:
    """Acknowledge a patient's open flag for a rule with one of the clinic's actions; stored with user and time and
    audited in one transaction. Returns the day up to which the evidence is covered."""
    now = now or dt.datetime.now()
    today = today or now.date()
    problem = ids.problem(patient_id)
    if problem:
        raise AckError(f"the patient ID {problem}")
    if rule not in rulebook.RULES:
        raise AckError(f"there is no rule {rule!r}")
    if action not in cfg["flags"]["actions"]:
        raise AckError("choose one of the clinic's actions: " + "; ".join(cfg["flags"]["actions"]))
    note = (note or "").strip() or None
    if note and len(note) > NOTE_MAX:
        raise AckError(f"the note has {len(note)} characters; at most {NOTE_MAX}")
    open_now = open_rows(con, cfg, today, [patient_id])
    mine = open_now[open_now["rule"] == rule]
    if mine.empty:
        raise AckError(f"{rulebook.RULES[rule].title} is not open for this patient (acknowledged or cleared already)")
    through = pd.Timestamp(mine["day"].max()).date()
    with db.transaction(con) as cur:
        cur.execute("INSERT INTO flag_acks (patient_id, rule, through_day, action, note, acknowledged_by, "
                    "acknowledged_at) VALUES ($p, $r, $t, $a, $n, $b, $at)",
                    {"p": patient_id, "r": rule, "t": through, "a": action, "n": note, "b": by, "at": now})
        audit.log(cur, "flag_acknowledged", username=by, role=audit.actor()[1], patient_id=patient_id,
                  detail=f"{rule}: {action}", at=now)
    return through


def my_clinician(con: duckdb.DuckDBPyConnection, cfg: dict, username: str) -> str | None:
    """The clinician name (patients.clinician) an account is linked to, for "my patients"."""
    return db.scalar(con, "SELECT clinician FROM users WHERE username = $u", {"u": username})


def history(con: duckdb.DuckDBPyConnection, patient_id: str) -> pd.DataFrame:
    """The patient's acknowledgements, latest first."""
    return _df(con, "SELECT rule, through_day, action, note, acknowledged_by, acknowledged_at FROM flag_acks "
                    "WHERE patient_id = $p ORDER BY acknowledged_at DESC, ack_id DESC", {"p": patient_id})


def counts(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, now: dt.datetime | None = None) -> dict:
    """Open flags clinic-wide: patients per severity (each counted once per severity), and overdue urgent flags."""
    now = now or dt.datetime.combine(today, dt.datetime.now().time())
    text, params = open_query(con, cfg, today)
    text = f"""WITH o AS ({text}), f AS (SELECT patient_id, rule, {MOST_SEVERE.format(s='severity')} AS severity,
                                                      min(evidence_at) AS raised_at FROM o GROUP BY ALL)
        SELECT count(DISTINCT patient_id) FILTER (WHERE severity = 'urgent'),
               count(DISTINCT patient_id) FILTER (WHERE severity = 'high'),
               count(DISTINCT patient_id) FILTER (WHERE severity = 'caution'),
               count(DISTINCT patient_id) FILTER (WHERE severity = 'review'),
               count(*) FILTER (WHERE severity = 'urgent' AND raised_at < $due)
        FROM f"""
    row = db.row(con, text, db.bind(text, {**params, "due": now - dt.timedelta(hours=cfg["flags"]["overdue_hours"])}))
    return dict(zip(("urgent", "high", "caution", "review", "overdue"), (int(x or 0) for x in row)))


def loop_by_week(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, weeks: int = 12,
                 now: dt.datetime | None = None) -> pd.DataFrame:
    """The loop measured, by week of the evidence (counts only): flags raised, acknowledged, hours to
    acknowledgement (median, 90th percentile) and urgent flags acknowledged late or not yet (overdue).
    A flag is a patient's evidence for a rule up to the acknowledgement that covered it."""
    now = now or dt.datetime.combine(today, dt.datetime.now().time())
    log, params = flag_log.logged_query(con, cfg, today)
    since = today - dt.timedelta(days=today.weekday()) - dt.timedelta(weeks=weeks - 1)
    text = f"""
        WITH ev AS (SELECT * FROM ({log}) WHERE severity <> 'clear'),
        acks AS (   -- of two acknowledgements covering the same evidence (two clinicians at once), the first
            SELECT * FROM flag_acks WHERE acknowledged_at <= $now
            QUALIFY row_number() OVER (PARTITION BY patient_id, rule, through_day
                                       ORDER BY acknowledged_at, ack_id) = 1),
        flag AS (
            SELECT e.patient_id, e.rule, {MOST_SEVERE.format(s='e.severity')} AS severity, min(e.evidence_at) AS raised_at,
                   a.ack_id, any_value(a.acknowledged_at) AS acked_at
            FROM ev e ASOF LEFT JOIN acks a
                 ON e.patient_id = a.patient_id AND e.rule = a.rule AND e.day <= a.through_day
            GROUP BY e.patient_id, e.rule, a.ack_id
        )
        SELECT date_trunc('week', raised_at)::DATE AS week, count(*) AS raised, count(acked_at) AS acknowledged,
               quantile_cont(epoch(acked_at - raised_at) / 3600, 0.5) AS median_hours,
               quantile_cont(epoch(acked_at - raised_at) / 3600, 0.9) AS p90_hours,
               count(*) FILTER (WHERE severity = 'urgent') AS urgent,
               count(*) FILTER (WHERE severity = 'urgent'
                                AND coalesce(acked_at, $now) - raised_at > to_hours($hours::BIGINT)) AS urgent_overdue
        FROM flag WHERE raised_at >= $since AND raised_at < $today::DATE + 1
        GROUP BY ALL ORDER BY week"""
    return _df(con, text, {**params, "now": now, "since": since, "today": today,
                           "hours": cfg["flags"]["overdue_hours"]})


def rule_frequency(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, days: int = 90) -> pd.DataFrame:
    """How often each rule fired over the last `days` (counts only): patients and sessions (patient-days) with
    evidence, against the patients and completed sessions of that time, so a clinic can see which rule is noise."""
    since = today - dt.timedelta(days=days)
    body, params = flag_log.window_query(con, cfg, since, today)
    text = f"""
        WITH ev AS ({body})
        SELECT ev.rule, count(DISTINCT ev.patient_id) AS patients,
               count(DISTINCT (ev.patient_id, ev.day)) AS patient_days
        FROM ev GROUP BY ev.rule"""
    rows = _df(con, text, {**params, "since": since, "today": today}).set_index("rule")
    treated = db.row(con, "SELECT count(DISTINCT patient_id), count(*) FROM sessions WHERE status = 'completed' "
                          "AND scheduled_at >= $s AND scheduled_at < $t::DATE + 1", {"s": since, "t": today})
    return pd.DataFrame([{
        "rule": r, "title": rulebook.RULES[r].title, "severity": rulebook.severity(cfg, r),
        "threshold": rulebook.threshold_text(r, cfg),
        "patients": int(rows.at[r, "patients"]) if r in rows.index else 0,
        "patient_days": int(rows.at[r, "patient_days"]) if r in rows.index else 0,
        "treated_patients": int(treated[0]), "sessions": int(treated[1])} for r in rulebook.RULES])


def _df(con, text: str, params: dict) -> pd.DataFrame:
    cur = con.cursor()
    try:
        return cur.execute(text, db.bind(text, params)).df()
    finally:
        cur.close()
