"""Issue 19's findings through app.py (AppTest): small cells on the manager's pages, audited roster searches, views
audited per user, and data that is only ever text. Each test failed on the code before issue 19."""

import pytest

from kdash.store import db
from tests.app.session import signed_in


@pytest.fixture
def solo_store(writable_app_store):
    """A demo clinic where one treated patient is the only patient of "Dr Solo"."""
    path = writable_app_store(20, 6)
    con = db.connect(path)
    try:
        pid = con.execute("SELECT patient_id FROM sessions WHERE status = 'completed' GROUP BY patient_id "
                          "ORDER BY count(*) DESC, patient_id LIMIT 1").fetchone()[0]
        con.execute("UPDATE patients SET clinician = 'Dr Solo' WHERE patient_id = ?", [pid])
    finally:
        con.close()
    return path


def audit_rows(store, action):
    con = db.connect(store, create=False)
    try:
        return con.execute("SELECT username, role, action, patient_id, detail FROM audit_log WHERE action = ? "
                           "ORDER BY audit_id", [action]).fetchall()
    finally:
        con.close()


def on_page(role, page):
    at = signed_in(role).run()
    return at.switch_page(page).run()


def choose_solo(at):
    box = next(s for s in at.selectbox if s.label == "Clinician")
    return box.set_value("Dr Solo").run()


@pytest.mark.parametrize("page", ["pages/outcomes.py", "pages/side_effects.py"])
def test_a_manager_sees_no_figure_of_a_one_patient_cohort(solo_store, page):
    """Finding 5: Outcomes filtered to a one-patient clinician showed "treated 1, response 100 %" to a manager."""
    at = choose_solo(on_page("manager", page))
    assert not at.exception
    assert any("Fewer than 5 patients match" in i.value for i in at.info)
    assert not at.get("plotly_chart") and not [m for m in at.metric if "%" in str(m.value)]
    clinician = choose_solo(on_page("clinician", page))       # a clinician treats the patient: sees the figures
    assert not any("Fewer than 5" in i.value for i in clinician.info) and clinician.get("plotly_chart")


def test_a_managers_outcome_table_hides_counts_under_five(app_env):
    at = on_page("manager", "pages/outcomes.py")
    at = next(s for s in at.selectbox if s.label == "Route").set_value("sc_ketamine").run()    # 17 patients
    table = next(d.value for d in at.dataframe if "responders" in d.value.columns)
    shown = list(table["responders"]) + list(table["remitters"])
    numbers = [int(v.replace(",", "")) for v in shown if v != "<5"]
    assert "<5" in shown                                   # SC ketamine's early remitters: 1 to 4 of them
    assert all(n == 0 or n >= 5 for n in numbers)
    hidden = table[table["remitters"] == "<5"]
    assert set(hidden["remission_rate"]) == {"—"}          # and the rate that would give them away


def test_roster_searches_are_audited_with_the_filter(writable_app_store):
    """Finding 2: roster searches were not audited."""
    store = writable_app_store(20, 6)
    at = on_page("clinician", "pages/roster.py")
    at.text_input[0].input("Garc").run()
    rows = audit_rows(store, "roster_search")
    assert rows and rows[-1][:2] == ("test-clinician", "clinician") and "search=Garc" in rows[-1][4]
    assert rows[-1][3] is None                          # the filter, not the patients it found


def test_views_are_audited_per_user_not_per_tab(writable_app_store):
    """Finding 2: a second user signing in in the same tab was not audited for a patient the first had opened."""
    store = writable_app_store(20, 6)
    at = signed_in("clinician", "dr.first").run()
    at.query_params["patient_id"] = "P000003"
    at.switch_page("pages/patient.py").run()
    at.session_state["user"] = {**at.session_state["user"], "name": "dr.second"}    # the next person, same tab
    at.run()
    viewers = [r[0] for r in audit_rows(store, "view_patient") if r[3] == "P000003"]
    assert viewers == ["dr.first", "dr.second"]


def test_a_name_that_is_markdown_is_shown_as_text(writable_app_store):
    """Finding 3: a markdown link with javascript: in a patient name rendered as a link on the patient header."""
    store = writable_app_store(20, 6)
    con = db.connect(store)
    try:
        con.execute("UPDATE patients SET given_name = '[click](javascript:alert(1))', family_name = '<b>x</b>' "
                    "WHERE patient_id = 'P000003'")
    finally:
        con.close()
    at = signed_in("clinician").run()
    at.query_params["patient_id"] = "P000003"
    at = at.switch_page("pages/patient.py").run()
    header = at.subheader[0].value
    assert "\\[click\\]\\(javascript\\:alert\\(1\\)\\)" in header and "\\<b\\>x\\</b\\>" in header
