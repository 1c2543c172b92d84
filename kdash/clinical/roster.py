"""The roster (issue 3): every patient's course, main-scale outcome and open flags, paged in SQL."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from kdash import rulebook, vocab
from kdash.clinical import outcomes, rules, worklist
from kdash.store import db, flag_log, freshness

PHASES = ("referred", "waiting", "induction", "maintenance", "finished", "stopped", "deceased")
ACTIVE = "active"        # the roster's default: rulebook.ACTIVE_PHASES (referred, waiting, induction, maintenance)
STATUSES = ("remitter", "responder", "partial", "non-responder", "worsening", "too early", "not evaluable",
            "not treated")
PAGE_SIZE = 50


def page(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, search: str | None = None,
         route: str | None = None, phase: str | None = None, clinician: str | None = None,
         status: str | None = None, flag: str | None = None, page_no: int = 1,
         page_size: int = PAGE_SIZE, course: str | None = None) -> pd.DataFrame:
    """One page of the roster, most urgent first; the `total` column counts every matching patient.

    Without a status filter the order needs no outcome, so outcomes are computed for the page's
    patients only (a second, small run of the same query); with one, for everyone.
    """
    filters = {"search": (search or "").strip() or None, "route_filter": route, "phase": phase,
               "clinician": clinician, "status": status, "flag": flag, "only_ids": None}
    if course == "not_on_track":        # the review prompt of clinical reference §9 (kdash/clinical/course.py)
        from kdash.clinical import course as course_
        filters["only_ids"] = list(course_.not_on_track(con, cfg, today)["patient_id"]) or ["\x00none"]
    window = (max(page_no, 1) - 1) * page_size
    if status is not None:
        return _with_decisions(con, cfg, today, _run(con, cfg, today, filters, limit=page_size, offset=window))
    order = _run(con, cfg, today, filters, limit=page_size, offset=window, outcomes_for=[])
    if order.empty:
        return order
    ids = list(order["patient_id"])
    rows = _run(con, cfg, today, {**filters, "page_ids": ids}, limit=page_size, offset=0, outcomes_for=ids)
    rows = rows.set_index("patient_id").loc[ids].reset_index()
    rows["total"] = order["total"].iloc[0]
    return _with_decisions(con, cfg, today, rows)


def _with_decisions(con, cfg: dict, today: dt.date, rows: pd.DataFrame) -> pd.DataFrame:
    """The page's patients treated without an eligibility decision (a review prompt; kdash/clinical/eligibility.py)."""
    from kdash.clinical import eligibility
    treated = list(rows.loc[(rows["sessions"] > 0) & (rows["phase"] != "deceased"), "patient_id"])
    found = eligibility.undecided_among(con, cfg, today, treated)
    rows["undecided"] = [p in found for p in rows["patient_id"]]
    return rows


def _run(con, cfg, today, filters: dict, limit: int, offset: int, outcomes_for: list | None = None) -> pd.DataFrame:
    scale = cfg["clinic"]["main_scale"]
    flags_sql, flags_params = worklist.open_query(con, cfg, today, filters.get("page_ids"))
    params = {
        **outcomes.params(cfg, scale, "all", "itt"), **rules.flag_params(cfg, flag_log.ALL_TIME[0], today),
        **flags_params,
        "page_ids": None, "only_ids": None, **filters, "limit": limit, "offset": offset,
        "under_way_days": rulebook.UNDER_WAY_DAYS,
        "patient_ids": outcomes_for,                       # outcomes for these patients only (None: all)
        "flag_patients": filters.get("page_ids"),
    }
    text = db.sql("roster").format(outcomes=db.sql("course_outcomes"), flags=flags_sql)
    cur = con.cursor()
    try:
        return cur.execute(text, db.bind(text, params, cur)).df()
    finally:
        cur.close()


def phase_counts(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date) -> dict[str, int]:
    """Patients in each phase on `today`, by the roster's own definition (sql/patient_phases.sql)."""
    rows = db.query(con, "phase_counts", {"today": today, "under_way_days": rulebook.UNDER_WAY_DAYS,
                                          **freshness.settings_params(cfg)})
    return {p: int(dict(zip(rows["phase"], rows["patients"])).get(p, 0)) for p in PHASES}


def clinicians(con: duckdb.DuckDBPyConnection, cfg: dict) -> list[str]:
    return [r[0] for r in db.query(con, "clinicians").itertuples(index=False)]


ROUTE_NAMES = vocab.ROUTES
URGENCY = {0: vocab.SEVERITIES["urgent"], 1: vocab.SEVERITIES["high"], 2: vocab.SEVERITIES["caution"],
           3: vocab.SEVERITIES["review"]}


def _shown(x, fmt: str = "{:g}") -> str:
    return "—" if x is None or pd.isna(x) else fmt.format(x)


UNDECIDED = "no eligibility decision"


def flag_text(urgency, rule_ids, undecided: bool = False) -> str:
    """'Urgent suicidal thoughts +1': the most severe level and the rule that made it so first (the column is narrow;
    the other rules, and a treatment without an eligibility decision, are on the patient page as "+n")."""
    if urgency is None or pd.isna(urgency):
        return UNDECIDED if undecided else ""        # a prompt, not a flag: no level, sorted with the unflagged
    ids_ = list(rule_ids)
    first = ids_[0] if ids_ else None
    extra = len(ids_) - 1 + int(undecided)
    more = f" +{extra}" if extra > 0 else ""
    return f"{URGENCY[int(urgency)]} {vocab.FLAG_SHORT.get(first, rules.RULES[first].title)}{more}" if first \
        else URGENCY[int(urgency)]


def display(rows: pd.DataFrame) -> pd.DataFrame:
    """The roster page's table: a row per patient (the page opens the one clicked), the columns a clinician acts on
    first, numbers as text with a dash when missing."""
    return pd.DataFrame({
        "patient_id": rows["patient_id"],
        "name": rows["name"],
        "flags": [flag_text(u, r, d) for u, r, d in zip(rows["urgency"], rows["rules"],
                                                        rows.get("undecided", [False] * len(rows)))],
        "status": rows["status"],
        "scores": [score_text(b, last, c) for b, last, c in zip(rows["baseline"], rows["latest"], rows["pct_change"])],
        "course": [course_text(r, p, n) for r, p, n in zip(rows["route"], rows["phase"], rows["sessions"])],
        "next_session": rows["next_session"],
        "clinician": rows["clinician"],
    })


def score_text(baseline, latest, pct_change) -> str:
    """'34 → 12 (−65 %)': baseline, last observation and the change (a fall is negative)."""
    if baseline is None or pd.isna(baseline):
        return "—"
    change = "" if pct_change is None or pd.isna(pct_change) else f" ({-100 * pct_change:+.0f} %)".replace("-", "−")
    return f"{_shown(baseline)} → {_shown(latest)}{change}"


def course_text(route, phase, sessions) -> str:
    """'IV ketamine · induction · 4': the route, the phase and the completed sessions."""
    parts = [ROUTE_NAMES.get(route, "—") if isinstance(route, str) else None, phase,
             str(int(sessions)) if sessions and not pd.isna(sessions) else None]
    return " · ".join(p for p in parts if p) or "—"
