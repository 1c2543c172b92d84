"""A clinic network on one PostgreSQL record (issue 21): app processes and the CLI writing at once, read models kept
current by pulls, backups taken while writers run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from kdash import settings
from kdash.importers import importing
from kdash.store import backup, clinic_store, db, pg
from tests.conftest import ROOT
from tests.unit.test_record import FHIR, rows, tables

WRITER = str(ROOT / "tests" / "reliability" / "network_writer.py")


def imported_clinic(url: str):
    con = clinic_store.create(url)
    importing.run(con, settings.load(url), [FHIR], skip_invalid=True)
    return con


def csv_folder(folder, n_patients: int = 40, per_patient: int = 4):
    """A clinic's export with only the required columns (and blank phases): new patients with their sessions."""
    folder.mkdir()
    (folder / "patients.csv").write_text("patient_id,birth_date,sex\n" + "".join(
        f"IMP-{k:03d},1970-01-{k % 28 + 1:02d},{'FM'[k % 2]}\n" for k in range(n_patients)))
    (folder / "sessions.csv").write_text("session_id,patient_id,scheduled_at,status,route\n" + "".join(
        f"IMP-{k:03d}-{j},IMP-{k:03d},2026-10-{j + 1:02d} 09:00,completed,iv_ketamine\n"
        for k in range(n_patients) for j in range(per_patient)))
    (folder / "assessments.csv").write_text("patient_id,assessed_on,scale,total\n" + "".join(
        f"IMP-{k:03d},2026-10-{j + 1:02d},MADRS,{30 - 3 * j}\n" for k in range(n_patients) for j in range(per_patient)))
    return folder


def start_writer(url: str, tag: str, n: int, env, stop: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, WRITER, url, tag, str(n), *([str(stop)] if stop else [])],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def finish(proc: subprocess.Popen) -> list[str]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    lines = out.split()
    assert lines[-1] == "done"
    return lines[:-1]


def test_two_app_processes_and_a_cli_import_write_at_once(record_url, pg_cluster, tmp_path):
    """No write lost, none doubled; and this process's model, kept current by incremental pulls during all of it,
    equals a model bootstrapped afresh from the record (an incremental refresh equals a full rebuild)."""
    model = imported_clinic(record_url)
    env = pg_cluster.env()
    folder = csv_folder(tmp_path / "export")
    writers = [start_writer(record_url, tag, 40, env) for tag in ("Dr A", "Dr Bee")]
    cli = subprocess.Popen([sys.executable, "-m", "kdash", "import", "--db", record_url, str(folder)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    pulls = 0
    while cli.poll() is None or any(w.poll() is None for w in writers):
        db.fresh(model)                  # as a page run would, while the others write
        pulls += 1
        time.sleep(0.2)
    kept = [finish(w) for w in writers]
    out, err = cli.communicate()
    assert cli.returncode == 0, err[-2000:]
    model_replica = pg.replica_of(model)
    model_replica.pull()

    fresh = db.connect(record_url, create=False)
    for con in (model, fresh):
        recorded = {r[0] for r in con.execute("SELECT session_id FROM sessions WHERE session_id LIKE 'R%'").fetchall()}
        assert recorded == set(kept[0]) | set(kept[1])
        assert len(kept[0]) + len(kept[1]) == 80 - 2 * 3                    # every 11th deleted
        assert db.scalar(con, "SELECT count(*) FROM patients WHERE patient_id LIKE 'IMP-%'") == 40
        assert db.scalar(con, "SELECT count(*) FROM sessions WHERE session_id LIKE 'IMP-%'") == 160
        assert db.scalar(con, "SELECT count(*) FROM assessments WHERE patient_id LIKE 'IMP-%' "
                         "AND session_id IS NULL") == 160
        assert db.scalar(con, "SELECT count(*) FROM audit_log WHERE action = 'record_session'") == 80 + 2 * 5
        assert db.scalar(con, "SELECT count(*) FROM sessions WHERE dose_mg = 40") == 2 * 5     # i = 6, 13, 20, 27, 34 edited; none of them deleted
    assert pulls > 3
    for table in tables(fresh):
        assert rows(model, table) == rows(fresh, table), table


def test_the_writer_reads_its_write_at_once_and_another_replica_within_its_max_age(record_url):
    from tests.unit.test_record import entry
    import datetime as dt
    from kdash.clinical import recording
    writer = imported_clinic(record_url)
    reader = db.connect(record_url, create=False)
    replica = pg.replica_of(reader)
    replica.max_age = 3600.0                  # long enough that no slow machine reaches it during the test
    pid = db.scalar(writer, "SELECT min(patient_id) FROM patients")
    sid = recording.save(writer, settings.load(record_url), entry(pid, dt.date.today()))
    assert db.scalar(writer, "SELECT count(*) FROM session_facts WHERE session_id = $s", {"s": sid}) == 1
    assert db.scalar(writer, "SELECT count(*) FROM flag_log WHERE patient_id = $p", {"p": pid}) >= 1
    db.fresh(reader)
    assert db.scalar(reader, "SELECT count(*) FROM sessions WHERE session_id = $s", {"s": sid}) == 0
    replica.pulled_at -= 3601.0               # its model is now older than its max age
    db.fresh(reader)
    assert db.scalar(reader, "SELECT count(*) FROM session_facts WHERE session_id = $s", {"s": sid}) == 1
    assert rows(reader, "flag_log") == rows(writer, "flag_log")


def test_a_backup_taken_while_writers_run_restores_whole(record_url, pg_cluster, tmp_path):
    imported_clinic(record_url)
    env = pg_cluster.env()
    stop = tmp_path / "stop"
    writer = start_writer(record_url, "Dr A", 100_000, env, stop)      # writes until told to stop
    time.sleep(2.0)                           # the writer is under way
    out = tmp_path / "backup"
    env = {**env, "KDASH_BACKUP_KEY": "the clinic's backup key, kept apart"}   # pg_restore needs it authenticated
    done = subprocess.run([sys.executable, "-m", "kdash", "backup", "--db", record_url, "--out", str(out)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert writer.poll() is None, "the backup ran while the writer still wrote"
    stop.touch()
    assert finish(writer)
    manifest = backup.verify(str(out))
    assert manifest["kind"] == "pg_dump"
    pg_cluster.psql("CREATE DATABASE restored OWNER kdash")
    try:
        target = pg_cluster.url.rsplit("/", 1)[0] + "/restored"
        done = subprocess.run([sys.executable, "-m", "kdash", "restore", str(out), "--db", target],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
        assert done.returncode == 0, done.stderr      # restore checks every table's count and hash itself
        restored = db.connect(target, create=False)
        live = db.connect(record_url, create=False)
        n_backup = manifest["tables"]["sessions"]["rows"]
        assert db.scalar(restored, "SELECT count(*) FROM sessions") == n_backup
        assert 0 < n_backup - 0 and n_backup <= db.scalar(live, "SELECT count(*) FROM sessions")
        assert db.scalar(restored, "SELECT count(*) FROM audit_log") == manifest["tables"]["audit_log"]["rows"]
        del restored
    finally:
        import gc
        gc.collect()
        pg_cluster.psql("DROP DATABASE restored WITH (FORCE)")


def test_a_pull_of_a_large_import_reads_whole_tables_and_equals_a_bootstrap(record_url, pg_cluster, tmp_path,
                                                                             monkeypatch):
    """Above BULK_PATIENTS changed patients a pull re-reads the patient tables whole (Arrow, in its own snapshot)."""
    monkeypatch.setattr(pg, "BULK_PATIENTS", 5)
    model = imported_clinic(record_url)
    done = subprocess.run([sys.executable, "-m", "kdash", "import", "--db", record_url,
                           str(csv_folder(tmp_path / "export", 30, 3))], capture_output=True, text=True,
                          env=pg_cluster.env(), cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    changed = pg.replica_of(model).pull()
    assert sum(c.startswith("patient:") for c in changed) == 30
    assert db.scalar(model, "SELECT count(*) FROM sessions WHERE session_id LIKE 'IMP-%'") == 90
    fresh = db.connect(record_url, create=False)
    for table in tables(fresh):
        assert rows(model, table) == rows(fresh, table), table
