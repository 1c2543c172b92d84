"""Two app replicas and the CLI on one PostgreSQL record, in Chromium as clinicians click (issue 21): a session
saved on one replica is on the saver's patient page at once and on the other replica after its next pull; a patient
imported by the CLI while both run is found by typing its ID on either."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest
from playwright.sync_api import expect

from kdash import demo
from kdash.store import db
from kdash.ui import serving
from kdash.bench.users import fill_session_form, save_session_form
from tests.conftest import ROOT, TODAY
from tests.e2e.browser import open_as, wait_for_app


@pytest.fixture
def network(pg_cluster, tmp_path, monkeypatch):
    """A 40-patient demo record and two `streamlit run` replicas on it."""
    name = "net" + uuid.uuid4().hex[:8]
    pg_cluster.psql(f"CREATE DATABASE {name} OWNER kdash")
    url = pg_cluster.url.rsplit("/", 1)[0] + "/" + name
    monkeypatch.setenv("PGPASSWORD", pg_cluster.password)
    demo.build(url, patients=40, seed=9, as_of=TODAY)
    models = tmp_path / "models"
    models.mkdir()
    env = {"PGPASSWORD": pg_cluster.password, "KDASH_MODEL_DIR": str(models)}
    with serving.streamlit_server(url, env, log_path=str(tmp_path / "one.log"), wait_ready=True) as one, \
            serving.streamlit_server(url, env, log_path=str(tmp_path / "two.log"), wait_ready=True) as two:
        assert len(list(models.iterdir())) == 2            # each replica's read model, a copy of the record …
        yield url, one.url, two.url, pg_cluster.env()
    assert list(models.iterdir()) == []                    # … goes with its server (stopped by SIGTERM)
    import gc
    gc.collect()
    pg_cluster.psql(f"DROP DATABASE {name} WITH (FORCE)")


def sessions_this_week(page) -> int:
    tile = page.locator("[data-testid='stMetric']").filter(has_text="Sessions this week")
    return int(tile.locator("[data-testid='stMetricValue']").inner_text().replace(",", ""))


def test_two_replicas_and_the_cli_on_one_record(browser, network, tmp_path):
    url, one, two, env = network
    con = db.connect(url, create=False)
    pid = con.execute("SELECT patient_id FROM patients WHERE patient_id IN (SELECT patient_id FROM sessions) "
                      "ORDER BY 1 LIMIT 1").fetchone()[0]
    del con
    clinician = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    manager = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    open_as(manager, two, "manager")                 # the manager's home on replica two
    before = sessions_this_week(manager)

    open_as(clinician, f"{one}/record_session?patient_id={pid}")     # the clinician on replica one
    expect(clinician.get_by_text(f"ID {pid}").first).to_be_visible(timeout=60_000)
    fill_session_form(clinician)
    wait_for_app(clinician)
    save_session_form(clinician, wait_for_app)
    clinician.goto(f"{one}/")                          # the saver's own replica: the new session at once
    wait_for_app(clinician)
    assert sessions_this_week(clinician) == before + 1

    deadline = time.time() + 20                         # the other replica: after its next pull (≤ 5 s old)
    seen = before
    while seen != before + 1 and time.time() < deadline:
        time.sleep(2)
        manager.reload()
        wait_for_app(manager)
        seen = sessions_this_week(manager)
    assert seen == before + 1
    expect(manager.get_by_text("Record as of")).to_be_visible()

    folder = tmp_path / "export"                        # the CLI imports a patient while both replicas run
    folder.mkdir()
    (folder / "patients.csv").write_text("patient_id,given_name,family_name,birth_date,sex\n"
                                         "NET-001,Ada,Networked,1969-04-02,F\n")
    done = subprocess.run([sys.executable, "-m", "kdash", "import", "--db", url, str(folder), "--into-demo"],
                          capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    for server, page in ((one, clinician), (two, clinician)):
        page.goto(f"{server}/patient")
        wait_for_app(page)
        deadline = time.time() + 20
        while True:
            box = page.get_by_role("textbox", name="Patient ID")
            box.fill("NET-001")
            box.press("Enter")
            wait_for_app(page)
            header = page.locator("h3").first.inner_text()
            if "ID NET-001" in header or time.time() > deadline:
                break
            time.sleep(2)
        assert "Ada Networked" in header and "ID NET-001" in header, header
    assert clinician.locator("[data-testid='stException']").count() == 0
