"""Choosing a patient works every time (issue 16): typing one ID after another shows each typed patient, the URL
follows the box, and a link that changes the URL changes the box."""

import pytest

from tests.app.session import signed_in

PAGES = ["pages/patient.py", "pages/eligibility.py", "pages/record_session.py"]
IDS = ["P000003", "P000010", "P000004", "P000021", "P000007", "P000010"]


def shown(at) -> str:
    return at.subheader[0].value                     # the two-identifier header


@pytest.mark.parametrize("page", PAGES)
def test_typing_patient_after_patient_shows_each_one(app_env, page):
    at = signed_in("clinician").run()
    at.switch_page(page).run()
    for pid in IDS:
        at.text_input[0].input(pid).run()
        assert not at.exception
        assert f"ID {pid}" in shown(at), (pid, shown(at))
        assert at.query_params["patient_id"] in (pid, [pid])
        assert at.text_input[0].value == pid


@pytest.mark.parametrize("page", PAGES)
def test_a_link_to_another_patient_replaces_what_was_typed(app_env, page):
    at = signed_in("clinician").run()
    at.query_params["patient_id"] = "P000003"
    at.switch_page(page).run()
    assert "ID P000003" in shown(at)
    at.text_input[0].input("P000010").run()
    assert "ID P000010" in shown(at)
    at.query_params["patient_id"] = "P000021"          # a link or the back button changes the URL
    at.run()
    assert "ID P000021" in shown(at)
    assert at.text_input[0].value == "P000021"


def test_coming_back_from_another_page_keeps_the_patient_of_the_url(app_env):
    """Patient page → another page → back: Streamlit has dropped the box's state, the URL still names the patient."""
    at = signed_in("clinician").run()
    at.query_params["patient_id"] = "P000010"
    at.switch_page("pages/patient.py").run()
    at.switch_page("pages/eligibility.py").run()
    assert "ID P000010" in shown(at)
    at.switch_page("pages/patient.py").run()
    assert "ID P000010" in shown(at)
    assert at.query_params["patient_id"] in ("P000010", ["P000010"])


def test_the_finder_lists_patients_by_name_id_or_mrn(app_env):
    from kdash.store import db
    con = db.connect(app_env, create=False)
    family, pid, mrn = con.execute("SELECT family_name, patient_id, mrn FROM patients WHERE patient_id = 'P000021'"
                                   ).fetchone()
    con.close()
    at = signed_in("clinician").run()
    at.switch_page("pages/patient.py").run()
    for text in (family.lower(), pid, mrn):
        at.text_input(key="finder_patient").input(text).run()
        assert not at.exception
        found = at.dataframe[0].value
        assert pid in list(found["patient_id"]) and {"name", "birth_date", "mrn"} <= set(found.columns), text
