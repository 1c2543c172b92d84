"""Record a session with in-session ratings by minute and the esketamine REMS form (issue 29): saved, loaded back
for an edit, and read by the rules that need them (dissociation settled by discharge, sedation back to 5 by about
90 minutes, the REMS monitoring form within 7 days)."""

from __future__ import annotations

import datetime as dt

from kdash import settings
from kdash.clinical import patient, recording, worklist
from tests.builders import Clinic

CFG = settings.load()
TODAY = dt.date.today()


def esketamine(pid: str, day: dt.date, **extra) -> recording.Entry:
    fields = dict(patient_id=pid, day=day, route="esketamine", weight_kg=80.0, dose_mg=56.0, start=dt.time(9, 0),
                  end=dt.time(11, 15), vitals=[{"minute": -5, "systolic": 128, "diastolic": 80},
                                               {"minute": 40, "systolic": 138, "diastolic": 84}])
    fields.update(extra)
    return recording.Entry(**fields)


def test_ratings_by_minute_and_the_rems_form_are_saved_loaded_and_flagged(tmp_path):
    c = Clinic(str(tmp_path / "r.duckdb"))
    try:
        c.patient("E1")
        day = TODAY - dt.timedelta(days=2)
        ratings = [{"minute": 40, "cadss": 14, "moaas": 4}, {"minute": 120, "cadss": 7, "moaas": 4}]
        sid = recording.save(c.con, CFG, esketamine("E1", day, ratings=ratings), username="doc")
        rows = c.con.execute("SELECT scale, minute, total FROM assessments WHERE session_id = ? ORDER BY ALL",
                             [sid]).fetchall()
        assert rows == [("CADSS", 40, 14), ("CADSS", 120, 7), ("MOAAS", 40, 4), ("MOAAS", 120, 4)]
        loaded = recording.load(c.con, sid)
        assert loaded.ratings == ratings and loaded.cadss is None and loaded.rems_form_sent_on is None
        open_now = {r: v for r, v in zip(*(lambda w: (w["rule"], w["evidence"]))(worklist.items(c.con, CFG, TODAY)))}
        assert open_now["dissociation_unsettled"] == "CADSS 7, 120 min after the dose, the last rating of the session"
        assert open_now["sedation_unresolved"] == "MOAA/S 4, 120 min after the dose"
        assert open_now["rems_form"] == (f"REMS monitoring form for the session of {day:%Y-%m-%d} not sent "
                                         f"(due by {day + dt.timedelta(days=7):%Y-%m-%d})")
        # the form sent: the reminder goes; the rest of the session as it was
        loaded.rems_form_sent_on = TODAY
        assert recording.validate(c.con, loaded, TODAY) == {}
        recording.save(c.con, CFG, loaded, username="doc", replaces=sid)
        assert "rems_form" not in set(worklist.items(c.con, CFG, TODAY)["rule"])
        assert {f.rule for f in patient.flags(c.con, CFG, "E1")} >= {"dissociation_unsettled", "sedation_unresolved"}
        assert "rems_form" not in {f.rule for f in patient.flags(c.con, CFG, "E1")}
    finally:
        c.close()


def test_no_session_is_recorded_for_a_patient_after_their_death(tmp_path):
    c = Clinic(str(tmp_path / "d.duckdb"))
    try:
        c.patient("D1", deceased=True, deceased_on=TODAY - dt.timedelta(days=10))
        errors = recording.validate(c.con, esketamine("D1", TODAY), TODAY)
        assert errors["patient_id"] == f"this patient is recorded as deceased on {TODAY - dt.timedelta(days=10)}"
        assert "patient_id" not in recording.validate(c.con, esketamine("D1", TODAY - dt.timedelta(days=20)), TODAY)
    finally:
        c.close()
