"""Safety rules of clinical-reference §4: each with an id, a severity, its threshold and its source.

Two evaluations of the same rules, kept equal by a test over every demo patient:
- `evaluate` (pure functions over one patient's query results) gives the patient page every flag with
  its evidence;
- sql/open_flags.sql evaluates the whole clinic at once for the roster and the home page, so it stays
  fast on 100,000 patients.
Thresholds always come from the settings file. Both break ties the same way, whatever order the rows were
written in: sessions in (scheduled_at, session_id) order; a scale's scores in (assessed_on, total) order, the
patient page's query (sql/patient_assessments.sql) ordering the rest (items, session) and stable sorts keeping it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import duckdb
import pandas as pd


SEVERITY_ORDER = {"urgent": 0, "high": 1, "caution": 2, "review": 3}
LABEL = "SPRAVATO (esketamine) US prescribing information and REMS"
CONSENSUS = "Sanacora 2017 (APA consensus); Swainson 2021 (CANMAT)"


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
         "post-dose SBP > {postdose_systolic_max} or DBP > {postdose_diastolic_max} mmHg",
         "Riva-Posse 2018; Szarmach 2019; " + LABEL),
    Rule("worsening", "high", "Worsening", "score above baseline at two consecutive assessments",
         "clinical-reference §4"),
    Rule("predose_bp", "caution", "Pre-dose blood pressure high",
         "pre-dose BP > {predose_systolic_max}/{predose_diastolic_max} mmHg: consider delaying", LABEL),
    Rule("dissociation", "caution", "Dissociation rising",
         "CADSS > {cadss_max} and above each of the {dissociation_rise_sessions} sessions before (it usually falls "
         "over sessions; high values early on are shown on the session chart)",
         "clinical-reference §4; Bremner 1998; TRANSFORM-2 post hoc"),
    Rule("sedation", "caution", "Sedation", "MOAA/S ≤ {moaas_min}; should be back to 5 by about 90 min",
         "Chernik 1990; " + LABEL),
    Rule("monitoring", "caution", "Esketamine monitoring incomplete",
         "BP before dosing and at ~40 min, and ≥ {esketamine_observation_minutes} min observation", LABEL),
    Rule("iv_nonresponse", "review", "No response to IV ketamine",
         "no response (≥ 50 % fall) on the score after infusion {iv_nonresponse_sessions}; review the course when "
         "the score after infusion {iv_review_sessions} is not a response either", CONSENSUS),
    Rule("esketamine_nonresponse", "review", "No response at the end of esketamine induction",
         "no response (≥ 50 % fall) on the score after the last induction session, judged then and not before",
         LABEL + "; TRANSFORM-2"),
    Rule("dose_creep", "review", "Dose creep", "maintenance dose ≥ {dose_creep_mg_per_kg} mg/kg above the first "
         "maintenance dose", "clinical-reference §4"),
    Rule("long_term_use", "review", "Long-term use",
         "≥ {long_term_days} days of treatment: ask about urinary symptoms, cognition and misuse",
         "clinical-reference §4; " + CONSENSUS),
)}

SUICIDE_ITEMS = {"PHQ9": ("phq9_item9_min", 9, "PHQ-9 item 9"), "MADRS": ("madrs_item10_min", 10, "MADRS item 10"),
                 "HAMD17": ("hamd_item3_min", 3, "HAM-D item 3")}


def severity(cfg: dict, rule_id: str) -> str:
    """The clinic's severity for a rule ([flags.severity]; the rule's own by default)."""
    return cfg.get("flags", {}).get("severity", {}).get(rule_id, RULES[rule_id].severity)


@dataclass(frozen=True)
class Flag:
    rule: str
    severity: str
    day: dt.date
    value: str
    session_id: str | None = None

    @property
    def title(self) -> str:
        return RULES[self.rule].title


@dataclass
class PatientRecord:
    """One patient's rows as the patient page fetches them (sql/patient_*.sql)."""
    sessions: pd.DataFrame
    assessments: pd.DataFrame
    vitals: pd.DataFrame
    main_scale: str = "MADRS"
    induction: dict = field(default_factory=dict)


def threshold_text(rule_id: str, cfg: dict) -> str:
    return RULES[rule_id].threshold.format(**cfg["safety"])


def _day(x) -> dt.date:
    return pd.Timestamp(x).date()


def _completed(record: PatientRecord) -> pd.DataFrame:
    s = record.sessions
    return s[s["status"] == "completed"].sort_values(["scheduled_at", "session_id"])


def item_scores(x) -> list[int] | None:
    """An assessment's item scores, or None when the source gave a total only (stored NULL, read as NA)."""
    if x is None or (not hasattr(x, "__len__") and pd.isna(x)):
        return None
    return [int(i) for i in x]


def suicidal_thoughts(record: PatientRecord, cfg: dict) -> list[Flag]:
    s, flags = cfg["safety"], []
    for a in record.assessments.itertuples():
        items = item_scores(a.items) if a.scale in SUICIDE_ITEMS else None
        if items is not None and len(items) >= SUICIDE_ITEMS[a.scale][1]:
            key, number, label = SUICIDE_ITEMS[a.scale]
            if items[number - 1] >= s[key]:
                flags.append(Flag("suicidal_thoughts", "urgent", _day(a.assessed_on),
                                  f"{label} = {items[number - 1]}", a.session_id))
        elif a.scale == "CSSRS" and a.total >= s["cssrs_level_min"]:
            flags.append(Flag("suicidal_thoughts", "urgent", _day(a.assessed_on), f"C-SSRS level {a.total}",
                              a.session_id))
        elif a.scale == "PHQ9_I9" and a.total >= s["phq9_item9_min"]:   # item 9 recorded on its own (FHIR 44260-8)
            flags.append(Flag("suicidal_thoughts", "urgent", _day(a.assessed_on), f"PHQ-9 item 9 = {a.total}",
                              a.session_id))
    return flags


def unchecked_suicide_items(record: PatientRecord) -> list[tuple[str, dt.date]]:
    """Scores of a scale with a suicide item recorded as a total only, so the suicidal-thoughts rule could not look
    at the item: (scale label, day), latest first. A PHQ-9 total with its item 9 recorded on the same day (FHIR
    44260-8) was checked."""
    a = record.assessments
    item9_days = {_day(d) for d in a.loc[a["scale"] == "PHQ9_I9", "assessed_on"]}
    out = []
    for row in a[a["scale"].isin(list(SUICIDE_ITEMS))].itertuples():
        day = _day(row.assessed_on)
        if item_scores(row.items) is None and not (row.scale == "PHQ9" and day in item9_days):
            out.append((SUICIDE_ITEMS[row.scale][2].rsplit(" item", 1)[0], day))
    return sorted(out, key=lambda x: x[1], reverse=True)


def blood_pressure(record: PatientRecord, cfg: dict) -> list[Flag]:
    """Pre-dose BP above the caution line; any post-dose reading above the hypertension line."""
    s, flags = cfg["safety"], []
    days = dict(zip(record.sessions["session_id"], record.sessions["day"]))
    for v in record.vitals[record.vitals["session_id"].notna()].itertuples():
        before = v.minute < 0
        high = (v.systolic > s["predose_systolic_max"] or v.diastolic > s["predose_diastolic_max"]) if before else \
               (v.systolic > s["postdose_systolic_max"] or v.diastolic > s["postdose_diastolic_max"])
        if high:
            flags.append(Flag("predose_bp" if before else "emergent_hypertension", "caution" if before else "high",
                              _day(days[v.session_id]), f"{v.systolic}/{v.diastolic} mmHg at minute {v.minute}",
                              v.session_id))
    return flags


def dissociation_and_sedation(record: PatientRecord, cfg: dict) -> list[Flag]:
    """Dissociation when a CADSS is above the line and above each of the patient's previous few (a rise; high
    values in early sessions are expected, §4); sedation at any MOAA/S at or under its line."""
    s, flags = cfg["safety"], []
    a = record.assessments
    cadss = a[a["scale"] == "CADSS"].sort_values(["assessed_on", "total"], kind="stable")
    rise = s["dissociation_rise_sessions"]
    totals = [int(t) for t in cadss["total"]]
    for k, row in enumerate(cadss.itertuples()):
        earlier = totals[max(0, k - rise):k]
        if row.total > s["cadss_max"] and earlier and row.total > max(earlier):
            flags.append(Flag("dissociation", severity(cfg, "dissociation"), _day(row.assessed_on),
                              f"CADSS {row.total} (earlier {', '.join(map(str, earlier))})", row.session_id))
    for row in a[(a["scale"] == "MOAAS") & (a["total"] <= s["moaas_min"])].itertuples():
        flags.append(Flag("sedation", severity(cfg, "sedation"), _day(row.assessed_on), f"MOAA/S {row.total}",
                          row.session_id))
    return flags


def monitoring(record: PatientRecord, cfg: dict) -> list[Flag]:
    """Esketamine sessions without BP before dosing, BP at ~40 min, or the full observation time."""
    need = cfg["safety"]["esketamine_observation_minutes"]
    v = record.vitals[record.vitals["session_id"].notna()]
    with_pre = set(v.loc[v["minute"] < 0, "session_id"])
    with_40 = set(v.loc[v["minute"].between(30, 60), "session_id"])
    flags = []
    done = _completed(record)
    for sess in done[done["route"] == "esketamine"].itertuples():
        gaps = []
        if sess.session_id not in with_pre:
            gaps.append("no BP before dosing")
        if sess.session_id not in with_40:
            gaps.append("no BP at ~40 min")
        if pd.isna(sess.chair_minutes) or sess.chair_minutes < need:
            gaps.append(f"observed {'?' if pd.isna(sess.chair_minutes) else int(sess.chair_minutes)} min")
        if gaps:
            flags.append(Flag("monitoring", "caution", _day(sess.day), "; ".join(gaps), sess.session_id))
    return flags


def baseline(record: PatientRecord, scale: str, cfg: dict) -> tuple[float, dt.date] | None:
    """The last score on or before the first session's day, within the look-back (clinical-reference §1)."""
    done = _completed(record)
    if done.empty:
        return None
    first = _day(done["day"].iloc[0])
    a = record.assessments
    a = a[(a["scale"] == scale) & (a["assessed_on"].dt.date <= first)
          & (a["assessed_on"].dt.date >= first - dt.timedelta(days=cfg["outcomes"]["baseline_lookback_days"]))]
    if a.empty:
        return None
    last = a.sort_values(["assessed_on", "total"], kind="stable").iloc[-1]   # of one day's, the higher
    return float(last["total"]), _day(last["assessed_on"])


def worsening(record: PatientRecord, cfg: dict) -> list[Flag]:
    """A score above baseline at two consecutive assessments of the same scale."""
    flags = []
    done = _completed(record)
    if done.empty:
        return flags
    first = _day(done["day"].iloc[0])
    for scale in ("MADRS", "PHQ9", "QIDS_SR16", "HAMD17", "BDI2"):
        base = baseline(record, scale, cfg)
        if base is None:
            continue
        later = record.assessments[(record.assessments["scale"] == scale)
                                   & (record.assessments["assessed_on"].dt.date > first)]
        later = later.sort_values(["assessed_on", "total"], kind="stable")
        above = (later["total"] > base[0]).to_numpy()
        for i in range(1, len(above)):
            if above[i] and above[i - 1]:
                row = later.iloc[i]
                flags.append(Flag("worsening", "high", _day(row["assessed_on"]),
                                  f"{scale} {int(later.iloc[i - 1]['total'])} then {int(row['total'])}, "
                                  f"baseline {base[0]:g}"))
    return flags


def _outcome_scale(record: PatientRecord, cfg: dict) -> tuple[str, tuple[float, dt.date]] | None:
    """Non-response is judged on the clinic's main scale, when it has a baseline above 0."""
    base = baseline(record, record.main_scale, cfg)
    return (record.main_scale, base) if base is not None and base[0] > 0 else None


def score_after_session(record: PatientRecord, scale: str, k: int, cfg: dict) -> pd.Series | None:
    """The score after session k (clinical-reference §1): the first assessment of the scale after session k's
    day and on or before session k+1's day, or within the window after session k when it is the last one;
    None when there is no such score (or session k was never given)."""
    done = _completed(record)
    if len(done) < k:
        return None
    a = record.assessments
    after = a[(a["scale"] == scale) & (a["after_session"] == k)].sort_values(["assessed_on", "total"], kind="stable")
    if after.empty:
        return None
    first = after.iloc[0]
    if len(done) == k and (_day(first["assessed_on"]) - _day(done["day"].iloc[k - 1])).days \
            > cfg["outcomes"]["after_session_window_days"]:
        return None
    return first


def nonresponse(record: PatientRecord, cfg: dict) -> list[Flag]:
    """Judged on the score after a fixed session (clinical-reference §1, §4), never on a later one: IV, no response
    after the 4th infusion, and "review the course" when the score after the 6th is not a response either;
    esketamine, no response at the end of induction. No score at that timepoint: no flag. A response that is
    later lost is the worsening rule's to flag, not this one's."""
    done = _completed(record)
    found = _outcome_scale(record, cfg)
    if done.empty or found is None:
        return []
    scale, (base, _) = found
    route, s = done["route"].iloc[0], cfg["safety"]
    response = cfg["outcomes"]["response_pct"] / 100

    def judged(k: int) -> tuple[pd.Series, bool] | None:
        score = score_after_session(record, scale, k, cfg)
        return None if score is None else (score, (base - score["total"]) / base >= response)

    def flag(rule: str, score: pd.Series, timepoint: str) -> Flag:
        total = int(score["total"])
        return Flag(rule, "review", _day(score["assessed_on"]),
                    f"{scale} {base:g} → {total} ({(total - base) / base:+.0%}) after {timepoint}")

    flags = []
    if route == "iv_ketamine":
        at, later = s["iv_nonresponse_sessions"], s["iv_review_sessions"]
        first, review = judged(at), judged(later) if later > at else None
        if first is not None and not first[1]:
            flags.append(flag("iv_nonresponse", first[0], f"infusion {at}"))
        if review is not None and not review[1] and (first is None or not first[1]):
            flags.append(flag("iv_nonresponse", review[0], f"infusion {later} — review the course"))
    elif route == "esketamine":
        k = cfg["induction"]["esketamine"]
        end = judged(k)
        if end is not None and not end[1]:
            flags.append(flag("esketamine_nonresponse", end[0], f"session {k}, the end of induction"))
    return flags


def dose_creep(record: PatientRecord, cfg: dict) -> list[Flag]:
    done = _completed(record)
    maint = done[(done["phase"] == "maintenance") & done["mg_per_kg"].notna() & (done["route"] != "esketamine")]
    if len(maint) < 2:
        return []
    first, last = maint["mg_per_kg"].iloc[0], maint["mg_per_kg"].iloc[-1]
    creep = cfg["safety"]["dose_creep_mg_per_kg"] - 1e-9
    if last - first >= creep:     # dated at the first session at the creep: later sessions do not re-open it
        reached = maint[maint["mg_per_kg"] - first >= creep].iloc[0]
        return [Flag("dose_creep", severity(cfg, "dose_creep"), _day(reached["day"]),
                     f"{first:.2f} → {last:.2f} mg/kg over {len(maint)} maintenance sessions", reached["session_id"])]
    return []


def long_term_use(record: PatientRecord, cfg: dict) -> list[Flag]:
    done = _completed(record)
    if done.empty:
        return []
    first, need = _day(done["day"].iloc[0]), cfg["safety"]["long_term_days"]
    reached = [d for d in map(_day, done["day"]) if (d - first).days >= need]
    if reached:                   # dated the day the course became long-term use
        return [Flag("long_term_use", severity(cfg, "long_term_use"), reached[0], f"{need} days of treatment reached")]
    return []


CHECKS = (suicidal_thoughts, blood_pressure, dissociation_and_sedation, monitoring, worsening, nonresponse,
          dose_creep, long_term_use)


def evaluate(record: PatientRecord, cfg: dict) -> list[Flag]:
    """Every flag of the patient's record, most severe first, then most recent first."""
    flags = [replace(f, severity=severity(cfg, f.rule)) for check in CHECKS for f in check(record, cfg)]
    return sorted(flags, key=lambda f: (SEVERITY_ORDER[f.severity], -f.day.toordinal(), f.rule))


def open_flags(flags: list[Flag], open_rows: pd.DataFrame) -> list[Flag]:
    """The patient's flags that are open (kdash/worklist.py: not acknowledged, not cleared), from its open rows."""
    keys = {(r.rule, pd.Timestamp(r.day).date(), r.value) for r in open_rows.itertuples()}
    return [f for f in flags if (f.rule, f.day, f.value) in keys]


def flag_params(cfg: dict, since: dt.date, today: dt.date, patient_id: str | None = None) -> dict:
    s = cfg["safety"]
    return {"since": since, "today": today, "patient_id": patient_id, "flag_patients": None,
            "phq9": s["phq9_item9_min"], "madrs": s["madrs_item10_min"], "hamd": s["hamd_item3_min"],
            "cssrs": s["cssrs_level_min"], "pre_sys": s["predose_systolic_max"], "pre_dia": s["predose_diastolic_max"],
            "post_sys": s["postdose_systolic_max"], "post_dia": s["postdose_diastolic_max"],
            "cadss": s["cadss_max"], "moaas": s["moaas_min"], "observe": s["esketamine_observation_minutes"],
            "iv_after": s["iv_nonresponse_sessions"], "iv_review": s["iv_review_sessions"],
            "esk_after": cfg["induction"]["esketamine"], "window": cfg["outcomes"]["after_session_window_days"],
            "response": cfg["outcomes"]["response_pct"] / 100, "lookback": cfg["outcomes"]["baseline_lookback_days"],
            "creep": s["dose_creep_mg_per_kg"], "long_term": s["long_term_days"], "main_scale": cfg["clinic"]["main_scale"],
            "rise": s["dissociation_rise_sessions"], "with_clears": False,
            **{f"sev_{r}": severity(cfg, r) for r in RULES}}


def clinic_open_flags(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date,
                      patient_id: str | None = None) -> pd.DataFrame:
    """The open flags' evidence rows in the clinic (or of one patient): patient, rule, severity, day, value, evidence_at."""
    from kdash import worklist
    return worklist.open_rows(con, cfg, today, None if patient_id is None else [patient_id])


def open_flag_counts(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date) -> pd.DataFrame:
    """Patients with an open flag, clinic-wide: per (rule, severity), and per severity (rule NULL: each patient
    counted once)."""
    from kdash import worklist
    body, params = worklist.open_query(con, cfg, today)
    text = (f"WITH f AS ({body}) SELECT rule, severity, count(DISTINCT patient_id) AS patients FROM f "
            "GROUP BY GROUPING SETS ((rule, severity), (severity))")
    cur = con.cursor()
    try:
        return cur.execute(text, params).df()
    finally:
        cur.close()


def by_rule(flags: list[Flag]) -> list[list[Flag]]:
    """Flags grouped per rule, keeping their order (most severe, then most recent, first)."""
    groups: dict[str, list[Flag]] = {}
    for f in flags:
        groups.setdefault(f.rule, []).append(f)
    return list(groups.values())
