"""The real app in Chromium on a clinic's own store (made by init, fed by a sparse CSV import), not the demo."""

import datetime as dt
import subprocess
import sys

from playwright.sync_api import expect

from tests.e2e.browser import ROOT, sign_in, streamlit_server, wait_for_app
from tests.e2e.conftest import ARTIFACTS

PASSWORD = "e2e-clinic-pass-2026"
ODD_ID = "R&D 7?a#b"          # the clinic's own ID: printable, with characters a URL must encode


def kdash(*args, stdin=None):
    out = subprocess.run([sys.executable, "-m", "kdash", *args], cwd=ROOT, input=stdin, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out


def sparse_folder(folder):
    """Required columns only, plus a total without items and readings named by session and minute."""
    today = dt.date.today()
    d = [today - dt.timedelta(days=n) for n in (6, 5, 3, 2)]
    folder.mkdir()
    (folder / "patients.csv").write_text(f"patient_id,given_name,family_name,birth_date,sex\n"
                                         f"\"{ODD_ID}\",Rosa,Delacroix,1979-06-15,F\n")
    (folder / "sessions.csv").write_text("session_id,patient_id,scheduled_at,status,route\n"
                                         f"X1,\"{ODD_ID}\",{d[1]}T09:00,completed,iv_ketamine\n"
                                         f"X2,\"{ODD_ID}\",{d[2]}T09:00,completed,iv_ketamine\n")
    (folder / "vitals.csv").write_text("session_id,minute,systolic,diastolic\nX1,-5,128,80\nX1,40,181,111\n"
                                       "X2,-5,124,78\n")
    (folder / "assessments.csv").write_text(f"patient_id,assessed_on,scale,total\n\"{ODD_ID}\",{d[0]},PHQ9,19\n"
                                            f"\"{ODD_ID}\",{d[3]},PHQ9,12\n")
    return folder


def test_a_sparse_import_shows_its_flags_and_its_unrecorded_suicide_item(browser, tmp_path):
    store = str(tmp_path / "clinic.duckdb")
    kdash("init", "--db", store, "--admin", "clinic.admin", stdin=PASSWORD + "\n")
    kdash("users", "add", "clinician", "--role", "clinician", "--db", store, stdin=PASSWORD + "\n")
    kdash("import", "--db", store, str(sparse_folder(tmp_path / "export")))
    from kdash import ids
    with streamlit_server(store) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        pg = context.new_page()
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(url + ids.link("patient", "patient_id", ODD_ID))
        sign_in(pg, "clinician", PASSWORD)
        expect(pg.get_by_role("heading", name="Patient progress")).to_be_visible(timeout=30_000)
        expect(pg.get_by_text("Synthetic demo data")).to_have_count(0)          # a clinic's store, not the demo
        header = pg.locator("h3").first
        expect(header).to_contain_text("Rosa Delacroix")
        expect(header).to_contain_text(f"ID {ODD_ID}")                           # the encoded link opened this patient
        expect(pg.get_by_text("Blood pressure high after dose", exact=False).first).to_be_visible(timeout=30_000)
        expect(pg.get_by_text("181/111 mmHg, 40 min after the dose").first).to_be_visible()
        expect(pg.get_by_text("Suicide item not recorded", exact=False).first).to_be_visible()
        expect(pg.get_by_text("PHQ-9 19 recorded without item 9", exact=False).first).to_be_visible()
        wait_for_app(pg)
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "sparse-patient.png"), full_page=True)
        assert pg.locator("[data-testid='stException']").count() == 0
        for word in ("None", "NaT", "nan"):
            assert word not in pg.locator("[data-testid='stMain']").inner_text().split()
        assert errors == []
        context.close()
