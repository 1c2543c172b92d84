"""The expected course (issue 34; clinical-reference §9, data-contract §10): the band, the window, the chance of
response with its Wilson interval, the verdicts, the leave-one-out check, and which courses are a reference, all
against numbers worked out by hand here."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from kdash import settings
from kdash.clinical import course
from tests.builders import Clinic, day
from tests.conftest import ROOT

CFG = settings.load()


def cfg_with(**course_settings) -> dict:
    cfg = copy.deepcopy(CFG)
    cfg["course"].update(course_settings)
    return cfg


def ref_of(pcts: dict[str, list[float]], responded: dict[str, bool], route: str = "iv_ketamine") -> course.Reference:
    rows = [(pid, k + 1, p) for pid, ps in pcts.items() for k, p in enumerate(ps)]
    return course.Reference(route, "MADRS", pd.DataFrame(rows, columns=["patient_id", "k", "pct"]),
                            pd.Series(responded))


def wilson_by_hand(hits: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


# --- the band, the window and the chance -----------------------------------------------------------------------

def test_the_band_is_the_median_and_10th_90th_percentiles_by_linear_interpolation():
    # five courses after session 1: 0.1 … 0.5. Linear (h = (n − 1)·q): p10 at h = 0.4 → 0.1 + 0.4 × 0.1 = 0.14;
    # median at h = 2 → 0.3; p90 at h = 3.6 → 0.4 + 0.6 × 0.1 = 0.46
    ref = ref_of({f"R{i}": [p] for i, p in enumerate([0.3, 0.1, 0.5, 0.2, 0.4])}, {f"R{i}": False for i in range(5)})
    band = course.expected(ref, cfg_with(min_reference=5))
    assert band == [{"session": 1, "n": 5, "median_pct_change": pytest.approx(0.3),
                     "p10": pytest.approx(0.14), "p90": pytest.approx(0.46)}]
    assert course.expected(ref, cfg_with(min_reference=6)) == []          # thin history: nothing invented
    assert course.expected(ref, cfg_with(min_reference=5), exclude="R0") == []   # the asked patient left out
    assert course.expected(ref, cfg_with(min_reference=4), exclude="R0")[0]["n"] == 4


def test_the_window_is_ten_points_either_side_inclusive_and_the_interval_is_wilsons():
    # at session 1: 0.20 and 0.40 lie exactly 10 points from 0.30 (in), 0.19 and 0.41 do not
    pcts = {"A": [0.20], "B": [0.40], "C": [0.30], "D": [0.19], "E": [0.41], "F": [0.25], "G": [0.35]}
    responded = {"A": True, "B": False, "C": True, "D": True, "E": True, "F": False, "G": False}
    odds = course.chance(ref_of(pcts, responded), 1, 0.30, cfg_with(min_similar=5))
    assert (odds["n"], odds["responders"]) == (5, 2)                      # A, B, C, F, G; A and C responded
    assert odds["rate"] == pytest.approx(0.4)
    assert odds["ci95"] == pytest.approx(list(wilson_by_hand(2, 5)), abs=1e-9)
    assert course.chance(ref_of(pcts, responded), 1, 0.30, cfg_with(min_similar=6)) is None   # too few similar


def test_the_contracts_example_numbers():
    """'of 34 earlier patients at a similar point after session 3, 6 responded: 18 %, 8–34 %' (§9)."""
    low, high = wilson_by_hand(6, 34)
    assert (round(6 / 34, 2), round(low, 2), round(high, 2)) == (0.18, 0.08, 0.34)
    ref = ref_of({f"R{i}": [0.0, 0.0, 0.05] for i in range(34)}, {f"R{i}": i < 6 for i in range(34)})
    odds = course.chance(ref, 3, 0.05, CFG)
    assert (odds["n"], odds["responders"]) == (34, 6)
    assert odds["ci95"] == pytest.approx([low, high], abs=1e-9)


@pytest.mark.parametrize("route, k, pct, p10, odds_high, expected", [
    ("iv_ketamine", 1, -0.5, 0.2, 0.1, None),        # IV: judged from infusion 2
    ("iv_ketamine", 2, 0.10, 0.15, 0.9, False),      # under the 10th percentile
    ("iv_ketamine", 2, 0.15, 0.15, 0.9, True),       # at it: on track
    ("iv_ketamine", 3, 0.40, 0.15, 0.34, False),     # the chance's upper end under 35 %
    ("iv_ketamine", 3, 0.40, 0.15, 0.35, True),      # at 35 %: on track
    ("esketamine", 3, -0.5, 0.2, 0.1, None),         # esketamine: judged from session 4 (late responders)
    ("esketamine", 4, 0.0, 0.2, 0.9, False),
])
def test_the_on_track_verdicts(route, k, pct, p10, odds_high, expected):
    at_k = {"session": k, "n": 40, "median_pct_change": 0.4, "p10": p10, "p90": 0.7}
    odds = {"session": k, "n": 20, "responders": 2, "rate": 0.1, "ci95": [0.02, odds_high]}
    verdict, reason = course.judge(route, k, pct, at_k, odds, CFG)
    assert verdict is expected
    if expected is False:
        assert reason.startswith("Not on track") and "Review the course" in reason


def test_no_history_is_no_verdict():
    assert course.judge("iv_ketamine", 3, 0.0, None, None, CFG) == (None, "not enough clinic history yet")


def test_the_vectorised_leave_one_out_equals_judging_each_course_against_the_others():
    rng = np.random.default_rng(5)
    pct = np.round(rng.normal(0.35, 0.25, 60), 2)                 # ties on purpose
    responded = rng.random(60) < np.clip(pct + 0.2, 0, 1)
    cfg = cfg_with(min_reference=20, min_similar=10)
    fast, chance = course.loo_not_on_track(pct, responded, cfg, with_chance=True)
    for i in range(60):
        others, resp = np.delete(pct, i), np.delete(responded, i)
        p10 = np.quantile(others, 0.10)
        near = np.abs(others - pct[i]) <= 0.10 + 1e-9
        n, hits = int(near.sum()), int(resp[near].sum())
        upper = wilson_by_hand(hits, n)[1] if n else 1.0
        slow = pct[i] < p10 or (n >= 10 and upper < 0.35)
        assert fast[i] == slow, i
        assert (np.isnan(chance[i]) and n < 10) or chance[i] == pytest.approx(hits / n)


# --- which courses are a reference: a hand-built clinic --------------------------------------------------------

SESSION_DAYS = [0, 2, 4, 7, 9, 11]      # six infusions: a finished IV induction


def iv_course(c: Clinic, pid: str, madrs: list[int], sessions: int = 6) -> None:
    """A baseline on the first day, then the score before each next session (the score after the one before) and
    two days after the last: madrs[0] is the baseline, madrs[k] the score after session k."""
    c.patient(pid)
    for n_day in SESSION_DAYS[:sessions]:
        c.session(pid, n_day)
    c.score(pid, 0, "MADRS", total=madrs[0])
    for k in range(1, len(madrs)):
        day = SESSION_DAYS[k] if k < sessions else SESSION_DAYS[sessions - 1] + 2
        c.score(pid, day, "MADRS", total=madrs[k])


@pytest.fixture
def clinic(tmp_path):
    c = Clinic(str(tmp_path / "course.duckdb"))
    # finished: baseline 40; after infusion 2: 36, 30, 24 (10 %, 25 %, 40 % falls); ends 30, 16, 12 (25 %, 60 %, 70 %)
    iv_course(c, "F1", [40, 38, 36, 34, 32, 31, 30])
    iv_course(c, "F2", [40, 35, 30, 25, 20, 18, 16])
    iv_course(c, "F3", [40, 32, 24, 20, 16, 14, 12])
    iv_course(c, "ONGOING", [40, 20, 10], sessions=3)          # still in induction: never a reference
    iv_course(c, "ASKED", [40, 39, 38], sessions=3)
    yield c
    c.close()


def test_reference_courses_are_other_patients_finished_inductions_with_their_outcome(clinic):
    ref = course.reference(clinic.con, CFG, "iv_ketamine", "MADRS")
    assert sorted(ref.responded.index) == ["F1", "F2", "F3"]
    assert ref.responded.to_dict() == {"F1": False, "F2": True, "F3": True}   # 25 %, 60 %, 70 % at infusion 6
    at2 = ref.at(2)
    assert dict(zip(at2["patient_id"], at2["pct"].round(4))) == {"F1": 0.1, "F2": 0.25, "F3": 0.4}


def test_a_patients_course_against_the_others_by_hand(clinic):
    cfg = cfg_with(min_reference=3, min_similar=2)
    doc = course.course(clinic.con, cfg, "ASKED")
    assert doc["reference_courses"] == 3 and doc["route"] == "iv_ketamine" and doc["scale"] == "MADRS"
    assert [p["session"] for p in doc["patient"]] == [1, 2]
    assert doc["patient"][1]["pct_change"] == pytest.approx(0.05)            # 40 → 38
    at2 = next(e for e in doc["expected"] if e["session"] == 2)
    # 0.10, 0.25, 0.40: p10 at h = 0.2 → 0.10 + 0.2 × 0.15 = 0.13; median 0.25; p90 at h = 1.8 → 0.25 + 0.8 × 0.15 = 0.37
    assert (at2["n"], at2["p10"], at2["median_pct_change"], at2["p90"]) == (3, pytest.approx(0.13), 0.25,
                                                                            pytest.approx(0.37))
    # similar to 0.05 within 10 points: only F1 (0.10), and 1 < min_similar 2: no chance shown
    assert doc["chance_of_response"] is None
    assert doc["on_track"] is False and "10th percentile" in doc["reason"]
    assert "After infusion 2: −5 % from baseline." in doc["sentence"]
    json.dumps(course.contract(doc))                                        # the contract document is JSON


def test_thin_history_says_so_and_invents_nothing(clinic):
    doc = course.course(clinic.con, CFG, "ASKED")                           # 3 courses, 20 needed
    assert doc["expected"] == [] and doc["chance_of_response"] is None and doc["on_track"] is None
    assert "Not enough clinic history yet (n = 3" in doc["sentence"]


def test_a_patient_is_never_in_his_own_reference(clinic):
    cfg = cfg_with(min_reference=2, min_similar=1)
    doc = course.course(clinic.con, cfg, "F2")                              # a finished course asks about itself
    assert doc["reference_courses"] == 2
    assert all(e["n"] == 2 for e in doc["expected"])


def test_the_leave_one_out_check_counts_by_hand(clinic):
    cfg = cfg_with(min_reference=2, min_similar=2, window_points=100)
    rows = {r["session"]: r for r in course.check(clinic.con, cfg, "MADRS")}
    # after infusion 2, against the other two: F1 0.10 < p10 of (0.25, 0.40) = 0.265 → not on track, F1 did not
    # respond; F2 0.25 < p10 of (0.10, 0.40) = 0.13? no; F3 0.40 < p10 of (0.10, 0.25) = 0.115? no.
    # chance (window 100 points: every other course): F1 → F2, F3 both responded: 2/2, upper 1.0: not unlikely
    r = rows[2]
    assert (r["courses"], r["not_on_track"], r["responded_anyway"], r["non_responders"], r["caught"]) == \
        (3, 1, 0, 1, 1)
    assert r["false_alarm_ci95"] == pytest.approx(list(wilson_by_hand(0, 1)), abs=1e-9)
    assert r["caught_ci95"] == pytest.approx(list(wilson_by_hand(1, 1)), abs=1e-9)


def test_the_clinic_wide_prompt_lists_courses_in_induction_only(clinic):
    cfg = cfg_with(min_reference=3, min_similar=2)
    behind = course.not_on_track(clinic.con, cfg, day(5))                  # while the courses are under way
    assert list(behind["patient_id"]) == ["ASKED"]                          # ONGOING fell 75 %: on track


def test_the_cli_gives_the_contract_and_the_check(clinic):
    clinic.con.close()
    for args, key in ((["--patient", "ASKED"], "expected"), (["--check"], None)):
        done = subprocess.run([sys.executable, "-m", "kdash", "course", "--db", clinic.path, *args, "--json"],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        if key:
            assert set(doc) == {"patient_id", "route", "scale", "reference_courses", "expected", "patient",
                                "chance_of_response", "on_track", "reason"}
        else:
            assert isinstance(doc, list)
    bad = subprocess.run([sys.executable, "-m", "kdash", "course", "--db", clinic.path, "--patient", "NOPE"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode != 0 and "no patient" in bad.stderr and "Traceback" not in bad.stderr


def test_the_expected_course_is_the_same_on_either_back_end(tmp_path, record_url):
    """The same clinic written to an embedded store and to a PostgreSQL record gives the same document."""
    from kdash.store import clinic_store
    docs = []
    for path in (str(tmp_path / "embedded.duckdb"), record_url):
        con = clinic_store.create(path, CFG)
        c = Clinic.__new__(Clinic)
        c.path, c.con = path, con
        for pid, scores in (("F1", [40, 38, 36, 34, 32, 31, 30]), ("F2", [40, 35, 30, 25, 20, 18, 16]),
                            ("F3", [40, 32, 24, 20, 16, 14, 12])):
            _course_through_the_app(con, pid, scores)
        _course_through_the_app(con, "ASKED", [40, 39, 38], sessions=3)
        cfg = cfg_with(min_reference=3, min_similar=2)
        docs.append(course.contract(course.course(con, cfg, "ASKED")))
        con.close()
    assert docs[0] == docs[1]
    assert docs[0]["on_track"] is False and docs[0]["reference_courses"] == 3


def _course_through_the_app(con, pid: str, madrs: list[int], sessions: int = 6) -> None:
    """The same course as iv_course, written by the app's own write path (recording.save), on any back end."""
    from kdash.clinical import recording
    from kdash.store import db
    from tests.builders import day
    with db.transaction(con) as cur:
        cur.execute("INSERT INTO patients (patient_id, given_name, family_name, birth_date, sex, primary_diagnosis) "
                    "VALUES ($p, 'Test', $p, DATE '1980-05-01', 'F', 'mdd')", {"p": pid})
    for i, n_day in enumerate(SESSION_DAYS[:sessions]):
        score = {"MADRS": str(madrs[0] if i == 0 else madrs[i])} if i < len(madrs) else {}
        recording.save(con, CFG, recording.Entry(
            patient_id=pid, day=day(n_day), route="iv_ketamine", weight_kg=80.0, dose_mg=40.0, chair="Chair 1",
            start=dt.time(9, 0), end=dt.time(10, 15), clinician="Dr Test", phase="induction",
            vitals=[{"minute": -5, "systolic": 120, "diastolic": 80}], scores=score), username="t")
    if len(madrs) > sessions:
        with db.transaction(con) as cur:
            cur.execute("INSERT INTO assessments (patient_id, assessed_on, scale, total) VALUES ($p, $d, 'MADRS', $t)",
                        {"p": pid, "d": day(SESSION_DAYS[sessions - 1] + 2), "t": madrs[sessions]})
            from kdash.store import derived
            derived.refresh(cur, [pid])
