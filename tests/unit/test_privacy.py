"""Issue 19's findings below the UI: exports re-checked at the click, case order without dates, a demo store kept on
this machine. (Passwords: test_users.py; uploads: test_uploads.py; backups: test_backup.py; CSV: test_vocab.py.)"""

import datetime as dt
import time

import pytest

from kdash import settings, ui
from kdash.access import signins, users
from kdash import demo
from kdash.present import conference
from kdash.store import db
from kdash.ui import web

CFG = settings.load()


@pytest.fixture
def con(tmp_path):
    c = db.connect(str(tmp_path / "p.duckdb"))
    users.add(c, CFG, "dr.a", "clinician", "a long enough password")
    users.add(c, CFG, "mgr", "manager", "a long enough password")
    yield c
    c.close()


def drawn_for(con, name, role):
    """The user as a page saw them when it drew a download button."""
    cookie = signins.start(con, CFG, name, role)
    return {"name": name, "role": role, "seen": time.time(), "sid": signins.signin_id(cookie)}


def test_an_export_is_made_for_a_signed_in_user_of_a_role_that_may(con):
    me = drawn_for(con, "dr.a", "clinician")
    assert ui.export_refusal(con, CFG, me, "conference.export") is None
    assert "may not export" in ui.export_refusal(con, CFG, drawn_for(con, "mgr", "manager"), "conference.export")


def test_an_export_clicked_after_signing_out_or_going_idle_is_refused(con):
    """Finding 1: after an idle sign-out, clicking "PDF handout" still downloaded the PDF."""
    me = drawn_for(con, "dr.a", "clinician")
    signins.end(con, me["sid"], "sign_out")
    assert ui.export_refusal(con, CFG, me, "conference.export") == "the sign-in has ended (sign_out)"
    idle = drawn_for(con, "dr.a", "clinician")
    con.execute("UPDATE signins SET last_seen = last_seen - INTERVAL 20 MINUTE WHERE signin_id = ?", [idle["sid"]])
    assert ui.export_refusal(con, CFG, idle, "conference.export") == "the sign-in has ended (idle)"


def test_an_export_of_a_disabled_account_is_refused(con):
    me = drawn_for(con, "dr.a", "clinician")
    users.set_disabled(con, "dr.a", True, by="admin")
    assert "ended" in ui.export_refusal(con, CFG, me, "conference.export")


def test_the_idle_timer_looks_without_counting_as_a_click(con):
    """The periodic check must not keep a sign-in alive: it reads last_seen and never writes it."""
    me = drawn_for(con, "dr.a", "clinician")
    con.execute("UPDATE signins SET last_seen = last_seen - INTERVAL 5 MINUTE")
    before = con.execute("SELECT last_seen FROM signins").fetchone()[0]
    assert signins.check(con, CFG, me["sid"], touch=False).ended_why is None
    assert con.execute("SELECT last_seen FROM signins").fetchone()[0] == before


def test_cases_are_listed_by_code_not_by_treatment_date(tmp_path):
    """Finding 5: cases ordered by most recent treatment with "day 0 to day N" gave back calendar dates."""
    path = str(tmp_path / "d.duckdb")
    demo.build(path, patients=40, seed=2, as_of=dt.date(2026, 12, 1))
    c = db.connect(path, read_only=True)
    try:
        cases = conference.recent_cases(c, CFG)
    finally:
        c.close()
    assert list(cases["case"]) == sorted(cases["case"]) and len(cases) > 10
    assert not any("recent" in label for label in cases["label"])


@pytest.mark.parametrize("address, demo_store, allowed, refused", [
    ("127.0.0.1", True, False, False), ("localhost", True, False, False), ("0.0.0.0", True, False, True),
    ("", True, False, True), ("0.0.0.0", True, True, False), ("0.0.0.0", False, False, False)])
def test_a_demo_store_is_served_on_this_machine_only(monkeypatch, address, demo_store, allowed, refused):
    """Finding 8: the server listened on every interface while the demo sign-in page published its password."""
    from streamlit import config
    monkeypatch.setattr(config, "get_option", lambda key: address if key == "server.address" else None)
    if allowed:
        monkeypatch.setenv(web.ALLOW_DEMO_ON_NETWORK, "1")
    else:
        monkeypatch.delenv(web.ALLOW_DEMO_ON_NETWORK, raising=False)
    assert (web.demo_exposed(demo_store) is not None) == refused


def test_the_app_listens_on_loopback_by_default():
    import tomllib
    from tests.conftest import ROOT
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
