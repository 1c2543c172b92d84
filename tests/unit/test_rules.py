"""Safety rules (clinical-reference §4) at and around each threshold, hand-built, checked in both
evaluations: Python over one patient's rows (patient page) and SQL over the clinic (roster, home)."""

import datetime as dt

import pandas as pd
import pytest

from kdash import settings
from kdash.clinical import patient, rules
from kdash.store import db, flag_log
from tests.builders import Clinic, day

CFG = settings.load()
TODAY = day(40)
MADRS0 = [3, 3, 3, 3, 3, 3, 3, 3, 3, 0]          # total 27, item 10 = 0


def madrs(total: int, item10: int = 0) -> list[int]:
    """MADRS items summing to `total` with item 10 as given."""
    rest, items = total - item10, []
    for _ in range(9):
        take = min(6, rest)
        items.append(take)
        rest -= take
    return items + [item10]


def course(c, pid, n, route="iv_ketamine", start=20, gap=2, **kw):
    return [c.session(pid, start + i * gap, route=route, **kw) for i in range(n)]


def suicide_phq9(c, pid, item9):
    s = course(c, pid, 1)
    c.score(pid, 20, "PHQ9", items=[2, 2, 2, 2, 1, 1, 1, 1, item9], session_id=s[0])


def suicide_madrs(c, pid, item10):
    course(c, pid, 1)
    c.score(pid, 20, "MADRS", items=madrs(30, item10))


def suicide_cssrs(c, pid, level):
    course(c, pid, 1)
    c.score(pid, 20, "CSSRS", total=level)


def suicide_hamd(c, pid, item3):
    course(c, pid, 1)
    c.score(pid, 20, "HAMD17", items=[2, 2, item3] + [1] * 14)


def post_bp(c, pid, sys_, dia):
    s = course(c, pid, 1)
    c.bp(pid, s[0], -5, 120, 80)
    c.bp(pid, s[0], 40, sys_, dia)


def pre_bp(c, pid, sys_, dia):
    s = course(c, pid, 1)
    c.bp(pid, s[0], -5, sys_, dia)


def cadss(c, pid, total, earlier=(3, 2, 4)):
    """CADSS at the session of day 20 after sessions with these CADSS (clinical-reference §4: a rise)."""
    for k, e in enumerate(earlier):
        sid = c.session(pid, 14 + 2 * k)
        c.score(pid, 14 + 2 * k, "CADSS", total=e, session_id=sid)
    s = course(c, pid, 1)
    c.score(pid, 20, "CADSS", total=total, session_id=s[0])


def moaas(c, pid, total):
    s = course(c, pid, 1)
    c.score(pid, 20, "MOAAS", total=total, session_id=s[0])


def iv_response(c, pid, n_infusions, after_total):
    """MADRS 30 at baseline; `after_total` before the dose on the day after the last infusion."""
    course(c, pid, n_infusions, start=20)
    c.score(pid, 20, "MADRS", items=madrs(30))
    c.score(pid, 20 + 2 * (n_infusions - 1) + 1, "MADRS", items=madrs(after_total))


def esk_response(c, pid, n_sessions, after_total):
    course(c, pid, n_sessions, route="esketamine", start=10, gap=3, dose_mg=84.0, minutes=130)
    c.score(pid, 10, "MADRS", items=madrs(30))
    c.score(pid, 10 + 3 * (n_sessions - 1) + 1, "MADRS", items=madrs(after_total))


def worsening(c, pid, *later):
    course(c, pid, len(later), start=30)
    c.score(pid, 30, "MADRS", items=madrs(30))
    for i, total in enumerate(later):
        c.score(pid, 31 + 2 * i, "MADRS", items=madrs(total))


def monitoring(c, pid, minutes, with_40=True):
    s = course(c, pid, 1, route="esketamine", start=30, dose_mg=56.0, minutes=minutes)
    c.bp(pid, s[0], -5, 120, 80)
    if with_40:
        c.bp(pid, s[0], 40, 130, 85)


def creep(c, pid, first_mg, last_mg):
    course(c, pid, 6, start=0)
    c.session(pid, 20, phase="maintenance", dose_mg=first_mg, weight_kg=100.0)
    c.session(pid, 34, phase="maintenance", dose_mg=last_mg, weight_kg=100.0)


def total_only(c, pid, scale, total, item9_that_day=None):
    """A score recorded as a total without items (an import), with PHQ-9 item 9 on its own the same day or not."""
    course(c, pid, 1)
    c.score(pid, 20, scale, total=total)
    if item9_that_day is not None:
        c.score(pid, 20, "PHQ9_I9", total=item9_that_day)


def with_items(c, pid, scale, items):
    course(c, pid, 1)
    c.score(pid, 20, scale, items=items)


def scored_iv(c, pid, n_infusions, score_days):
    """IV infusions on days 10, 12, …; MADRS 30 at baseline (day 10) and 25 on each of these days."""
    course(c, pid, n_infusions, start=10)
    c.score(pid, 10, "MADRS", items=madrs(30))
    for d in score_days:
        c.score(pid, d, "MADRS", items=madrs(25))


def ratings(c, pid, scale, by_minute):
    """One session's ratings of a scale at these (minute, total)."""
    s = course(c, pid, 1)
    for minute, total in by_minute:
        c.score(pid, 20, scale, total=total, session_id=s[0], minute=minute)


def rems(c, pid, sent_after_days):
    course(c, pid, 1, route="esketamine", start=30, dose_mg=56.0, minutes=130, rems_form_day=sent_after_days)


def long_term(c, pid, span_days):
    c.session(pid, 39 - span_days)
    c.session(pid, 39)


CASES = [  # (id, builder, args, rule, fires)
    ("phq9 item 9 = 0", suicide_phq9, (0,), "suicidal_thoughts", False),
    ("phq9 item 9 = 1", suicide_phq9, (1,), "suicidal_thoughts", True),
    ("madrs item 10 = 3", suicide_madrs, (3,), "suicidal_thoughts", False),
    ("madrs item 10 = 4", suicide_madrs, (4,), "suicidal_thoughts", True),
    ("c-ssrs 2", suicide_cssrs, (2,), "suicidal_thoughts", False),
    ("c-ssrs 3", suicide_cssrs, (3,), "suicidal_thoughts", True),
    ("ham-d item 3 = 1", suicide_hamd, (1,), "suicidal_thoughts", False),
    ("ham-d item 3 = 2", suicide_hamd, (2,), "suicidal_thoughts", True),
    ("post-dose 180/110", post_bp, (180, 110), "emergent_hypertension", False),
    ("post-dose 181/100", post_bp, (181, 100), "emergent_hypertension", True),
    ("post-dose 170/111", post_bp, (170, 111), "emergent_hypertension", True),
    ("pre-dose 140/90", pre_bp, (140, 90), "predose_bp", False),
    ("pre-dose 141/90", pre_bp, (141, 90), "predose_bp", True),
    ("pre-dose 140/91", pre_bp, (140, 91), "predose_bp", True),
    ("cadss 4", cadss, (4,), "dissociation", False),
    ("cadss 5", cadss, (5,), "dissociation", True),
    ("cadss 5, not above an earlier 5", cadss, (5, (5, 5, 5)), "dissociation", False),
    ("cadss 12, below the earlier 20", cadss, (12, (20, 9, 8)), "dissociation", False),
    ("cadss 12 above the previous 3, not the 4th back", cadss, (12, (30, 9, 8, 7)), "dissociation", True),
    ("cadss 9 at a first session", cadss, (9, ()), "dissociation", False),
    ("moaa/s 4", moaas, (4,), "sedation", False),
    ("moaa/s 3", moaas, (3,), "sedation", True),
    ("3 infusions, no response", iv_response, (3, 25), "iv_nonresponse", False),
    ("4 infusions, 47 % fall", iv_response, (4, 16), "iv_nonresponse", True),
    ("4 infusions, 50 % fall", iv_response, (4, 15), "iv_nonresponse", False),
    ("6 infusions, no response", iv_response, (6, 25), "iv_nonresponse", True),
    ("esketamine 7 sessions, no response", esk_response, (7, 25), "esketamine_nonresponse", False),
    ("esketamine 8 sessions, no response", esk_response, (8, 25), "esketamine_nonresponse", True),
    ("esketamine 8 sessions, response", esk_response, (8, 14), "esketamine_nonresponse", False),
    ("above baseline twice", worsening, (31, 32), "worsening", True),
    ("above baseline, not consecutive", worsening, (31, 29, 31), "worsening", False),
    ("at baseline twice", worsening, (30, 30), "worsening", False),
    ("esketamine observed 120 min", monitoring, (120,), "monitoring", False),
    ("esketamine observed 119 min", monitoring, (119,), "monitoring", True),
    ("esketamine no 40-min BP", monitoring, (130, False), "monitoring", True),
    ("maintenance 0.50 → 0.60 mg/kg", creep, (50.0, 60.0), "dose_creep", True),
    ("maintenance 0.50 → 0.55 mg/kg", creep, (50.0, 55.0), "dose_creep", False),
    ("PHQ-9 total only", total_only, ("PHQ9", 12), "suicide_item_unknown", True),
    ("MADRS total only", total_only, ("MADRS", 30), "suicide_item_unknown", True),
    ("HAM-D total only", total_only, ("HAMD17", 20), "suicide_item_unknown", True),
    ("QIDS total only (no suicide item in the rule)", total_only, ("QIDS_SR16", 14), "suicide_item_unknown", False),
    ("PHQ-9 total with item 9 the same day", total_only, ("PHQ9", 12, 0), "suicide_item_unknown", False),
    ("PHQ-9 with its items", with_items, ("PHQ9", [1] * 9), "suicide_item_unknown", False),
    ("6 infusions, scored after 3 only", scored_iv, (6, [15]), "iv_unscored", True),
    ("6 infusions, scored after 4", scored_iv, (6, [17]), "iv_unscored", False),
    ("6 infusions, scored on infusion 6's day", scored_iv, (6, [20]), "iv_unscored", False),
    ("6 infusions, scored after 6 only", scored_iv, (6, [21]), "iv_unscored", True),
    ("5 infusions, never scored", scored_iv, (5, []), "iv_unscored", False),
    ("CADSS 12 at 40 then 5 at 110", ratings, ("CADSS", [(40, 12), (110, 5)]), "dissociation_unsettled", True),
    ("CADSS 12 at 40 then 4 at 110", ratings, ("CADSS", [(40, 12), (110, 4)]), "dissociation_unsettled", False),
    ("one CADSS 12 by minute", ratings, ("CADSS", [(40, 12)]), "dissociation_unsettled", False),
    ("MOAA/S 4 at 90", ratings, ("MOAAS", [(40, 3), (90, 4)]), "sedation_unresolved", True),
    ("MOAA/S 4 at 89", ratings, ("MOAAS", [(40, 3), (89, 4)]), "sedation_unresolved", False),
    ("MOAA/S 4 at 95, 5 at 120", ratings, ("MOAAS", [(95, 4), (120, 5)]), "sedation_unresolved", False),
    ("MOAA/S 5 at 95", ratings, ("MOAAS", [(40, 4), (95, 5)]), "sedation_unresolved", False),
    ("esketamine REMS form not sent", rems, (None,), "rems_form", True),
    ("esketamine REMS form sent", rems, (3,), "rems_form", False),
    ("364 days of treatment", long_term, (364,), "long_term_use", False),
    ("365 days of treatment", long_term, (365,), "long_term_use", True),
]


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    c = Clinic(str(tmp_path_factory.mktemp("rules") / "rules.duckdb"))
    for i, (_, build, args, _, _) in enumerate(CASES):
        pid = f"R{i:03d}"
        c.patient(pid)
        build(c, pid, *args)
    yield c
    c.close()


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c[0] for c in CASES])
def test_rule_fires_exactly_at_its_threshold(clinic, i):
    _, _, _, rule, fires = CASES[i]
    pid = f"R{i:03d}"
    python = {f.rule for f in patient.flags(clinic.con, CFG, pid)}
    sql = set(flag_log.evidence(clinic.con, CFG, *flag_log.ALL_TIME, [pid])["rule"])
    assert set(rules.clinic_open_flags(clinic.con, CFG, TODAY, pid)["rule"]) <= sql     # some cleared since
    assert (rule in python) == fires, python
    assert (rule in sql) == fires, sql


def test_six_iv_infusions_without_response_say_review_the_course(clinic):
    i = next(i for i, c in enumerate(CASES) if c[0] == "6 infusions, no response")
    flag = next(f for f in patient.flags(clinic.con, CFG, f"R{i:03d}") if f.rule == "iv_nonresponse")
    assert flag.value == "MADRS 30 → 25 (-17%) after infusion 6 — review the course"


IV, ESK = "iv_ketamine", "esketamine"
ESK_28 = [3 * i for i in range(28)]          # esketamine twice weekly-ish: session 8 on day 21, session 9 on day 24
NONRESPONSE = [  # (id, route, session days, [(day, MADRS)], expected [(rule, day, value)]); baseline on day 0
    ("IV: no response after infusion 4, response after 6", IV, [0, 2, 4, 6, 8, 10], [(0, 30), (7, 25), (11, 14)],
     [("iv_nonresponse", 7, "MADRS 30 → 25 (-17%) after infusion 4")]),
    ("IV: response after infusion 4, lost by infusion 6", IV, [0, 2, 4, 6, 8, 10], [(0, 30), (7, 14), (11, 25)], []),
    ("IV: no response after infusion 4 nor 6", IV, [0, 2, 4, 6, 8, 10], [(0, 30), (7, 25), (11, 20)],
     [("iv_nonresponse", 7, "MADRS 30 → 25 (-17%) after infusion 4"),
      ("iv_nonresponse", 11, "MADRS 30 → 20 (-33%) after infusion 6 — review the course")]),
    ("IV: the first score after infusion 4 counts, not a later one", IV, [0, 2, 4, 6, 10],
     [(0, 30), (7, 25), (9, 14)], [("iv_nonresponse", 7, "MADRS 30 → 25 (-17%) after infusion 4")]),
    ("IV: a score on infusion 5's day counts for infusion 4", IV, [0, 2, 4, 6, 8], [(0, 30), (8, 16)],
     [("iv_nonresponse", 8, "MADRS 30 → 16 (-47%) after infusion 4")]),
    ("IV: no score after infusion 4, so judged at the first after infusion 5", IV, [0, 2, 4, 6, 8],
     [(0, 30), (9, 16)], [("iv_nonresponse", 9, "MADRS 30 → 16 (-47%) after infusion 5")]),
    ("IV: first scored after infusion 7, judged there and reviewed at once", IV, [0, 2, 4, 6, 8, 10, 12],
     [(0, 30), (13, 25)], [("iv_nonresponse", 13, "MADRS 30 → 25 (-17%) after infusion 7 — review the course")]),
    ("IV: first scored after infusion 6, a response", IV, [0, 2, 4, 6, 8, 10], [(0, 30), (11, 14)], []),
    ("IV: no response after 5, none after 7 either", IV, [0, 2, 4, 6, 8, 10, 12],
     [(0, 30), (9, 25), (13, 22)], [("iv_nonresponse", 9, "MADRS 30 → 25 (-17%) after infusion 5"),
                                    ("iv_nonresponse", 13, "MADRS 30 → 22 (-27%) after infusion 7 — review the course")]),
    ("IV: infusion 4 the last, scored 7 days after", IV, [0, 2, 4, 6], [(0, 30), (13, 16)],
     [("iv_nonresponse", 13, "MADRS 30 → 16 (-47%) after infusion 4")]),
    ("IV: infusion 4 the last, scored 8 days after", IV, [0, 2, 4, 6], [(0, 30), (14, 16)], []),
    ("IV: a 50 % fall after infusion 4 is a response", IV, [0, 2, 4, 6], [(0, 30), (7, 15)], []),
    ("esketamine: response at the end of induction, relapse after 28 sessions", ESK, ESK_28,
     [(0, 30), (22, 14), (82, 25)], []),
    ("esketamine: no response at the end of induction, response later", ESK, ESK_28, [(0, 30), (22, 25), (82, 10)],
     [("esketamine_nonresponse", 22, "MADRS 30 → 25 (-17%) after session 8, the end of induction")]),
    ("esketamine: no score after session 8, judged at the first later one", ESK, ESK_28,
     [(0, 30), (25, 25), (82, 25)],
     [("esketamine_nonresponse", 25, "MADRS 30 → 25 (-17%) after session 9 (the first score after the end of "
                                     "induction)")]),
    ("esketamine: session 7's score is not the end of induction", ESK, ESK_28[:8], [(0, 30), (19, 25)], []),
    ("esketamine: 8 sessions, scored 7 days after the last", ESK, ESK_28[:8], [(0, 30), (28, 25)],
     [("esketamine_nonresponse", 28, "MADRS 30 → 25 (-17%) after session 8, the end of induction")]),
    ("esketamine: 8 sessions, scored 8 days after the last", ESK, ESK_28[:8], [(0, 30), (29, 25)], []),
]


@pytest.mark.parametrize("name, route, sessions, scores, expected", NONRESPONSE, ids=[c[0] for c in NONRESPONSE])
def test_nonresponse_is_judged_on_the_score_that_counts_for_the_timepoint(tmp_path, name, route, sessions, scores,
                                                                          expected):
    """clinical-reference §1 "score after session k" and §4: IV after the 4th infusion (review the course after
    the 6th), esketamine at the end of induction; both evaluations give the same flags, value text included."""
    from kdash.store import flag_log
    c = Clinic(str(tmp_path / "nonresponse.duckdb"))
    try:
        c.patient("NR")
        for d in sessions:
            c.session("NR", d, route=route, **({"dose_mg": 84.0, "minutes": 130} if route == ESK else {}))
        for d, total in scores:
            c.score("NR", d, "MADRS", items=madrs(total))
        kinds = ("iv_nonresponse", "esketamine_nonresponse")
        python = sorted((f.rule, f.day, f.value) for f in patient.flags(c.con, CFG, "NR") if f.rule in kinds)
        rows = flag_log.evidence(c.con, CFG, *flag_log.ALL_TIME, ["NR"])
        sql = sorted((r.rule, pd.Timestamp(r.day).date(), r.value) for r in rows.itertuples() if r.rule in kinds)
    finally:
        c.close()
    assert python == sorted((rule, day(d), value) for rule, d, value in expected)
    assert sql == python


def test_flags_stay_open_long_after_their_evidence(clinic):
    later = TODAY + dt.timedelta(days=400)
    assert set(rules.clinic_open_flags(clinic.con, CFG, later)["patient_id"]) == \
        set(rules.clinic_open_flags(clinic.con, CFG, TODAY)["patient_id"])


def test_suicide_flag_is_listed_first(clinic):
    c = clinic
    c.patient("MIX")
    s = course(c, "MIX", 1, start=10)
    c.bp("MIX", s[0], -5, 150, 95)
    c.score("MIX", 10, "CADSS", total=12, session_id=s[0])
    c.score("MIX", 10, "PHQ9", items=[1, 1, 1, 1, 1, 1, 1, 1, 1], session_id=s[0])
    flags = patient.flags(c.con, CFG, "MIX")
    assert [f.rule for f in flags][0] == "suicidal_thoughts"
    assert {f.rule for f in flags} == {"suicidal_thoughts", "predose_bp"}      # a high first CADSS is no rise


@pytest.mark.parametrize("total, severity", [(19, "review"), (20, "urgent")])
def test_a_total_without_its_suicide_item_is_urgent_in_the_severe_band(tmp_path, total, severity):
    """clinical-reference §4 "suicide item unknown": PHQ-9 severe is 20–27 (§1)."""
    c = Clinic(str(tmp_path / "item.duckdb"))
    try:
        c.patient("U")
        total_only(c, "U", "PHQ9", total)
        python = [(f.severity, f.value) for f in patient.flags(c.con, CFG, "U") if f.rule == "suicide_item_unknown"]
        rows = flag_log.evidence(c.con, CFG, *flag_log.ALL_TIME, ["U"])
        sql = [(r.severity, r.value) for r in rows.itertuples() if r.rule == "suicide_item_unknown"]
    finally:
        c.close()
    text = f"PHQ-9 {total} recorded without item 9" + (" (severe band)" if severity == "urgent" else "")
    assert python == sql == [(severity, text)]


def test_thresholds_come_from_settings():
    cfg = {**CFG, "safety": {**CFG["safety"], "cadss_max": 10}}
    assert "CADSS > 10" in rules.threshold_text("dissociation", cfg)


def test_python_and_sql_agree_on_every_demo_patient(demo_store):
    con = db.connect(demo_store, read_only=True)
    try:
        from kdash.store import flag_log
        sql = flag_log.evidence(con, CFG, *flag_log.ALL_TIME)
        expected = {(p, r, d.date()) for p, r, d in zip(sql.patient_id, sql.rule, sql.day)}
        got, got_values = set(), set()
        for (pid,) in con.execute("SELECT patient_id FROM patients").fetchall():
            flags = patient.flags(con, CFG, pid)
            got |= {(pid, f.rule, f.day) for f in flags}
            got_values |= {(pid, f.rule, f.day, f.value) for f in flags if f.rule.endswith("nonresponse")}
    finally:
        con.close()
    assert len(expected) > 50
    assert got == expected
    # the non-response flags say the same in both, value text included (scale, baseline → score, timepoint)
    assert got_values == {(p, r, d.date(), v) for p, r, d, v in zip(sql.patient_id, sql.rule, sql.day, sql.value)
                          if r.endswith("nonresponse")}
    assert got_values
