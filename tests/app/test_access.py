"""Sign-in, roles and the audit trail, through app.py: what each role sees, what it is refused, what is logged."""

import time

import pytest

from kdash import access, vocab
from kdash.access import users
from kdash.store import db
from tests.app.session import signed_in

NAV = {"home": "", "roster": "roster", "patient": "patient", "eligibility": "eligibility",
       "record_session": "record_session", "outcomes": "outcomes", "side_effects": "side_effects",
       "throughput": "throughput", "conference": "conference", "import_data": "import_data", "audit": "audit",
       "users": "users", "flag_rules": "flag_rules", "data_quality": "data_quality",
       "reference": "reference"}


@pytest.fixture
def own_store(writable_app_store, monkeypatch):
    """A store of our own: these tests write (sign-ins, audit rows, accounts). AppTest has no browser to carry
    kdash_browser (kdash/ui/web.py sets it on a page load), so this test's "browser" names one itself."""
    from kdash.ui import session
    monkeypatch.setattr(session, "browser_nonce", lambda: "apptest-browser")
    return writable_app_store(20, 6)


def audit_rows(store, action=None):
    con = db.connect(store, create=False)
    try:
        return con.execute("SELECT username, role, action, patient_id, detail FROM audit_log "
                           "WHERE $a IS NULL OR action = $a ORDER BY audit_id", {"a": action}).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("role", access.ROLES)
def test_each_role_sees_only_its_pages(app_env, role):
    at = signed_in(role).run()
    assert not at.exception
    shown = [p.proto.page for p in at.get("page_link")]
    assert shown == [NAV[p] for p in access.pages_for(role)]
    assert f"Signed in as **test\\-{role}** ({vocab.ROLES[role].lower()})" in [c.value for c in at.sidebar.caption]   # escaped: text only
    first = access.PAGE_TITLES[access.pages_for(role)[0]]
    assert at.title[0].value == first           # a role without the overview lands on its first page


@pytest.mark.parametrize("role", ["manager", "presenter", "admin"])
def test_a_typed_patient_link_is_refused_and_the_refusal_audited(own_store, role):
    at = signed_in(role).run()
    at.query_params["patient_id"] = "P000001"
    at.switch_page("pages/patient.py").run()
    assert not at.exception
    assert "cannot open the Patient progress page" in at.error[0].value
    con = db.connect(own_store, create=False)
    try:
        given, family = con.execute("SELECT given_name, family_name FROM patients WHERE patient_id = 'P000001'"
                                    ).fetchone()
    finally:
        con.close()
    seen = " ".join(str(e.value) for kind in ("markdown", "metric", "subheader", "caption") for e in getattr(at, kind))
    assert given not in seen and family not in seen
    assert audit_rows(own_store, "refused")[-1] == (f"test-{role}", role, "refused", "P000001",
                                                   "the Patient progress page")


def test_a_presenter_cannot_reach_patient_data_through_a_data_call(own_store):
    """Even on its own page, a presenter's data calls are checked: only the de-identified functions answer."""
    from streamlit.testing.v1 import AppTest

    def script():
        import streamlit as st
        from kdash import ui
        st.session_state["user"] = {"name": "test-presenter", "role": "presenter", "seen": 0}
        ui.fetch("patient.view", patient_id="P000001", today=None)
        st.write("leaked")
    at = AppTest.from_function(script, default_timeout=60).run()
    assert not at.exception
    assert "cannot open data function patient.view" in at.error[0].value
    assert not any("leaked" in m.value for m in at.markdown)
    assert audit_rows(own_store, "refused")[-1][:3] == ("test-presenter", "presenter", "refused")


def test_signed_out_visitors_see_only_the_sign_in_form(app_env):
    at = signed_in(None)
    at.query_params["patient_id"] = "P000001"
    at.switch_page("pages/patient.py").run()
    assert not at.exception
    assert at.title[0].value == "Sign in to kdash"
    assert not at.get("page_link") and not at.metric
    assert any("Demo accounts" in i.value and users.DEMO_PASSWORD in i.value for i in at.info)


def test_signing_in_with_a_demo_account_keeps_the_deep_link(own_store):
    at = signed_in(None)
    at.query_params["patient_id"] = "P000002"
    at.switch_page("pages/patient.py").run()
    at.text_input[0].input("clinician")
    at.text_input[1].input("not the password")
    at.button[0].click().run()
    assert "Wrong user name or password." in at.error[0].value
    at.text_input[0].input("clinician")
    at.text_input[1].input(users.DEMO_PASSWORD)
    at.button[0].click().run()
    assert not at.exception and any("Signed in" in i.value for i in at.info)
    at.run()          # in a browser the sign-in's redirect loads the page again, now with its cookie
    assert at.title[0].value == "Patient progress" and "P000002" in at.subheader[0].value
    actions = [r[2] for r in audit_rows(own_store)]
    assert actions[-3:] == ["sign_in_failed", "sign_in", "view_patient"]
    assert audit_rows(own_store, "view_patient")[-1][:4] == ("clinician", "clinician", "view_patient", "P000002")


@pytest.mark.parametrize("name, password", [("' OR '1'='1", "' OR '1'='1"), ("admin'; DROP TABLE users; --", "x"),
                                            ("clinician", "' OR 1=1 --")])
def test_injection_strings_at_sign_in_are_just_wrong(own_store, name, password):
    at = signed_in(None).run()
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    at.button[0].click().run()
    assert not at.exception and at.error[0].value == "Wrong user name or password."
    assert at.title[0].value == "Sign in to kdash"
    con = db.connect(own_store, create=False)
    try:
        assert con.execute("SELECT count(*) FROM users").fetchone()[0] == 4
    finally:
        con.close()


def test_a_disabled_or_locked_account_is_told_so_at_sign_in(own_store):
    con = db.connect(own_store, create=False)
    try:
        users.set_disabled(con, "manager", True)
    finally:
        con.close()
    at = signed_in(None).run()
    at.text_input[0].input("manager")
    at.text_input[1].input(users.DEMO_PASSWORD)
    at.button[0].click().run()
    assert "disabled" in at.error[0].value and at.title[0].value == "Sign in to kdash"
    for _ in range(5):
        at.text_input[0].input("presenter")
        at.text_input[1].input("wrong password")
        at.button[0].click().run()
    assert at.error[0].value == users.WRONG           # a guesser is not told the account exists and is locked
    at.text_input[0].input("presenter")
    at.text_input[1].input(users.DEMO_PASSWORD)
    at.button[0].click().run()
    assert "locked" in at.error[0].value and at.title[0].value == "Sign in to kdash"


def test_an_idle_session_is_signed_out(own_store):
    at = signed_in("clinician")
    at.session_state["user"] = {"name": "test-clinician", "role": "clinician", "seen": time.time() - 16 * 60}
    at.run()
    assert at.title[0].value == "Sign in to kdash"
    assert any("Signed out after 15 minutes" in i.value for i in at.info)
    assert audit_rows(own_store, "signed_out_idle")[-1][:2] == ("test-clinician", "clinician")


def test_sign_out_is_audited(own_store):
    at = signed_in("manager").run()
    at.sidebar.button(key="sign_out").click().run()
    assert at.title[0].value == "Sign in to kdash"
    assert audit_rows(own_store, "sign_out")[-1][:2] == ("test-manager", "manager")


def test_the_audit_page_searches_and_refuses_bad_input(own_store):
    at = signed_in("clinician", "dr.audit").run()
    at.query_params["patient_id"] = "P000003"
    at.switch_page("pages/patient.py").run()
    at = signed_in("admin").run()
    assert at.title[0].value == "Users"
    at.switch_page("pages/audit.py").run()
    assert not at.exception
    at.text_input[0].input("dr.audit").run()
    shown = at.dataframe[0].value
    shown = shown[shown["patient_id"].notna()]
    assert list(shown["action"]) == ["Viewed patient"] and list(shown["patient_id"]) == ["P000003"]   # words, not codes
    at.text_input[0].input("'; DROP TABLE audit_log; --").run()
    assert not at.exception and at.dataframe[0].value.empty
    at.text_input[0].input("")
    at.text_input[1].input("P0;--\x00").run()
    assert "cannot be searched for" in at.error[0].value


def test_an_admin_adds_and_disables_an_account(own_store):
    at = signed_in("admin", "root.admin").run()
    at.switch_page("pages/users.py").run()
    at.text_input[0].input("dr.new")
    at.selectbox[0].set_value("presenter")
    at.text_input[1].input("short")
    at.button[0].click().run()
    assert "at least 12 characters" in at.error[0].value
    at.text_input[0].input("dr.new")
    at.selectbox[0].set_value("presenter")
    at.text_input[1].input("long enough password")
    at.button[0].click().run()
    assert "Added dr.new as presenter." in at.success[0].value
    at.selectbox(key="who").set_value("dr.new").run()
    at.button[1].click().run()
    assert "dr.new is disabled." in at.success[0].value
    rows = [r for r in audit_rows(own_store) if r[2].startswith("user_")]
    assert rows[-2:] == [("root.admin", None, "user_added", None, "dr.new as presenter"),
                         ("root.admin", None, "user_disabled", None, "dr.new")]
    # roles in words (issue 36), and "my patients" linked here, not only on the command line
    assert at.selectbox[0].options[:2] == ["Clinician", "Clinic manager"]
    assert set(at.dataframe[0].value["role"]) <= {"Clinician", "Clinic manager", "Presenter", "Administrator"}
    follow = at.selectbox(key="who").set_value("dr.new").run().selectbox[2]
    name = follow.options[1]
    follow.set_value(name)
    next(b for b in at.button if b.label == "Link").click().run()
    assert f"dr.new now follows {name}." in at.success[0].value
    assert [r for r in audit_rows(own_store) if r[2] == "user_linked"][-1][4] == f"dr.new → {name}"


def test_disabling_an_account_signs_out_its_open_session_at_the_next_run(writable_app_store):
    path = writable_app_store(20, 3)
    at = signed_in("clinician", "clinician").run()          # the demo store's own clinician account
    assert not at.exception and at.title[0].value != "Sign in to kdash"
    con = db.connect(path, create=False)
    users.set_disabled(con, "clinician", True, by="admin")
    con.close()
    at.run()
    assert at.title[0].value == "Sign in to kdash"
    assert any("disabled by an administrator" in i.value for i in at.info)
    con = db.connect(path, create=False)
    assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'signed_out_disabled' "
                       "AND username = 'clinician'").fetchone()[0] == 1
    con.close()
