"""Backup and restore: a round trip gives every table back identical; a damaged backup restores nothing."""

import json

import pytest

from kdash import backup, db, demo, importing, settings
from kdash.db import StoreError
from tests.conftest import ROOT


def contents(path):
    con = db.connect(path, read_only=True)
    try:
        return {t: sorted(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall())) for t in backup._tables(con)}
    finally:
        con.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("bk") / "clinic.duckdb")
    demo.build(path, patients=80, seed=3)
    con = db.connect(path)
    assert importing.run(con, settings.load(), [str(ROOT / "data" / "sample_import")],
                          into_demo=True).ok   # audit rows, imports
    con.close()
    return path


def test_a_round_trip_gives_every_table_back_identical(store, tmp_path):
    manifest = backup.backup(store, str(tmp_path / "nightly"))
    assert set(manifest["tables"]) >= {"patients", "sessions", "assessments", "audit_log", "users", "meta"}
    assert all(f.endswith(".parquet") or f.endswith(".sql") for f in manifest["files"])
    backup.restore(str(tmp_path / "nightly"), str(tmp_path / "restored.duckdb"))
    before, after = contents(store), contents(str(tmp_path / "restored.duckdb"))
    assert before.keys() == after.keys()
    for table in before:
        assert before[table] == after[table], table
    con = db.connect(str(tmp_path / "restored.duckdb"))     # the restored store takes new rows (sequences carried)
    try:
        con.execute("INSERT INTO audit_log (logged_at, action) VALUES (now(), 'after restore')")
    finally:
        con.close()


def test_a_damaged_or_incomplete_backup_restores_nothing(store, tmp_path):
    folder = tmp_path / "b"
    backup.backup(store, str(folder))
    (folder / "sessions.parquet").write_bytes((folder / "sessions.parquet").read_bytes()[:-10])
    with pytest.raises(StoreError, match="sessions.parquet does not match its checksum"):
        backup.restore(str(folder), str(tmp_path / "r.duckdb"))
    (folder / "sessions.parquet").unlink()
    with pytest.raises(StoreError, match="sessions.parquet is missing"):
        backup.restore(str(folder), str(tmp_path / "r.duckdb"))
    assert not list(tmp_path.glob("r.duckdb*"))


def test_a_manifest_that_lies_about_a_table_is_caught(store, tmp_path):
    folder = tmp_path / "b"
    backup.backup(store, str(folder))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["tables"]["patients"]["rows"] += 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="restored table patients differs"):
        backup.restore(str(folder), str(tmp_path / "r.duckdb"))
    assert not list(tmp_path.glob("r.duckdb*"))


def test_backups_and_restores_never_overwrite(store, tmp_path):
    backup.backup(store, str(tmp_path / "b"))
    with pytest.raises(StoreError, match="not empty"):
        backup.backup(store, str(tmp_path / "b"))
    with pytest.raises(StoreError, match="exists; restore into a new store path"):
        backup.restore(str(tmp_path / "b"), store)
    with pytest.raises(StoreError, match="not a kdash backup"):
        backup.restore(str(tmp_path), str(tmp_path / "x.duckdb"))


def _mode(p) -> int:
    import os
    return os.stat(p).st_mode & 0o777


def test_backups_and_restored_stores_are_the_owners_only(store, tmp_path):
    """Issue 19, finding 8: backups were written world-readable (umask 022) with the password hashes and the
    pseudonym key inside. Now the folder is 0700 and every file 0600, whatever the shell's umask."""
    import os
    old = os.umask(0o022)
    try:
        backup.backup(store, str(tmp_path / "b"))
        backup.restore(str(tmp_path / "b"), str(tmp_path / "r.duckdb"))
    finally:
        os.umask(old)
    assert _mode(tmp_path / "b") == 0o700
    assert {_mode(f) for f in (tmp_path / "b").iterdir()} == {0o600}
    assert _mode(tmp_path / "r.duckdb") == 0o600


def test_an_encrypted_backup_holds_no_readable_data_and_restores_with_its_passphrase(store, tmp_path):
    phrase = "violet ferry under lantern"
    manifest = backup.backup(store, str(tmp_path / "e"), passphrase=phrase)
    assert manifest["encryption"]["cipher"] == "AES-256-GCM"
    files = sorted(p.name for p in (tmp_path / "e").iterdir())
    assert all(f.endswith(".enc") for f in files if f != "manifest.json")
    con = db.connect(store, read_only=True)
    try:
        name = con.execute("SELECT family_name FROM patients WHERE family_name IS NOT NULL LIMIT 1").fetchone()[0]
    finally:
        con.close()
    for f in (tmp_path / "e").iterdir():
        data = f.read_bytes()
        assert b"PAR1" not in data[:4] and name.encode() not in data       # no Parquet, no name in the clear
    with pytest.raises(StoreError, match="encrypted"):
        backup.restore(str(tmp_path / "e"), str(tmp_path / "x.duckdb"))
    with pytest.raises(StoreError, match="passphrase is wrong"):
        backup.restore(str(tmp_path / "e"), str(tmp_path / "x.duckdb"), passphrase="not the right phrase")
    assert not (tmp_path / "x.duckdb").exists()
    backup.restore(str(tmp_path / "e"), str(tmp_path / "r.duckdb"), passphrase=phrase)
    assert contents(str(tmp_path / "r.duckdb")) == contents(store)
