"""The eligibility page from app.py: checklist, trial table, decisions (reason required), awaiting list."""

import json
import subprocess
import sys

import pytest

from kdash.clinical import eligibility
from kdash.store import db
from tests.app.session import signed_in
from tests.conftest import ROOT


def open_page(pid=None):
    at = signed_in("clinician", "dr.test").run()
    at.switch_page("pages/eligibility.py")
    if pid:
        at.query_params["patient_id"] = pid
    return at.run()


def decisions_count(path):
    con = db.connect(path, create=False)
    try:
        return con.execute("SELECT count(*) FROM eligibility_decisions").fetchone()[0], \
            con.execute("SELECT count(*) FROM audit_log WHERE action LIKE 'eligibility_%'").fetchone()[0]
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
    assert "ID P000002" in at.subheader[0].value and "born " in at.subheader[0].value   # two identifiers
    assert [h.value for h in at.subheader][1:5] == list(eligibility.GROUPS)
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
    at.button[0].click().run()
    assert not at.exception
    assert "Recorded: Not eligible (override) by dr\\.test" in at.success[-1].value      # a name is text: escaped
    assert decisions_count(own_store) == (before[0] + 1, before[1] + 1)
    at = open_page("P000003")
    assert any("Overridden by dr\\.test" in m.value and "Uncontrolled hypertension" in m.value for m in at.info)


def test_a_sign_off_is_recorded_as_the_signed_in_clinician_and_audited(own_store):
    before = decisions_count(own_store)
    at = open_page("P000004")
    at.button[0].click().run()
    assert not at.exception and "by dr\\.test" in at.success[-1].value
    assert decisions_count(own_store) == (before[0] + 1, before[1] + 1)
    con = db.connect(own_store, create=False)
    try:
        row = con.execute("SELECT username, role, patient_id FROM audit_log WHERE action = 'eligibility_sign_off' "
                          "ORDER BY audit_id DESC LIMIT 1").fetchone()
    finally:
        con.close()
    assert row == ("dr.test", "clinician", "P000004")


def test_awaiting_list_and_unknown_patient(app_env):
    at = open_page()
    assert not at.exception
    assert any(h.value == "Awaiting decision" for h in at.header)
    at = open_page("NOBODY")
    assert "No patient with ID 'NOBODY'" in at.error[0].value
