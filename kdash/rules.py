"""Safety rules of clinical-reference §4: each with an id, a severity, its threshold and its source.

The clinic-wide evaluation runs in SQL (sql/open_flags.sql) so it stays fast on 100,000 patients;
thresholds always come from the settings file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from kdash import db

SEVERITY_ORDER = {"urgent": 0, "high": 1, "caution": 2}
LABEL = "SPRAVATO (esketamine) US prescribing information and REMS"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    threshold: str       # how the threshold reads, filled from settings
    source: str


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("suicidal_thoughts", "urgent", "Suicidal thoughts",
         "PHQ-9 item 9 ≥ {phq9_item9_min}, MADRS item 10 ≥ {madrs_item10_min}, HAM-D item 3 ≥ {hamd_item3_min} "
         "or C-SSRS ≥ {cssrs_level_min}, whatever the total", "clinical-reference §4; Kroenke PHQ-9; Posner C-SSRS"),
    Rule("emergent_hypertension", "high", "Treatment-emergent hypertension",
         "post-dose SBP > {postdose_systolic_max} or DBP > {postdose_diastolic_max}", "Riva-Posse 2018; " + LABEL),
    Rule("predose_bp", "caution", "Pre-dose blood pressure high",
         "pre-dose BP > {predose_systolic_max}/{predose_diastolic_max}: consider delaying", LABEL),
    Rule("dissociation", "caution", "Dissociation", "CADSS > {cadss_max}", "Bremner 1998; TRANSFORM-2 post hoc"),
    Rule("sedation", "caution", "Sedation", "MOAA/S ≤ {moaas_min}", "Chernik 1990; " + LABEL),
)}


def threshold_text(rule: Rule, cfg: dict) -> str:
    return rule.threshold.format(**cfg["safety"])


def flag_params(cfg: dict, since: dt.date, today: dt.date) -> dict:
    s = cfg["safety"]
    return {"since": since, "today": today,
            "phq9": s["phq9_item9_min"], "madrs": s["madrs_item10_min"], "hamd": s["hamd_item3_min"],
            "cssrs": s["cssrs_level_min"], "pre_sys": s["predose_systolic_max"], "pre_dia": s["predose_diastolic_max"],
            "post_sys": s["postdose_systolic_max"], "post_dia": s["postdose_diastolic_max"],
            "cadss": s["cadss_max"], "moaas": s["moaas_min"]}


def open_flag_counts(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date) -> pd.DataFrame:
    """Patients with a rule firing in the flag window, clinic-wide: per (rule, severity), and per severity
    (rule NULL: each patient counted once)."""
    since = today - dt.timedelta(days=cfg["safety"]["flag_window_days"])
    body = db.sql("open_flags")
    cur = con.cursor()
    try:
        return cur.execute(
            f"WITH f AS ({body}) SELECT rule, severity, count(DISTINCT patient_id) AS patients FROM f "
            "GROUP BY GROUPING SETS ((rule, severity), (severity))", flag_params(cfg, since, today)).df()
    finally:
        cur.close()
