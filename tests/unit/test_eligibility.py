"""Eligibility (clinical-reference §2): hand-written cases at the edge of every rule, on the pure engine."""

import copy
import datetime as dt

import pytest

from kdash import settings
from kdash.clinical import eligibility
from kdash.clinical.eligibility import Facts

CFG = settings.load()
TODAY = dt.date(2026, 6, 1)
D = dt.date


def trial(drug="sertraline", dose=100.0, weeks=8, outcome="no_response", current=True, start=D(2025, 6, 1)):
    return {"drug": drug, "dose_mg_per_day": dose, "start_date": start,
            "end_date": None if outcome == "ongoing" else start + dt.timedelta(weeks=weeks),
            "outcome": outcome, "current_episode": current}


def base() -> Facts:
    """An eligible woman of 40: two adequate failed trials, screening all clear, work-up done."""
    screening = {k: ("absent", D(2026, 5, 1)) for k in list(eligibility.ABSOLUTE)
                 + [i for _, items, _ in eligibility.WARNINGS.values() for i in items]}
    screening.update({k: ("present", D(2026, 5, 1)) for k in list(eligibility.WORKUP) + ["consent_signed"]})
    return Facts("T1", D(1986, 1, 15), "F", "mdd", trials=[trial(), trial("venlafaxine", 150, 6,
                                                                        start=D(2025, 9, 1))],
                 screening=screening, bp=[(dt.datetime(2026, 5, 15, 10), 128, 82)],
                 scores=[(D(2026, 5, 15), "MADRS", 30)])


def with_(**changes):
    def build():
        f = copy.deepcopy(base())
        for key, value in changes.items():
            if key == "answer":
                for item, status in value.items():
                    f.screening[item] = (status, D(2026, 5, 1))
            elif key == "drop":
                for item in value:
                    f.screening.pop(item, None)
            else:
                setattr(f, key, value(f) if callable(value) else value)
        return f
    return build


def second_trial(**kw):
    return lambda f: [f.trials[0], trial("venlafaxine", start=D(2025, 9, 1), **kw)]


CASES = [  # (name, facts, route, item code, expected item status, expected verdict)
    ("all clear", with_(), "iv_ketamine", "trd", "met", "eligible"),
    ("second trial 4 weeks", with_(trials=second_trial(dose=150, weeks=4)), "iv_ketamine", "trd", "met", "eligible"),
    ("second trial 3 weeks", with_(trials=second_trial(dose=150, weeks=3)), "iv_ketamine", "trd", "not_met",
     "not_eligible"),
    ("dose at the minimum", with_(trials=second_trial(dose=75, weeks=8)), "iv_ketamine", "trd", "met", "eligible"),
    ("dose just under the minimum", with_(trials=second_trial(dose=74.9, weeks=8)), "iv_ketamine", "trd", "not_met",
     "not_eligible"),
    ("intolerance at week 2", with_(trials=second_trial(weeks=2, outcome="intolerance")), "iv_ketamine", "trd",
     "not_met", "not_eligible"),
    ("intolerance after 8 weeks still no failure", with_(trials=second_trial(weeks=8, outcome="intolerance")),
     "iv_ketamine", "trd", "not_met", "not_eligible"),
    ("partial response counts as failed", with_(trials=second_trial(dose=150, outcome="partial_response")),
     "iv_ketamine", "trd", "met", "eligible"),
    ("response does not count", with_(trials=second_trial(dose=150, outcome="response")), "iv_ketamine", "trd",
     "not_met", "not_eligible"),
    ("trial in an earlier episode", with_(trials=second_trial(dose=150, current=False)), "iv_ketamine", "trd",
     "not_met", "not_eligible"),
    ("ongoing trial not yet failed", with_(trials=second_trial(dose=150, outcome="ongoing")), "iv_ketamine", "trd",
     "not_met", "not_eligible"),
    ("drug without a minimum dose", with_(trials=lambda f: [f.trials[0], trial("agomelatine", 25, 8,
                                                                                start=D(2025, 9, 1))]),
     "iv_ketamine", "trd", "unknown", "needs_review"),
    ("no trial history", with_(trials=[]), "iv_ketamine", "trd", "unknown", "needs_review"),
    ("BP 140/90 at screening", with_(bp=[(dt.datetime(2026, 5, 15, 10), 140, 90)]), "iv_ketamine", "blood_pressure",
     "met", "eligible"),
    ("BP 141/90 at screening", with_(bp=[(dt.datetime(2026, 5, 15, 10), 141, 90)]), "iv_ketamine", "blood_pressure",
     "warning", "needs_review"),
    ("BP 140/91 at screening", with_(bp=[(dt.datetime(2026, 5, 15, 10), 140, 91)]), "iv_ketamine", "blood_pressure",
     "warning", "needs_review"),
    ("latest BP counts", with_(bp=[(dt.datetime(2026, 5, 5, 10), 150, 95), (dt.datetime(2026, 5, 15, 10), 130, 80)]),
     "iv_ketamine", "blood_pressure", "met", "eligible"),
    ("no BP reading", with_(bp=[]), "iv_ketamine", "blood_pressure", "unknown", "needs_review"),
    # evidence has an age (issue 36): a reading over 30 days before treatment, a baseline beyond the look-back
    ("BP 31 days old", with_(bp=[(dt.datetime(2026, 5, 1, 10), 128, 82)]), "iv_ketamine", "blood_pressure",
     "unknown", "needs_review"),
    ("BP 30 days old", with_(bp=[(dt.datetime(2026, 5, 2, 10), 128, 82)]), "iv_ketamine", "blood_pressure",
     "met", "eligible"),
    ("baseline 31 days old", with_(scores=[(D(2026, 5, 1), "MADRS", 30)]), "iv_ketamine", "severity", "unknown",
     "needs_review"),
    ("baseline 30 days old", with_(scores=[(D(2026, 5, 2), "MADRS", 30)]), "iv_ketamine", "severity", "met",
     "eligible"),
    ("BP on the first treatment morning, before the session", with_(
        first_day=D(2026, 5, 10), first_start=dt.datetime(2026, 5, 10, 9),
        bp=[(dt.datetime(2026, 5, 1, 10), 128, 82), (dt.datetime(2026, 5, 10, 8, 30), 150, 95)], scores=[(D(2026, 5, 1), "MADRS", 30)]),
     "iv_ketamine", "blood_pressure", "warning", "needs_review"),
    ("BP on the first treatment day, after the session started", with_(
        first_day=D(2026, 5, 10), first_start=dt.datetime(2026, 5, 10, 9),
        bp=[(dt.datetime(2026, 5, 1, 10), 128, 82), (dt.datetime(2026, 5, 10, 9, 30), 150, 95)], scores=[(D(2026, 5, 1), "MADRS", 30)]),
     "iv_ketamine", "blood_pressure", "met", "eligible"),
    ("BP at the minute the first session started does not count", with_(
        first_day=D(2026, 5, 10), first_start=dt.datetime(2026, 5, 10, 9),
        bp=[(dt.datetime(2026, 5, 1, 10), 128, 82), (dt.datetime(2026, 5, 10, 9), 150, 95)], scores=[(D(2026, 5, 1), "MADRS", 30)]),
     "iv_ketamine", "blood_pressure", "met", "eligible"),
    ("aneurysm present", with_(answer={"aneurysmal_vascular_disease": "present"}), "iv_ketamine",
     "absolute_contraindications", "not_met", "not_eligible"),
    ("hypersensitivity unknown", with_(answer={"ketamine_hypersensitivity": "unknown"}), "iv_ketamine",
     "absolute_contraindications", "unknown", "needs_review"),
    ("contraindication not asked", with_(drop=["intracerebral_hemorrhage"]), "iv_ketamine",
     "absolute_contraindications", "unknown", "needs_review"),
    ("pregnant", with_(answer={"pregnancy": "present"}), "esketamine", "pregnancy", "warning", "needs_review"),
    ("pregnancy unknown for a man", with_(sex="M", answer={"pregnancy": "unknown"}), "iv_ketamine", "pregnancy",
     "met", "eligible"),
    ("psychotic disorder history", with_(answer={"psychotic_disorder_history": "present"}), "iv_ketamine",
     "psychosis", "warning", "needs_review"),
    ("substance use in 3 months", with_(answer={"substance_use_disorder_3m": "present"}), "iv_ketamine",
     "substance_use", "warning", "needs_review"),
    ("untreated sleep apnoea", with_(answer={"sleep_apnea_untreated": "present"}), "iv_ketamine", "medical",
     "warning", "needs_review"),
    ("age 17: a warning, not a bar", with_(birth_date=D(2008, 7, 1)), "iv_ketamine", "adult", "warning",
     "needs_review"),
    ("age 17 with too few trials", with_(birth_date=D(2008, 7, 1), trials=second_trial(dose=150, weeks=3)),
     "iv_ketamine", "trd", "not_met", "not_eligible"),
    ("age 18 today", with_(birth_date=D(2008, 6, 1)), "iv_ketamine", "adult", "met", "eligible"),
    ("age 65", with_(birth_date=D(1961, 1, 1)), "iv_ketamine", "adult", "met", "eligible"),
    ("age 66: outside the age policy", with_(birth_date=D(1960, 1, 1)), "iv_ketamine", "adult", "warning",
     "needs_review"),
    ("bipolar depression", with_(diagnosis="bipolar_depression"), "iv_ketamine", "diagnosis", "warning",
     "needs_review"),
    ("ECG missing", with_(answer={"ecg_done": "absent"}), "iv_ketamine", "workup", "not_met", "needs_review"),
    ("pregnancy test not needed at 55", with_(birth_date=D(1970, 1, 1), answer={"pregnancy_test_done": "absent"}),
     "iv_ketamine", "workup", "met", "eligible"),
    ("no consent", with_(answer={"consent_signed": "unknown"}), "iv_ketamine", "consent", "not_met", "needs_review"),
    ("esketamine without REMS", with_(), "esketamine", "rems", "not_met", "needs_review"),
    ("esketamine with REMS", with_(answer={"rems_enrolled": "present"}), "esketamine", "rems", "met", "eligible"),
    ("IV needs no REMS", with_(), "iv_ketamine", "rems", "met", "eligible"),
    ("MADRS 19 at baseline", with_(scores=[(D(2026, 5, 15), "MADRS", 19)]), "iv_ketamine", "severity", "warning",
     "needs_review"),
    ("MADRS 20 at baseline", with_(scores=[(D(2026, 5, 15), "MADRS", 20)]), "iv_ketamine", "severity", "met",
     "eligible"),
    ("contraindication outranks warnings", with_(answer={"arteriovenous_malformation": "present",
                                                          "cystitis": "present"}),
     "iv_ketamine", "cystitis", "warning", "not_eligible"),
    ("an old 'absent' answer is unknown", with_(screening=lambda f: {**f.screening, "cystitis": ("absent",
                                                                                                 D(2024, 1, 1))}),
     "iv_ketamine", "cystitis", "unknown", "needs_review"),
]


@pytest.mark.parametrize("name, build, route, code, status, verdict", CASES, ids=[c[0] for c in CASES])
def test_rule_edges(name, build, route, code, status, verdict):
    result = eligibility.evaluate(build(), route, CFG, TODAY)
    item = next(i for i in result["items"] if i["code"] == code)
    assert item["status"] == status, item
    assert result["verdict"] == verdict, [i for i in result["items"] if i["status"] != "met"]


def test_at_least_twenty_cases():
    assert len(CASES) >= 20


def test_trd_evidence_names_what_counted_and_why_not():
    f = with_(trials=lambda f: f.trials + [trial("sertraline", 50, 2, "intolerance", start=D(2026, 1, 1)),
                                            trial("citalopram", 10, 8, start=D(2026, 3, 1))])()
    detail = next(i for i in eligibility.evaluate(f, "iv_ketamine", CFG, TODAY)["items"] if i["code"] == "trd")["detail"]
    assert "2 adequate failed trials: sertraline 100 mg 8 wk" in detail
    assert "stopped for intolerance" in detail and "under the minimum 20 mg/day" in detail


def test_contract_items_are_present():
    codes = {i["code"] for i in eligibility.evaluate(base(), "iv_ketamine", CFG, TODAY)["items"]}
    assert {"adult", "diagnosis", "trd", "absolute_contraindications", "blood_pressure", "pregnancy", "psychosis",
            "substance_use", "workup"} <= codes


def test_minimum_doses_come_from_settings():
    cfg = copy.deepcopy(CFG)
    cfg["eligibility"]["min_dose_mg_per_day"]["venlafaxine"] = 300
    assert eligibility.evaluate(base(), "iv_ketamine", cfg, TODAY)["verdict"] == "not_eligible"


def test_cli_equals_the_page_engine_for_every_demo_patient(demo_store):
    import json
    import subprocess
    import sys
    from kdash.store import db
    from tests.conftest import ROOT
    out = subprocess.run([sys.executable, "-m", "kdash", "eligibility", "--db", demo_store, "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    con = db.connect(demo_store, read_only=True)
    try:
        ids = [d["patient_id"] for d in cli]
        page = {r["patient_id"]: eligibility.to_contract(r)
                for r in eligibility.checklist_for(con, CFG, dt.date.today(), ids)}
    finally:
        con.close()
    assert len(cli) == 400
    assert {d["patient_id"]: d for d in cli} == page


def test_demo_has_every_kind_of_patient(demo_store):
    from kdash.store import db
    con = db.connect(demo_store, read_only=True)
    try:
        results = eligibility.checklist(con, CFG, dt.date.today())
    finally:
        con.close()
    status = [{i["code"]: i for i in r["items"]} for r in results]
    verdicts = [r["verdict"] for r in results]
    assert verdicts.count("eligible") > 50
    assert any(s["absolute_contraindications"]["status"] == "not_met" for s in status)
    assert any(s["trd"]["status"] == "not_met" and "intolerance" in s["trd"]["detail"] for s in status)
    warnings_only = [r for r, s in zip(results, status) if r["verdict"] == "needs_review"
                     and {i["status"] for i in s.values()} == {"met", "warning"}]
    assert warnings_only
    assert any(i["status"] == "unknown" for s in status for i in s.values())


def _screening_bp(tmp_path, readings, started_at=None):
    """A store with one patient: readings outside sessions [(day, time, sys, dia)] and a first completed
    session on day 0 at 09:00 (started_at: its recorded start, "none" for no start recorded)."""
    from tests.builders import Clinic, day
    c = Clinic(str(tmp_path / "bp.duckdb"))
    try:
        c.patient("BP1")
        sid = c.session("BP1", 0)
        c.session("BP1", 3)
        if started_at is not None:
            c.con.execute("UPDATE sessions SET started_at = ? WHERE session_id = ?",
                          [None if started_at == "none" else dt.datetime.combine(day(0), started_at), sid])
        for n_day, at, sys_, dia in readings:
            c.bp("BP1", None, None, sys_, dia, n_day=n_day, at_time=at)
        result = eligibility.checklist(c.con, CFG, day(30), "BP1")[0]
    finally:
        c.close()
    return next(i for i in result["items"] if i["code"] == "blood_pressure")


EARLIER = (-10, dt.time(10, 0), 128, 82)


@pytest.mark.parametrize("readings, started_at, status, shown", [
    # first session on day 0 at 09:00: a reading at 08:30 that morning is the latest before treatment …
    ([EARLIER, (0, dt.time(8, 30), 150, 95)], None, "warning", "150/95"),
    # … one at 10:00 (after the start) is not, so the earlier reading is the screening one
    ([EARLIER, (0, dt.time(10, 0), 150, 95)], None, "met", "128/82"),
    # the session started late, at 11:00: a 10:00 reading still came before it
    ([EARLIER, (0, dt.time(10, 0), 150, 95)], dt.time(11, 0), "warning", "150/95"),
    # no start recorded: the scheduled 09:00 is the cut
    ([EARLIER, (0, dt.time(8, 30), 150, 95)], "none", "warning", "150/95"),
    ([EARLIER, (0, dt.time(9, 30), 150, 95)], "none", "met", "128/82"),
    # a reading on a later treatment day never counts
    ([EARLIER, (3, dt.time(8, 0), 150, 95)], None, "met", "128/82"),
], ids=["morning before the first session", "same day after the start", "before a late start",
        "before the scheduled time without a start", "after the scheduled time without a start",
        "a later treatment day"])
def test_screening_bp_is_the_latest_before_the_first_session_starts(tmp_path, readings, started_at, status, shown):
    item = _screening_bp(tmp_path, readings, started_at)
    assert item["status"] == status, item
    assert item["detail"].startswith(shown + " mmHg"), item


def test_the_criteria_kdash_adds_say_they_are_clinic_defaults_and_severe_head_injury_is_asked():
    """clinical-reference §2 lists three criteria as kdash's own defaults (another diagnosis than unipolar depression,
    a mild baseline, no antidepressant history = unknown): each says so where it is not met; the label's severe head
    injury is a screening item."""
    f = copy.deepcopy(base())
    f.diagnosis, f.trials, f.scores = "bipolar_depression", [], [(D(2026, 5, 15), "MADRS", 14)]
    items = {i["code"]: i for i in eligibility.evaluate(f, "iv_ketamine", CFG, TODAY)["items"]}
    for code in ("diagnosis", "trd", "severity"):
        assert items[code]["status"] != "met" and eligibility.KDASH_DEFAULT in items[code]["source"], code
    assert "unknown, not zero" in items["trd"]["detail"]
    ok = {i["code"]: i for i in eligibility.evaluate(base(), "iv_ketamine", CFG, TODAY)["items"]}
    assert eligibility.KDASH_DEFAULT not in ok["diagnosis"]["source"]
    f = copy.deepcopy(base())
    f.screening["severe_head_injury"] = ("present", D(2026, 5, 1))
    medical = {i["code"]: i for i in eligibility.evaluate(f, "iv_ketamine", CFG, TODAY)["items"]}["medical"]
    assert medical["status"] == "warning" and "severe head injury" in medical["detail"]
