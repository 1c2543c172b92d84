"""Is this patient on track? The expected course from the clinic's own history (clinical reference §9,
data-contract §10), with its proof.

Definitions, all from §1 and §9, every threshold a setting ([course]):
- percent change after session k = (baseline − score after session k) / baseline, positive = a fall (§1); the score
  after session k is the first one after session k's day, on or before session k+1's (within the window after the
  last session): score_points' first_after rows that count (as course_scores_build.sql reads them);
- a reference course: another patient's course of the same route and scale with a baseline above 0, whose induction
  is finished (the planned number of induction sessions given, or maintenance begun) and which has a score in its
  induction; its outcome is the percent change at its last scored induction session; responded = at least the
  clinic's response line (50 %). Courses still in induction, and the patient asked about, are never in it;
- the expected course at session k: the median and the 10th–90th percentiles of the reference courses' percent
  change after session k (linear interpolation between order statistics: numpy's default, DuckDB's quantile_cont),
  shown where at least `min_reference` courses have a score at k;
- the chance of response after session k: among the reference courses whose percent change at k lies within
  `window` (10 points) of the patient's, inclusive, the share that responded, with a Wilson interval; shown where
  at least `min_similar` such courses exist;
- not on track (a review prompt, never a safety flag): at session k ≥ `from_session` of the route, the patient's
  change is under the band's 10th percentile, or the upper end of the chance's interval is under `chance_floor`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from kdash import rulebook, scales
from kdash.clinical import stats

ROUTE_WORDS = {"iv_ketamine": "infusion", "esketamine": "esketamine session", "sc_ketamine": "injection",
               "im_ketamine": "injection", "oral_ketamine": "session"}

# every treated course on one scale: its route, planned induction, whether induction is finished, and its percent
# change after each scored induction session
_POINTS = """
WITH c AS (
    SELECT patient_id, route, first_day, last_day,
           CASE route WHEN 'iv_ketamine' THEN $ind_iv WHEN 'esketamine' THEN $ind_esk WHEN 'sc_ketamine' THEN $ind_sc
                      WHEN 'im_ketamine' THEN $ind_im ELSE $ind_oral END AS planned,
           n_induction, n_maintenance, n_sessions
    FROM course_facts
    WHERE ($route IS NULL OR route = $route) AND ($only IS NULL OR patient_id = $only)
),
b AS (
    SELECT p.patient_id, arg_max(p.total, (p.assessed_on, p.total)) AS base
    FROM score_points p JOIN c USING (patient_id)
    WHERE p.scale = $scale AND p.after_session = 0 AND p.assessed_on >= c.first_day - $lookback::INTEGER
      AND ($only IS NULL OR p.patient_id = $only)
    GROUP BY p.patient_id
)
SELECT c.patient_id, c.route, c.planned, b.base,
       (c.n_induction >= c.planned OR c.n_maintenance > 0 OR c.n_sessions > c.planned) AS finished,
       (c.last_day >= $today::DATE - $under_way_days::INTEGER OR EXISTS (SELECT 1 FROM sessions s WHERE s.patient_id = c.patient_id
            AND s.status = 'scheduled' AND s.scheduled_at >= $today::DATE)) AS under_way,   -- as the roster says
       p.after_session AS k, (b.base - p.total) / b.base AS pct
FROM score_points p JOIN c USING (patient_id) JOIN b USING (patient_id)
WHERE p.scale = $scale AND b.base > 0 AND p.first_after AND (p.has_next OR p.days_after <= $window::INTEGER)
  AND p.after_session BETWEEN 1 AND c.planned AND ($only IS NULL OR p.patient_id = $only)
ORDER BY c.patient_id, k
"""


@dataclasses.dataclass
class Reference:
    """A route's reference courses on one scale: one row per course and scored session (patient_id, k, pct) and
    each course's outcome (patient_id → responded)."""
    route: str
    scale: str
    points: pd.DataFrame
    responded: pd.Series

    def __post_init__(self):
        # each session's rows with the course's outcome, once: a patient page asks for every session
        pts = self.points.assign(responded=self.points["patient_id"].map(self.responded).astype(bool))
        self.by_k = {int(k): rows.reset_index(drop=True) for k, rows in pts.groupby("k", sort=True)}

    def at(self, k: int, exclude: str | None = None) -> pd.DataFrame:
        rows = self.by_k.get(int(k), self.points.iloc[0:0].assign(responded=pd.Series(dtype=bool)))
        if exclude is not None and exclude in self.responded.index:
            rows = rows[rows["patient_id"] != exclude]
        return rows

    def courses(self, exclude: str | None = None) -> int:
        return int(len(self.responded) - (exclude in self.responded.index))


def _params(cfg: dict, scale: str, route: str | None, only: str | None = None, today: dt.date | None = None) -> dict:
    ind, out = cfg["induction"], cfg["outcomes"]
    return {"scale": scale, "route": route, "only": only, "today": today or dt.date.today(),
            "under_way_days": rulebook.UNDER_WAY_DAYS, "lookback": out["baseline_lookback_days"],
            "window": out["after_session_window_days"], "ind_iv": ind["iv_ketamine"], "ind_esk": ind["esketamine"],
            "ind_sc": ind["sc_ketamine"], "ind_im": ind["im_ketamine"], "ind_oral": ind["oral_ketamine"]}


def _points(con, cfg: dict, scale: str, route: str | None = None, only: str | None = None,
            today: dt.date | None = None) -> pd.DataFrame:
    cur = con.cursor()
    try:
        return cur.execute(_POINTS, _params(cfg, scale, route, only, today)).df()
    finally:
        cur.close()


def outcomes_of(points: pd.DataFrame, cfg: dict) -> pd.Series:
    """patient_id → responded at the end of induction (the last scored induction session), finished courses only."""
    done = points[points["finished"]]
    last = done.sort_values(["patient_id", "k"]).groupby("patient_id")["pct"].last()
    return last >= cfg["outcomes"]["response_pct"] / 100


def reference(con: duckdb.DuckDBPyConnection, cfg: dict, route: str, scale: str | None = None) -> Reference:
    scale = scale or cfg["clinic"]["main_scale"]
    pts = _points(con, cfg, scale, route)
    responded = outcomes_of(pts, cfg)
    ref = pts[pts["patient_id"].isin(responded.index)][["patient_id", "k", "pct"]].reset_index(drop=True)
    return Reference(route, scale, ref, responded)


def band(values: np.ndarray, cfg: dict) -> dict:
    low, high = cfg["course"]["band"]
    q = np.quantile(values, [low / 100, 0.5, high / 100]) if len(values) else [np.nan] * 3
    return {"n": int(len(values)), "median_pct_change": float(q[1]), "p10": float(q[0]), "p90": float(q[2])}


def expected(ref: Reference, cfg: dict, exclude: str | None = None, planned: int | None = None) -> list[dict]:
    """The band after each session number where at least `min_reference` reference courses have a score."""
    out = []
    for k in sorted(ref.by_k):
        rows = ref.at(int(k), exclude)
        if len(rows) >= cfg["course"]["min_reference"] and (planned is None or k <= planned):
            out.append({"session": int(k), **band(rows["pct"].to_numpy(), cfg)})
    return out


def chance(ref: Reference, k: int, pct: float, cfg: dict, exclude: str | None = None) -> dict | None:
    """The share of similar reference courses at session k (within the window, inclusive) that responded."""
    rows = ref.at(k, exclude)
    w = cfg["course"]["window_points"] / 100
    near = rows[(rows["pct"] - pct).abs() <= w + 1e-9]
    n, hits = int(len(near)), int(near["responded"].sum())
    if n < cfg["course"]["min_similar"]:
        return None
    low, high = stats.wilson(hits, n)
    return {"session": int(k), "n": n, "responders": hits, "rate": hits / n, "ci95": [low, high]}


def first_session(cfg: dict, route: str) -> int:
    """The first session a route's course is judged at (esketamine later: many late responders)."""
    return cfg["course"]["from_session"].get(route, cfg["course"]["from_session"]["default"])


def judge(route: str, k: int, pct: float, at_k: dict | None, odds: dict | None, cfg: dict) -> tuple[bool | None, str]:
    """(on track?, reason): None when it cannot be judged (too early, or too little history)."""
    c = cfg["course"]
    word = ROUTE_WORDS.get(route, "session")
    first = first_session(cfg, route)
    if k < first:
        return None, f"judged from {word} {first} on (clinical reference §9)"
    if at_k is None and odds is None:
        return None, "not enough clinic history yet"
    below = at_k is not None and pct < at_k["p10"]
    unlikely = odds is not None and odds["ci95"][1] < c["chance_floor"]
    if below or unlikely:
        why = []
        if below:
            low = c["band"][0]
            why.append(f"less improvement than {100 - low} % of earlier courses at this point (their {low}th "
                       f"percentile: {change_text(at_k['p10'])})")
        if unlikely:
            why.append(f"chance of response at most {odds['ci95'][1]:.0%} (under {c['chance_floor']:.0%})")
        return False, "Not on track: " + " and ".join(why) + ". Review the course."
    return True, "On track against the clinic's earlier courses."


def change_text(x: float) -> str:
    """A percent change as the score moved: '−15 %' is a fall of 15 %, '+5 %' a rise (the chart's words)."""
    return f"{-x * 100:+.0f} %".replace("-", "−")


def course(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, ref: Reference | None = None) -> dict | None:
    """data-contract §10 for one patient (None: no patient), with a one-line sentence for the page."""
    cur = con.cursor()
    try:
        known = cur.execute("SELECT 1 FROM patients WHERE patient_id = $p", {"p": patient_id}).fetchone()
        row = cur.execute("SELECT route FROM course_facts WHERE patient_id = $p", {"p": patient_id}).fetchone()
    finally:
        cur.close()
    if not known:
        return None
    scale = cfg["clinic"]["main_scale"]
    empty = {"patient_id": patient_id, "route": row[0] if row else None, "scale": scale, "reference_courses": 0,
             "expected": [], "patient": [], "chance_of_response": None, "on_track": None}
    if row is None:
        return {**empty, "reason": "no treatment yet", "sentence": "No completed session yet."}
    route = row[0]
    ref = ref if ref is not None else reference(con, cfg, route, scale)
    mine = _points(con, cfg, scale, route, only=patient_id)
    planned = int(mine["planned"].iloc[0]) if len(mine) else cfg["induction"].get(route)
    out = {**empty, "reference_courses": ref.courses(exclude=patient_id),
           "expected": expected(ref, cfg, exclude=patient_id, planned=planned),
           "patient": [{"session": int(k), "pct_change": float(p)} for k, p in zip(mine["k"], mine["pct"])]}
    if mine.empty:
        reason = "no baseline and score after a session on " + scales.SCALES[scale].name
        return {**out, "reason": reason, "sentence": f"Expected course: {reason}."}
    k, pct = int(mine["k"].iloc[-1]), float(mine["pct"].iloc[-1])
    at_k = next((e for e in out["expected"] if e["session"] == k), None)
    odds = chance(ref, k, pct, cfg, exclude=patient_id)
    on_track, reason = judge(route, k, pct, at_k, odds, cfg)
    out.update(chance_of_response=odds, on_track=on_track, reason=reason)
    word = ROUTE_WORDS.get(route, "session")
    parts = [f"After {word} {k}: {change_text(pct)} from baseline."]
    if odds:
        parts.append(f"Of {odds['n']} earlier patients at a similar point, {odds['responders']} responded "
                     f"({odds['rate']:.0%}, {odds['ci95'][0]:.0%}–{odds['ci95'][1]:.0%}).")
    n_k = len(ref.at(k, patient_id))
    if at_k is None and odds is None:
        parts.append(f"Not enough clinic history yet (n = {n_k} earlier courses with a score after {word} {k}).")
    elif on_track is None:
        parts.append(reason[0].upper() + reason[1:] + ".")
    else:
        parts.append(reason)
    out["sentence"] = " ".join(parts)
    return out


def contract(doc: dict) -> dict:
    """The JSON of data-contract §10 (the page's sentence left out)."""
    return {k: v for k, v in doc.items() if k != "sentence"}


# --- the proof: leave-one-out on the clinic's finished courses ------------------------------------------------

def _judged(pts: pd.DataFrame, cfg: dict):
    """Each route's finished courses at each judged session, judged leave-one-out (each against all the others):
    (route, session, courses, responded, not on track, predicted chance), one pass for the check and the calibration."""
    for route, rows in pts.groupby("route", sort=True):
        responded = outcomes_of(rows, cfg)
        ref = rows[rows["patient_id"].isin(responded.index)]
        for k, at in ref.groupby("k", sort=True):
            if k < first_session(cfg, route):
                continue
            resp = at["patient_id"].map(responded).to_numpy(bool)
            flagged, chance_ = loo_not_on_track(at["pct"].to_numpy(), resp, cfg, with_chance=True)
            if flagged is not None:
                yield route, int(k), len(at), resp, flagged, chance_


def check(con: duckdb.DuckDBPyConnection, cfg: dict, scale: str | None = None,
          judged: list | None = None) -> list[dict]:
    """Per route and session number: of the finished courses, judged leave-one-out (each against all the others),
    how many were not on track, how many of those responded anyway (false alarms), and how many of the eventual
    non-responders were caught, with Wilson intervals."""
    scale = scale or cfg["clinic"]["main_scale"]
    out = []
    for route, k, courses, resp, flagged, _ in judged or _judged(_points(con, cfg, scale), cfg):
        n_flag, false_alarms = int(flagged.sum()), int((flagged & resp).sum())
        non = int((~resp).sum())
        caught = int((flagged & ~resp).sum())
        out.append({"route": route, "scale": scale, "session": k, "courses": courses,
                    "not_on_track": n_flag, "responded_anyway": false_alarms,
                    "false_alarm_rate": false_alarms / n_flag if n_flag else None,
                    "false_alarm_ci95": list(stats.wilson(false_alarms, n_flag)) if n_flag else None,
                    "non_responders": non, "caught": caught,
                    "caught_rate": caught / non if non else None,
                    "caught_ci95": list(stats.wilson(caught, non)) if non else None,
                    "verdict": verdict_of(n_flag, false_alarms, non, caught)})
    return out


def verdict_of(n_flag: int, false_alarms: int, non: int, caught: int) -> str:
    """One line saying what the figures mean for this clinic."""
    if n_flag == 0:
        return "no course was not on track here: the signal said nothing at this session"
    fa = stats.wilson(false_alarms, n_flag)
    if fa[0] > 0.5:
        return "most courses it marked went on to respond: this clinic's data does not support the signal here"
    ca = stats.wilson(caught, non) if non else None
    if ca is not None and ca[1] < 0.2:
        return (f"it caught {caught} of {non} eventual non-responders (at most {ca[1]:.0%}): too few to help here")
    return (f"of the courses it marked, {false_alarms / n_flag:.0%} responded anyway; it caught "
            + (f"{caught / non:.0%} of the eventual non-responders" if non else "no non-responder (there were none)"))


def loo_not_on_track(pct: np.ndarray, responded: np.ndarray, cfg: dict, with_chance: bool = False):
    """For each course at one session number, whether it is not on track against all the others (vectorised: the
    10th percentile of the other n − 1 values, and the responders among the others within the window)."""
    c = cfg["course"]
    n = len(pct)
    if n - 1 < min(c["min_reference"], c["min_similar"]):
        return (None, None) if with_chance else None
    order = np.argsort(pct, kind="stable")
    s = pct[order]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    # the p-th quantile (linear) of the others: position h = (n − 2)·p in the sorted others, which are s without
    # the course's own rank
    p10 = None
    if n - 1 >= c["min_reference"]:
        h = (n - 2) * c["band"][0] / 100
        lo, frac = int(np.floor(h)), h - np.floor(h)

        def other(i):            # the i-th smallest of the others, for every course at once
            return np.where(rank <= i, s[np.minimum(i + 1, n - 1)], s[i])
        p10 = other(lo) + frac * (other(min(lo + 1, n - 2)) - other(lo))
    w = c["window_points"] / 100
    left = np.searchsorted(s, pct - w - 1e-9, side="left")
    right = np.searchsorted(s, pct + w + 1e-9, side="right")
    cum = np.concatenate([[0], np.cumsum(responded[order])])
    near = right - left - 1                                   # without the course itself
    hits = cum[right] - cum[left] - responded.astype(int)
    _, _, upper = stats.wilson_columns(hits, near)
    unlikely = (near >= c["min_similar"]) & (upper < c["chance_floor"])
    below = (pct < p10) if p10 is not None else np.zeros(n, bool)
    if with_chance:
        with np.errstate(divide="ignore", invalid="ignore"):
            chance_ = np.where(near >= c["min_similar"], hits / near, np.nan)
        return below | unlikely, chance_
    return below | unlikely


# --- clinic-wide: the review prompt ---------------------------------------------------------------------------

def not_on_track(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date) -> pd.DataFrame:
    """Every course still in induction (not finished, and a session in the last UNDER_WAY_DAYS (21) days or one booked, as the roster
    counts a course under way) that is not on track at its latest scored session: patient_id, route, k, pct,
    reason, with the patient's names (for the worklist and the roster). The reference excludes the patient by
    construction: a course in induction is never a reference course. Vectorised per route and session (searchsorted
    on the sorted reference), since a clinic of 100,000 patients has thousands of courses in induction."""
    c = cfg["course"]
    scale = cfg["clinic"]["main_scale"]
    pts = _points(con, cfg, scale, today=today)
    rows = []
    for route, at_route in pts.groupby("route", sort=True):
        responded = outcomes_of(at_route, cfg)
        ref = at_route[at_route["patient_id"].isin(responded.index)]
        ongoing = at_route[~at_route["finished"] & at_route["under_way"]]      # a stopped course prompts no one
        ongoing = ongoing.sort_values(["patient_id", "k"]).groupby("patient_id").last()
        for k, now in ongoing[ongoing["k"] >= first_session(cfg, route)].groupby("k"):
            at = ref[ref["k"] == k]
            s = np.sort(at["pct"].to_numpy())
            resp = at.sort_values("pct", kind="stable")["patient_id"].map(responded).to_numpy(bool)
            pct = now["pct"].to_numpy()
            p10 = np.quantile(s, c["band"][0] / 100) if len(s) >= c["min_reference"] else None
            w = c["window_points"] / 100
            left, right = np.searchsorted(s, pct - w - 1e-9, "left"), np.searchsorted(s, pct + w + 1e-9, "right")
            cum = np.concatenate([[0], np.cumsum(resp)])
            near, hits = right - left, cum[right] - cum[left]
            _, low, high = stats.wilson_columns(hits, near)
            for pid, x, n, h, lo, hi in zip(now.index, pct, near, hits, low, high):
                at_k = {"p10": p10} if p10 is not None else None
                odds = ({"n": int(n), "responders": int(h), "rate": h / n, "ci95": [lo, hi]}
                        if n >= c["min_similar"] else None)
                on_track, reason = judge(route, int(k), float(x), at_k, odds, cfg)
                if on_track is False:
                    rows.append({"patient_id": pid, "route": route, "session": int(k), "pct_change": float(x),
                                 "reason": reason})
    out = pd.DataFrame(rows, columns=["patient_id", "route", "session", "pct_change", "reason"])
    cur = con.cursor()
    try:
        people = cur.execute("SELECT patient_id, given_name, family_name, birth_date, clinician FROM patients "
                             "WHERE list_contains($ids, patient_id) AND NOT coalesce(deceased, FALSE)",
                             {"ids": list(out["patient_id"]) or ["\x00"]}).df()
    finally:
        cur.close()
    return out.merge(people, on="patient_id").sort_values(["pct_change", "patient_id"]).reset_index(drop=True)


def reference_for(con: duckdb.DuckDBPyConnection, cfg: dict, route: str) -> Reference:
    """The route's reference courses on the clinic's main scale (a cached data function: one per route, shared by
    every patient page)."""
    return reference(con, cfg, route)


def calibration(con: duckdb.DuckDBPyConnection, cfg: dict, scale: str | None = None, min_bin: int = 10,
                judged: list | None = None) -> pd.DataFrame:
    """The predicted chance of response (leave-one-out, at every judged session of every finished course) against the
    share that responded, per route, in bins of at least `min_bin` predictions (by rank, so each bin is full):
    route, bin, n, predicted (mean), observed, low, high (Wilson)."""
    scale = scale or cfg["clinic"]["main_scale"]
    by_route: dict[str, tuple[list, list]] = {}
    for route, _, _, resp, _, p in judged or _judged(_points(con, cfg, scale), cfg):
        keep = ~np.isnan(p)
        pred, obs = by_route.setdefault(route, ([], []))
        pred += list(p[keep])
        obs += list(resp[keep])
    out = []
    for route, (pred, obs) in by_route.items():
        if len(pred) < min_bin:
            continue
        order = np.argsort(pred, kind="stable")
        p_sorted, o_sorted = np.asarray(pred)[order], np.asarray(obs)[order]
        n_bins = min(10, len(pred) // min_bin)
        for b, idx in enumerate(np.array_split(np.arange(len(pred)), n_bins)):
            hits, n = int(o_sorted[idx].sum()), len(idx)
            low, high = stats.wilson(hits, n)
            out.append({"route": route, "bin": b + 1, "n": n, "predicted": float(p_sorted[idx].mean()),
                        "observed": hits / n, "low": low, "high": high})
    return pd.DataFrame(out, columns=["route", "bin", "n", "predicted", "observed", "low", "high"])


def proof(con: duckdb.DuckDBPyConnection, cfg: dict) -> dict:
    """The Outcomes page's section: the leave-one-out check and the calibration (a cached data function)."""
    judged = list(_judged(_points(con, cfg, cfg["clinic"]["main_scale"]), cfg))      # one pass for both
    return {"check": pd.DataFrame(check(con, cfg, judged=judged)), "calibration": calibration(con, cfg, judged=judged)}
