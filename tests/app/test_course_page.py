"""The expected course on the pages (issue 34): the patient page's sentence, the roster's filter and column, the
worklist's review prompts and the Outcomes page's proof, on a demo clinic of 1,500 patients (400 have too few courses
under way to be sure of one not on track)."""

from __future__ import annotations

import pytest

from kdash import settings
from kdash.clinical import course
from kdash.store import db
from tests.app.session import signed_in
from tests.conftest import TODAY, use_store


@pytest.fixture(scope="module")
def bigger(tmp_path_factory) -> str:
    from kdash import demo
    path = str(tmp_path_factory.mktemp("course") / "course.duckdb")
    demo.build(path, patients=1500, seed=3, as_of=TODAY)
    return path


@pytest.fixture
def app_store(bigger, monkeypatch):
    import streamlit as st
    yield use_store(bigger, monkeypatch)
    st.cache_resource.clear()


def behind(path: str) -> list[str]:
    con = db.connect(path, read_only=True)
    try:
        return sorted(course.not_on_track(con, settings.load(path), TODAY)["patient_id"])
    finally:
        con.close()


def test_the_roster_filters_and_marks_the_courses_not_on_track(app_store):
    expected = behind(app_store)
    assert expected, "the demo has courses not on track"
    at = signed_in("clinician").run().switch_page("pages/roster.py").run()
    pick = next(s for s in at.selectbox if s.label == "Expected course")
    pick.select("not_on_track").run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "patient_id" in d.value.columns)
    total = int(next(c.value for c in at.caption if "patients match" in c.value).split(" ")[0].replace(",", ""))
    assert total == len(expected)
    assert set(table["patient_id"]) <= set(expected) and set(table["expected_course"]) == {"not on track"}


def test_the_patient_page_says_whether_the_course_is_on_track(app_store):
    pid = behind(app_store)[0]
    at = signed_in("clinician").run()
    at.query_params["patient_id"] = pid
    at.switch_page("pages/patient.py").run()
    assert not at.exception
    line = next(m.value for m in at.markdown if "Expected course:" in m.value)
    assert "NOT ON TRACK" in line and "Review the course" in line


def test_the_worklist_lists_the_review_prompts_apart_from_the_flags(app_store):
    at = signed_in("clinician", "clinician").run()
    assert not at.exception
    assert any(e.label.startswith("Review prompts: courses not on track") for e in at.expander)


def test_the_outcomes_page_shows_the_leave_one_out_proof(app_store):
    at = signed_in("clinician").run().switch_page("pages/outcomes.py").run()
    tabs = at.tabs
    assert any(t.label == "Expected course: does it work here?" for t in tabs)
    assert not at.exception
