"""The patient progress page, opened by deep link (/patient?patient_id=ID) from app.py."""

import datetime as dt
import json

import pytest
import streamlit as st

from tests.builders import Clinic
from tests.app.session import signed_in


def open_patient(pid):
    at = signed_in("clinician").run()
    at.switch_page("pages/patient.py")
    if pid is not None:
        at.query_params["patient_id"] = pid
    return at.run()


@pytest.fixture
def hand_built(tmp_path, monkeypatch):
    """A patient whose PHQ-9 item 9 is positive today, with a high pre-dose BP and dissociation too."""
    c = Clinic(str(tmp_path / "hand.duckdb"))
    c.patient("H001")
    today = dt.date.today()
    offset = (today - c.con.execute("SELECT DATE '2026-03-02'").fetchone()[0]).days
    sids = [c.session("H001", offset - 10 + 2 * i) for i in range(5)]
    c.score("H001", offset - 10, "MADRS", items=[4, 4, 4, 4, 4, 3, 3, 2, 2, 0])
    for i, sid in enumerate(sids):
        c.bp("H001", sid, -5, 150 if i == 4 else 120, 80)
        c.bp("H001", sid, 40, 130, 85)
        c.score("H001", offset - 10 + 2 * i, "CADSS", total=[8, 6, 5, 6, 9][i], session_id=sid)   # a rise at the end
    c.score("H001", offset - 1, "PHQ9", items=[2, 2, 2, 1, 1, 1, 1, 1, 2])
    c.score("H001", offset - 1, "MADRS", items=[4, 4, 4, 4, 3, 3, 3, 2, 2, 1])
    c.close()
    monkeypatch.setenv("KDASH_DB", c.path)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield c.path
    st.cache_resource.clear()


def test_deep_link_opens_that_patient(app_env):
    at = open_patient("P000010")
    assert not at.exception
    assert "P000010" in at.subheader[0].value
    assert at.text_input[0].value == "P000010"
    labels = [m.label for m in at.metric]
    assert {"Age · sex", "Route", "Phase", "Sessions done", "Days since first treatment"} <= set(labels)


def test_trend_has_baseline_response_and_remission_lines(app_env):
    from kdash.store import db
    con = db.connect(app_env, create=False)
    # a MADRS baseline (the demo is built as of today, so which patient has one changes with the date)
    pid = con.execute("""SELECT patient_id FROM course_facts JOIN course_scores USING (patient_id)
                         WHERE n_sessions >= 6 AND scale = 'MADRS' AND baseline IS NOT NULL
                         ORDER BY patient_id LIMIT 1""").fetchone()[0]
    con.close()
    at = open_patient(pid)
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    texts = [a.get("text", "") for a in spec["layout"]["annotations"]]
    assert any(t.startswith("Baseline") for t in texts)
    assert any(t.startswith("Response: 50 % fall") for t in texts)
    assert any(t.startswith("Remission ≤ 10") for t in texts)
    dashed = [s for s in spec["layout"]["shapes"] if s.get("type") == "line"]
    assert len(dashed) >= 3
    names = {t.get("name") for t in spec["data"]}
    assert "MADRS" in names and any(n.startswith("Session (dose, mg") for n in names)
    assert any(m.value.startswith("**") and "MADRS" in m.value for m in at.markdown)   # the status sentence


def test_positive_suicide_item_is_the_first_flag(hand_built):
    at = open_patient("H001")
    assert not at.exception
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    # the evidence is data, escaped for markdown: it reads "PHQ-9 item 9 = 2" on screen
    assert "Urgent" in badges[0] and "Suicidal thoughts" in badges[0] and "PHQ\\-9 item 9 = 2" in badges[0]
    assert any("Blood pressure high before dose" in b for b in badges[1:])
    assert any("Dissociation" in b for b in badges[1:])
    assert "Rule: PHQ-9 item 9 ≥ 1" in badges[0] and "Source:" in badges[0]


@pytest.mark.parametrize("pid, message", [
    ("NOPE999", "No patient with ID 'NOPE999'"),
    ("'; DROP TABLE patients; --", "No patient with ID"),     # printable, so an ID a clinic could have: not found
    ("P000001\x07", "cannot be used"),
    ("x" * 200, "cannot be used"),
])
def test_unknown_or_malformed_patient_id_gets_a_clear_message(app_env, pid, message):
    at = open_patient(pid)
    assert not at.exception
    assert message in at.error[0].value


def test_no_patient_id_asks_for_one(app_env):
    at = open_patient(None)
    assert not at.exception
    assert "Choose a patient" in at.info[0].value


def test_the_safety_charts_draw_one_tab_at_a_time(hand_built):
    """Issue 20: the page drew five charts at once (0.4 s in a browser); now the trend and the open safety tab,
    with item scores and the other tabs drawn when opened, and each still there."""
    at = open_patient("H001")
    assert not at.exception

    def titles():
        return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    first = titles()
    assert len(first) == 2 and any("blood pressure" in t.lower() for t in first)
    at.session_state["safety_section"] = "Dissociation and sedation"
    at.run()
    assert len(titles()) == 2 and not any("blood pressure" in t.lower() for t in titles())
    at.session_state["items_open"] = True
    at.run()
    assert len(titles()) == 3 and not at.exception


def test_a_later_lower_suicide_answer_is_new_evidence_on_the_open_flag_and_no_decision_is_a_prompt(hand_built):
    """clinical-reference §4: an urgent flag stays open until a clinician acts, a later answer shown on it; §2: a
    patient treated without an eligibility decision (computed: needs review) is a review prompt."""
    from kdash.store import db
    con = db.connect(hand_built)
    con.execute("INSERT INTO assessments (patient_id, assessed_on, scale, total, items) VALUES "
                "('H001', ?, 'PHQ9', 9, [1, 1, 1, 1, 1, 1, 1, 2, 0])", [dt.date.today()])
    con.close()
    at = open_patient("H001")
    assert not at.exception
    badges = [m.value for m in at.markdown if "BADGE" not in m.value and ":red-badge" in m.value]
    assert badges and "Suicidal thoughts" in badges[0]
    assert "New evidence" in badges[0] and "PHQ\\-9 item 9 = 0" in badges[0] and "still open" in badges[0]
    prompt = [w.value for w in at.warning if "Treated without an eligibility decision" in w.value]
    assert prompt and "needs review" in prompt[0]


@pytest.fixture
def imported_synthea(tmp_path, monkeypatch):
    """A clinic's own store fed three Synthea patients, one of whom died (issue 30)."""
    from kdash import settings
    from kdash.importers import importing
    from kdash.store import clinic_store
    from tests.conftest import ROOT
    path = str(tmp_path / "own.duckdb")
    con = clinic_store.create(path)
    rep = importing.run(con, settings.load(path), [str(ROOT / "tests" / "fixtures" / "fhir" / "synthea_auc_more")],
                        skip_invalid=True)
    assert rep.written["patients"] == 3
    con.close()
    monkeypatch.setenv("KDASH_DB", path)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield path
    st.cache_resource.clear()


def test_a_deceased_patient_says_so_and_is_on_no_active_list(imported_synthea):
    dead = "6872def5-772f-427c-3053-de6e1c71ce0a"                  # Synthea's Alfred West, died 1981-05-21
    at = open_patient(dead)
    assert not at.exception
    assert any("This patient died on 1981-05-21" in e.value for e in at.error)
    heading = at.subheader[0].value
    assert "born 1955-09-01 (25)" in heading and "died 1981-05-21" in heading     # the age at death, not 71
    assert any(m.label == "Phase" and m.value == "Deceased" for m in at.metric)
    at.switch_page("pages/roster.py").run()
    shown = at.dataframe[-1].value
    assert dead not in set(shown["patient_id"]) and len(shown) == 2             # active: the two living
    phase = next(s for s in at.selectbox if s.label == "Phase")
    phase.set_value("deceased").run()
    assert list(at.dataframe[-1].value["patient_id"]) == [dead]


def test_the_page_shows_what_a_psychiatrist_looks_for_first(tmp_path, monkeypatch):
    """Issue 36: the current antidepressants (from the trial history; an ended one is not current) and the last dose
    in its unit (mg/kg and mg for IV), dose values on the markers, GAD-7 and PHQ-2 scores on their bands by date,
    and blood pressure readings outside sessions by date."""
    c = Clinic(str(tmp_path / "first.duckdb"))
    c.patient("F001")
    today = dt.date.today()
    offset = (today - c.con.execute("SELECT DATE '2026-03-02'").fetchone()[0]).days
    c.con.execute("INSERT INTO antidepressant_trials (patient_id, drug, dose_mg_per_day, start_date, end_date, "
                  "outcome, current_episode) VALUES ('F001', 'sertraline', 150, ?, NULL, 'ongoing', "
                  "TRUE), ('F001', 'fluoxetine', 40, ?, ?, 'no_response', TRUE)",
                  [today - dt.timedelta(days=200), today - dt.timedelta(days=400), today - dt.timedelta(days=250)])
    c.bp("F001", None, None, 128, 82, n_day=offset - 20)
    c.bp("F001", None, None, 134, 86, n_day=offset - 12)
    c.score("F001", offset - 12, "GAD7", total=13)
    c.score("F001", offset - 12, "PHQ2", total=4)
    c.score("F001", offset - 10, "MADRS", total=30)
    for i in range(3):
        c.session("F001", offset - 10 + 2 * i, dose_mg=40.0, weight_kg=80.0)
    c.close()
    monkeypatch.setenv("KDASH_DB", c.path)
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        at = open_patient("F001")
        assert not at.exception
        text = "\n".join(m.value for m in at.markdown).replace("\\", "")
        assert "Antidepressants now:** sertraline 150 mg/day (since" in text and "fluoxetine" not in text
        assert f"Last dose:** 0.50 mg/kg (40 mg) IV ketamine on {today - dt.timedelta(days=6):%Y-%m-%d}" in text
        specs = [json.loads(p.proto.spec) for p in at.get("plotly_chart")]
        titles = [s["layout"]["title"]["text"] for s in specs]
        assert "GAD-7 by date (n = 1)" in titles and "PHQ-2 by date (n = 1)" in titles
        assert "Blood pressure outside sessions (n = 2 readings)" in titles
        trend = specs[titles.index(next(t for t in titles if t.startswith("MADRS")))]
        doses = next(t for t in trend["data"] if t.get("name", "").startswith("Session (dose"))
        assert doses["name"] == "Session (dose, mg/kg)" and doses["text"] == ["0.50", "0.50", "0.50"]
    finally:
        st.cache_resource.clear()
