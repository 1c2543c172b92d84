"""The store on both back ends: an embedded DuckDB file, and a PostgreSQL record read through a DuckDB model
(kdash/store/pg.py). The same writes through the same functions give the same rows, base and derived."""

from __future__ import annotations

import datetime as dt

import pytest

from kdash import settings
from kdash.access import signins, users
from kdash.clinical import decisions, recording
from kdash.importers import importing
from kdash.store import clinic_store, db, pg
from tests.conftest import ROOT

FHIR = str(ROOT / "tests" / "fixtures" / "fhir")
PASSWORD = "a long enough passphrase 2026"
BACKENDS = ["embedded", "postgresql"]
# columns that differ by nature between two stores given the same writes (ids from a sequence, clock times,
# random salts and cookies)
VOLATILE = {"audit_log": ["audit_id", "logged_at", "detail"], "users": ["password_hash", "created_at"],
            "signins": None, "flag_acks": ["ack_id", "acknowledged_at"], "eligibility_decisions": ["decided_at"],
            "meta": None}


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> str:
    if request.param == "embedded":
        return str(tmp_path / "clinic.duckdb")
    return request.getfixturevalue("record_url")


def entry(pid: str, day: dt.date, **extra) -> recording.Entry:
    fields = dict(patient_id=pid, day=day, route="iv_ketamine", weight_kg=80.0, dose_mg=40.0, chair="Chair 1",
                  start=dt.time(9, 0), end=dt.time(10, 15), clinician="Dr Test",
                  vitals=[{"minute": 0, "systolic": 128, "diastolic": 80}, {"minute": 40, "systolic": 182,
                                                                            "diastolic": 104}],
                  scores={"MADRS": "30"}, cadss=12, side_effects=[{"effect": "nausea", "severity": "mild"}])
    fields.update(extra)
    return recording.Entry(**fields)


def a_clinic_day(path: str) -> tuple:
    """init, an account, the FHIR fixtures imported, sessions recorded, one edited, one deleted, a decision,
    a sign-in started and ended: the writes of every kind a clinic makes, through the app's own functions."""
    cfg = settings.load(path)
    con = clinic_store.create(path, cfg)
    users.add(con, cfg, "doc", "clinician", PASSWORD, by="tests")
    rep = importing.run(con, cfg, [FHIR], skip_invalid=True, username="doc")
    pids = [r[0] for r in con.execute("SELECT patient_id FROM patients ORDER BY 1 LIMIT 3").fetchall()]
    today = dt.date.today()
    sids = [recording.save(con, cfg, entry(pid, today - dt.timedelta(days=k), scores={"MADRS": str(30 - 3 * k)}),
                           username="doc") for pid in pids for k in (6, 3, 0)]
    recording.save(con, cfg, entry(pids[0], today - dt.timedelta(days=3), dose_mg=48.0, scores={"MADRS": "22"},
                                   ratings=[{"minute": 40, "cadss": 14, "moaas": 4},
                                            {"minute": 95, "cadss": 6, "moaas": 4}]),
                   username="doc", replaces=sids[1])
    recording.delete(con, cfg, sids[4], username="doc")
    decisions.record(con, pids[1], "iv_ketamine", "override", "eligible", "two failed trials documented",
                     decided_by="doc")
    cookie = signins.start(con, cfg, "doc", "clinician")
    signins.end(con, signins.signin_id(cookie), "signed_out")
    return con, cfg, rep, pids, sids


def tables(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary "
                                      "ORDER BY 1").fetchall()]


def rows(con, table: str) -> list[tuple]:
    columns = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = $t "
                                         "ORDER BY ordinal_position", {"t": table}).fetchall()]
    if table in VOLATILE and VOLATILE[table] is None:
        return [(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0],)]
    keep = [c for c in columns if c not in (VOLATILE.get(table) or [])]
    return con.execute(f"SELECT {', '.join(keep)} FROM {table} ORDER BY ALL").fetchall()


def test_a_clinic_day_writes_the_same_on_either_back_end(store):
    con, cfg, rep, pids, sids = a_clinic_day(store)
    assert rep.written["patients"] == 231                    # every patient of the FHIR fixtures
    assert db.scalar(con, "SELECT count(*) FROM sessions") == 8            # 9 recorded, 1 deleted
    assert db.scalar(con, "SELECT dose_mg FROM sessions WHERE session_id = $s", {"s": sids[1]}) == 48.0
    assert db.scalar(con, "SELECT count(*) FROM sessions WHERE session_id = $s", {"s": sids[4]}) == 0
    # the writer reads its own write at once, derived rows included: flag log, score points, session facts
    assert db.scalar(con, "SELECT count(*) FROM score_points WHERE patient_id = $p", {"p": pids[0]}) >= 3
    assert db.scalar(con, "SELECT count(*) FROM session_facts WHERE patient_id = $p", {"p": pids[2]}) == 3
    assert db.scalar(con, "SELECT count(*) FROM flag_log WHERE patient_id = $p AND rule = 'emergent_hypertension'",
                     {"p": pids[2]}) >= 1
    actions = dict(con.execute("SELECT action, count(*) FROM audit_log GROUP BY 1").fetchall())
    assert actions == {"import": 1, "record_session": 10, "edit_session": 1, "delete_session": 1,
                       "eligibility_override": 1} | {k: v for k, v in actions.items() if k.startswith("user")}
    ended = db.row(con, "SELECT ended_why FROM signins")
    assert ended == ("signed_out",)
    assert users.sign_in(con, cfg, "doc", PASSWORD).ok
    assert not users.sign_in(con, cfg, "doc", "wrong").ok
    assert db.scalar(con, "SELECT failed_attempts FROM users WHERE username = 'doc'") == 1
    con.close()


def same_session_ids(monkeypatch):
    """Session IDs from a counter (they are random): the same writes then give the same IDs in both stores."""
    import itertools
    import uuid
    counter = itertools.count(1)
    monkeypatch.setattr(recording.uuid, "uuid4", lambda: uuid.UUID(int=next(counter) << 80))


def test_the_record_and_an_embedded_store_hold_the_same_rows(tmp_path, record_url, monkeypatch):
    """Every table, base and derived, row for row (but for sequence ids, clock times and random salts)."""
    same_session_ids(monkeypatch)
    embedded = a_clinic_day(str(tmp_path / "clinic.duckdb"))[0]
    same_session_ids(monkeypatch)
    replica = a_clinic_day(record_url)[0]
    fresh = db.connect(record_url, create=False)          # a new replica, bootstrapped from the record alone
    assert tables(embedded) == tables(replica) == tables(fresh)
    for table in tables(embedded):
        assert rows(replica, table) == rows(embedded, table), table
        assert rows(fresh, table) == rows(replica, table), table
    assert db.meta(fresh, "deid_secret") == db.meta(replica, "deid_secret")   # one pseudonym key per record


def test_a_refused_write_leaves_the_record_as_it_was(record_url):
    from tests.builders import fingerprint
    con, cfg, *_ = a_clinic_day(record_url)
    base = [t for t in tables(con) if t not in pg.DERIVED]
    before = fingerprint(con, base)
    with pytest.raises(Exception):
        with db.transaction(con) as cur:
            cur.execute("INSERT INTO chairs VALUES ('Chair 9', TRUE)")
            cur.execute("INSERT INTO patients (patient_id, birth_date, sex) VALUES ('P-bad', '1980-01-01', 'Q')")
    assert fingerprint(con, base) == before
    other = db.connect(record_url, create=False)
    assert fingerprint(other, base) == before


def test_a_url_with_a_password_is_refused_and_a_secret_file_works(record_url, tmp_path, monkeypatch, pg_cluster):
    with pytest.raises(db.StoreError, match="carries a password"):
        db.connect(record_url.replace("kdash@", "kdash:hunter2@"))
    secret = tmp_path / "pw"
    secret.write_text(pg_cluster.password + "\n")
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("KDASH_DB_PASSWORD_FILE", str(secret))
    con = db.connect(record_url)
    assert db.schema_version(con) == db.SCHEMA_VERSION
    monkeypatch.setenv("KDASH_DB_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(db.StoreError, match="KDASH_DB_PASSWORD_FILE"):
        db.connect(record_url)


def test_translation_of_the_write_dialect():
    text, args = pg.translate("INSERT OR REPLACE INTO meta VALUES ($k, $v)", {"k": "a", "v": "50%"})
    assert text == "INSERT INTO meta VALUES (%(k)s, %(v)s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
    assert args == {"k": "a", "v": "50%"}
    text, args = pg.translate("DELETE FROM t WHERE list_contains($ids, patient_id) AND x LIKE '%a'", {"ids": ["1"]})
    assert text == "DELETE FROM t WHERE patient_id = ANY(%(ids)s) AND x LIKE '%%a'"
    text, args = pg.translate("UPDATE users SET disabled = ? WHERE username = ?", [True, "x"])
    assert text == "UPDATE users SET disabled = %s WHERE username = %s" and args == [True, "x"]
    import numpy as np
    import pandas as pd
    assert pg.translate("SELECT $a, $b, $c", {"a": np.int64(3), "b": float("nan"), "c": pd.NaT})[1] == \
        {"a": 3, "b": None, "c": None}


def test_clinic_settings_kept_in_the_record_reach_every_replica(record_url, tmp_path, pg_cluster):
    """`settings --set` keeps the clinic's TOML in the record; another replica derives with it after its next pull
    (here a shorter IV induction: the phases derived for imported sessions change)."""
    import subprocess
    import sys
    from kdash.store import derived
    from tests.reliability.test_network import csv_folder
    con = clinic_store.create(record_url)
    importing.run(con, settings.load(record_url), [str(csv_folder(tmp_path / "export", 3, 6))])
    other = db.connect(record_url, create=False)
    phases = "SELECT count(*) FROM sessions WHERE phase = 'maintenance'"
    assert db.scalar(other, phases) == 0                       # six sessions each: all induction
    toml = tmp_path / "clinic.toml"
    toml.write_text("[induction]\niv_ketamine = 4\n")
    run = lambda *a: subprocess.run([sys.executable, "-m", "kdash", "settings", "--db", record_url, *a],
                                    capture_output=True, text=True, env=pg_cluster.env(), cwd=ROOT)
    done = run("--set", str(toml))
    assert done.returncode == 0, done.stderr
    pg.replica_of(other).pull()
    assert settings.load(record_url)["induction"]["iv_ketamine"] == 4
    assert db.scalar(other, phases) == 3 * 2                   # sessions 5 and 6 of each patient
    assert not derived.ensure_current(other, settings.load(record_url))     # its derived tables are current
    bad = tmp_path / "bad.toml"
    bad.write_text("[nonsense]\nx = 1\n")
    done = run("--set", str(bad))
    assert done.returncode == 2 and "unknown settings section(s): nonsense" in done.stderr
    assert settings.load(record_url)["induction"]["iv_ketamine"] == 4
    done = run("--clear")
    assert done.returncode == 0, done.stderr
    pg.replica_of(other).pull()
    assert settings.load(record_url)["induction"]["iv_ketamine"] == 6
    assert db.scalar(other, phases) == 0


def test_an_embedded_backup_restored_into_a_url_moves_the_clinic_onto_postgresql(tmp_path, record_url, monkeypatch):
    """restore FOLDER --db URL with an embedded store's backup: every row comes along, the pseudonym key too."""
    from kdash.store import backup
    from kdash.__main__ import main
    same_session_ids(monkeypatch)
    embedded = a_clinic_day(str(tmp_path / "clinic.duckdb"))[0]
    secret = db.meta(embedded, "deid_secret")
    embedded.close()
    backup.backup(str(tmp_path / "clinic.duckdb"), str(tmp_path / "bk"))
    assert main(["restore", str(tmp_path / "bk"), "--db", record_url]) == 0
    moved = db.connect(record_url, create=False)
    source = db.connect(str(tmp_path / "clinic.duckdb"), read_only=True)
    for table in tables(source):
        assert rows(moved, table) == rows(source, table), table
    assert db.meta(moved, "deid_secret") == secret
    assert main(["restore", str(tmp_path / "bk"), "--db", record_url]) == 1      # never over a store


def test_a_pruned_change_log_leaves_every_replica_right(record_url):
    """The change log keeps `store.change_log_days`: pruning deletes older changes, and a replica whose last pull
    came before the pruned bound (it may have missed a deleted change) copies the record anew at its next pull,
    while one that pulled after it goes on by changes. Kept 0 days here, so every ended transaction's go."""
    cfg = settings.load(record_url)
    writer = clinic_store.create(record_url, cfg)
    pids = [r[0] for r in importing.run(writer, cfg, [FHIR], skip_invalid=True) and
            writer.execute("SELECT patient_id FROM patients ORDER BY 1 LIMIT 2").fetchall()]
    idle, current = db.connect(record_url, create=False), db.connect(record_url, create=False)
    today = dt.date.today()
    sid = recording.save(writer, cfg, entry(pids[0], today), username="doc")     # `idle` has not pulled since
    pg.replica_of(current).pull()
    log = lambda: pg.replica_of(writer).record_row("SELECT count(*) FROM kdash_changes", None)[0]
    assert log() > 0
    assert pg.prune_changes(record_url, keep_days=0) > 0
    assert log() == 0
    copies = []
    pg.replica_of(idle).bootstrap = (lambda f: lambda: (copies.append(1), f())[1])(pg.replica_of(idle).bootstrap)
    assert pg.replica_of(idle).pull() == {"table:*"} and copies == [1]
    recording.save(writer, cfg, entry(pids[1], today), username="doc")          # a change after the pruning
    assert pg.replica_of(current).pull() >= {f"patient:{pids[1]}"}
    pg.replica_of(idle).pull()
    for model in (idle, current):
        for table in ("sessions", "side_effects", "flag_log", "session_facts"):
            assert rows(model, table) == rows(writer, table), table
    assert sid in {r[0] for r in idle.execute("SELECT session_id FROM sessions").fetchall()}
    assert copies == [1]                   # after its copy, `idle` went on by changes too


def test_read_models_left_by_processes_that_are_gone_are_swept(tmp_path):
    """A killed server cannot remove its read model (a copy of the record): the next model made in that folder
    removes it, and leaves the models of processes still running."""
    import os
    import subprocess
    import sys
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket
    dead = tmp_path / f"kdash-model-{gone.stdout.strip()}-abc"
    alive = tmp_path / f"kdash-model-{os.getppid()}-def"
    elsewhere = tmp_path / f"kdash-model-{gone.stdout.strip()}-ghi"     # another container's, its pid not ours
    other = tmp_path / "kdash-model-notes"
    for folder, host in ((dead, socket.gethostname()), (alive, socket.gethostname()), (elsewhere, "app2"),
                         (other, None)):
        folder.mkdir()
        (folder / "model.duckdb").write_bytes(b"rows")
        if host:
            (folder / "owner").write_text(host)
    assert pg.sweep_orphans(str(tmp_path)) == [dead.name]
    assert not dead.exists() and alive.exists() and elsewhere.exists() and other.exists()
