"""Safety rules of clinical reference §4: each with an id, a severity, its threshold and its source.

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

from kdash import scales
from kdash.rulebook import (  # noqa: F401
    CONSENSUS,
    ESCALATES,
    LABEL,
    RULES,
    SEVERITY_ORDER,
    SUICIDE_ITEMS,
    Rule,
    flag_params,
    severity,
    threshold_text,
)


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


def _day(x) -> dt.date:
    return pd.Timestamp(x).date()


def minute_words(minute) -> str:
    """'5 min before the dose', 'at the dose', '40 min after the dose' (sql/minute_words.sql says the same)."""
    m = int(minute)
    return f"{-m} min before the dose" if m < 0 else "at the dose" if m == 0 else f"{m} min after the dose"


def _completed(record: PatientRecord) -> pd.DataFrame:
    s = record.sessions
    return s[s["status"] == "completed"].sort_values(["scheduled_at", "session_id"])


def item_scores(x) -> list[int] | None:
    """An assessment's item scores, or None when the source gave a total only (stored NULL, read as NA)."""
    if x is None or (not hasattr(x, "__len__") and pd.isna(x)):
        return None
    return [int(i) for i in x]


def self_reported(a) -> str:
    """' (self-reported)' after the evidence of a patient's own answer (clinical reference §8), as sql/open_flags.sql
    writes it."""
    return " (self-reported)" if getattr(a, "source", None) == "self_report" else ""


def suicidal_thoughts(record: PatientRecord, cfg: dict) -> list[Flag]:
    s, flags = cfg["safety"], []
    for a in record.assessments.itertuples():
        items = item_scores(a.items) if a.scale in SUICIDE_ITEMS else None
        if items is not None and len(items) >= SUICIDE_ITEMS[a.scale][1]:
            key, number, label = SUICIDE_ITEMS[a.scale]
            if items[number - 1] >= s[key]:
                flags.append(Flag("suicidal_thoughts", "urgent", _day(a.assessed_on),
                                  f"{label} = {items[number - 1]}{self_reported(a)}", a.session_id))
        elif a.scale == "CSSRS" and a.total >= s["cssrs_level_min"]:
            flags.append(Flag("suicidal_thoughts", "urgent", _day(a.assessed_on), f"C-SSRS level {a.total}{self_reported(a)}",
                              a.session_id))
        elif a.scale == "PHQ9_I9" and a.total >= s["phq9_item9_min"]:   # item 9 recorded on its own (FHIR 44260-8)
            flags.append(Flag("suicidal_thoughts", "urgent", _day(a.assessed_on), f"PHQ-9 item 9 = {a.total}{self_reported(a)}",
                              a.session_id))
    return flags


def suicide_item_unknown(record: PatientRecord, cfg: dict) -> list[Flag]:
    """Scores of a scale with a suicide item recorded as a total only, so the suicidal-thoughts rule could not look at
    the item (§4 "suicide item unknown"): a review prompt, urgent when the total is in the scale's severe band. A
    PHQ-9 total with its item 9 recorded on the same day (FHIR 44260-8) was checked."""
    a = record.assessments
    item9_days = {_day(d) for d in a.loc[a["scale"] == "PHQ9_I9", "assessed_on"]}
    flags = []
    for row in a[a["scale"].isin(list(SUICIDE_ITEMS))].itertuples():
        day, number = _day(row.assessed_on), SUICIDE_ITEMS[row.scale][1]
        items = item_scores(row.items)
        if (items is not None and len(items) >= number) or (row.scale == "PHQ9" and day in item9_days):
            continue
        severe = row.total >= scales.severe_from(row.scale)
        flags.append(Flag("suicide_item_unknown", "urgent" if severe else severity(cfg, "suicide_item_unknown"), day,
                          unknown_item_text(row.scale, int(row.total), severe), row.session_id))
    return flags


def unknown_item_text(scale: str, total: int, severe: bool) -> str:
    """'PHQ-9 22 recorded without item 9 (severe band)': as sql/open_flags.sql writes it."""
    return (f"{scales.SCALES[scale].name} {total} recorded without item {SUICIDE_ITEMS[scale][1]}"
            + (" (severe band)" if severe else ""))


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
                              _day(days[v.session_id]), f"{v.systolic}/{v.diastolic} mmHg, {minute_words(v.minute)}",
                              v.session_id))
    return flags


def session_peaks(a: pd.DataFrame) -> pd.DataFrame:
    """Each session's highest CADSS (several ratings by minute, or one peak), in (day, peak, session) order."""
    cadss = a[a["scale"] == "CADSS"].assign(session=lambda d: d["session_id"].fillna(NO_SESSION))
    peaks = cadss.groupby(["assessed_on", "session"], as_index=False).agg(total=("total", "max"),
                                                                           session_id=("session_id", "first"))
    return peaks.sort_values(["assessed_on", "total", "session"], kind="stable").reset_index(drop=True)


NO_SESSION = "\uffff"     # a rating without a session sorts after every session, as NULL does in SQL


def last_ratings(a: pd.DataFrame, scale: str, since_minute: int | None = None, at_least: int = 1) -> pd.DataFrame:
    """Per session, the last rating of the scale by minute (the higher of two at one minute), among ratings with a
    minute (from `since_minute` on), for sessions with at least `at_least` such ratings."""
    r = a[(a["scale"] == scale) & a["minute"].notna() & a["session_id"].notna()]
    if since_minute is not None:
        r = r[r["minute"] >= since_minute]
    if r.empty:
        return r.assign(n=pd.Series(dtype=int))
    r = r.sort_values(["session_id", "minute", "total"], kind="stable")
    last = r.groupby("session_id", as_index=False).tail(1).copy()
    last["n"] = last["session_id"].map(r.groupby("session_id").size())
    return last[last["n"] >= at_least]


def dissociation_and_sedation(record: PatientRecord, cfg: dict) -> list[Flag]:
    """Dissociation when a session's peak CADSS is above the line and above each of the patient's previous few
    sessions' (a rise; high values in early sessions are expected, §4), or when the last of two or more ratings of a
    session is still above it (not settled by discharge); sedation at any MOAA/S at or under its line, and when the
    last rating from about 90 minutes on is still below 5."""
    s, flags = cfg["safety"], []
    a = record.assessments
    peaks = session_peaks(a)
    rise = s["dissociation_rise_sessions"]
    totals = [int(t) for t in peaks["total"]]
    for k, row in enumerate(peaks.itertuples()):
        earlier = totals[max(0, k - rise):k]
        if row.total > s["cadss_max"] and earlier and row.total > max(earlier):
            flags.append(Flag("dissociation", severity(cfg, "dissociation"), _day(row.assessed_on),
                              f"CADSS {row.total} (earlier {', '.join(map(str, earlier))})", row.session_id))
    for row in last_ratings(a, "CADSS", at_least=2).itertuples():
        if row.total > s["cadss_max"]:
            flags.append(Flag("dissociation_unsettled", severity(cfg, "dissociation_unsettled"), _day(row.assessed_on),
                              f"CADSS {row.total}, {minute_words(row.minute)}, the last rating of the session",
                              row.session_id))
    for row in a[(a["scale"] == "MOAAS") & (a["total"] <= s["moaas_min"])].itertuples():
        flags.append(Flag("sedation", severity(cfg, "sedation"), _day(row.assessed_on), f"MOAA/S {row.total}",
                          row.session_id))
    for row in last_ratings(a, "MOAAS", since_minute=s["sedation_recovery_minutes"]).itertuples():
        if row.total < 5:
            flags.append(Flag("sedation_unresolved", severity(cfg, "sedation_unresolved"), _day(row.assessed_on),
                              f"MOAA/S {row.total}, {minute_words(row.minute)}", row.session_id))
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
    """The last score on or before the first session's day, within the look-back (clinical reference §1)."""
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
                                  f"{scales.SCALES[scale].name} {int(later.iloc[i - 1]['total'])} then "
                                  f"{int(row['total'])}, "
                                  f"baseline {base[0]:g}"))
    return flags


def _outcome_scale(record: PatientRecord, cfg: dict) -> tuple[str, tuple[float, dt.date]] | None:
    """Non-response is judged on the clinic's main scale, when it has a baseline above 0."""
    base = baseline(record, record.main_scale, cfg)
    return (record.main_scale, base) if base is not None and base[0] > 0 else None


def score_after_session(record: PatientRecord, scale: str, k: int, cfg: dict) -> pd.Series | None:
    """The score after session k (clinical reference §1): the first assessment of the scale after session k's
    day and on or before session k+1's day, or within the window after session k when it is the last one;
    None when there is no such score (or session k was never given)."""
    return _first_counted(record, scale, k, cfg, exactly=True)


def score_from_session(record: PatientRecord, scale: str, k: int, cfg: dict) -> pd.Series | None:
    """The first score after session k or a later one that counts for its session (§1: after the last session,
    only within the window): where non-response is judged when the score after session k itself is missing (§4)."""
    return _first_counted(record, scale, k, cfg, exactly=False)


def _first_counted(record: PatientRecord, scale: str, k: int, cfg: dict, exactly: bool) -> pd.Series | None:
    done = _completed(record)
    if len(done) < k:
        return None
    a = record.assessments
    after = a[(a["scale"] == scale) & ((a["after_session"] == k) if exactly else (a["after_session"] >= k))]
    after = after.sort_values(["assessed_on", "total"], kind="stable")
    if after.empty:
        return None
    first = after.iloc[0]
    last = len(done)
    if int(first["after_session"]) == last and (_day(first["assessed_on"]) - _day(done["day"].iloc[last - 1])).days \
            > cfg["outcomes"]["after_session_window_days"]:
        return None
    return first


def nonresponse(record: PatientRecord, cfg: dict) -> list[Flag]:
    """Judged at the first score after a fixed session or a later one (clinical reference §1, §4): IV, no response
    after the 4th infusion, and "review the course" when the first score after the 6th is not a response either;
    esketamine, no response at the end of induction, never before. No such score: no flag here (an IV course at
    infusion 6 without one is iv_unscored's). A response that is later lost is the worsening rule's to flag."""
    done = _completed(record)
    found = _outcome_scale(record, cfg)
    if done.empty or found is None:
        return []
    scale, (base, _) = found
    route, s = done["route"].iloc[0], cfg["safety"]
    response = cfg["outcomes"]["response_pct"] / 100

    def judged(k: int) -> tuple[pd.Series, int, bool] | None:
        score = score_from_session(record, scale, k, cfg)
        return None if score is None else (score, int(score["after_session"]), (base - score["total"]) / base >= response)

    def flag(rule: str, score: pd.Series, timepoint: str) -> Flag:
        total = int(score["total"])
        return Flag(rule, "review", _day(score["assessed_on"]),
                    f"{scales.SCALES[scale].name} {base:g} → {total} ({(total - base) / base:+.0%}) after {timepoint}")

    flags = []
    if route == "iv_ketamine":
        at, later = s["iv_nonresponse_sessions"], s["iv_review_sessions"]
        first = judged(at)
        if first is not None and not first[2]:
            review = later > at and first[1] >= later
            flags.append(flag("iv_nonresponse", first[0], f"infusion {first[1]}" + (" — review the course" if review
                                                                                    else "")))
            second = judged(later) if later > at and first[1] < later else None
            if second is not None and not second[2]:
                flags.append(flag("iv_nonresponse", second[0], f"infusion {second[1]} — review the course"))
    elif route == "esketamine":
        k = cfg["induction"]["esketamine"]
        end = judged(k)
        if end is not None and not end[2]:
            flags.append(flag("esketamine_nonresponse", end[0], f"session {end[1]}"
                              + (", the end of induction" if end[1] == k else " (the first score after the end of induction)")))
    return flags


def iv_unscored(record: PatientRecord, cfg: dict) -> list[Flag]:
    """An IV course that reached infusion 6 with no main-scale score after infusion 4 (after its day, up to infusion
    6's): non-response cannot be judged, itself a review prompt (clinical reference §4), dated at infusion 6."""
    done = _completed(record)
    s, scale = cfg["safety"], record.main_scale
    at, later = s["iv_nonresponse_sessions"], s["iv_review_sessions"]
    if done.empty or done["route"].iloc[0] != "iv_ketamine" or later <= at or len(done) < later:
        return []
    from_day, by_day = _day(done["day"].iloc[at - 1]), _day(done["day"].iloc[later - 1])
    a = record.assessments
    days = [_day(d) for d in a.loc[a["scale"] == scale, "assessed_on"]]
    if any(from_day < d <= by_day for d in days):
        return []
    return [Flag("iv_unscored", severity(cfg, "iv_unscored"), by_day,
                 f"no {scales.SCALES[scale].name} score after infusion {at} by infusion {later}", done["session_id"].iloc[later - 1])]


def dose_creep(record: PatientRecord, cfg: dict) -> list[Flag]:
    """Each maintenance session whose mg/kg is at least the creep above the first maintenance dose and above every
    earlier maintenance dose (a further rise is new evidence, so it reopens an acknowledged flag)."""
    done = _completed(record)
    maint = done[(done["phase"] == "maintenance") & done["mg_per_kg"].notna() & (done["route"] != "esketamine")]
    if len(maint) < 2:
        return []
    doses = [float(x) for x in maint["mg_per_kg"]]
    creep, flags = cfg["safety"]["dose_creep_mg_per_kg"] - 1e-9, []
    for i in range(1, len(doses)):
        if doses[i] - doses[0] >= creep and doses[i] > max(doses[:i]) + 1e-9:
            row = maint.iloc[i]
            flags.append(Flag("dose_creep", severity(cfg, "dose_creep"), _day(row["day"]),
                              f"{doses[0]:.2f} → {doses[i]:.2f} mg/kg", row["session_id"]))
    return flags


def rems_form(record: PatientRecord, cfg: dict) -> list[Flag]:
    """Esketamine sessions whose REMS patient monitoring form is not recorded as sent (due within 7 days)."""
    done = _completed(record)
    due = cfg["safety"]["rems_form_days"]
    flags = []
    for sess in done[(done["route"] == "esketamine") & done["rems_form_sent_on"].isna()].itertuples():
        day = _day(sess.day)
        flags.append(Flag("rems_form", severity(cfg, "rems_form"), day,
                          f"REMS monitoring form for the session of {day:%Y-%m-%d} not sent (due by "
                          f"{day + dt.timedelta(days=due):%Y-%m-%d})", sess.session_id))
    return flags


def long_term_use(record: PatientRecord, cfg: dict) -> list[Flag]:
    done = _completed(record)
    if done.empty:
        return []
    first, need = _day(done["day"].iloc[0]), cfg["safety"]["long_term_days"]
    reached = [d for d in map(_day, done["day"]) if (d - first).days >= need]
    if reached:                   # dated the day the course became long-term use
        return [Flag("long_term_use", severity(cfg, "long_term_use"), reached[0], f"{need} days of treatment reached")]
    return []


CHECKS = (suicidal_thoughts, suicide_item_unknown, blood_pressure, dissociation_and_sedation, monitoring, worsening,
          nonresponse, iv_unscored, dose_creep, long_term_use, rems_form)


def evaluate(record: PatientRecord, cfg: dict) -> list[Flag]:
    """Every flag of the patient's record, most severe first, then most recent first."""
    flags = [f if f.rule in ESCALATES and f.severity == "urgent" else replace(f, severity=severity(cfg, f.rule))
             for check in CHECKS for f in check(record, cfg)]
    return sorted(flags, key=lambda f: (SEVERITY_ORDER[f.severity], -f.day.toordinal(), f.rule))


def open_flags(flags: list[Flag], open_rows: pd.DataFrame) -> list[Flag]:
    """The patient's flags that are open (kdash/clinical/worklist.py: not acknowledged, not cleared), from its open rows."""
    keys = {(r.rule, pd.Timestamp(r.day).date(), r.value) for r in open_rows.itertuples()}
    return [f for f in flags if (f.rule, f.day, f.value) in keys]


def clinic_open_flags(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date,
                      patient_id: str | None = None) -> pd.DataFrame:
    """The open flags' evidence rows in the clinic (or of one patient): patient, rule, severity, day, value, evidence_at."""
    from kdash.clinical import worklist
    return worklist.open_rows(con, cfg, today, None if patient_id is None else [patient_id])


def open_flag_counts(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date) -> pd.DataFrame:
    """Patients with an open flag, clinic-wide: per (rule, severity), and per severity (rule NULL: each patient
    counted once)."""
    from kdash.clinical import worklist
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
