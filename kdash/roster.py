"""The roster (issue 3): every patient's course, main-scale outcome and open flags, paged in SQL."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from kdash import db, outcomes, rules

PHASES = ("referred", "waiting", "induction", "maintenance", "finished", "stopped")
STATUSES = ("remitter", "responder", "partial", "non-responder", "worsening", "too early", "not evaluable",
            "not treated")
PAGE_SIZE = 50


def page(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, search: str | None = None,
         route: str | None = None, phase: str | None = None, clinician: str | None = None,
         status: str | None = None, flag: str | None = None, page_no: int = 1,
         page_size: int = PAGE_SIZE) -> pd.DataFrame:
    """One page of the roster, most urgent first; the `total` column counts every matching patient."""
    scale = cfg["clinic"]["main_scale"]
    params = {
        **outcomes.params(cfg, scale, "all", "itt"),
        **rules.flag_params(cfg, today - dt.timedelta(days=cfg["safety"]["flag_window_days"]), today),
        "search": (search or "").strip() or None, "route_filter": route, "phase": phase, "clinician": clinician,
        "status": status, "flag": flag, "limit": page_size, "offset": (max(page_no, 1) - 1) * page_size,
    }
    text = db.sql("roster").format(outcomes=db.sql("course_outcomes"), flags=db.sql("open_flags"))
    cur = con.cursor()
    try:
        return cur.execute(text, params).df()
    finally:
        cur.close()


def clinicians(con: duckdb.DuckDBPyConnection, cfg: dict) -> list[str]:
    return [r[0] for r in db.query(con, "clinicians").itertuples(index=False)]


ROUTE_NAMES = {"iv_ketamine": "IV ketamine", "esketamine": "Esketamine", "sc_ketamine": "SC ketamine",
               "im_ketamine": "IM ketamine", "oral_ketamine": "Oral ketamine"}
URGENCY = {0: "URGENT", 1: "HIGH", 2: "CAUTION", 3: "REVIEW"}


def _shown(x, fmt: str = "{:g}") -> str:
    return "—" if x is None or pd.isna(x) else fmt.format(x)


def flag_text(urgency, rule_ids) -> str:
    """'URGENT: Suicidal thoughts, Dissociation' from the most severe level and the rules that fired."""
    if urgency is None or pd.isna(urgency):
        return ""
    titles = ", ".join(rules.RULES[r].title for r in list(rule_ids))
    return f"{URGENCY[int(urgency)]}: {titles}"


def display(rows: pd.DataFrame) -> pd.DataFrame:
    """The roster page's table: a link per patient, numbers as text with a dash when missing."""
    return pd.DataFrame({
        "open": [f"/patient?patient_id={p}" for p in rows["patient_id"]],
        "name": rows["name"],
        "flags": [flag_text(u, r) for u, r in zip(rows["urgency"], rows["rules"])],
        "status": rows["status"],
        "baseline": rows["baseline"].map(_shown),
        "latest": rows["latest"].map(_shown),
        "change": rows["pct_change"].map(lambda x: _shown(None if pd.isna(x) else -100 * x, "{:+.0f} %")),
        "route": rows["route"].map(lambda r: ROUTE_NAMES.get(r, "—")),
        "phase": rows["phase"], "sessions": rows["sessions"], "next_session": rows["next_session"],
        "clinician": rows["clinician"],
    })
