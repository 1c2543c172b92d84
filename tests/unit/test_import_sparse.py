"""CSV imports as real clinics send them (data-contract §3): blank optional fields, readings by session and minute,
sessions without a phase, the clinic's own IDs. Hand-computed expectations on a store made by init."""

import datetime as dt

import pytest

from kdash import ids, scales, settings
from kdash.clinical import patient, rules
from kdash.importers import importing
from kdash.store import clinic_store, db, derived, flag_log

CFG = settings.load()


def write(folder, **files):
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text.strip() + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def con(tmp_path):
    c = clinic_store.create(str(tmp_path / "clinic.duckdb"))
    yield c
    c.close()


PATIENTS = "patient_id,birth_date,sex\nA1,1980-01-01,F\n"


def sessions(n, start=dt.date(2026, 3, 2), route="iv_ketamine", phase_column=False, **phases):
    head = "session_id,patient_id,scheduled_at,status,route" + (",phase" if phase_column else "")
    rows = [f"S{k},A1,{start + dt.timedelta(days=2 * k)}T09:00,completed,{route}"
            + (f",{phases.get(f'S{k}', '')}" if phase_column else "") for k in range(1, n + 1)]
    return "\n".join([head, *rows])


def test_a_reading_by_session_and_minute_is_taken_at_the_start_plus_the_minute(con, tmp_path):
    folder = write(tmp_path / "f", patients=PATIENTS,
                   sessions="session_id,patient_id,scheduled_at,status,route,started_at\n"
                            "S1,A1,2026-03-02T09:00,completed,iv_ketamine,2026-03-02T09:20\n"
                            "S2,A1,2026-03-04T09:00,completed,iv_ketamine,\n",
                   vitals="session_id,minute,systolic,diastolic\nS1,-5,150,95\nS1,40,181,111\nS2,40,120,80\n")
    assert importing.run(con, CFG, [str(folder)]).ok
    got = con.execute("SELECT session_id, minute, patient_id, measured_at FROM vitals ORDER BY 1, 2").fetchall()
    assert got == [("S1", -5, "A1", dt.datetime(2026, 3, 2, 9, 15)), ("S1", 40, "A1", dt.datetime(2026, 3, 2, 10, 0)),
                   ("S2", 40, "A1", dt.datetime(2026, 3, 4, 9, 40))]          # S2: no start, so its scheduled time
    again = importing.run(con, CFG, [str(folder)])
    assert again.ok and again.written.get("vitals") == 0                        # the same readings, not new ones
    # the SQL flag path (roster, home) sees them as the patient page does
    logged = con.execute("SELECT rule, day, value FROM flag_log WHERE severity <> 'clear' ORDER BY rule").fetchall()
    assert ("emergent_hypertension", dt.date(2026, 3, 2), "181/111 mmHg, 40 min after the dose") in logged
    assert ("predose_bp", dt.date(2026, 3, 2), "150/95 mmHg, 5 min before the dose") in logged
    python = {(f.rule, f.day, f.value) for f in patient.flags(con, CFG, "A1")}
    assert set(logged) == python


def test_sessions_without_a_phase_get_one_from_the_induction_length_and_a_given_phase_wins(con, tmp_path):
    planned = CFG["induction"]["iv_ketamine"]                                  # 6 by default
    folder = write(tmp_path / "f", patients=PATIENTS, sessions=sessions(planned + 2, phase_column=True, S2="maintenance"))
    assert importing.run(con, CFG, [str(folder)]).ok
    phases = dict(con.execute("SELECT session_id, phase FROM sessions").fetchall())
    assert [phases[f"S{k}"] for k in range(1, planned + 3)] == \
        ["induction", "maintenance"] + ["induction"] * (planned - 2) + ["maintenance"] * 2
    assert con.execute("SELECT n_induction, n_maintenance FROM course_facts").fetchone() == (planned - 1, 3)


def test_derived_phases_follow_sessions_imported_later(con, tmp_path):
    """Sessions 2..7 first (session 7 is the 6th then: induction), then session 1 arrives: session 7 is the 7th."""
    body = sessions(7).splitlines()
    first = write(tmp_path / "a", patients=PATIENTS, sessions="\n".join([body[0], *body[2:]]))
    assert importing.run(con, CFG, [str(first)]).ok
    assert con.execute("SELECT phase FROM sessions WHERE session_id = 'S7'").fetchone() == ("induction",)
    later = write(tmp_path / "b", sessions="\n".join(body[:2]))
    assert importing.run(con, CFG, [str(later)]).ok
    assert con.execute("SELECT phase FROM sessions WHERE session_id = 'S7'").fetchone() == ("maintenance",)
    assert con.execute("SELECT phase FROM sessions WHERE session_id = 'S1'").fetchone() == ("induction",)


def test_an_older_store_with_blank_phases_and_readings_is_brought_up_to_date(tmp_path):
    """A store imported before migration 13: NULL phases and session readings without a time."""
    path = str(tmp_path / "old.duckdb")
    old = db.connect(path, upto=12)
    old.execute("INSERT INTO patients (patient_id, birth_date, sex) VALUES ('A1', DATE '1980-01-01', 'F')")
    old.execute("INSERT INTO sessions (session_id, patient_id, scheduled_at, status, route) VALUES "
                "('S1', 'A1', TIMESTAMP '2026-03-02 09:00', 'completed', 'iv_ketamine')")
    old.execute("INSERT INTO vitals (session_id, minute, patient_id, systolic, diastolic) VALUES ('S1', 40, 'A1', 185, 90)")
    old.close()
    con = db.connect(path)
    assert con.execute("SELECT measured_at FROM vitals").fetchone() == (dt.datetime(2026, 3, 2, 9, 40),)
    assert derived.ensure_current(con, CFG)
    assert con.execute("SELECT phase, phase_derived FROM sessions").fetchone() == ("induction", True)
    assert flag_log.is_fresh(con, CFG)
    assert not derived.ensure_current(con, CFG)                                 # nothing left to do
    con.close()


@pytest.mark.parametrize("cell, reason", [
    (" A1", "no spaces before or after"),
    ("A1\t", "no spaces before or after"),
    ("A\x071", "non-printable"),
    ("A" * 65, "at most 64 characters"),
])
def test_an_id_that_is_not_the_clinics_printable_string_is_refused(con, tmp_path, cell, reason):
    folder = write(tmp_path / "f", patients=f'patient_id,birth_date,sex\n"{cell}",1980-01-01,F\n')
    rep = importing.run(con, CFG, [str(folder)])
    assert not rep.ok and reason in rep.problems[0] and rep.problems[0].startswith("patients.csv:2: patient_id")
    assert con.execute("SELECT count(*) FROM patients").fetchone() == (0,)


def test_ids_with_url_characters_import_and_link_to_themselves(con, tmp_path):
    odd = "Ünal & Co?x=1#2 / 3"
    folder = write(tmp_path / "f", patients=f"patient_id,birth_date,sex\n{odd},1980-01-01,F\nÜnal,1981-01-01,M\n")
    assert importing.run(con, CFG, [str(folder)]).ok
    assert ids.problem(odd) is None and patient.id_problem(odd) is None
    link = ids.link("patient", "patient_id", odd)
    assert link == "/patient?patient_id=%C3%9Cnal%20%26%20Co%3Fx%3D1%232%20%2F%203"
    from urllib.parse import parse_qs, urlsplit
    assert parse_qs(urlsplit(link).query) == {"patient_id": [odd]}


def test_a_reading_in_another_patients_session_is_refused(con, tmp_path):
    folder = write(tmp_path / "f", patients=PATIENTS + "B2,1970-01-01,M\n", sessions=sessions(1),
                   vitals="session_id,minute,patient_id,systolic,diastolic\nS1,40,B2,120,80\n")
    rep = importing.run(con, CFG, [str(folder)])
    assert not rep.ok and rep.problems == ["vitals.csv:2: session 'S1' is another patient's"]


def test_totals_without_items_are_scores_whose_missing_suicide_item_is_a_flag(con, tmp_path):
    """clinical-reference §4 "suicide item unknown": every imported total without its suicide item is a review
    prompt, urgent in the severe band (MADRS 35–60, PHQ-9 20–27); both evaluations agree."""
    folder = write(tmp_path / "f", patients=PATIENTS, sessions=sessions(2),
                   assessments="patient_id,assessed_on,scale,total\nA1,2026-03-01,PHQ9,18\nA1,2026-03-01,MADRS,36\n"
                               "A1,2026-03-05,PHQ9,9\n")
    assert importing.run(con, CFG, [str(folder)]).ok
    rec = patient.record(con, CFG, "A1")
    flags = [(f.severity, f.day, f.value) for f in rules.evaluate(rec, CFG) if f.rule == "suicide_item_unknown"]
    assert flags == [("urgent", dt.date(2026, 3, 1), "MADRS 36 recorded without item 10 (severe band)"),
                     ("review", dt.date(2026, 3, 5), "PHQ-9 9 recorded without item 9"),
                     ("review", dt.date(2026, 3, 1), "PHQ-9 18 recorded without item 9")]
    from kdash.store import flag_log
    rows = flag_log.evidence(con, CFG, *flag_log.ALL_TIME, ["A1"])
    rows = rows[rows["rule"] == "suicide_item_unknown"]
    assert sorted(zip(rows["severity"], rows["day"].dt.date, rows["value"])) == sorted(flags)
    status, sentence = patient.status_line(rec, scales.SCALES["PHQ9"], CFG)
    assert status == "responder" and "18 → 9, −50%" in sentence          # (18 − 9) / 18 = 50 %: a total is a score


def test_a_patient_with_one_name_part_is_found_by_it_and_shown_by_it(con, tmp_path):
    folder = write(tmp_path / "f", patients="patient_id,family_name,birth_date,sex\nA1,Okonkwo,1980-01-01,F\n")
    assert importing.run(con, CFG, [str(folder)]).ok
    from kdash.clinical import roster
    found = roster.page(con, CFG, dt.date.today(), search="okonk")
    assert list(found["patient_id"]) == ["A1"] and list(found["name"]) == ["Okonkwo"]
