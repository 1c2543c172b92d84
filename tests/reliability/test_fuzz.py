"""Bad input everywhere: generated cases for every entry point a person or a file can feed.

Each case must end in a result or a message naming the problem: never an exception, never a partial write
(every table's content is fingerprinted before and after any case that was refused).

Entry points: the CSV importer, the FHIR importer, uploaded files (zip or CSV), every URL query parameter
(patient_id on the patient, eligibility and record pages; case on the conference page) through the data path
the page uses, and every form: recording a session, signing in, adding an account, an eligibility decision,
the audit search and the roster search.

CI runs a few cases of each. The campaign: `KDASH_FUZZ_EXAMPLES=10000 python -m pytest tests/reliability/test_fuzz.py`
(fixed seed; figures in tests/reliability/results/fuzz.json).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings as hsettings, strategies as st

from kdash import settings
from kdash.access import audit_view, users
from kdash.clinical import decisions, deid, patient, recording, roster
from kdash.present.views import patient as patient_view
from kdash import demo
from kdash.importers import importing, uploads
from kdash.present import conference
from kdash.store import db
from tests import builders
from tests.conftest import ROOT
from tests.unit.test_import_fuzz import cell, resource

EXAMPLES = int(os.environ.get("KDASH_FUZZ_EXAMPLES", "25"))
CFG = settings.load()
SAMPLE = ROOT / "data" / "sample_import"
TABLES = ["patients", "antidepressant_trials", "screening", "sessions", "assessments", "vitals", "side_effects",
          "eligibility_decisions", "users", "score_points", "session_facts", "course_facts", "effect_facts", "flag_log"]
RESULTS = Path(__file__).parent / "results"
CASES: Counter = Counter()
TODAY = dt.date(2026, 11, 23)

campaign = hsettings(max_examples=EXAMPLES, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
nasty = st.one_of(st.text(max_size=40), st.sampled_from([
    "", " ", "P000001", "P000001 ", "p000001", "'; DROP TABLE patients; --", "' OR '1'='1", "\x00", "%00", "../../etc/passwd",
    "<script>alert(1)</script>", "Case 0000-0000", "Case 7QX2-K9MD", "7qx2k9md", "💊" * 30, "A" * 5000,
    "1e309", "NaN", "-1", "None", "null", "{}", "[]", "\\", "\n\r\t", "ｐ０００００１"]))


def fingerprint(con):
    return builders.fingerprint(con, TABLES)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fuzz") / "f.duckdb")
    demo.build(path, patients=15, seed=9, as_of=TODAY)
    con = db.connect(path)
    yield con
    con.close()


@pytest.fixture(scope="module", autouse=True)
def campaign_figures():
    """After the module: the cases run per entry point, into results/fuzz.json (campaign runs only)."""
    yield
    if os.environ.get("KDASH_FUZZ_EXAMPLES"):           # merged, so campaigns run in parts add up
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "fuzz.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        (RESULTS / "fuzz.json").write_text(json.dumps({
            "examples per entry point (setting)": EXAMPLES, "seed": 20261123,
            "cases run": {**old.get("cases run", {}), **dict(CASES)},
            "at": time.strftime("%Y-%m-%d %H:%M")}, indent=2))


@pytest.fixture(scope="module", autouse=True)
def cheap_hashes():
    """Sign-in cases test the logic, not argon2's cost: a light hasher keeps 10,000 cases in minutes."""
    from argon2 import PasswordHasher
    real, users.HASHER = users.HASHER, PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    users.HASHER = real


def refused_cleanly(con, before, message_ok: bool) -> None:
    assert message_ok
    assert fingerprint(con) == before


@seed(20261123)
@campaign
@given(file=st.sampled_from(sorted(p.name for p in SAMPLE.glob("*.csv"))), rows=st.lists(
    st.lists(cell, min_size=1, max_size=12), min_size=1, max_size=3))
def test_csv_import(store, tmp_path_factory, file, rows):
    CASES["CSV importer"] += 1
    folder = tmp_path_factory.mktemp("csv")
    shutil.copy(SAMPLE / file, folder / file)
    with open(folder / file, "a", newline="") as fh:
        for cells in rows:
            fh.write(",".join(c.replace(",", " ").replace("\n", " ").replace("\r", " ") for c in cells) + "\n")
    before = fingerprint(store)
    rep = importing.run(store, CFG, [str(folder)], into_demo=True)
    if rep.problems:
        refused_cleanly(store, before, all(isinstance(p, str) and ":" in p for p in rep.problems))
    shutil.rmtree(folder, ignore_errors=True)


@seed(20261123)
@campaign
@given(resources=st.lists(resource, min_size=1, max_size=4), ndjson=st.booleans())
def test_fhir_import(store, tmp_path_factory, resources, ndjson):
    CASES["FHIR importer"] += 1
    folder = tmp_path_factory.mktemp("fhir")
    if ndjson:
        (folder / "export.ndjson").write_text("\n".join(json.dumps(r) for r in resources))
    else:
        (folder / "bundle.json").write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                                        "entry": [{"resource": r} for r in resources]}))
    before = fingerprint(store)
    rep = importing.run(store, CFG, [str(folder)], into_demo=True)
    if rep.problems:
        refused_cleanly(store, before, all(isinstance(p, str) and p for p in rep.problems))
    shutil.rmtree(folder, ignore_errors=True)


@seed(20261123)
@campaign
@given(files=st.lists(st.tuples(st.sampled_from(["patients.csv", "x.zip", "notes.txt", "../evil.csv", "a/b.csv",
                                                  "sessions.csv", ""]),
                                st.binary(max_size=300)), min_size=1, max_size=3))
def test_uploaded_files(store, files):
    CASES["uploaded files"] += 1
    before = fingerprint(store)
    try:
        root, sources = uploads.unpack(files)
    except uploads.UploadError as exc:                # the upload page shows this message
        refused_cleanly(store, before, bool(str(exc)))
        return
    try:
        rep = importing.run(store, CFG, sources, into_demo=True)
        if rep.problems:
            refused_cleanly(store, before, all(isinstance(p, str) and p for p in rep.problems))
    finally:
        shutil.rmtree(root, ignore_errors=True)


@seed(20261123)
@campaign
@given(value=nasty)
def test_patient_id_query_parameter(store, value):
    """/patient, /eligibility and /record_session?patient_id=…: checked, then looked up; never raises."""
    CASES["URL patient_id"] += 1
    before = fingerprint(store)
    problem = patient.id_problem(value)
    if problem is None:
        view = patient_view.view(store, CFG, value.strip(), TODAY)
        assert view is None or view["header"]["patient_id"] == value.strip()
        from kdash.clinical import eligibility
        eligibility.checklist_for(store, CFG, TODAY, [value.strip()])
    else:
        assert isinstance(problem, str) and problem
    assert fingerprint(store) == before


@seed(20261123)
@campaign
@given(value=nasty)
def test_case_query_parameter(store, value):
    """/conference?case=…: a case code or a plain message; an unknown code finds nobody."""
    CASES["URL case"] += 1
    code = deid.normalise_case(value)
    if code is None:
        return
    found = deid.find_case(store, code)
    assert found is None or deid.pseudonym(store, found) == code
    if found:
        assert conference.pack_for_case(store, CFG, code, TODAY).title == code


numbers = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6))


@seed(20261123)
@campaign
@given(pid=st.sampled_from(["P000001", "P000002", "NOBODY", ""]), day=st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)),
       route=st.sampled_from(["iv_ketamine", "esketamine", "sc_ketamine", "teleport", ""]), weight=numbers,
       dose=numbers, scores=st.dictionaries(st.sampled_from(["MADRS", "PHQ9", "QIDS_SR16", "XYZ"]), nasty, max_size=3),
       cadss=numbers, moaas=numbers,
       vitals=st.lists(st.fixed_dictionaries({"minute": numbers, "systolic": numbers, "diastolic": numbers}), max_size=3),
       effects=st.lists(st.fixed_dictionaries({"effect": nasty, "severity": st.sampled_from(["mild", "severe", "x", ""])}),
                        max_size=2))
def test_record_session_form(store, pid, day, route, weight, dose, scores, cadss, moaas, vitals, effects):
    CASES["form: record a session"] += 1
    entry = recording.Entry(patient_id=pid, day=day, route=route, weight_kg=weight, dose_mg=dose,
                            start=dt.time(9), end=dt.time(10), scores=scores, cadss=cadss, moaas=moaas, vitals=vitals,
                            side_effects=effects)
    before = fingerprint(store)
    errors = recording.validate(store, entry, TODAY)
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in errors.items())
    if errors:
        assert fingerprint(store) == before
        return
    sid = recording.save(store, CFG, entry)           # a valid entry is saved whole; undo it for the next case
    recording.delete(store, CFG, sid)


@seed(20261123)
@campaign
@given(name=nasty, password=nasty)
def test_sign_in_form(store, name, password):
    CASES["form: sign in"] += 1
    store.execute("UPDATE users SET failed_attempts = 0, locked_until = NULL")
    result = users.sign_in(store, CFG, name, password)
    assert isinstance(result.message, str) and result.message
    assert not result.ok or (name.strip().lower() in users.DEMO_ACCOUNTS and password == users.DEMO_PASSWORD)


@seed(20261123)
@campaign
@given(name=nasty, role=st.sampled_from(["clinician", "admin", "root", ""]), password=nasty)
def test_add_account_form(store, name, role, password):
    CASES["form: add an account"] += 1
    before = fingerprint(store)
    try:
        added = users.add(store, CFG, name, role, password)
    except users.UserError as exc:
        refused_cleanly(store, before, bool(str(exc)))
        return
    store.execute("DELETE FROM users WHERE username = ?", [added])


@seed(20261123)
@campaign
@given(pid=st.sampled_from(["P000001", "NOBODY", "", "P000002"]), route=st.sampled_from(["iv_ketamine", "esketamine", "x"]),
       kind=st.sampled_from(["sign_off", "override", "veto", ""]),
       verdict=st.sampled_from(["eligible", "not_eligible", "needs_review", "maybe"]), reason=nasty, by=nasty)
def test_eligibility_decision_form(store, pid, route, kind, verdict, reason, by):
    CASES["form: eligibility decision"] += 1
    before = fingerprint(store)
    try:
        decisions.record(store, pid, route, kind, verdict, reason, by)
    except decisions.DecisionError as exc:
        refused_cleanly(store, before, bool(str(exc)))


@seed(20261123)
@campaign
@given(user=nasty, action=nasty, pid=nasty, start=st.one_of(st.none(), st.dates()), end=st.one_of(st.none(), st.dates()))
def test_audit_search_form(store, user, action, pid, start, end):
    CASES["form: audit search"] += 1
    before = fingerprint(store)
    rows = audit_view.search(store, CFG, user, action, None if patient.id_problem(pid) else pid, start, end)
    assert list(rows.columns) == ["logged_at", "username", "role", "action", "patient_id", "detail"]
    assert fingerprint(store) == before


@seed(20261123)
@campaign
@given(text=nasty)
def test_roster_search_form(store, text):
    CASES["form: roster search"] += 1
    before = fingerprint(store)
    rows = roster.page(store, CFG, TODAY, search=text)
    assert rows.empty or len(rows) <= rows["total"].iloc[0]
    assert fingerprint(store) == before


APP_EXAMPLES = min(EXAMPLES, 500) if os.environ.get("KDASH_FUZZ_EXAMPLES") else 5
QUERY_PAGES = [("pages/patient.py", "patient_id", "clinician"), ("pages/eligibility.py", "patient_id", "clinician"),
               ("pages/record_session.py", "patient_id", "clinician"), ("pages/conference.py", "case", "presenter")]


@pytest.fixture(scope="module")
def app_store(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fuzzapp") / "app.duckdb")
    demo.build(path, patients=15, seed=9, as_of=TODAY)
    return path


@pytest.mark.parametrize("page, param, role", QUERY_PAGES, ids=[p[0].split("/")[1][:-3] for p in QUERY_PAGES])
def test_query_parameters_through_the_app(app_store, monkeypatch, page, param, role):
    """The same values typed into the URL of the real pages (app.py, signed in): a page or a message."""
    import streamlit as st
    from tests.app.session import signed_in
    monkeypatch.setenv("KDASH_DB", app_store)
    monkeypatch.chdir(ROOT)
    st.cache_data.clear()
    st.cache_resource.clear()
    con = db.connect(app_store, read_only=True)
    before = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone() for t in TABLES[:7]}
    con.close()

    @seed(20261123)
    @hsettings(max_examples=APP_EXAMPLES, deadline=None, database=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(value=nasty)
    def visit(value):
        CASES[f"URL {param} through app.py ({page})"] += 1
        at = signed_in(role, "fuzz")
        at.query_params[param] = value
        at.run()
        at.switch_page(page).run()
        assert not at.exception, at.exception
        assert at.title
    visit()
    st.cache_resource.clear()
    con = db.connect(app_store, read_only=True)
    after = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone() for t in TABLES[:7]}
    con.close()
    assert after == before
