"""Clinic-wide outcomes (clinical reference §1; data-contract §6): the page and the CLI both call this."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from kdash import scales, vocab
from kdash.clinical import deid, stats
from kdash.store import course_scores, db

SETS = ("itt", "completers")


AGE_BANDS = {"under 18": (0, 17), "18–29": (18, 29), "30–44": (30, 44), "45–64": (45, 64), "65+": (65, 200)}

MAX_K = 12   # the mean course and the trajectories run to session 12


def check(scale: str, analysis_set: str = "itt", age_band: str | None = None) -> None:
    """ValueError naming the problem when a filter value is not one this page knows."""
    if scale not in scales.DEPRESSION_SCALES:
        raise ValueError(f"unknown outcome scale {scale!r}; choose one of {', '.join(scales.DEPRESSION_SCALES)}")
    if analysis_set not in SETS:
        raise ValueError(f"unknown analysis set {analysis_set!r}; choose itt or completers")
    if age_band is not None and age_band not in AGE_BANDS:
        raise ValueError(f"unknown age band {age_band!r}; choose one of {', '.join(AGE_BANDS)}")


def remission_threshold(cfg: dict, scale: str) -> float | None:
    """The scale's remission threshold (at or under), or None where the clinical reference gives none
    (BDI-II): remission is then "not defined", never a rate counted against a threshold of 0."""
    return cfg["remission"].get(scale)


def params(cfg: dict, scale: str, route: str = "all", analysis_set: str = "itt",
           start: dt.date | None = None, end: dt.date | None = None, diagnosis: str | None = None,
           sex: str | None = None, clinician: str | None = None, age_band: str | None = None,
           as_of: dt.date | None = None, today: dt.date | None = None) -> dict:
    """Query parameters for the cohort and the outcome definitions of clinical reference §1. as_of: the figures as
    they stood at the end of that day, from nothing recorded after it (a report of a past period); None: now, with
    `today` deciding which courses are still under way."""
    check(scale, analysis_set, age_band)
    age_min, age_max = AGE_BANDS.get(age_band, (None, None))
    return {
        "scale": scale, "route": route, "set": analysis_set, "start": start, "end": end,
        "diagnosis": diagnosis, "sex": sex, "clinician": clinician, "age_min": age_min, "age_max": age_max,
        **course_scores.settings_params(cfg),   # look-back, window, response, planned induction lengths
        "partial": cfg["outcomes"]["partial_response_pct"] / 100, "remission": remission_threshold(cfg, scale),
        "patient_ids": None, "ids": None, "as_of": as_of, "today": today or dt.date.today(),
    }


def per_patient(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> pd.DataFrame:
    """One row per patient in the analysis set: baseline, last observation, % change, status."""
    return db.query(con, "course_outcomes", params(cfg, **filters))


def summary(con: duckdb.DuckDBPyConnection, cfg: dict, scale: str = "MADRS", route: str = "all",
            analysis_set: str = "itt", start: dt.date | None = None, end: dt.date | None = None,
            **filters) -> dict:
    """Response and remission with Wilson intervals, shaped as data-contract §6; remission is null (not defined)
    for a scale without a remission threshold."""
    p = params(cfg, scale, route, analysis_set, start, end, **filters)
    row = db.query(con, "summary", p).iloc[0]
    n_treated, n_eval, resp, remit = (int(row[k]) for k in ("n_treated", "n_evaluable", "responders", "remitters"))
    mean_base, mean_change = (None if pd.isna(row[k]) else float(row[k]) for k in ("mean_baseline", "mean_change"))
    defined = p["remission"] is not None
    r_ci, m_ci = stats.wilson(resp, n_eval), stats.wilson(remit, n_eval) if defined else None
    return {
        "scale": scale, "route": route, "set": analysis_set,
        "n_treated": int(n_treated), "n_evaluable": int(n_eval),
        "responders": int(resp), "response_rate": _round(stats.rate(resp, n_eval)),
        "response_ci95": [_round(x) for x in r_ci] if r_ci else None,
        "remitters": int(remit) if defined else None,
        "remission_rate": _round(stats.rate(remit, n_eval)) if defined else None,
        "remission_ci95": [_round(x) for x in m_ci] if m_ci else None,
        "mean_baseline": _round(mean_base, 1), "mean_change": _round(mean_change, 1),
    }


def _round(x, digits: int = 3):
    return None if x is None else round(float(x), digits)


def _q(con, name: str, cfg: dict, filters: dict, **extra) -> pd.DataFrame:
    return db.query(con, name, {**params(cfg, **filters), **extra})


def timepoints(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> pd.DataFrame:
    """Response and remission after sessions 2, 4, 6, at the end of induction and at the last observation, each
    with n, Wilson intervals, the patients not evaluable and those still under way (clinical reference §1: shown
    apart, never as failures); all treated with how many had their last score, or their baseline, carried forward;
    completers as observed cases (remission all null where it is not defined)."""
    df = _q(con, "timepoints", cfg, filters)
    for what, count in (("response", "responders"), ("remission", "remitters")):
        df[f"{what}_rate"], df[f"{what}_low"], df[f"{what}_high"] = stats.wilson_columns(df[count], df["n_evaluable"])
    if remission_threshold(cfg, filters["scale"]) is None:
        df[["remitters", "remission_rate", "remission_low", "remission_high"]] = np.nan
    df["not_evaluable"] = df["n"] - df["n_evaluable"]
    return df


SET_NAMES = {"itt": "all treated, last score carried forward (baseline where there is none)",
             "completers": "completers of induction, observed scores only"}


def set_caption(analysis_set: str, points: pd.DataFrame | None = None, count=lambda n: f"{int(n):,}") -> str:
    """The analysis set in the words a psychiatrist uses, with what was imputed (clinical reference §1); count
    writes a number of patients (a de-identified pack: 1 to 4 as "<5")."""
    if analysis_set == "completers":
        text = ("Completers: patients who completed the planned induction, each timepoint with the score observed "
                "there; without one a patient is not evaluable at that timepoint (nothing is carried forward).")
    else:
        text = ("All treated: every patient with a completed session. Where a patient has no score at a timepoint "
                "(they stopped earlier, or missed it), their last score is carried forward; where they have none "
                "since the baseline, the baseline is carried forward, which counts as no change.")
    if points is not None and len(points):
        under = points.set_index("label")["under_way"]
        waiting = ", ".join(f"{label}: {count(n)}" for label, n in under.items() if n)
        if analysis_set == "itt":
            carried = points.set_index("label")[["carried_last", "carried_baseline"]]
            text += " Carried forward, last score / baseline: " + "; ".join(
                f"{label} {count(r.carried_last)} / {count(r.carried_baseline)}" for label, r in carried.iterrows()) + "."
        text += (f" Courses still under way are shown apart, not as failures (still in induction, {waiting})."
                 if waiting else " No course is still short of a timepoint.")
    return text


def mean_by_session(con: duckdb.DuckDBPyConnection, cfg: dict, max_k: int = MAX_K, **filters) -> pd.DataFrame:
    """Mean observed score after each session (0 = baseline) with a 95 % t interval."""
    df = _q(con, "trajectory_mean", cfg, filters, max_k=max_k, sample=0)
    cis = [stats.mean_ci(m, sd, n) for m, sd, n in zip(df["mean"], df["sd"], df["n"])]
    df["low"] = [c[0] if c else None for c in cis]
    df["high"] = [c[1] if c else None for c in cis]
    return df


def trajectories(con: duckdb.DuckDBPyConnection, cfg: dict, sample: int = 150, max_k: int = MAX_K,
                 **filters) -> pd.DataFrame:
    """Individual trajectories of a fixed pseudo-random sample of patients (the faint lines)."""
    return _q(con, "trajectory", cfg, filters, max_k=max_k, sample=sample)


def waterfall(con: duckdb.DuckDBPyConnection, cfg: dict, limit: int = 1500, **filters) -> pd.DataFrame:
    return _q(con, "waterfall", cfg, filters, limit=limit)


def time_to_response(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> dict:
    """The cumulative incidence of first response per route, in sessions and in days, with stopping treatment as a
    competing event (Aalen–Johansen; clinical reference §1: those who stop are mostly those not improving, so
    censoring them, as Kaplan–Meier does, overstates response); courses still under way are censored at their last
    score. Each curve carries the numbers at risk."""
    counts = _q(con, "time_to_response", cfg, filters)
    curves = {}
    for unit in ("sessions", "days"):
        curves[unit] = {}
        for route, part in counts[counts["unit"] == unit].groupby("route"):
            # one duration per patient, expanded from the counts, for the estimate and the numbers at risk
            durations = np.repeat(part["time"].to_numpy(float), part["patients"])
            outcome = np.repeat(part["outcome"].to_numpy(int), part["patients"])
            if (outcome == stats.RESPONDED).any():
                ci = stats.cumulative_incidence(durations, outcome)
                curves[unit][route] = {**ci, "n": len(durations), "events": int((outcome == stats.RESPONDED).sum()),
                                       "stopped": int((outcome == stats.STOPPED).sum()),
                                       "under_way": int((outcome == stats.CENSORED).sum()), "durations": durations}
    return curves


def retention(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> pd.DataFrame:
    row = _q(con, "retention", cfg, filters).iloc[0]
    steps = [("Session 1", "session_1"), ("Session 2", "session_2"), ("Session 4", "session_4"),
             ("Session 6", "session_6"), ("Maintenance", "maintenance")]
    started = int(row["session_1"]) or 1
    return pd.DataFrame({"step": [s for s, _ in steps], "patients": [int(row[c]) for _, c in steps],
                         "share": [int(row[c]) / started for _, c in steps]})


# clinical reference §5: published results, for a fair side-by-side (study, scale, timepoint named).
# clinical reference §5: each result with its design, comparator (when the study had one) and timepoint
PUBLISHED = pd.DataFrame([
    ("Murrough 2013", "RCT, single infusion", "73", "IV ketamine 0.5 mg/kg, once", "midazolam", "MADRS",
     "24 h after one infusion", 0.64, 0.28, None, None),
    ("TRANSFORM-2 (Popova 2019)", "RCT", "114 vs 109", "esketamine + new oral antidepressant",
     "placebo spray + new oral antidepressant", "MADRS", "day 28", 0.693, 0.520, 0.525, 0.310),
    ("McIntyre 2020, Ontario", "real-world cohort", "190", "IV ketamine 0.5–0.75 mg/kg", None, "QIDS-SR16",
     "after 4 infusions", 0.27, None, 0.13, None),
    ("McInnes 2022, 178 US clinics", "real-world cohort", "537", "IV induction, 4–8 infusions", None, "PHQ-9",
     "14–31 days after", 0.536, None, 0.289, None),
    ("KADS (Loo 2023)", "RCT", "106", "SC ketamine, 4 weeks", "midazolam", "MADRS", "week 4", None, None,
     0.196, 0.020),
], columns=["study", "design", "n", "treatment", "comparator", "scale", "timepoint", "response",
            "response_comparator", "remission", "remission_comparator"])


def published_beside(ours: dict) -> pd.DataFrame:
    """Our cohort's row above the published ones, rates as '69.3 % vs 52.0 %' (treatment vs comparator)."""
    rows = pd.concat([pd.DataFrame([ours]), PUBLISHED], ignore_index=True)
    def rate(x, vs) -> str:
        if x is None or pd.isna(x):
            return "—"
        return f"{x:.1%}".replace("%", " %") + ("" if vs is None or pd.isna(vs) else f" vs {vs:.1%}".replace("%", " %"))
    return pd.DataFrame({
        "Study": rows["study"], "Design": rows["design"], "Patients": rows["n"],
        "Treatment (vs comparator)": [t if c is None or pd.isna(c) else f"{t} vs {c}"
                                      for t, c in zip(rows["treatment"], rows["comparator"])],
        "Scale": rows["scale"], "Timepoint": rows["timepoint"],
        "Response": [rate(x, vs) for x, vs in zip(rows["response"], rows["response_comparator"])],
        "Remission": [rate(x, vs) for x, vs in zip(rows["remission"], rows["remission_comparator"])]})


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The cohort filters' default: patients first treated in the two years to today (28 Feb for 29 Feb)."""
    start = today.replace(day=28) if (today.month, today.day) == (2, 29) else today
    return start.replace(year=today.year - 2), today


NEIGHBOURS = ("route", "diagnosis", "age_band", "sex", "clinician")


def whole_months(start: dt.date | None, end: dt.date | None, today: dt.date) -> tuple:
    """A counts-only user's period: from the first of its first month to the last day of its last (or today), so two
    periods a day apart are the same period (issue 31: a one-day difference read one patient's outcome)."""
    if start is None or end is None:
        return start, end
    first = start.replace(day=1)
    nxt = (end.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, min(nxt - dt.timedelta(days=1), today)


def _month(day: dt.date, by: int) -> dt.date:
    months = day.year * 12 + day.month - 1 + by
    return dt.date(months // 12, months % 12 + 1, 1)


def neighbours(filters: dict) -> list[tuple[str, dict]]:
    """The wider cohorts next to one: its period a month longer at either end, and each filter in use taken off.
    A figure whose cohort is 1 to 4 patients short of one of these would tell those patients' outcome beside it, so
    it is the narrower figure that is suppressed; the wider one stays (its own narrower neighbours are suppressed),
    and the widest view, every date and no filter, is always shown."""
    out = []
    start, end = filters.get("start"), filters.get("end")
    if start is not None and end is not None:
        out.append(("the period starting a month earlier", {**filters, "start": _month(start.replace(day=1), -1)}))
        out.append(("the period ending a month later",
                    {**filters, "end": _month(end.replace(day=1), 2) - dt.timedelta(days=1)}))
    for key in NEIGHBOURS:
        value = filters.get(key)
        if value not in (None, "all"):
            out.append((f"the same cohort without the {key.replace('_', ' ')} filter",
                        {**filters, key: "all" if key == "route" else None}))
    return out


def cohort_counts(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> tuple[int, int]:
    """(treated, evaluable) of a cohort: what a rate rests on."""
    text = "SELECT count(*), count(*) FILTER (WHERE baseline > 0) FROM ({{cohort_scores}})"
    p = params(cfg, **filters)
    cur = con.cursor()
    try:
        text = db._INCLUDE.sub(lambda m: db.sql(m.group(1)), text)
        row = cur.execute(text, db.bind(text, p, cur)).fetchone()
    finally:
        cur.close()
    return int(row[0]), int(row[1])


def differencing(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> str | None:
    """Why a counts-only figure is suppressed (issue 31's difference rule), or None: a wider neighbouring period or
    filter gives a cohort that differs from this one by fewer than 5 patients, treated or evaluable."""
    here = cohort_counts(con, cfg, **filters)
    for name, other in neighbours(filters):
        there = cohort_counts(con, cfg, **other)
        gap = [abs(a - b) for a, b in zip(here, there)]
        if any(0 < g < deid.MIN_CELL for g in gap):
            return (f"{name} holds 1 to {deid.MIN_CELL - 1} patients more than this cohort, so the two together "
                    "would tell those patients' outcomes: widen the period or take a filter off")
    return None


AT_RISK_TICKS = {"sessions": [0, 2, 4, 6, 8, 10, 12], "days": [0, 7, 14, 21, 28, 42, 56, 90]}


def number_at_risk(curve: dict, ticks: list[int]) -> list[int]:
    return stats.at_risk(curve["durations"], ticks)


def at_risk_table(curves: dict, unit: str) -> pd.DataFrame:
    """Number at risk under each route's curve at the usual ticks (a row per route)."""
    ticks = AT_RISK_TICKS[unit]
    return pd.DataFrame({vocab.ROUTES.get(r, r): stats.at_risk(c["durations"], ticks) for r, c in curves.items()},
                        index=[str(t) for t in ticks]).T
