"""Crash safety: SIGKILL in the middle of an import or of recorded sessions leaves the store consistent.

An import is all there or none of it (every table, the derived tables and the audit row together); every
recorded session is whole (the booking, its vitals, scores and audit row) or absent. Kill points are drawn at
random over the command's whole run, from start-up to after its commit.

CI runs a few kills of each; the full campaign (50 each) is `KDASH_RELIABILITY=full pytest tests/reliability`,
which also writes its figures to tests/reliability/results/crash.json.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from kdash import demo
from kdash.store import db, derived
from tests.conftest import ROOT
from tests.reliability.clinic_csv import write_folder

FULL = os.environ.get("KDASH_RELIABILITY") == "full"
KILLS = 50 if FULL else 4
RESULTS = Path(__file__).parent / "results"
TABLES = ("patients", "sessions", "assessments", "vitals", "side_effects")


@pytest.fixture(scope="module")
def import_folder(tmp_path_factory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("crash")
    source = str(base / "source.duckdb")
    demo.build(source, patients=600, seed=21)
    folder = base / "csv"
    return folder, write_folder(source, folder)


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("empty") / "empty.duckdb")
    db.connect(path).close()
    return path


def counts(con) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES + ("audit_log",)}


def derived_current(con) -> bool:
    for table in derived.TABLES:
        text = f"SELECT count(*), bit_xor(hash(t)) FROM ({db.sql(table + '_build')}) t"
        fresh = con.execute(text, db.bind(text, {"ids": None, "as_of": None})).fetchone()
        stored = con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM {table} t").fetchone()
        if fresh != stored:
            return False
    return True


def kill_after(cmd: list[str], delay: float) -> int:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        proc.wait(timeout=delay)
        return proc.returncode          # it finished before the kill
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return -9


def test_killing_an_import_leaves_all_of_it_or_none(import_folder, empty_store, tmp_path):
    folder, written = import_folder
    rng = random.Random(20261123)
    command = [sys.executable, "-m", "kdash", "import", "--db", "{store}", str(folder)]
    timed = str(tmp_path / "timed.duckdb")
    shutil.copy(empty_store, timed)
    started = time.time()
    assert kill_after([c.format(store=timed) for c in command], 600) == 0
    whole_run = time.time() - started                # kill points spread over start-up, checks, writing, commit
    outcomes = {"none": 0, "all": 0, "finished before the kill": 0}
    for i in range(KILLS):
        store = str(tmp_path / f"s{i}.duckdb")
        shutil.copy(empty_store, store)
        code = kill_after([c.format(store=store) for c in command], rng.uniform(0.2, whole_run * 1.05))
        con = duckdb.connect(store)            # opening replays the write-ahead log, as the app would
        try:
            now = counts(con)
            imports = con.execute("SELECT count(*) FROM audit_log WHERE action = 'import'").fetchone()[0]
            if code != -9:
                assert code == 0, code
                outcomes["finished before the kill"] += 1
                assert {t: now[t] for t in TABLES} == written and imports == 1
            elif all(now[t] == 0 for t in TABLES):
                outcomes["none"] += 1
                assert imports == 0
            else:
                outcomes["all"] += 1
                assert {t: now[t] for t in TABLES} == written and imports == 1, now
            assert derived_current(con)
        finally:
            con.close()
        os.remove(store)
    _record("import", KILLS, {**outcomes, "seconds for a whole import": round(whole_run, 1)})
    assert sum(outcomes.values()) == KILLS


RECORDER = """
import datetime as dt, sys
from kdash import settings
from kdash.clinical import recording
from kdash.store import db
con = db.connect(sys.argv[1], create=False)
cfg = settings.load()
for i in range(10_000):
    day = dt.date(2026, 1, 1) + dt.timedelta(days=i % 300)
    entry = recording.Entry(patient_id="P000001", day=day, route="iv_ketamine", weight_kg=70, dose_mg=35,
                            start=dt.time(9), end=dt.time(10), scores={"MADRS": "20", "PHQ9": "9"}, cadss=3,
                            vitals=[{"minute": -5, "systolic": 130, "diastolic": 80},
                                    {"minute": 40, "systolic": 150, "diastolic": 90}],
                            side_effects=[{"effect": "nausea", "severity": "mild"}])
    recording.save(con, cfg, entry)
    print(i, flush=True)
"""


def test_killing_recorded_sessions_leaves_each_whole_or_absent(tmp_path):
    base = str(tmp_path / "base.duckdb")
    demo.build(base, patients=20, seed=2)
    con = duckdb.connect(base)
    known = {r[0] for r in con.execute("SELECT session_id FROM sessions").fetchall()}
    con.close()
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    rng = random.Random(7)
    whole = 0
    for i in range(KILLS):
        store = str(tmp_path / f"r{i}.duckdb")
        shutil.copy(base, store)
        assert kill_after([sys.executable, str(script), store], rng.uniform(1.5, 5.0)) == -9
        con = duckdb.connect(store)
        try:
            rows = con.execute("""
                SELECT s.session_id,
                       (SELECT count(*) FROM vitals v WHERE v.session_id = s.session_id),
                       (SELECT count(*) FROM assessments a WHERE a.session_id = s.session_id),
                       (SELECT count(*) FROM side_effects e WHERE e.session_id = s.session_id),
                       (SELECT count(*) FROM audit_log l WHERE l.detail = s.session_id AND l.action = 'record_session')
                FROM sessions s""").fetchall()
            new = [r for r in rows if r[0] not in known]
            for sid, vitals, scores, effects, audited in new:
                assert (vitals, scores, effects, audited) == (2, 3, 1, 1), sid      # MADRS, PHQ-9, CADSS
            audits = con.execute("SELECT count(*) FROM audit_log WHERE action = 'record_session'").fetchone()[0]
            assert audits == len(new)                     # no audit row without its session, nor the reverse
            whole += len(new)
            assert derived_current(con)
        finally:
            con.close()
        os.remove(store)
    _record("recorded sessions", KILLS, {"sessions found whole": whole, "partial sessions": 0})
    assert whole > 0                                   # the kills did land after some sessions were saved


def _record(what: str, kills: int, outcomes: dict) -> None:
    if not FULL:
        return
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "crash.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[what] = {"kills": kills, "outcomes": outcomes, "at": time.strftime("%Y-%m-%d %H:%M")}
    path.write_text(json.dumps(data, indent=2))
