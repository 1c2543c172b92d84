"""Side-effect frequencies and session safety events against a hand-built clinic (clinical-reference §5–6).

A (IV, 80 kg): sessions 1–3 at 40, 40, 60 mg (0.5, 0.5, 0.75 mg/kg); nausea at 1 (mild) and 3 (severe),
   dizziness at 1; BP at session 1: 150/85 before (> 140/90), 185/100 after (> 180/110); at session 2: 120/80
   before; CADSS 6 at session 2 (> 4).
B (IV, 80 kg): sessions 1–2 at 40 mg; nausea at 2 (moderate); a no-show (never counted).
C (esketamine 56 mg): sessions 1–2, no effects; MOAA/S 3 at 1 (≤ 3: sedated), 5 at 2.
Treated: 3 patients, 7 completed sessions.
"""

import pytest

from kdash import settings
from kdash.clinical import side_effects
from tests.builders import Clinic

CFG = settings.load()
ALL = dict(route="all", analysis_set="itt")


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    c = Clinic(str(tmp_path_factory.mktemp("se") / "se.duckdb"))
    for pid in "ABC":
        c.patient(pid)
    a1, a2, a3 = c.session("A", 0), c.session("A", 3), c.session("A", 7, dose_mg=60)
    c.side_effect(a1, "nausea", "mild")
    c.side_effect(a1, "dizziness")
    c.side_effect(a3, "nausea", "severe")
    c.bp("A", a1, -10, 150, 85)
    c.bp("A", a1, 40, 185, 100)
    c.bp("A", a2, -10, 120, 80)
    c.score("A", 3, "CADSS", 6, session_id=a2)
    c.session("B", 0)
    c.side_effect(c.session("B", 3), "nausea", "moderate")
    c.session("B", 5, status="no_show")
    c1 = c.session("C", 0, route="esketamine", dose_mg=56)
    c2 = c.session("C", 3, route="esketamine", dose_mg=56)
    c.score("C", 0, "MOAAS", 3, session_id=c1)
    c.score("C", 3, "MOAAS", 5, session_id=c2)
    yield c.con
    c.close()


def row(df, by, grp, effect):
    hit = df[(df["by"] == by) & (df["grp"] == grp) & (df["effect"] == effect)]
    assert len(hit) == 1, (by, grp, effect)
    return hit.iloc[0]


def test_cohort_size_counts_treated_patients_and_completed_sessions(con):
    assert side_effects.cohort_size(con, CFG, **ALL) == {"patients": 3, "sessions": 7}


def test_overall_rates_per_patient_and_per_session(con):
    rates = side_effects.rates(con, CFG, **ALL)
    nausea = row(rates, "all", "all", "nausea")
    assert (nausea["patients"], nausea["n_patients"], nausea["sessions"], nausea["n_sessions"]) == (2, 3, 3, 7)
    assert (nausea["mild"], nausea["moderate"], nausea["severe"]) == (1, 1, 1)
    assert nausea["per_patient"] == pytest.approx(2 / 3) and nausea["per_session"] == pytest.approx(3 / 7)
    assert nausea["per_patient_low"] < 2 / 3 < nausea["per_patient_high"]
    dizzy = row(rates, "all", "all", "dizziness")
    assert (dizzy["patients"], dizzy["sessions"]) == (1, 1)


def test_rates_by_route_dose_band_and_session_number(con):
    rates = side_effects.rates(con, CFG, **ALL)
    iv = row(rates, "route", "iv_ketamine", "nausea")
    assert (iv["patients"], iv["n_patients"], iv["sessions"], iv["n_sessions"]) == (2, 2, 3, 5)
    assert rates[(rates["by"] == "route") & (rates["grp"] == "esketamine")].empty   # C had none
    low = row(rates, "dose_band", "0.5–0.74 mg/kg", "nausea")      # A1, A2, B1, B2 at 0.5 mg/kg
    assert (low["sessions"], low["n_sessions"], low["patients"], low["n_patients"]) == (2, 4, 2, 2)
    high = row(rates, "dose_band", "0.75–0.99 mg/kg", "nausea")    # A3 only
    assert (high["sessions"], high["n_sessions"]) == (1, 1)
    second = row(rates, "k", "2", "nausea")                        # B's 2nd session; A2 and C2 had none
    assert (second["sessions"], second["n_sessions"], second["n_patients"]) == (1, 3, 3)


def test_a_patient_who_changes_route_counts_once_overall_and_once_in_each_route(tmp_path):
    """D: IV sessions 1–2 at 40 mg (0.5 mg/kg) with nausea at both, then esketamine 56 mg at session 3 with nausea
    and headache. One patient overall, in each route and in each dose band; three nausea sessions."""
    c = Clinic(str(tmp_path / "switch.duckdb"))
    try:
        c.patient("D")
        for n_day, route, dose in ((0, "iv_ketamine", 40), (3, "iv_ketamine", 40), (7, "esketamine", 56)):
            sid = c.session("D", n_day, route=route, dose_mg=dose)
            c.side_effect(sid, "nausea")
        c.side_effect(sid, "headache")
        rates = side_effects.rates(c.con, CFG, **ALL)
        figures = lambda by, grp, effect: tuple(row(rates, by, grp, effect)[["patients", "n_patients", "sessions",
                                                                             "n_sessions"]])
        assert figures("all", "all", "nausea") == (1, 1, 3, 3)
        assert figures("route", "iv_ketamine", "nausea") == (1, 1, 2, 2)
        assert figures("route", "esketamine", "nausea") == (1, 1, 1, 1)
        assert figures("dose_band", "0.5–0.74 mg/kg", "nausea") == (1, 1, 2, 2)
        assert figures("dose_band", "56 mg", "nausea") == (1, 1, 1, 1)
        assert figures("k", "3", "nausea") == (1, 1, 1, 1)
        assert figures("route", "esketamine", "headache") == (1, 1, 1, 1)
    finally:
        c.close()


def test_safety_events_against_the_clinic_thresholds(con):
    ev = side_effects.excursions(con, CFG, **ALL).set_index("event")
    assert tuple(ev.loc["Pre-dose BP > 140/90", ["sessions", "n_sessions", "patients", "n_patients"]]) == (1, 2, 1, 1)
    assert tuple(ev.loc["Post-dose BP > 180/110", ["sessions", "n_sessions", "patients", "n_patients"]]) == (1, 1, 1, 1)
    assert tuple(ev.loc["CADSS > 4", ["sessions", "n_sessions", "patients", "n_patients"]]) == (1, 1, 1, 1)
    assert tuple(ev.loc["MOAA/S ≤ 3", ["sessions", "n_sessions", "patients", "n_patients"]]) == (1, 2, 1, 1)


def test_an_edited_threshold_applies_without_a_rebuild(con):
    cfg = {**CFG, "safety": {**CFG["safety"], "postdose_systolic_max": 190, "cadss_max": 6}}
    ev = side_effects.excursions(con, cfg, **ALL).set_index("event")
    assert ev.loc["Post-dose BP > 190/110", "sessions"] == 0
    assert ev.loc["CADSS > 6", "sessions"] == 0


def test_filters_narrow_the_cohort(con):
    esk = dict(route="esketamine", analysis_set="itt")
    assert side_effects.cohort_size(con, CFG, **esk) == {"patients": 1, "sessions": 2}
    assert side_effects.rates(con, CFG, **esk).empty
