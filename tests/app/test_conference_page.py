"""The case-conference page from app.py: a case by picker, by typed code and by deep link; a cohort;
nothing identifying anywhere on the page."""

import json
import re

from streamlit.testing.v1 import AppTest

from kdash.clinical import deid
from kdash.store import db
from tests.app.session import signed_in

DATE = re.compile(r"\b(19|20)\d\d-\d\d-\d\d\b")


def open_page(query: dict | None = None) -> AppTest:
    at = signed_in("clinician").run()
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.switch_page("pages/conference.py").run()


def identifiers(store: str, patient_id: str) -> list[str]:
    con = db.connect(store, create=False)
    try:
        given, family, mrn, born = con.execute("SELECT given_name, family_name, mrn, birth_date::VARCHAR FROM patients "
                                               "WHERE patient_id = ?", [patient_id]).fetchone()
        return [patient_id, given, family, mrn, born], deid.pseudonym(con, patient_id)
    finally:
        con.close()


def page_text(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "markdown", "caption", "subheader", "info", "warning", "error")
             for e in getattr(at, kind)]
    parts += [c.proto.spec for c in at.get("plotly_chart")]
    parts += [str(e.proto) for e in at.get("selectbox")]
    return re.sub(r"\\(.)", r"\1", "\n".join(map(str, parts)))    # as read: data is escaped for markdown


def test_picking_a_case_presents_it_without_identifiers(app_env):
    at = open_page()
    assert not at.exception
    assert "Choose a case" in at.info[0].value
    case = at.selectbox(key="picked").options[1]
    code = re.match(r"Case [0-9A-Z]{4}-[0-9A-Z]{4}", case).group(0)
    at.selectbox(key="picked").select_index(1).run()
    assert not at.exception
    text = page_text(at)
    assert code in text
    from kdash.clinical.deid import find_case
    con = db.connect(app_env, create=False)
    try:
        pid = find_case(con, code)
    finally:
        con.close()
    secrets, _ = identifiers(app_env, pid)
    assert [s for s in secrets if s and s in text] == []
    assert DATE.findall(text) == []
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert specs and specs[0]["layout"]["font"]["size"] > 13          # large type for the room
    assert len(at.get("download_button")) >= 2


def test_a_typed_code_and_a_deep_link_open_the_same_case(app_env):
    con = db.connect(app_env, create=False)
    try:
        pid = con.execute("SELECT patient_id FROM sessions WHERE status = 'completed' ORDER BY patient_id LIMIT 1"
                          ).fetchone()[0]
    finally:
        con.close()
    secrets, case = identifiers(app_env, pid)
    at = open_page({"case": case})
    assert not at.exception and not at.error
    assert case in page_text(at)
    at = open_page()
    at.text_input(key="code").input(case.removeprefix("Case ").lower()).run()
    assert case in page_text(at) and not at.error
    assert [s for s in secrets if s and s in page_text(at)] == []


def test_a_bad_or_unknown_code_gets_a_message(app_env):
    at = open_page({"case": "Robert'); DROP TABLE patients;--"})
    assert not at.exception
    assert "is not a case code" in at.error[0].value
    at = open_page({"case": "Case 0000-0000"})
    assert "No case Case 0000-0000" in at.error[0].value


def test_a_cohort_is_presented_with_its_figures(app_env):
    at = open_page()
    at.segmented_control(key="mode").set_value("A cohort").run()
    assert not at.exception
    text = page_text(at)
    assert "Cohort: all routes" in text
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any("timepoint" in t.lower() or "after" in t.lower() for t in titles) and len(titles) >= 4
    assert DATE.findall(text) == []


def test_without_chromium_the_page_presents_and_says_why_downloads_are_off(app_env, monkeypatch):
    from kdash.present import export
    monkeypatch.setattr(export, "browser", lambda: None)
    at = open_page()
    at.selectbox(key="picked").select_index(1).run()
    assert not at.exception
    assert any("need Debian's Chromium" in c.value for c in at.caption)
    assert all(b.proto.disabled for b in at.get("download_button"))
    assert at.get("plotly_chart")
