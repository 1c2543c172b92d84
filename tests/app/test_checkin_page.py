"""The check-in pages from app.py (issue 33): the patient's /checkin without any staff session, and the staff side
on the patient page (issuing, listing, striking)."""

from __future__ import annotations

import datetime as dt

from streamlit.testing.v1 import AppTest

from kdash import settings
from kdash.clinical import checkin, worklist
from kdash.store import db
from tests.app.session import signed_in
from tests.conftest import ROOT

CFG = settings.load()


def patient_and_code(path: str, forms: str = "PHQ9") -> tuple[str, dt.date, str]:
    con = db.connect(path, create=False)
    try:
        pid, born = con.execute("SELECT patient_id, birth_date FROM patients WHERE NOT deceased "
                                "ORDER BY patient_id LIMIT 1").fetchone()
        return pid, born, checkin.issue(con, CFG, pid, forms, by="desk")["code"]
    finally:
        con.close()


def patient_app(code: str | None = None, staff: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if staff:
        at.session_state["user"] = {"name": staff, "role": "clinician", "seen": 0}
    if code:
        at.query_params["code"] = code
    return at.switch_page("pages/checkin.py").run()


def answer_all(at: AppTest, value: int) -> AppTest:
    for r in at.radio:
        r.set_value(value)
    return at


def test_a_whole_check_in_saves_once_and_thanks_the_patient_without_a_score(writable_app_store):
    path = writable_app_store(30, 4)
    pid, born, code = patient_and_code(path, "PHQ9,GAD7")
    at = patient_app(code)
    assert not at.exception
    assert [t.value for t in at.title] == ["Check-in"]
    assert not at.sidebar.children or not any(at.sidebar.button)          # nothing of the clinic's
    assert at.text_input[0].value == code                                # the code from the URL
    at.text_input[1].input(f"{born:%m/%d/%Y}")
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert checkin.QUESTION in " ".join(m.value for m in at.markdown)
    assert len(at.radio) == 10                                           # nine items and the difficulty question
    assert list(at.radio[0].options) == list(checkin.OPTIONS)
    answer_all(at, 1).run()
    next_button = next(b for b in at.button if b.label == "Next")
    next_button.click().run()
    assert len(at.radio) == 7                                            # GAD-7
    back = next(b for b in at.button if b.label == "Back")
    back.click().run()
    assert len(at.radio) == 10 and at.radio[0].value == 1                # back keeps the answers
    next(b for b in at.button if b.label == "Next").click().run()
    answer_all(at, 0).run()
    sent_from = dt.datetime.now().replace(microsecond=0)
    next(b for b in at.button if b.label == "Send").click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Thank you"]
    shown = " ".join(e.value for e in [*at.markdown, *at.success, *at.error, *at.info, *at.caption])
    assert "speak to a member of staff now" in shown                     # item 9 = 1
    assert "988" in shown
    assert "PHQ-9 9" not in shown and "mild" not in shown.lower() and "score" not in shown.lower()
    con = db.connect(path, create=False)
    rows = con.execute("SELECT scale, total FROM assessments WHERE source = 'self_report' AND patient_id = $p "
                       "AND reported_at >= $t ORDER BY scale", {"p": pid, "t": sent_from}).fetchall()
    flags = worklist.contract_rows(con, CFG, dt.date.today(), [pid])
    con.close()
    assert rows == [("GAD7", 0), ("PHQ9", 9)]
    assert any(f["source"] == "self_report" and f["severity"] == "urgent" for f in flags)


def test_a_wrong_birth_date_gets_one_sentence_and_the_forms_stay_shut(writable_app_store):
    path = writable_app_store(30, 4)
    _, born, code = patient_and_code(path)
    at = patient_app(code)
    at.text_input[1].input(f"{born + dt.timedelta(days=1):%m/%d/%Y}")
    at.button[0].click().run()
    assert [e.value for e in at.error] == [checkin.REFUSED]
    assert not at.radio


def test_the_check_in_page_ends_a_staff_session_in_its_tab(writable_app_store):
    writable_app_store(30, 4)
    at = patient_app(staff="dr.someone")
    assert not at.exception
    assert "user" not in at.session_state
    assert not any("Signed in as" in m.value for m in at.sidebar.markdown)
    at.switch_page("pages/patient.py").run()           # then the staff pages ask for a sign-in
    assert any(t.value == "Sign in to kdash" for t in at.title)


def test_a_clinician_issues_a_code_on_the_patient_page_and_sees_its_state(writable_app_store):
    path = writable_app_store(30, 4)
    con = db.connect(path, create=False)
    pid = con.execute("SELECT patient_id FROM patients ORDER BY patient_id LIMIT 1").fetchone()[0]
    con.close()
    at = signed_in("clinician", "dr.issuer")
    at.query_params["patient_id"] = pid
    at.switch_page("pages/patient.py").run()
    assert not at.exception
    issue = next(b for b in at.button if b.label == "Issue a check-in code")
    issue.click().run()
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    con = db.connect(path, create=False)
    hint, by = con.execute("SELECT hint, issued_by FROM checkin_codes WHERE patient_id = $p", {"p": pid}).fetchone()
    con.close()
    assert by == "dr.issuer"
    code = next(m.value.removeprefix("# ") for m in at.markdown if m.value.startswith("# "))
    assert checkin.normalise(code)[-4:] == hint and code in shown
    codes = next(d.value for d in at.dataframe if "State" in d.value.columns)
    assert codes["State"].tolist() == ["open"]


def test_a_clinician_strikes_a_self_report_with_a_reason(writable_app_store):
    path = writable_app_store(30, 4)
    con = db.connect(path, create=False)
    pid, at_time = con.execute("SELECT patient_id, reported_at FROM assessments WHERE source = 'self_report' "
                               "ORDER BY reported_at DESC, patient_id LIMIT 1").fetchone()
    before = con.execute("SELECT count(*) FROM assessments WHERE patient_id = $p AND source = 'self_report'",
                         {"p": pid}).fetchone()[0]
    con.close()
    at = signed_in("clinician", "dr.striker")
    at.query_params["patient_id"] = pid
    at.switch_page("pages/patient.py").run()
    pick = next(s for s in at.selectbox if s.label == "Self-report")
    pick.set_value(0)
    next(t for t in at.text_input if t.label == "Reason").input("a test entry at the desk")
    next(b for b in at.button if b.label == "Strike").click().run()
    assert not at.exception
    con = db.connect(path, create=False)
    after = con.execute("SELECT count(*) FROM assessments WHERE patient_id = $p AND source = 'self_report'",
                        {"p": pid}).fetchone()[0]
    struck = con.execute("SELECT struck_by, reason, reported_at FROM struck_assessments").fetchall()
    con.close()
    assert after == before - 1
    assert struck == [("dr.striker", "a test entry at the desk", at_time)]
