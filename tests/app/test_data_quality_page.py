"""The Data quality page and the page-figure commands (issue 35): the page lists what `quality --json` says, a click
opens the patient, a manager sees counts only; the roster's JSON is the roster page's table."""

from __future__ import annotations

import json
import subprocess
import sys

from kdash import settings
from kdash.clinical import quality
from kdash.store import db
from tests.app.session import signed_in
from tests.conftest import ROOT, TODAY


def report(path: str) -> dict:
    con = db.connect(path, read_only=True)
    try:
        return {r["check"]: r for r in quality.report(con, settings.load(path), TODAY)}
    finally:
        con.close()


def test_the_page_lists_each_check_as_the_json_does_and_opens_the_patient(app_env):
    expected = report(app_env)
    at = signed_in("clinician").run().switch_page("pages/data_quality.py").run()
    assert not at.exception
    summary = at.table[0].value if at.table else None
    shown = " ".join(str(x) for x in summary.to_numpy().ravel()) if summary is not None else ""
    for code, r in expected.items():
        if code != "sources":
            assert r["title"] in shown
    pick = next(s for s in at.selectbox if s.label == "Check")
    pick.select("session_without_score").run()
    listed = next(d.value for d in at.dataframe if "patient_id" in d.value.columns)
    r = expected["session_without_score"]
    assert r["count"] > 0 and set(r["patients"]) <= set(listed["patient_id"])     # the JSON lists up to 50
    assert listed["patient_id"].nunique() == r["count"] and len(listed) == r["sessions"]


def test_a_manager_sees_counts_and_no_patient(app_env):
    at = signed_in("manager").run().switch_page("pages/data_quality.py").run()
    assert not at.exception
    assert not any("patient_id" in d.value.columns for d in at.dataframe)
    assert "Counts only" in " ".join(c.value for c in at.caption)


def test_the_roster_json_is_the_roster_page(writable_app_store):
    path = writable_app_store(120, 9)
    done = subprocess.run([sys.executable, "-m", "kdash", "roster", "--db", path, "--json"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)       # first: the app then holds the store
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    at = signed_in("clinician").run().switch_page("pages/roster.py").run()
    page = next(d.value for d in at.dataframe if "patient_id" in d.value.columns)
    assert [p["patient_id"] for p in doc["patients"]] == list(page["patient_id"])
    assert [p["scores"] for p in doc["patients"]] == list(page["scores"])
    assert [p["flags"] for p in doc["patients"]] == list(page["flags"])
