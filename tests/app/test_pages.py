"""AppTests started from app.py, so navigation is the real one: every page runs without an exception."""

import json

import pytest

from tests.app.session import role_for, signed_in

PAGES = ["pages/home.py", "pages/roster.py", "pages/patient.py", "pages/eligibility.py", "pages/record_session.py",
         "pages/outcomes.py", "pages/side_effects.py", "pages/throughput.py", "pages/conference.py",
         "pages/import_data.py", "pages/audit.py", "pages/users.py"]


def start(role: str = "clinician"):
    return signed_in(role).run()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_and_says_it_is_demo_data(app_env, page):
    at = start(role_for(page))
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert any("Synthetic demo data" in w.value for w in at.warning)
    assert at.title, "every page has a title"


def test_home_shows_the_clinic_at_a_glance(app_env):
    from kdash import settings
    from kdash.clinical import clinic
    from kdash.store import db
    from tests.conftest import TODAY
    at = start()
    assert at.title[0].value == "Clinic at a glance"
    metrics = {m.label: m.value for m in at.metric}
    con = db.connect(app_env, create=False)
    try:
        glance = clinic.at_a_glance(con, settings.load(app_env), TODAY)
    finally:
        con.close()
    assert metrics["Active patients"] == f"{glance['active_patients']:,}"
    assert metrics["Sessions this week"] == f"{glance['sessions_this_week']:,}"
    assert metrics["Response rate, MADRS"] == f"{glance['outcomes']['response_rate']:.0%}"
    assert metrics["Open safety flags"] == f"{glance['flags']['urgent']:,} urgent"
    assert glance["active_patients"] > 0 and glance["outcomes"]["n_evaluable"] > 20
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in spec["data"]} >= {"Completed", "No-show"}
    assert "n = " in spec["layout"]["title"]["text"]


def test_a_store_that_cannot_be_opened_gets_a_message_not_a_traceback(app_env, tmp_path, monkeypatch):
    bad = tmp_path / "bad.duckdb"
    bad.write_text("not duckdb")
    monkeypatch.setenv("KDASH_DB", str(bad))
    at = start()
    assert not at.exception
    assert "not a kdash store" in at.error[0].value


def test_first_run_without_a_store_builds_the_demo_clinic(tmp_path, monkeypatch):
    import streamlit as st
    monkeypatch.delenv("KDASH_DB", raising=False)
    monkeypatch.delenv("KDASH_SETTINGS", raising=False)
    monkeypatch.chdir(tmp_path)                       # the default store is data/kdash.duckdb under the cwd
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        at = start()
        assert not at.exception
        assert (tmp_path / "data" / "kdash.duckdb").exists()
        assert any("Synthetic demo data" in w.value for w in at.warning)
        assert at.metric[0].label == "Active patients" and at.metric[0].value != "0"
    finally:
        st.cache_resource.clear()


def test_a_named_store_that_does_not_exist_says_how_to_make_one_and_is_never_filled(app_env, tmp_path, monkeypatch):
    missing = tmp_path / "clinic" / "kdash.duckdb"          # the default's file name, in another folder
    monkeypatch.setenv("KDASH_DB", str(missing))
    at = start()
    assert not at.exception
    assert "python -m kdash init --db" in at.error[0].value
    assert not missing.exists()


def test_a_clinic_store_made_by_init_has_no_demo_banner_or_demo_accounts(app_env, tmp_path, monkeypatch):
    from kdash import settings
    from kdash.access import users
    from kdash.store import clinic_store
    import streamlit as st
    path = str(tmp_path / "own.duckdb")
    con = clinic_store.create(path)
    users.add(con, settings.load(path), "clinic.admin", "admin", "long-enough-password")
    con.close()
    monkeypatch.setenv("KDASH_DB", path)
    st.cache_resource.clear()
    at = start(role=None)
    assert not at.exception
    assert at.title[0].value == "Sign in to kdash"
    assert not any("Synthetic demo data" in w.value for w in at.warning)
    assert not any("Demo accounts" in i.value for i in at.info)
    for role in ("clinician", "manager"):
        at = start(role=role)
        assert not at.exception and not any("Synthetic demo data" in w.value for w in at.warning)
        # an empty clinic: no empty chart of bookings, but words saying there are none
        assert not at.get("plotly_chart")
        assert any(i.value == "No session booked in the last 12 weeks." for i in at.info)
    st.cache_resource.clear()
