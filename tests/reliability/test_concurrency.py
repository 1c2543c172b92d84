"""Many people at once: app sessions reading every page of their role while a clinician records sessions and
an administrator imports a CSV folder, all through the app.

Part 1 runs app.py sessions as AppTests in threads of one process (one store, the dashboard's shared
connection), as a Streamlit server does. Part 2 drives real Chromium pages against `streamlit run`: readers
plus a clinician recording a session in the browser. After each: no session saw an error, and the store's
counts before + what was written = the counts after.

CI runs a short version; KDASH_RELIABILITY=full holds 20 reader sessions for a minute and writes
tests/reliability/results/concurrency.json.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from kdash import access
from kdash.store import db
from tests.app.session import signed_in
from tests.conftest import ROOT

FULL = os.environ.get("KDASH_RELIABILITY") == "full"
READERS = 20 if FULL else 5
SECONDS = 60 if FULL else 8
RECORDINGS = 12 if FULL else 3
SAMPLE = ROOT / "data" / "sample_import"
RESULTS = Path(__file__).parent / "results"
TABLES = ("patients", "sessions", "assessments", "vitals", "side_effects", "antidepressant_trials", "screening")


def counts(path) -> dict[str, int]:
    con = db.connect(path, create=False)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def sample_counts() -> dict[str, int]:
    return {f.stem: sum(1 for line in f.read_text().splitlines()[1:] if line.strip())
            for f in SAMPLE.glob("*.csv")}


def page_errors(at) -> list[str]:
    found = [str(e.value) for e in at.exception]
    found += [e.value for e in at.error if "cannot open" in e.value or "Traceback" in e.value]
    return found


def reader(role: str, stop: float, seen: list, problems: list) -> None:
    """One app session of this role, visiting its pages in turn until the time is up."""
    pages = [f"pages/{p}.py" for p in access.pages_for(role)]
    at = signed_in(role, f"reader-{role}").run()
    i = 0
    while time.time() < stop:
        page = pages[i % len(pages)]
        if page.endswith("patient.py"):
            at.query_params["patient_id"] = "P000001"
        at.switch_page(page).run()
        problems.extend(f"{role} {page}: {p}" for p in page_errors(at))
        if not at.title:
            problems.append(f"{role} {page}: no title")
        seen.append(page)
        i += 1


def recorder(patients: list[str], saved: list, problems: list) -> None:
    for pid in patients:
        at = signed_in("clinician", "recorder")
        at.query_params["patient_id"] = pid
        at.run()
        at.switch_page("pages/record_session.py").run()
        at.number_input[0].set_value(80.0)
        at.number_input[1].set_value(40.0)
        at.text_input(key="score-PHQ9").set_value("2;2;2;1;1;1;1;1;0").run()          # PHQ-9 by item
        for box in at.checkbox:                                          # the before-dosing confirmation
            if box.label.startswith("I have reviewed these"):
                box.check()
        at.run()
        next(b for b in at.button if b.label == "Save session").click().run()
        problems.extend(f"recorder: {p}" for p in page_errors(at))
        if any(s.value.startswith("Saved session") for s in at.success):
            saved.append(pid)
        else:
            problems.append(f"recorder: {pid} not saved: {[e.value for e in at.error]}")


def importer(done: list, problems: list) -> None:
    at = signed_in("admin", "importer").run()
    at.switch_page("pages/import_data.py").run()
    at.file_uploader[0].set_value([(f.name, f.read_bytes(), "text/csv") for f in sorted(SAMPLE.glob("*.csv"))])
    at.run()
    next(c for c in at.checkbox if "demo store anyway" in c.label).check().run()    # the store is a demo
    at.button[0].click().run()
    problems.extend(f"importer: {p}" for p in page_errors(at))
    if at.success and at.success[0].value.startswith("Imported"):
        done.append(True)
    else:
        problems.append(f"importer: {[e.value for e in at.error]}")


@pytest.fixture
def shared_runtime(monkeypatch):
    """AppTest installs a stand-in Streamlit runtime for each run and removes it afterwards, which would race
    between threads; here every AppTest shares one stand-in for the whole test, as sessions share a server."""
    from unittest.mock import MagicMock
    import streamlit.runtime as runtime
    from streamlit.runtime import Runtime
    from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    stand_in = MagicMock(spec=Runtime)
    stand_in.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    stand_in.cache_storage_manager = MemoryCacheStorageManager()
    monkeypatch.setattr(runtime, "get_instance", lambda: stand_in)
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: stand_in))
    monkeypatch.setattr(Runtime, "exists", classmethod(lambda cls: True))
    # Each AppTest run turns on `global.appTest` by swapping config.get_option in and out (mock.patch), which
    # is not thread-safe: one session ending restores the original under another still running, whose widgets
    # then skip their testing records (KeyError in AppTest). The option stays on for the whole test instead.
    from contextlib import nullcontext
    from streamlit import config
    from streamlit.testing.v1 import app_test
    from streamlit.testing.v1.util import build_mock_config_get_option
    monkeypatch.setattr(config, "get_option", build_mock_config_get_option({"global.appTest": True}))
    monkeypatch.setattr(app_test, "patch_config_options", lambda overrides: nullcontext())
    yield stand_in


def guarded(target, problems: list):
    """A thread body whose exception is a problem the test sees, not a warning from a thread that died."""
    def run(*args):
        try:
            target(*args)
        except Exception as e:  # noqa: BLE001 - any failure of a session is what this test looks for
            problems.append(f"{target.__name__} died: {type(e).__name__}: {e}")
    return run


def test_sessions_read_every_page_while_others_write(writable_app_store, shared_runtime):
    store = writable_app_store(200, 9)
    con = db.connect(store, create=False)
    iv = [r[0] for r in con.execute(f"""SELECT patient_id FROM sessions WHERE route = 'iv_ketamine'
                                         GROUP BY patient_id ORDER BY patient_id LIMIT {RECORDINGS}""").fetchall()]
    con.close()
    before = counts(store)
    signed_in("clinician").run()       # the server has served its first page before the crowd arrives
    stop = time.time() + SECONDS
    seen, problems, saved, imported = [], [], [], []
    roles = [access.ROLES[i % 3] for i in range(READERS)]          # clinicians, managers, presenters
    threads = [threading.Thread(target=guarded(reader, problems), args=(r, stop, seen, problems)) for r in roles]
    threads += [threading.Thread(target=guarded(recorder, problems), args=(iv, saved, problems)),
                threading.Thread(target=guarded(importer, problems), args=(imported, problems))]
    started = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SECONDS + 600)
    elapsed = time.time() - started
    assert problems == []
    after = counts(store)
    written = sample_counts()
    assert len(saved) == RECORDINGS and imported == [True]
    expected = dict(before)
    for table, n in written.items():
        expected[table] += n
    expected["sessions"] += RECORDINGS
    expected["assessments"] += RECORDINGS                         # one PHQ-9 each
    assert after == expected
    _record({"reader sessions": READERS, "writer sessions": 2, "seconds": round(elapsed), "page views": len(seen),
             "errors seen": len(problems), "sessions recorded": len(saved), "imports": len(imported),
             "rows checked": sum(written.values()) + 2 * RECORDINGS, "counts before": before, "counts after": after})


def _record(figures: dict) -> None:
    if not FULL:
        return
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "concurrency.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data["app sessions in threads"] = {**figures, "at": time.strftime("%Y-%m-%d %H:%M")}
    path.write_text(json.dumps(data, indent=2, default=str))


@pytest.mark.parametrize("readers", [2])
def test_chromium_pages_read_while_a_clinician_records_in_the_browser(chromium, tmp_path, readers):
    from kdash import demo
    from kdash.bench.users import fill_session_form, save_session_form
    from tests.e2e.browser import open_as, streamlit_server, wait_for_app
    store = str(tmp_path / "browser.duckdb")
    demo.build(store, patients=60, seed=3)
    con = db.connect(store)
    pid = con.execute("SELECT patient_id FROM sessions WHERE route = 'iv_ketamine' ORDER BY 1 LIMIT 1").fetchone()[0]
    con.close()
    before = counts(store)
    problems = []
    with streamlit_server(store) as url:
        pages = []
        for i in range(readers):
            pg = chromium.new_page()
            pg.on("pageerror", lambda e: problems.append(str(e)))
            open_as(pg, url, ("clinician", "manager", "presenter")[i % 3])
            pages.append(pg)
        writer = chromium.new_page()
        open_as(writer, f"{url}/record_session?patient_id={pid}", "clinician")
        fill_session_form(writer, "80", "40", madrs=None)
        for rnd in range(2 if not FULL else 10):
            for pg in pages:
                links = pg.locator("[data-testid='stSidebar'] a")
                links.nth(rnd % links.count()).click()
        save_session_form(writer, wait_for_app)
        for pg in pages + [writer]:
            wait_for_app(pg)
            if pg.locator("[data-testid='stException']").count():
                problems.append(f"exception box on {pg.url}")
            pg.close()
    assert problems == []
    after = counts(store)
    assert after == {**before, "sessions": before["sessions"] + 1}
