"""CSV import (data-contract §3): every problem named by file and line, all or nothing, idempotent."""

import shutil
import subprocess
import sys

import pytest

from kdash import settings
from kdash import demo
from kdash.importers import importing
from kdash.store import clinic_store, db
from tests.conftest import ROOT

CFG = settings.load()
SAMPLE = ROOT / "data" / "sample_import"
TABLES = ["patients", "antidepressant_trials", "screening", "sessions", "assessments", "vitals", "side_effects",
          "audit_log"]


def checksums(con):
    """Content fingerprint of every table (order-independent)."""
    out = {}
    for t in TABLES:
        out[t] = con.execute(f"SELECT count(*), coalesce(sum(hash(COLUMNS(*)::VARCHAR)), 0) FROM {t}").fetchall()
    return out


@pytest.fixture
def store(tmp_path):
    path = str(tmp_path / "s.duckdb")
    con = clinic_store.create(path)      # a clinic's own store, as init makes it
    yield con
    con.close()


@pytest.fixture
def folder(tmp_path):
    target = tmp_path / "import"
    shutil.copytree(SAMPLE, target)
    return target


def test_sample_folder_imports_and_reimports_nothing(store, folder):
    rep = importing.run(store, CFG, [str(folder)])
    assert rep.ok and rep.written["patients"] == 2 and rep.written["assessments"] == 3
    before = checksums(store)
    again = importing.run(store, CFG, [str(folder)])
    assert again.ok and sum(again.written.values()) == 0
    after = checksums(store)
    assert {t: v for t, v in after.items() if t != "audit_log"} == {t: v for t, v in before.items() if t != "audit_log"}


@pytest.mark.parametrize("file, line, problem", [
    ("patients.csv", "C003,Al,Bad,1990-02-30,F,,mdd,,", "birth_date '1990-02-30' is not a date"),
    ("patients.csv", "C003,Al,Bad,1990-02-03,Q,,mdd,,", "sex 'Q' is not one of F, M, X"),
    ("assessments.csv", "C001,2026-10-09,MADRS,61,,", "MADRS total 61 is outside 0–60"),
    ("assessments.csv", "C001,2026-10-09,MADRS,30,4;4;3;3;3;3;3;3;3;3,", "total 30 does not match the items, which give 32"),
    ("assessments.csv", "C001,2026-10-09,PHQ9,,2;2;2;2;2;2;2;2,", "PHQ-9 has 9 items, got 8"),
    ("assessments.csv", "C001,2026-10-09,PHQ9,,4;2;2;2;2;2;2;2;2,", "PHQ-9 item 1 = 4 is outside 0–3"),
    ("assessments.csv", "C001,2026-10-09,NOPE,3,,", "scale 'NOPE' is not one of"),
    ("assessments.csv", "C999,2026-10-09,MADRS,20,,", "unknown patient 'C999'"),
    ("sessions.csv", "CS009,C001,2026-10-12T09:00,done,iv_ketamine,,,,,,", "status 'done' is not one of"),
    ("sessions.csv", "CS009,C001,yesterday,completed,iv_ketamine,,,,,,", "scheduled_at 'yesterday' is not an ISO 8601"),
    ("vitals.csv", "CS001,41,,,90,120,,", "diastolic 120 is not below systolic 90"),
    ("vitals.csv", ",,C001,,120,80,,", "either a session_id and a minute"),
    ("side_effects.csv", "CS404,nausea,mild,", "unknown session 'CS404'"),
    ("antidepressant_trials.csv", "C001,sertraline,abc,2025-01-01,,no_response,true", "dose_mg_per_day 'abc' is not a number"),
])
def test_a_bad_row_rejects_the_import_and_leaves_the_store_as_it_was(store, folder, file, line, problem):
    importing.run(store, CFG, [str(folder)])                     # the sample is in the store already
    before = checksums(store)
    with open(folder / file, "a") as fh:
        fh.write(line + "\n")
    n = sum(1 for _ in open(folder / file))
    rep = importing.run(store, CFG, [str(folder)])
    assert not rep.ok
    assert any(p.startswith(f"{file}:{n}: ") and problem in p for p in rep.problems), rep.problems
    assert checksums(store) == before


def test_missing_required_column_rejects_the_file(store, folder):
    (folder / "side_effects.csv").write_text("session_id,severity\nCS001,mild\n")
    rep = importing.run(store, CFG, [str(folder)])
    assert "side_effects.csv:1: missing required column effect" in rep.problems


def test_a_file_that_is_not_utf8_is_named_and_nothing_is_written(store, folder):
    """Found by the fuzz campaign: a Latin-1 export (é as byte 0xe9) used to end in a UnicodeDecodeError."""
    (folder / "patients.csv").write_bytes("patient_id,given_name,family_name,birth_date,sex\n"
                                          "C009,Zoé,Béranger,1980-01-01,F\n".encode("latin-1"))
    before = checksums(store)
    rep = importing.run(store, CFG, [str(folder)])
    assert rep.problems == ["patients.csv: not UTF-8 text (byte 0xe9 at offset 56); save it as UTF-8 CSV"]
    assert checksums(store) == before
    single = importing.run(store, CFG, [str(folder / "patients.csv")])
    assert single.problems == rep.problems and checksums(store) == before


def test_bom_spaces_and_unknown_columns_are_tolerated(store, folder):
    text = (folder / "patients.csv").read_text()
    header, rest = text.split("\n", 1)
    (folder / "patients.csv").write_text("\ufeff" + ", ".join(header.split(",")) + ",shoe_size\n"
                                         + "\n".join(r + ",42" for r in rest.strip().split("\n")) + "\n")
    rep = importing.run(store, CFG, [str(folder)])
    assert rep.ok, rep.problems
    assert any("unknown column ignored: shoe_size" in w for w in rep.warnings)


def test_skip_invalid_imports_the_valid_part_and_dry_run_writes_nothing(store, folder, tmp_path):
    with open(folder / "assessments.csv", "a") as fh:
        fh.write("C002,2026-10-09,MADRS,99,,\n")
    before = checksums(store)
    dry = importing.run(store, CFG, [str(folder)], skip_invalid=True, dry_run=True)
    assert dry.written["patients"] == 2 and checksums(store) == before
    rep = importing.run(store, CFG, [str(folder)], skip_invalid=True)
    assert rep.written["assessments"] == 3 and len(rep.rejected_rows) == 1
    rejects = importing.write_rejects(rep, tmp_path / "rejects.csv").read_text()
    assert "MADRS total 99 is outside 0–60" in rejects


def kdash(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "kdash", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=120)


def test_cli_lists_every_problem_and_exits_1(tmp_path, folder):
    path = str(tmp_path / "c.duckdb")
    assert kdash("init", "--db", path, "--admin", "boss", stdin="a-long-enough-pass\n").returncode == 0
    with open(folder / "assessments.csv", "a") as fh:
        fh.write("C001,2026-10-09,MADRS,70,,\nC001,2026-10-10,PHQ9,30,,\n")
    out = subprocess.run([sys.executable, "-m", "kdash", "import", "--db", path, str(folder)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "assessments.csv:5: MADRS total 70 is outside 0–60" in out.stderr
    assert "assessments.csv:6: PHQ-9 total 30 is outside 0–27" in out.stderr
    assert "nothing written" in out.stderr
    missing = subprocess.run([sys.executable, "-m", "kdash", "import", "--db", path, str(tmp_path / "nowhere")],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "no such file or folder" in missing.stderr


def test_a_demo_store_refuses_an_import_unless_asked_and_stays_demo(tmp_path, folder):
    path = str(tmp_path / "d.duckdb")
    demo.build(path, patients=5, seed=3)
    refused = kdash("import", "--db", path, str(folder))
    assert refused.returncode == 1 and "synthetic demo store" in refused.stderr and "kdash init" in refused.stderr
    con = db.connect(path, read_only=True)
    assert con.execute("SELECT count(*) FROM patients").fetchone()[0] == 5
    con.close()
    trial = kdash("import", "--db", path, str(folder), "--into-demo")
    assert trial.returncode == 0, trial.stderr
    con = db.connect(path, read_only=True)
    assert con.execute("SELECT count(*) FROM patients").fetchone()[0] == 7 and db.is_demo(con)
    con.close()


def test_init_makes_an_empty_clinic_store_with_its_administrator(tmp_path, folder):
    path = str(tmp_path / "clinic.duckdb")
    short = kdash("init", "--db", path, "--admin", "boss", stdin="short\n")
    assert short.returncode != 0 and "at least 12 characters" in short.stderr and not (tmp_path / "clinic.duckdb").exists()
    made = kdash("init", "--db", path, "--admin", "boss", stdin="a-long-enough-pass\n", )
    assert made.returncode == 0, made.stderr
    again = kdash("init", "--db", path, "--admin", "boss", stdin="a-long-enough-pass\n")
    assert again.returncode == 1 and "exists already" in again.stderr and "Traceback" not in again.stderr
    con = db.connect(path, read_only=True)
    assert not db.is_demo(con) and db.meta(con, "demo") == "false"
    assert con.execute("SELECT username, role FROM users").fetchall() == [("boss", "admin")]
    assert con.execute("SELECT count(*) FROM patients").fetchone()[0] == 0
    con.close()
    assert kdash("import", "--db", path, str(folder)).returncode == 0
    refused = kdash("demo", "--db", path)
    assert refused.returncode == 1 and "clinic's own store" in refused.stderr


def test_a_command_on_a_missing_store_says_how_to_make_one(tmp_path, folder):
    out = kdash("import", "--db", str(tmp_path / "none.duckdb"), str(folder))
    assert out.returncode == 1 and "python -m kdash init --db" in out.stderr
    assert not (tmp_path / "none.duckdb").exists()
