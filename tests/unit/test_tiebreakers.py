"""Derived rows and page results never depend on the order rows were written (issue 21 item 3): every ordering that
numbers sessions or picks one row has a tie-breaker, so a table rebuilt for one patient equals a full rebuild
and two stores holding the same rows, written in different orders, read the same.

The record below is full of deliberate ties: two sessions of a patient booked at the same minute, two on one day,
two same-day scores of a scale with different totals, two blood pressures taken at the same moment, two
eligibility decisions and two screening answers at the same instant, the same side effect reported twice in a
session, two acknowledgements of the same flag. It is written forwards into one store, backwards into another,
shuffled into a third, and into a fourth one patient's row at a time, each write refreshing that patient's derived
rows only (as the app's write paths do, and as a read model pulling several writers' rows would)."""

from __future__ import annotations

import datetime as dt
import random

import pandas as pd
import pytest

from kdash import scales, settings
from kdash.clinical import eligibility, outcomes, patient, recording, roster, rules, side_effects, worklist
from kdash.store import db, derived, flag_log
from tests.builders import day

CFG = settings.load()
TODAY = day(35)
NOW = dt.datetime.combine(TODAY, dt.time(12, 0))
TABLES = ["score_points", "session_facts", "course_facts", "effect_facts", "flag_log", "course_scores"]
P1, P2, P3 = "TIE001", "TIE002", "TIE003"


def at(n: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day(n), dt.time(hour, minute))


def _sessions() -> list[tuple]:
    """(session_id, patient_id, scheduled_at, status, route, phase, dose_mg, weight_kg, started_at, ended_at)"""
    rows = []

    def s(sid, pid, when, route="iv_ketamine", phase="induction", dose=40.0, status="completed", minutes=75):
        done = status == "completed"
        rows.append((sid, pid, when, status, route, phase, dose if done else None, 80.0 if done else None,
                     when if done else None, when + dt.timedelta(minutes=minutes) if done else None))
    # P1: two first sessions booked at the same minute with different routes and doses; two on day 4; the last
    # two completed at the same minute in different phases; two bookings at the same minute.
    s("S1A", P1, at(0), "iv_ketamine", dose=40.0)
    s("S1B", P1, at(0), "esketamine", dose=56.0, minutes=130)
    s("S1C", P1, at(2), dose=44.0)
    s("S1D", P1, at(4), dose=48.0)
    s("S1E", P1, at(4, 14), dose=60.0)
    s("S1F", P1, at(7), dose=60.0)
    s("S1G", P1, at(9), dose=64.0)
    s("S1H", P1, at(14), phase="maintenance", dose=48.0)
    s("S1J", P1, at(30), phase="maintenance", dose=64.0)
    s("S1K", P1, at(30), phase="induction", dose=40.0)
    s("S1L", P1, at(40), "iv_ketamine", phase="maintenance", status="scheduled")
    s("S1M", P1, at(40), "esketamine", phase="induction", status="scheduled")
    # P2: esketamine, two sessions at the same minute on day 7 (monitoring and session numbers).
    for n, sid in ((0, "S2A"), (3, "S2B"), (7, "S2C"), (7, "S2D"), (10, "S2E"), (14, "S2F"), (17, "S2G"),
                   (21, "S2H"), (24, "S2I")):
        s(sid, P2, at(n, 10), "esketamine", dose=56.0, minutes=100 if sid == "S2C" else 130)
    # P3: an ordinary IV course, no ties of its own.
    for n, sid in ((1, "S3A"), (3, "S3B"), (5, "S3C"), (8, "S3D"), (10, "S3E"), (12, "S3F")):
        s(sid, P3, at(n, 11), dose=40.0)
    return rows


def _assessments() -> list[tuple]:
    """(patient_id, assessed_on, scale, total, items, session_id)"""
    phq = [1, 1, 1, 1, 1, 1, 1, 1]
    return [
        # P1: a same-day pair at baseline, after the first sessions, at the worsening and after the two-session
        # day; CADSS pairs with equal totals in two sessions of a day, and same-day clears with different totals.
        (P1, day(-1), "MADRS", 30, None, None), (P1, day(-1), "MADRS", 34, None, None),
        (P1, day(1), "MADRS", 28, None, None), (P1, day(1), "MADRS", 22, None, None),
        (P1, day(3), "MADRS", 36, None, None), (P1, day(3), "MADRS", 31, None, None),
        (P1, day(5), "MADRS", 20, None, None), (P1, day(5), "MADRS", 26, None, None),
        (P1, day(8), "MADRS", 35, None, None), (P1, day(8), "MADRS", 29, None, None),
        (P1, day(10), "MADRS", 33, None, None), (P1, day(10), "MADRS", 33, None, "S1G"),
        (P1, day(31), "MADRS", 16, None, None), (P1, day(31), "MADRS", 12, None, None),
        (P1, day(-1), "PHQ9", 10, phq + [2], None), (P1, day(-1), "PHQ9", 10, [2] + phq[1:] + [0], None),
        (P1, day(3), "PHQ9", 12, phq + [4], None), (P1, day(3), "PHQ9", 12, [1, 1, 1, 1, 1, 1, 1, 4, 1], None),
        (P1, day(0), "CADSS", 3, None, "S1A"), (P1, day(0), "CADSS", 3, None, "S1B"),
        (P1, day(2), "CADSS", 4, None, "S1C"),
        (P1, day(4), "CADSS", 30, None, "S1D"), (P1, day(4), "CADSS", 30, None, "S1E"),
        (P1, day(7), "CADSS", 2, None, "S1F"), (P1, day(7), "CADSS", 1, None, "S1F"),
        (P1, day(9), "CADSS", 2, None, "S1G"), (P1, day(9), "CADSS", 40, None, "S1G"),
        (P1, day(2), "MOAAS", 3, None, "S1C"), (P1, day(2), "MOAAS", 3, None, "S1C"),
        # P2: baseline pair, a score pair at the end of induction, and the session-day pairs.
        (P2, day(-2), "MADRS", 32, None, None), (P2, day(-2), "MADRS", 28, None, None),
        (P2, day(8), "MADRS", 25, None, None), (P2, day(8), "MADRS", 21, None, "S2C"),
        (P2, day(22), "MADRS", 18, None, None), (P2, day(22), "MADRS", 22, None, None),
        (P2, day(25), "MADRS", 20, None, None), (P2, day(25), "MADRS", 14, None, "S2I"),
        (P2, day(7), "CADSS", 9, None, "S2C"), (P2, day(7), "CADSS", 9, None, "S2D"),
        (P2, day(10), "CADSS", 3, None, "S2E"), (P2, day(10), "CADSS", 2, None, "S2E"),     # two clears at once
        # P3: plain scores.
        (P3, day(-3), "MADRS", 30, None, None), (P3, day(4), "MADRS", 24, None, None),
        (P3, day(9), "MADRS", 20, None, None), (P3, day(13), "MADRS", 12, None, None),
    ]


def _vitals() -> list[tuple]:
    """(session_id, minute, patient_id, measured_at, systolic, diastolic, heart_rate, spo2)"""
    rows = [
        # two readings at the same moment, before and after dosing, and two screening readings at one moment
        ("S1C", -5, P1, at(2, 8, 55), 150, 95, 80, 98), ("S1C", -5, P1, at(2, 8, 55), 120, 80, 80, 98),
        ("S1C", 40, P1, at(2, 9, 40), 190, 100, 90, 97), ("S1C", 40, P1, at(2, 9, 40), 185, 115, 90, 97),
        ("S1C", 40, P1, at(2, 9, 40), 185, 115, 88, 97),
        ("S1D", -5, P1, at(4, 8, 55), 130, 85, None, None), ("S1E", -5, P1, at(4, 13, 55), 130, 85, None, None),
        ("S1D", 40, P1, at(4, 9, 40), 182, 100, 70, 99), ("S1E", 40, P1, at(4, 14, 40), 176, 96, 70, 99),
        (None, None, P1, at(-2, 10), 150, 95, None, None), (None, None, P1, at(-2, 10), 130, 85, None, None),
    ]
    for sid, n in (("S2A", 0), ("S2B", 3), ("S2C", 7), ("S2D", 7), ("S2E", 10)):
        rows += [(sid, -10, P2, at(n, 9, 50), 128, 82, 72, 98), (sid, 40, P2, at(n, 10, 40), 138, 88, 75, 98)]
    rows += [("S2C", 40, P2, at(7, 10, 40), 142, 92, 75, 98)]
    rows += [(None, None, P2, at(-2, 9), 120, 80, None, None), (None, None, P3, at(-3, 9), 125, 80, None, None)]
    return rows


def _side_effects() -> list[tuple]:
    """(session_id, effect, severity, note)"""
    return [("S1C", "nausea", "mild", None), ("S1C", "nausea", "severe", None),
            ("S1C", "dizziness", "moderate", "after 20 min"), ("S1C", "dizziness", "moderate", None),
            ("S1A", "headache", "mild", None), ("S1B", "headache", "severe", None),
            ("S2C", "nausea", "moderate", None), ("S2D", "nausea", "mild", None),
            ("S3B", "dizziness", "mild", None)]


def _decisions() -> list[tuple]:
    """(patient_id, route, kind, verdict, reason, decided_by, decided_at)"""
    return [(P1, "iv_ketamine", "sign_off", "eligible", None, "dr_a", at(-3, 10)),
            (P1, "iv_ketamine", "override", "not_eligible", "cardiac history", "dr_b", at(-3, 10)),
            (P1, "iv_ketamine", "sign_off", "needs_review", None, "dr_c", at(-3, 10)),
            (P2, "esketamine", "sign_off", "eligible", None, "dr_a", at(-4, 10)),
            (P2, "esketamine", "override", "eligible", "seen in clinic", "dr_b", at(-4, 10)),
            (P3, "iv_ketamine", "override", "eligible", "seen in clinic", "dr_a", at(-9, 10)),
            (P3, "iv_ketamine", "sign_off", "needs_review", None, "dr_b", at(-4, 10))]


def _screening() -> list[tuple]:
    """(patient_id, item, status, assessed_on)"""
    rows = []
    for pid in (P1, P2):
        rows += [(pid, "psychosis_current", "absent", day(-5)), (pid, "psychosis_current", "present", day(-5)),
                 (pid, "ecg_done", "present", day(-5)), (pid, "ecg_done", "unknown", day(-5)),
                 (pid, "consent_signed", "absent", day(-5)), (pid, "consent_signed", "present", day(-5)),
                 (pid, "ketamine_hypersensitivity", "absent", day(-5)),
                 (pid, "ketamine_hypersensitivity", "unknown", day(-5))]
    return rows


def _trials() -> list[tuple]:
    """(patient_id, drug, dose_mg_per_day, start_date, end_date, outcome, current_episode)"""
    return [(P1, "sertraline", 150.0, day(-200), day(-140), "no_response", True),
            (P1, "escitalopram", 20.0, day(-200), day(-150), "partial_response", True),
            (P1, "venlafaxine", 150.0, day(-120), day(-60), "no_response", True),
            (P2, "sertraline", 100.0, day(-300), day(-200), "no_response", True),
            (P2, "bupropion", 300.0, day(-300), day(-250), "intolerance", True)]


def _acks() -> list[tuple]:
    """(ack_id, patient_id, rule, through_day, action, note, acknowledged_by, acknowledged_at): two clinicians
    acknowledging the same evidence (two writers), and two acknowledgements made at the same moment."""
    action = CFG["flags"]["actions"][0]
    return [(1, P1, "emergent_hypertension", day(2), action, None, "dr_a", at(2, 13)),
            (2, P1, "emergent_hypertension", day(2), action, "seen too", "dr_b", at(2, 11)),
            (3, P1, "predose_bp", day(2), action, None, "dr_a", at(2, 13)),
            (4, P2, "dissociation", day(7), action, None, "dr_a", at(7, 15)),
            (5, P2, "dissociation", day(7), action, None, "dr_b", at(7, 15))]


COLUMNS = {
    "patients": "patient_id, given_name, family_name, birth_date, sex, referral_date, consultation_date, "
                "primary_diagnosis, clinician, mrn",
    "sessions": "session_id, patient_id, scheduled_at, status, route, phase, dose_mg, weight_kg, started_at, ended_at",
    "assessments": "patient_id, assessed_on, scale, total, items, session_id",
    "vitals": "session_id, minute, patient_id, measured_at, systolic, diastolic, heart_rate, spo2",
    "side_effects": "session_id, effect, severity, note",
    "eligibility_decisions": "patient_id, route, kind, verdict, reason, decided_by, decided_at",
    "screening": "patient_id, item, status, assessed_on",
    "antidepressant_trials": "patient_id, drug, dose_mg_per_day, start_date, end_date, outcome, current_episode",
    "flag_acks": "ack_id, patient_id, rule, through_day, action, note, acknowledged_by, acknowledged_at",
}


def record() -> dict[str, list[tuple]]:
    pts = [(pid, "Test", pid, dt.date(1980, 5, 1), "F", day(-40), day(-20), "mdd", "Dr Test", f"MRN-{pid}")
           for pid in (P1, P2, P3)]
    return {"patients": pts, "sessions": _sessions(), "assessments": _assessments(), "vitals": _vitals(),
            "side_effects": _side_effects(), "eligibility_decisions": _decisions(), "screening": _screening(),
            "antidepressant_trials": _trials(), "flag_acks": _acks()}


def _pid(table: str, row: tuple) -> str:
    if table == "side_effects":
        return {r[0]: r[1] for r in _sessions()}[row[0]]
    return row[{"sessions": 1, "vitals": 2, "flag_acks": 1}.get(table, 0)]


def _insert(cur, table: str, rows: list[tuple]) -> None:
    cols = COLUMNS[table]
    for r in rows:     # one statement a row, so the rows are stored in exactly this order
        cur.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(r))})", list(r))


def _rebuild(con) -> None:
    with db.transaction(con) as cur:
        derived.refresh(cur, None)
        derived.refresh_stamped(con, cur, CFG, None)


def whole_store(path: str, arrange) -> object:
    """Every row written at once, each table's rows in arrange(rows) order, then every derived table built."""
    con = db.connect(path)
    with db.transaction(con) as cur:
        for table, rows in record().items():
            _insert(cur, table, arrange(list(rows)))
    _rebuild(con)
    return con


def patient_by_patient(path: str, seed: int) -> object:
    """P3 and P2 first (built whole), then P1's rows one write at a time in a shuffled order, each refreshing P1's
    derived rows only, as the app's write paths do."""
    con = db.connect(path)
    rec = record()
    with db.transaction(con) as cur:
        for table, rows in rec.items():
            _insert(cur, table, [r for r in reversed(rows) if table == "patients" or _pid(table, r) != P1])
    _rebuild(con)
    mine = [(table, r) for table, rows in rec.items() if table != "patients" for r in rows if _pid(table, r) == P1]
    random.Random(seed).shuffle(mine)       # a side effect may come before its session, a score before its day's
    for table, r in mine:
        with db.transaction(con) as cur:
            _insert(cur, table, [r])
            derived.refresh(cur, [P1])
            derived.refresh_stamped(con, cur, CFG, [P1])
    return con


def table_rows(con, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def frame(df: pd.DataFrame) -> list[tuple]:
    """A query's rows in the order it returned them, comparable (NaN, arrays and timestamps as their repr)."""
    return [tuple(repr(x) for x in r) for r in df.itertuples(index=False)]


def pages(con) -> dict:
    """What the pages most likely to notice a tie show, in the order they show it."""
    out = {}
    for pid in (P1, P2, P3):
        p = {"patient_id": pid, "today": TODAY}
        for name in ("patient_header", "patient_sessions", "patient_assessments", "patient_vitals",
                     "patient_side_effects"):
            out[name, pid] = frame(db.query(con, name, p))
        rec = patient.record(con, CFG, pid)
        out["flags", pid] = rules.evaluate(rec, CFG)
        out["status", pid] = [patient.status_line(rec, scales.SCALES[c], CFG) for c in ("MADRS",)]
        out["bp_by_session", pid] = frame(patient.bp_by_session(rec))
        out["session_scale", pid] = frame(patient.session_scale(rec, "CADSS"))
        out["checklist", pid] = eligibility.checklist(con, CFG, TODAY, patient_id=pid)
        out["open", pid] = frame(rules.clinic_open_flags(con, CFG, TODAY, pid)
                                 .sort_values(["rule", "day", "value", "evidence_at"], ignore_index=True))
        out["acks", pid] = frame(worklist.history(con, pid))
    for q in ("eligibility_facts", "eligibility_decisions", "eligibility_screening", "eligibility_bp",
              "eligibility_scores", "eligibility_trials"):     # the last three in their own order, read in it
        rows = frame(db.query(con, q, {"ids": None}))
        out[q] = rows if q in ("eligibility_bp", "eligibility_scores", "eligibility_trials") else sorted(rows)
    out["worklist"] = frame(worklist.items(con, CFG, TODAY, now=NOW))
    out["loop"] = frame(worklist.loop_by_week(con, CFG, TODAY, now=NOW))
    out["roster"] = frame(roster.page(con, CFG, TODAY))
    out["recent_cases"] = frame(db.query(con, "recent_cases", {"limit": 10}))
    out["per_patient"] = frame(outcomes.per_patient(con, CFG, scale="MADRS").sort_values("patient_id",
                                                                                         ignore_index=True))
    out["side_effects"] = frame(side_effects.rates(con, CFG))
    out["forms"] = [recording.load(con, sid) for sid in ("S1A", "S1B", "S1C", "S2C")]
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ties")
    cons = {"forwards": whole_store(str(folder / "forwards.duckdb"), lambda rows: rows),
            "backwards": whole_store(str(folder / "backwards.duckdb"), lambda rows: rows[::-1]),
            "shuffled": whole_store(str(folder / "shuffled.duckdb"),
                                    lambda rows: random.Random(len(rows)).sample(rows, len(rows))),
            "by_patient": patient_by_patient(str(folder / "by_patient.duckdb"), seed=3)}
    yield cons
    for con in cons.values():
        con.close()


def test_the_record_has_the_ties_it_is_meant_to_have(stores):
    con = stores["forwards"]
    assert con.execute("SELECT count(*) FROM (SELECT patient_id, scheduled_at FROM sessions GROUP BY ALL "
                       "HAVING count(*) > 1)").fetchone()[0] >= 3
    assert con.execute("SELECT count(*) FROM (SELECT patient_id, assessed_on, scale FROM assessments GROUP BY ALL "
                       "HAVING count(DISTINCT total) > 1)").fetchone()[0] >= 5
    assert con.execute("SELECT count(*) FROM (SELECT patient_id, measured_at FROM vitals GROUP BY ALL "
                       "HAVING count(*) > 1)").fetchone()[0] >= 3
    assert con.execute("SELECT count(*) FROM (SELECT patient_id, route, decided_at FROM eligibility_decisions "
                       "GROUP BY ALL HAVING count(DISTINCT verdict) > 1)").fetchone()[0] == 1
    # the stamped tables were built, so a patient's refresh keeps them
    assert flag_log.is_fresh(con, CFG)
    assert all(table_rows(con, t) for t in TABLES)


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("other", ["backwards", "shuffled", "by_patient"])
def test_derived_rows_do_not_depend_on_the_order_rows_were_written(stores, table, other):
    assert table_rows(stores[other], table) == table_rows(stores["forwards"], table)


@pytest.mark.parametrize("table", TABLES)
def test_a_patients_refresh_equals_a_full_rebuild(stores, tmp_path, table):
    """The store written patient by patient, rebuilt whole, has the rows its refreshes left."""
    con = stores["by_patient"]
    before = table_rows(con, table)
    path = str(tmp_path / "copy.duckdb")
    con.execute(f"ATTACH '{path}' AS copy")
    try:
        con.execute("COPY FROM DATABASE by_patient TO copy")
    finally:
        con.execute("DETACH copy")
    copy = db.connect(path)
    try:
        _rebuild(copy)
        assert table_rows(copy, table) == before
    finally:
        copy.close()


@pytest.mark.parametrize("other", ["backwards", "shuffled", "by_patient"])
def test_pages_read_the_same_whatever_the_write_order(stores, other):
    expected, got = pages(stores["forwards"]), pages(stores[other])
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == expected[key], key


def test_the_tie_breaks_chosen(stores):
    """Where the choice between tied rows matters, the one chosen (the same in every store)."""
    con = stores["forwards"]
    # sessions booked at the same minute: the lower session ID first (its route is the course's route)
    assert con.execute("SELECT session_id, k FROM session_facts WHERE patient_id = ? AND k <= 2 ORDER BY k",
                       [P1]).fetchall() == [("S1A", 1), ("S1B", 2)]
    assert con.execute("SELECT route FROM course_facts WHERE patient_id = ?", [P1]).fetchone()[0] == "iv_ketamine"
    # a score the day after the two sessions of day 4 comes after both (the count of sessions before its day)
    assert con.execute("SELECT DISTINCT after_session FROM score_points WHERE patient_id = ? AND assessed_on = ?",
                       [P1, day(5)]).fetchall() == [(5,)]
    # a rule's latest clears at one moment: the greater text
    assert con.execute("SELECT value FROM flag_log WHERE patient_id = ? AND rule = 'dissociation' "
                       "AND severity = 'clear'", [P2]).fetchall() == [("CADSS 3",)]
    # two same-day scores: the higher is the later (baseline, last observation)
    assert con.execute("SELECT baseline FROM course_scores WHERE patient_id = ? AND scale = 'MADRS'",
                       [P1]).fetchone()[0] == 34
    facts = eligibility.facts(con, [P1, P2, P3])
    # decisions at one instant: the most cautious verdict, and one whole row (its own reason, never another's)
    assert facts[P1].decisions["iv_ketamine"]["verdict"] == "not_eligible"
    assert facts[P1].decisions["iv_ketamine"]["reason"] == "cardiac history"
    assert (facts[P2].decisions["esketamine"]["kind"], facts[P2].decisions["esketamine"]["reason"]) == \
        ("override", "seen in clinic")
    assert (facts[P3].decisions["iv_ketamine"]["kind"], facts[P3].decisions["iv_ketamine"]["reason"]) == \
        ("sign_off", None)          # the latest decision gave no reason: not the earlier override's
    # two answers to a screening item on one day: 'present' over 'unknown' over 'absent'
    answers = facts[P1].screening
    assert (answers["psychosis_current"][0], answers["ecg_done"][0], answers["ketamine_hypersensitivity"][0]) \
        == ("present", "present", "unknown")
    # two screening readings at one moment: the higher is the latest (the cautious reading)
    (checked,) = eligibility.checklist(con, CFG, TODAY, patient_id=P1)
    item = next(i for i in checked["items"] if i["code"] == "blood_pressure")
    assert item["status"] == "warning" and item["detail"].startswith("150/95")
    assert checked["override"]["verdict"] == "not_eligible"


def test_python_and_sql_rules_agree_on_the_tied_record(stores):
    """The patient page's rules (Python) and the clinic's (SQL) break the ties the same way."""
    con = stores["backwards"]
    sql = flag_log.evidence(con, CFG, *flag_log.ALL_TIME)
    same_text = ("worsening", "dissociation", "iv_nonresponse", "esketamine_nonresponse", "suicidal_thoughts",
                 "emergent_hypertension", "predose_bp", "sedation")
    for pid in (P1, P2, P3):
        mine = sql[sql["patient_id"] == pid]
        flags = patient.flags(con, CFG, pid)
        assert {(f.rule, f.day) for f in flags} == {(r, d.date()) for r, d in zip(mine["rule"], mine["day"])}, pid
        assert sorted((f.rule, f.day, f.value) for f in flags if f.rule in same_text) == \
            sorted((r, d.date(), v) for r, d, v in zip(mine["rule"], mine["day"], mine["value"]) if r in same_text), pid
