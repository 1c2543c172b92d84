"""The safety-flag worklist and the acknowledgement form, from app.py (issue 17)."""

from __future__ import annotations

from kdash import settings
from kdash.clinical import worklist
from kdash.store import db
from tests.app.session import signed_in
from tests.conftest import TODAY

CFG = settings.load()


def open_flags_store(writable_app_store) -> tuple[str, str, str]:
    """A demo store whose clinic never acknowledged anything: (path, a patient with an open flag, its rule)."""
    path = writable_app_store(40, 5)
    con = db.connect(path, create=False)
    try:
        con.execute("DELETE FROM flag_acks")
        rows = worklist.items(con, CFG, TODAY)
        assert len(rows) > 5
        first = rows.iloc[0]
        return path, str(first["patient_id"]), str(first["rule"])
    finally:
        con.close()


def test_the_home_page_lists_open_flags_most_severe_first_mine_and_all(writable_app_store):
    path, pid, _ = open_flags_store(writable_app_store)
    at = signed_in("clinician", "clinician").run()          # the demo account, linked to the busiest clinician
    assert not at.exception
    assert any(s.value == "Safety-flag worklist" for s in at.subheader)
    mine = next(d.value for d in at.dataframe if "Severity" in d.value.columns)
    con = db.connect(path, create=False)
    clinician = con.execute("SELECT clinician FROM users WHERE username = 'clinician'").fetchone()[0]
    every = worklist.items(con, CFG, TODAY)
    con.close()
    assert set(mine["ID"]) == set(every.loc[every["clinician"] == clinician, "patient_id"])
    order = {"Urgent": 0, "High": 1, "Caution": 2, "Review": 3}
    ranks = [order[s.replace(", overdue", "")] for s in mine["Severity"]]
    assert ranks == sorted(ranks)
    at.segmented_control(key="worklist_view_home").set_value("all").run()
    shown = next(d.value for d in at.dataframe if "Severity" in d.value.columns)
    assert len(shown) == len(every) > len(mine)


def test_a_manager_sees_counts_but_no_worklist(writable_app_store):
    open_flags_store(writable_app_store)
    at = signed_in("manager").run()
    assert not at.exception
    assert not any(s.value == "Safety-flag worklist" for s in at.subheader)
    assert not any("Severity" in d.value.columns and "ID" in d.value.columns for d in at.dataframe)
    assert any(m.label == "Open safety flags" for m in at.metric)


def test_acknowledging_on_the_patient_page_needs_an_action_and_moves_the_flag_to_the_history(writable_app_store):
    path, pid, rule = open_flags_store(writable_app_store)
    at = signed_in("clinician", "dr.ack")
    at.query_params["patient_id"] = pid
    at.switch_page("pages/patient.py").run()
    assert not at.exception
    form_key = f"patient_{rule}"
    submit = f"FormSubmitter:ack_{form_key}-Acknowledge"
    at.button(key=submit).click().run()
    assert any("Choose the action" in e.value for e in at.error)
    con = db.connect(path, create=False)
    assert con.execute("SELECT count(*) FROM flag_acks").fetchone()[0] == 0
    con.close()
    at.selectbox(key=f"ack_action_{form_key}").set_value(CFG["flags"]["actions"][1])
    at.text_input(key=f"ack_note_{form_key}").input("safety plan read back by phone")
    at.button(key=submit).click().run()
    assert not at.exception
    assert any("acknowledged" in s.value for s in at.success)
    con = db.connect(path, create=False)
    try:
        assert con.execute("SELECT patient_id, rule, action, note, acknowledged_by FROM flag_acks").fetchall() == [
            (pid, rule, CFG["flags"]["actions"][1], "safety plan read back by phone", "dr.ack")]
        assert con.execute("SELECT username, role, patient_id FROM audit_log WHERE action = 'flag_acknowledged'"
                           ).fetchall() == [("dr.ack", "clinician", pid)]
        assert rule not in set(worklist.open_rows(con, CFG, TODAY, [pid])["rule"])
    finally:
        con.close()
    history = next(d.value for d in at.dataframe if "Action" in d.value.columns)
    assert list(history["Action"]) == [CFG["flags"]["actions"][1]] and list(history["By"]) == ["dr.ack"]


def test_the_worklist_and_the_unfiltered_roster_are_audited_as_views(app_env):
    """Issue 31: the home worklist and the roster's default list showed patients without an audit row."""
    from kdash.store import db
    from tests.app.session import signed_in

    def actions():
        con = db.connect(app_env, create=False)
        try:
            return {r[0]: r[1] for r in con.execute(
                "SELECT action, arg_max(detail, audit_id) FROM audit_log WHERE username LIKE '%clinician' "
                "GROUP BY action").fetchall()}
        finally:
            con.close()
    at = signed_in("clinician").run()
    assert not at.exception
    assert actions()["view_worklist"].startswith("home: ")
    at.switch_page("pages/roster.py").run()
    assert actions()["view_roster"] == "phase=active"
