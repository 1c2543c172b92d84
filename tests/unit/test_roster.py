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
