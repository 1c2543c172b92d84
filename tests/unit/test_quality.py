"""Data quality (issue 35; data-contract §11): each check finds exactly the hand-built gap it names and nothing
else, the JSON lists every check even at 0, and a CLI export is audited with the operating-system user."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys

import pytest

from kdash import settings
from kdash.clinical import quality
from kdash.store import db
from tests.builders import Clinic, day
from tests.conftest import ROOT

CFG = settings.load()
TODAY = day(40)
CODES = ["no_baseline", "session_without_score", "esketamine_bp_incomplete", "session_without_dose",
         "missing_demographics", "no_recent_assessment", "conflicting_scores"]


@pytest.fixture
def clinic(tmp_path):
    c = Clinic(str(tmp_path / "q.duckdb"))
    # a complete IV course: baseline, a score after each session, a final one
    c.patient("OK")
    for n in (0, 2, 4):
        c.session("OK", n)
    for n, total in ((0, 30), (2, 25), (4, 20), (6, 18)):
        c.score("OK", n, "MADRS", total=total)
    c.score("OK", 38, "MADRS", total=16)                       # a recent assessment
    c.session("OK", 45, status="scheduled")                    # under way: booked
    # no baseline: first score after the first session
    c.patient("NOBASE")
    c.session("NOBASE", 10)
    c.score("NOBASE", 11, "MADRS", total=20)
    # a session with no score after it (session 1 of 2; session 2 is scored two days later)
    c.patient("NOSCORE")
    c.session("NOSCORE", 0)
    c.session("NOSCORE", 3)
    c.score("NOSCORE", 0, "MADRS", total=30)
    c.score("NOSCORE", 5, "MADRS", total=22)
    # esketamine with a pre-dose BP only
    c.patient("ESK")
    sid = c.session("ESK", 1, route="esketamine", dose_mg=56, weight_kg=None)
    c.bp("ESK", sid, -5, 130, 80)
    c.score("ESK", 1, "MADRS", total=28)
    c.score("ESK", 3, "MADRS", total=26)
    # an IV session without a weight
    c.patient("NODOSE")
    c.session("NODOSE", 2, weight_kg=None)
    c.score("NODOSE", 2, "MADRS", total=30)
    c.score("NODOSE", 4, "MADRS", total=29)
    # two PHQ-9 totals on one day
    c.patient("TWICE")
    c.score("TWICE", 5, "PHQ9", total=10)
    c.score("TWICE", 5, "PHQ9", total=12)
    yield c
    c.close()


def found(c) -> dict:
    return {r["check"]: r for r in quality.report(c.con, CFG, TODAY)}


def test_each_check_finds_its_gap_and_nothing_else(clinic):
    r = found(clinic)
    assert list(r) == CODES + ["sources"]                     # every check, even when it finds nothing
    assert r["no_baseline"]["patients"] == ["NOBASE"]
    assert r["session_without_score"]["patients"] == ["NOSCORE"] and r["session_without_score"]["sessions"] == 1
    assert r["esketamine_bp_incomplete"]["patients"] == ["ESK"]
    assert r["session_without_dose"]["patients"] == ["NODOSE"]
    assert r["conflicting_scores"]["patients"] == ["TWICE"]
    assert r["missing_demographics"]["count"] == 0
    # under way (booked, or a session in 21 days) without a depression score in 30 days: none but…
    assert r["no_recent_assessment"]["patients"] == []
    for code in CODES:
        assert r[code]["fix"] and "OK" not in r[code]["patients"]


def test_a_course_under_way_without_a_recent_score_is_found(clinic):
    clinic.session("NOSCORE", 35)                              # a session 5 days before today, last score day 5
    r = found(clinic)
    assert r["no_recent_assessment"]["patients"] == ["NOSCORE"]


def test_the_rows_say_what_is_missing_without_naming_anyone(clinic):
    rows = quality.rows(clinic.con, CFG, "esketamine_bp_incomplete", TODAY)
    assert rows["what"].tolist() == [f"session on {day(1):%Y-%m-%d}: none after dosing"]
    rows = quality.rows(clinic.con, CFG, "conflicting_scores", TODAY)
    assert rows["what"].tolist() == [f"PHQ9 on {day(5):%Y-%m-%d}: 10 to 12"]


def test_a_session_whose_score_may_still_come_is_not_a_gap(clinic):
    clinic.session("OK", 39)                                   # yesterday: its score comes before the next session
    assert "OK" not in found(clinic)["session_without_score"]["patients"]


def test_the_weekly_counts_add_up_to_the_rows_in_the_window(clinic):
    weeks = quality.by_week(clinic.con, CFG, TODAY)
    assert len(weeks) == 12 * len(CODES)
    assert int(weeks.loc[weeks["check_code"] == "conflicting_scores", "rows"].sum()) == 1
    assert int(weeks["rows"].sum()) == 5      # NOBASE (day 10), NOSCORE s1, ESK, NODOSE, TWICE: all within 12 weeks


def test_the_cli_gives_the_contract_and_audits_the_os_user(clinic):
    clinic.con.close()
    done = subprocess.run([sys.executable, "-m", "kdash", "quality", "--db", clinic.path, "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [r["check"] for r in doc] == CODES + ["sources"]
    assert all({"check", "count", "patients", "fix"} <= set(r) for r in doc)
    con = db.connect(clinic.path, create=False)
    audit = con.execute("SELECT username, role, action FROM audit_log WHERE action = 'export_quality'").fetchall()
    con.close()
    assert audit == [(getpass.getuser(), "cli", "export_quality")]
