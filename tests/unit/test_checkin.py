"""Patient check-in (issue 33; clinical-reference §8, data-contract §8): codes, opening, locks, limits, sending once,
binding to one patient, striking, and the urgent flag a self-reported item 9 opens at once."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys

import pytest

from kdash import settings
from kdash.access import users
from kdash.clinical import checkin, patient, rules, worklist
from kdash.store import db
from tests.builders import Clinic, day, fingerprint
from tests.conftest import ROOT

CFG = settings.load()
BORN = {"P1": dt.date(1980, 5, 1), "P2": dt.date(1975, 2, 14)}
NOW = dt.datetime.combine(day(3), dt.time(8, 30))
CALM = {"PHQ9": [1, 1, 1, 1, 1, 1, 1, 1, 0]}
AT_RISK = {"PHQ9": [2, 2, 2, 2, 2, 2, 2, 2, 1]}


@pytest.fixture
def clinic(tmp_path):
    c = Clinic(str(tmp_path / "ck.duckdb"))
    for pid, born in BORN.items():
        c.patient(pid, born=born)
        c.session(pid, 0)
        c.score(pid, 0, "PHQ9", items=[2] * 8 + [0])
    checkin.ATTEMPTS.seen.clear()
    yield c
    c.close()


def opened(c, pid="P1", forms="PHQ9", now=NOW):
    code = checkin.issue(c.con, CFG, pid, forms, by="dr.a", now=now)["code"]
    return code, checkin.open_checkin(c.con, CFG, code, BORN[pid], client="10.0.0.1", now=now)


# --- codes ---------------------------------------------------------------------------------------------------------

def test_a_code_is_40_bits_of_an_alphabet_without_look_alikes_shown_in_two_fours():
    assert len(checkin.ALPHABET) == 32 and len(set(checkin.ALPHABET)) == 32
    assert not set("ILOU") & set(checkin.ALPHABET)
    assert checkin.LENGTH * math.log2(len(checkin.ALPHABET)) >= 40
    codes = {checkin.new_code() for _ in range(2000)}
    assert len(codes) == 2000                                   # no repeats in 2,000 draws of 2^40
    for code in list(codes)[:50]:
        assert len(code) == 9 and code[4] == "-" and set(code.replace("-", "")) <= set(checkin.ALPHABET)
    # every symbol turns up: the draw is over the whole alphabet
    assert set("".join(codes).replace("-", "")) == set(checkin.ALPHABET)


@pytest.mark.parametrize("typed, expected", [
    ("7QX2-K9MD", "7QX2K9MD"), ("7qx2 k9md", "7QX2K9MD"), (" 7QX2K9MD ", "7QX2K9MD"),
    ("7QX2-K9MO", "7QX2K9M0"), ("IL00-ABCD", "1100ABCD"), ("7QX2-K9M", None), ("7QX2-K9MD1", None),
    ("7QX2-K9M!", None), ("", None), (None, None)])
def test_a_typed_code_is_read_as_a_person_means_it(typed, expected):
    assert checkin.normalise(typed) == expected


def test_issue_gives_the_contract_document_and_stores_only_a_hash(clinic):
    out = checkin.issue(clinic.con, CFG, "P1", "PHQ9,GAD7", hours=2, by="dr.a", now=NOW)
    assert set(out) == {"patient_id", "code", "url", "forms", "expires_at"}
    assert out["patient_id"] == "P1" and out["forms"] == ["PHQ9", "GAD7"]
    assert out["url"] == f"/checkin?code={out['code']}"
    assert dt.datetime.fromisoformat(out["expires_at"]) == NOW + dt.timedelta(hours=2)
    raw = out["code"].replace("-", "")
    stored = clinic.con.execute("SELECT * FROM checkin_codes").df()
    assert raw not in json.dumps(stored.astype(str).to_dict("records"))   # never the code itself
    assert stored["hint"].tolist() == [raw[-4:]]
    audit = clinic.con.execute("SELECT username, action, patient_id FROM audit_log").fetchall()
    assert ("dr.a", "checkin_issued", "P1") in audit


@pytest.mark.parametrize("pid, forms, hours, says", [
    ("P9", None, None, "no patient P9"), ("P1", "PHQ9,XYZ", None, "unknown form XYZ"),
    ("P1", [], None, "at least one form"), ("P1", None, 0, "at most"), ("P1", None, 1000, "at most"),
    ("x" * 65, None, None, "patient ID"), ("a\x00b", None, None, "patient ID")])
def test_a_code_that_cannot_be_issued_says_why_and_writes_nothing(clinic, pid, forms, hours, says):
    before = fingerprint(clinic.con, ["checkin_codes", "audit_log"])
    with pytest.raises(checkin.CheckinError, match=says):
        checkin.issue(clinic.con, CFG, pid, forms, hours=hours, now=NOW)
    assert fingerprint(clinic.con, ["checkin_codes", "audit_log"]) == before


def test_a_new_code_replaces_the_patients_open_one_and_a_code_can_be_revoked(clinic):
    first = checkin.issue(clinic.con, CFG, "P1", now=NOW)["code"]
    second = checkin.issue(clinic.con, CFG, "P1", now=NOW)["code"]
    assert checkin.open_checkin(clinic.con, CFG, first, BORN["P1"], now=NOW) == checkin.REFUSED
    assert isinstance(checkin.open_checkin(clinic.con, CFG, second, BORN["P1"], now=NOW), checkin.Opened)
    checkin.revoke(clinic.con, CFG, "P1", checkin.normalise(second)[-4:], "dr.a", now=NOW)
    assert checkin.open_checkin(clinic.con, CFG, second, BORN["P1"], now=NOW) == checkin.REFUSED
    states = checkin.codes_for(clinic.con, CFG, "P1", now=NOW)["state"].tolist()
    assert states == ["revoked", "revoked"]
    with pytest.raises(checkin.CheckinError, match="no open code"):
        checkin.revoke(clinic.con, CFG, "P1", checkin.normalise(second)[-4:], "dr.a", now=NOW)


# --- opening ------------------------------------------------------------------------------------------------------

def test_every_refusal_is_the_same_sentence_and_names_no_one(clinic):
    code = checkin.issue(clinic.con, CFG, "P1", now=NOW)["code"]
    expired = checkin.issue(clinic.con, CFG, "P2", hours=1, now=NOW - dt.timedelta(hours=2))["code"]
    answers = [checkin.open_checkin(clinic.con, CFG, typed, born, now=NOW) for typed, born in [
        ("ZZZZ-ZZZZ", BORN["P1"]),          # unknown
        (code, BORN["P2"]),                 # another patient's birth date
        (code, None),                       # none given
        (expired, BORN["P2"]),              # expired
        ("garbage!", BORN["P1"])]]          # not a code at all
    assert answers == [checkin.REFUSED] * 5
    assert "P1" not in checkin.REFUSED and "Test" not in checkin.REFUSED


def test_five_wrong_birth_dates_lock_a_code_even_for_the_right_one(clinic):
    code = checkin.issue(clinic.con, CFG, "P1", now=NOW)["code"]
    for _ in range(CFG["checkin"]["max_tries"]):
        assert checkin.open_checkin(clinic.con, CFG, code, dt.date(1999, 1, 1), now=NOW) == checkin.REFUSED
    assert checkin.open_checkin(clinic.con, CFG, code, BORN["P1"], now=NOW) == checkin.REFUSED
    assert checkin.codes_for(clinic.con, CFG, "P1", now=NOW)["state"].tolist() == ["locked"]
    details = [d for (d,) in clinic.con.execute("SELECT detail FROM audit_log WHERE action = 'checkin_refused'")
               .fetchall()]
    assert any("the code is locked" in d for d in details)


def test_four_wrong_birth_dates_leave_the_code_usable(clinic):
    code = checkin.issue(clinic.con, CFG, "P1", now=NOW)["code"]
    for _ in range(CFG["checkin"]["max_tries"] - 1):
        checkin.open_checkin(clinic.con, CFG, code, dt.date(1999, 1, 1), now=NOW)
    assert isinstance(checkin.open_checkin(clinic.con, CFG, code, BORN["P1"], now=NOW), checkin.Opened)


def test_a_code_expires_at_its_time(clinic):
    code = checkin.issue(clinic.con, CFG, "P1", hours=24, now=NOW)["code"]
    later = NOW + dt.timedelta(hours=24)
    assert isinstance(checkin.open_checkin(clinic.con, CFG, code, BORN["P1"], now=later - dt.timedelta(seconds=1)),
                      checkin.Opened)
    assert checkin.open_checkin(clinic.con, CFG, code, BORN["P1"], now=later) == checkin.REFUSED


def test_tries_from_one_address_are_limited_per_minute_and_another_address_goes_on(clinic):
    code = checkin.issue(clinic.con, CFG, "P1", now=NOW)["code"]
    limit = CFG["checkin"]["tries_per_minute"]
    for i in range(limit):
        assert checkin.open_checkin(clinic.con, CFG, f"ZZZZ-ZZ{checkin.ALPHABET[i]}Z", BORN["P1"],
                                    client="10.9.9.9", now=NOW) == checkin.REFUSED
    assert checkin.open_checkin(clinic.con, CFG, code, BORN["P1"], client="10.9.9.9", now=NOW) == checkin.FLOOD
    assert isinstance(checkin.open_checkin(clinic.con, CFG, code, BORN["P1"], client="10.9.9.8", now=NOW),
                      checkin.Opened)


def test_the_rate_limit_forgets_after_a_minute():
    a = users._Attempts()
    assert all(a.allow("x", 3, now=t) for t in (0.0, 1.0, 2.0))
    assert not a.allow("x", 3, now=30.0)
    assert a.allow("x", 3, now=61.5)


# --- sending ------------------------------------------------------------------------------------------------------

def test_send_saves_once_as_a_self_report_of_the_codes_patient(clinic):
    _, o = opened(clinic, "P2", "PHQ9,GAD7")
    answers = {"PHQ9": [1, 2, 1, 0, 0, 1, 2, 1, 0], "GAD7": [3, 2, 1, 0, 0, 1, 2]}
    first = checkin.send(clinic.con, CFG, o, answers, difficulty=2, now=NOW)
    again = checkin.send(clinic.con, CFG, o, answers, difficulty=2, now=NOW)       # a double tap, a second tab
    assert first == {"saved": True, "item9_positive": False} and again["saved"] is False
    rows = clinic.con.execute("SELECT patient_id, scale, total, items, source, reported_at, difficulty FROM assessments "
                              "WHERE source = 'self_report' ORDER BY scale").fetchall()
    assert rows == [("P2", "GAD7", 9, [3, 2, 1, 0, 0, 1, 2], "self_report", NOW, None),
                    ("P2", "PHQ9", 8, [1, 2, 1, 0, 0, 1, 2, 1, 0], "self_report", NOW, 2)]
    actions = [a for (a,) in clinic.con.execute("SELECT action FROM audit_log WHERE patient_id = 'P2' "
                                                "ORDER BY audit_id").fetchall()]
    assert actions[-3:] == ["checkin_issued", "checkin_opened", "checkin_sent"]


def test_a_spent_code_opens_nothing_again(clinic):
    code, o = opened(clinic)
    checkin.send(clinic.con, CFG, o, CALM, now=NOW)
    assert checkin.open_checkin(clinic.con, CFG, code, BORN["P1"], now=NOW) == checkin.REFUSED


def test_answers_missing_or_out_of_range_are_refused_and_nothing_is_written(clinic):
    _, o = opened(clinic)
    before = fingerprint(clinic.con, ["assessments", "checkin_codes", "flag_log"])
    with pytest.raises(checkin.CheckinError, match="question 9"):
        checkin.send(clinic.con, CFG, o, {"PHQ9": [1] * 8 + [None]}, now=NOW)
    with pytest.raises(checkin.CheckinError, match="out of range"):
        checkin.send(clinic.con, CFG, o, {"PHQ9": [1] * 8 + [4]}, now=NOW)
    assert fingerprint(clinic.con, ["assessments", "checkin_codes", "flag_log"]) == before


def test_a_code_not_opened_with_the_birth_date_cannot_send(clinic):
    """The opened check-in is the code's hash, so a forged one (a code without its birth date) saves nothing."""
    code = checkin.issue(clinic.con, CFG, "P1", now=NOW)["code"]
    forged = checkin.Opened(checkin.code_hash(checkin.normalise(code)), ("PHQ9",))
    assert checkin.send(clinic.con, CFG, forged, CALM, now=NOW)["saved"] is False


def test_item_9_above_0_opens_the_urgent_flag_at_once_with_self_report_as_its_source(clinic):
    _, o = opened(clinic)
    assert checkin.send(clinic.con, CFG, o, AT_RISK, now=NOW)["item9_positive"] is True
    flags = worklist.contract_rows(clinic.con, CFG, NOW.date(), ["P1"])
    urgent = [f for f in flags if f["rule"] == "suicidal_thoughts"]
    assert urgent == [{"patient_id": "P1", "rule": "suicidal_thoughts", "severity": "urgent",
                       "evidence": "PHQ-9 item 9 = 1 (self-reported)", "newer_evidence": None,
                       "source": "self_report", "raised_at": NOW.isoformat(), "acknowledged_at": None}]
    # the patient page's own evaluation (rules.py) says the same as the clinic-wide SQL
    page = [f for f in rules.evaluate(patient.record(clinic.con, CFG, "P1"), CFG) if f.rule == "suicidal_thoughts"]
    assert [f.value for f in page] == ["PHQ-9 item 9 = 1 (self-reported)"]


def test_a_self_report_counts_like_any_score(clinic):
    """A self-reported PHQ-9 after the session is the score after it: it reaches the course scores."""
    _, o = opened(clinic)
    checkin.send(clinic.con, CFG, o, CALM, now=NOW)
    pts = clinic.con.execute("SELECT total, after_session FROM score_points WHERE patient_id = 'P1' "
                             "AND scale = 'PHQ9' ORDER BY assessed_on").fetchall()
    assert pts == [(16, 0), (8, 1)]           # the baseline, then the self-report as the score after session 1
    base = rules.baseline(patient.record(clinic.con, CFG, "P1"), "PHQ9", CFG)
    assert base[0] == 16


# --- striking -----------------------------------------------------------------------------------------------------

def test_a_struck_self_report_is_kept_audited_and_counts_nowhere(clinic):
    _, o = opened(clinic)
    checkin.send(clinic.con, CFG, o, AT_RISK, now=NOW)
    with pytest.raises(checkin.CheckinError, match="reason"):
        checkin.strike(clinic.con, CFG, "P1", "PHQ9", NOW, " ", "dr.a")
    checkin.strike(clinic.con, CFG, "P1", "PHQ9", NOW, "answered by the patient's partner", "dr.a")
    assert clinic.con.execute("SELECT count(*) FROM assessments WHERE source = 'self_report'").fetchone()[0] == 0
    kept = clinic.con.execute("SELECT total, struck_by, reason FROM struck_assessments").fetchall()
    assert kept == [(17, "dr.a", "answered by the patient's partner")]
    assert not [f for f in worklist.contract_rows(clinic.con, CFG, NOW.date(), ["P1"])
                if f["rule"] == "suicidal_thoughts"]
    assert clinic.con.execute("SELECT count(*) FROM score_points WHERE patient_id = 'P1' AND assessed_on = $d",
                              {"d": NOW.date()}).fetchone()[0] == 0
    audit = clinic.con.execute("SELECT username, detail FROM audit_log WHERE action = 'self_report_struck'").fetchall()
    assert audit[0][0] == "dr.a" and json.loads(audit[0][1])["reason"] == "answered by the patient's partner"
    listed = checkin.self_reports(clinic.con, CFG, "P1")
    assert listed["struck_by"].tolist() == ["dr.a"]
    with pytest.raises(checkin.CheckinError, match="not in the record"):
        checkin.strike(clinic.con, CFG, "P1", "PHQ9", NOW, "again", "dr.a")


def test_only_a_self_report_can_be_struck(clinic):
    with pytest.raises(checkin.CheckinError, match="not in the record"):
        checkin.strike(clinic.con, CFG, "P1", "PHQ9", dt.datetime.combine(day(0), dt.time()), "typo", "dr.a")
    assert clinic.con.execute("SELECT count(*) FROM assessments WHERE patient_id = 'P1'").fetchone()[0] == 1


# --- the command line ---------------------------------------------------------------------------------------------

def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "kdash", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_the_cli_issues_a_code_as_the_contract_says_and_refuses_plainly(tmp_path):
    path = str(tmp_path / "cli.duckdb")
    c = Clinic(path)
    c.patient("P001")
    c.close()
    done = run_cli("checkin", "--db", path, "--patient", "P001", "--forms", "PHQ9,GAD7", "--hours", "12", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["patient_id"] == "P001" and out["forms"] == ["PHQ9", "GAD7"]
    assert checkin.normalise(out["code"]) and out["url"] == f"/checkin?code={out['code']}"
    for args, says in [(("--patient", "NOPE"), "no patient NOPE"), (("--patient", "P001", "--forms", "BDI"),
                                                                     "unknown form BDI"),
                       (("--patient", "P001", "--hours", "-1"), "hours")]:
        bad = run_cli("checkin", "--db", path, *args)
        assert bad.returncode != 0 and says in bad.stderr and "Traceback" not in bad.stderr
    con = db.connect(path, create=False)
    assert con.execute("SELECT count(*) FROM checkin_codes").fetchone()[0] == 1
    con.close()


# --- a clinic network ---------------------------------------------------------------------------------------------

def test_a_check_in_on_one_replica_reaches_another_within_its_max_age(record_url):
    """Issued on the front desk's replica, opened and sent on the waiting-room tablet's, seen with its urgent flag
    on the clinician's after its next pull; the code is spent for every replica (the record decides)."""
    from kdash.importers import importing
    from kdash.store import clinic_store, pg
    cfg = settings.load(record_url)
    desk = clinic_store.create(record_url, cfg)
    importing.run(desk, cfg, [str(ROOT / "tests" / "fixtures" / "fhir")], skip_invalid=True)
    pid, born = desk.execute("SELECT patient_id, birth_date FROM patients ORDER BY 1 LIMIT 1").fetchone()
    tablet, doctor = db.connect(record_url, create=False), db.connect(record_url, create=False)
    now = dt.datetime.now().replace(microsecond=0)
    code = checkin.issue(desk, cfg, pid, by="desk", now=now)["code"]
    o = checkin.open_checkin(tablet, cfg, code, born, client="10.1.1.1", now=now)
    assert isinstance(o, checkin.Opened)
    assert checkin.send(tablet, cfg, o, AT_RISK, now=now)["saved"] is True
    assert checkin.send(desk, cfg, o, AT_RISK, now=now)["saved"] is False        # another replica: still once
    pg.replica_of(doctor).pull()                                                  # what a page does past max age
    flags = worklist.contract_rows(doctor, cfg, now.date(), [pid])
    assert [f["evidence"] for f in flags if f["rule"] == "suicidal_thoughts"] == ["PHQ-9 item 9 = 1 (self-reported)"]
    assert doctor.execute("SELECT count(*) FROM assessments WHERE source = 'self_report'").fetchone()[0] == 1
    assert checkin.codes_for(doctor, cfg, pid, now=now)["state"].tolist() == ["used"]
    for con in (desk, tablet, doctor):
        con.close()
