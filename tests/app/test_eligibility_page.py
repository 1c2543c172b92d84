"""The eligibility page from app.py: checklist, trial table, decisions (reason required), awaiting list."""

import json
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from kdash import db, eligibility
from tests.conftest import ROOT


def open_page(pid=None):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/eligibility.py")
    if pid:
        at.query_params["patient_id"] = pid
    return at.run()


def decisions_count(path):
    con = db.connect(path, create=False)
    try:
        return con.execute("SELECT count(*) FROM eligibility_decisions").fetchone()[0], \
            con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def own_store(writable_app_store):
    """A store of our own: these tests write."""
    return writable_app_store(80, 5)


def test_checklist_shows_verdict_groups_and_trials(app_env):
    at = open_page("P000002")
    assert not at.exception
    banner = [m.value for m in at.success] + [m.value for m in at.warning] + [m.value for m in at.error]
    assert any(("Eligible" in b or "Needs review" in b or "Not eligible" in b) and " met," in b for b in banner)
    assert [h.value for h in at.subheader][:4] == list(eligibility.GROUPS)
    assert any("Treatment-resistant" in m.value for m in at.markdown)
    assert "counts as failed adequate trial" in at.dataframe[0].value.columns


def test_page_and_cli_give_the_same_verdict(app_env):
    out = subprocess.run([sys.executable, "-m", "kdash", "eligibility", "--db", app_env, "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    cli = {d["patient_id"]: d for d in json.loads(out.stdout)}
    for pid in ("P000001", "P000007", "P000033"):
        at = open_page(pid)
        banner = " ".join([m.value for m in at.success] + [m.value for m in at.warning] + [m.value for m in at.error])
        assert {"eligible": "Eligible", "not_eligible": "Not eligible", "needs_review": "Needs review"}[
            cli[pid]["verdict"]] in banner


def test_override_without_reason_is_refused_and_nothing_written(own_store):
    before = decisions_count(own_store)
    at = open_page("P000003")
    at.radio[0].set_value("override")
    at.text_input[1].input("Dr Test")
    at.button[0].click().run()
    assert not at.exception
    assert any("a reason is required to override" in e.value for e in at.error)
    assert decisions_count(own_store) == before


def test_override_with_reason_is_stored_audited_and_shown(own_store):
    before = decisions_count(own_store)
    at = open_page("P000003")
    at.radio[0].set_value("override")
    at.selectbox[0].set_value("not_eligible")
    at.text_area[0].input("Uncontrolled hypertension on repeat readings")
    at.text_input[1].input("Dr Test")
    at.button[0].click().run()
    assert not at.exception
    assert "Recorded: Not eligible (override) by Dr Test" in at.success[-1].value
    assert decisions_count(own_store) == (before[0] + 1, before[1] + 1)
    at = open_page("P000003")
    assert any("Overridden by Dr Test" in m.value and "Uncontrolled hypertension" in m.value for m in at.info)


def test_sign_off_needs_a_name(own_store):
    before = decisions_count(own_store)
    at = open_page("P000004")
    at.button[0].click().run()
    assert any("name is required" in e.value for e in at.error)
    assert decisions_count(own_store) == before


def test_awaiting_list_and_unknown_patient(app_env):
    at = open_page()
    assert not at.exception
    assert any(h.value == "Awaiting decision" for h in at.header)
    at = open_page("NOBODY")
    assert "No patient with ID 'NOBODY'" in at.error[0].value
