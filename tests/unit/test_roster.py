"""The roster's SQL agrees with the patient page's Python on phase and status; paging is complete."""

import pytest

from kdash import scales, settings
from kdash.clinical import patient, roster
from kdash.store import db
from tests.builders import Clinic, day
from tests.conftest import TODAY

CFG = settings.load()


@pytest.fixture(scope="module")
def con(demo_store):
    c = db.connect(demo_store, read_only=True)
    yield c
    c.close()


def test_roster_and_patient_page_agree_on_phase_and_status(con):
    rows = roster.page(con, CFG, TODAY, page_size=150)
    for r in rows.itertuples():
        rec = patient.record(con, CFG, r.patient_id)
        status, _ = patient.status_line(rec, scales.SCALES["MADRS"], CFG)
        phase = patient.phase(patient.header(con, CFG, r.patient_id, TODAY), TODAY, CFG)
        assert (r.status, r.phase) == (status, phase), r.patient_id


def test_pages_cover_every_patient_once(con):
    everyone = {p for (p,) in con.execute("SELECT patient_id FROM patients").fetchall()}
    seen = []
    for n in range(1, len(everyone) // 100 + 2):
        seen += list(roster.page(con, CFG, TODAY, page_no=n, page_size=100)["patient_id"])
    assert len(seen) == len(everyone) and set(seen) == everyone


def test_flagged_patients_come_first(con):
    rows = roster.page(con, CFG, TODAY, page_size=400)
    urgency = rows["urgency"].fillna(9).tolist()
    assert urgency == sorted(urgency)


def test_iv_non_response_is_too_early_before_four_infusions(tmp_path):
    c = Clinic(str(tmp_path / "early.duckdb"))
    for pid, n in (("E3", 3), ("E4", 4)):
        c.patient(pid)
        for i in range(n):
            c.session(pid, 2 * i)
        c.score(pid, 0, "MADRS", total=30)
        c.score(pid, 2 * n, "MADRS", total=28)
    rows = roster.page(c.con, CFG, day(2 * 4 + 1)).set_index("patient_id")
    assert rows.loc["E3", "status"] == "too early"
    assert rows.loc["E4", "status"] == "non-responder"
    rec = patient.record(c.con, CFG, "E3")
    assert patient.status_line(rec, scales.SCALES["MADRS"], CFG)[0] == "too early"
    c.close()


def test_a_patient_treated_without_an_eligibility_decision_is_a_review_prompt_until_one_is_recorded(tmp_path):
    """clinical-reference §2: treated while the computed verdict is not "eligible" (no trial history: unknown) and no
    clinician's decision is on file; a computed "eligible" needs none, and a sign-off ends the prompt."""
    from kdash.clinical import decisions
    c = Clinic(str(tmp_path / "d.duckdb"))
    try:
        for pid in ("U1", "U2"):
            c.patient(pid)
        c.session("U1", 0)                         # treated, no trials on file → needs review, undecided
        rows = roster.page(c.con, CFG, day(1), phase=None)
        shown = dict(zip(rows["patient_id"], roster.display(rows)["flags"]))
        assert shown["U1"] == "no eligibility decision" and shown["U2"] == ""
        decisions.record(c.con, "U1", "iv_ketamine", "override", "eligible", "two failed trials in the referral",
                         decided_by="dr.a")
        rows = roster.page(c.con, CFG, day(1), phase=None)
        assert "no eligibility decision" not in dict(zip(rows["patient_id"], roster.display(rows)["flags"]))["U1"]
    finally:
        c.close()


def test_active_is_one_set_on_the_home_page_the_roster_and_its_filter(tmp_path):
    """Issue 36: one definition of "active" (rulebook.ACTIVE_PHASES). A patient in each phase, built by hand on day
    100: referred, waiting, in induction, in maintenance count; finished, stopped and deceased do not, even with an
    open safety flag (the worklist shows those)."""
    from kdash import rulebook
    from kdash.clinical import clinic
    c = Clinic(str(tmp_path / "phases.duckdb"))
    try:
        today = day(100)
        c.patient("REF")                                     # no session: referred
        c.patient("WAIT")
        c.session("WAIT", 102, status="scheduled")           # booked, none done: waiting
        c.patient("IND")
        c.session("IND", 95)                                 # 1 of 6 infusions, 5 days ago: induction
        c.patient("MAINT")
        for i in range(6):
            c.session("MAINT", 40 + 2 * i)
        c.session("MAINT", 90, phase="maintenance")          # 10 days ago, within the 21: maintenance
        c.patient("FIN")
        for i in range(6):
            c.session("FIN", 10 + 2 * i)                     # the whole induction, then nothing: finished
        c.score("FIN", 10, "PHQ9", items=[1, 1, 1, 1, 1, 1, 1, 1, 2])    # item 9 = 2: an urgent flag, open
        c.patient("STOP")
        c.session("STOP", 10)                                # 1 of 6, long ago: stopped
        c.patient("DEAD", deceased=True)
        c.session("DEAD", 99)
        counts = roster.phase_counts(c.con, CFG, today)
        assert counts == {"referred": 1, "waiting": 1, "induction": 1, "maintenance": 1, "finished": 1,
                          "stopped": 1, "deceased": 1}
        active = roster.page(c.con, CFG, today, phase=roster.ACTIVE)
        assert set(active["patient_id"]) == {"REF", "WAIT", "IND", "MAINT"}
        assert clinic.at_a_glance(c.con, CFG, today)["active_patients"] == len(active) == 4
        every = roster.page(c.con, CFG, today, phase=None).set_index("patient_id")
        assert every.loc["FIN", "urgency"] == 0 and every.loc["FIN", "phase"] == "finished"
        assert set(rulebook.ACTIVE_PHASES) == set(active["phase"])
    finally:
        c.close()
