"""Browser tests: the real app under `streamlit run`, driven in Debian's Chromium (never a downloaded one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.browser import streamlit_server

ARTIFACTS = Path(__file__).parent / "artifacts"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def e2e_store(tmp_path_factory) -> str:
    """The server's own demo store: a running dashboard locks its store against other processes."""
    from kdash import demo
    from tests.conftest import TODAY
    path = str(tmp_path_factory.mktemp("e2e") / "e2e.duckdb")
    demo.build(path, patients=400, seed=7, as_of=TODAY)
    return path


@pytest.fixture(scope="session")
def e2e_patient(e2e_store) -> str:
    """A patient with a full course (chosen before the server takes the store)."""
    import duckdb
    con = duckdb.connect(e2e_store, read_only=True)
    try:
        return con.execute("""SELECT patient_id FROM sessions WHERE status = 'completed' GROUP BY patient_id
                              HAVING count(*) >= 6 ORDER BY patient_id LIMIT 1""").fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="session")
def e2e_case(e2e_store, e2e_patient) -> str:
    """The case code of that patient (read before the server takes the store)."""
    import duckdb
    from kdash.clinical import deid
    con = duckdb.connect(e2e_store, read_only=True)
    try:
        return deid.pseudonym(con, e2e_patient)
    finally:
        con.close()


@pytest.fixture(scope="session")
def e2e_other_patient(e2e_store) -> str:
    """A patient unlike the first: bipolar depression, on esketamine if there is one (the widest header words)."""
    import duckdb
    con = duckdb.connect(e2e_store, read_only=True)
    try:
        return con.execute("""SELECT p.patient_id FROM patients p JOIN sessions s USING (patient_id)
                              WHERE p.primary_diagnosis = 'bipolar_depression'
                              GROUP BY p.patient_id ORDER BY max((s.route = 'esketamine')::INT) DESC,
                                       count(*) DESC, p.patient_id LIMIT 1""").fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="session")
def server(e2e_store, e2e_patient, e2e_case, e2e_other_patient):
    with streamlit_server(e2e_store) as url:
        yield url


@pytest.fixture
def page(browser, server, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.app_errors = []
    pg.external_requests = []
    # The frontend probes <page>/_stcore/... before the root on a deep link: those 404s are Streamlit's own.
    pg.on("console", lambda m: pg.app_errors.append(m.text)
          if m.type == "error" and "404" not in m.text else None)
    pg.on("pageerror", lambda e: pg.app_errors.append(str(e)))
    pg.on("request", lambda r: pg.external_requests.append(r.url)
          if not r.url.startswith(server) and not r.url.startswith(("data:", "blob:")) else None)
    yield pg
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
