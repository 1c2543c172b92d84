"""Backup and restore: a round trip gives every table back identical; a damaged backup restores nothing."""

import json

import pytest

from kdash import settings
from kdash import demo
from kdash.importers import importing
from kdash.store import backup, db
from kdash.store.db import StoreError
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


def _rechecksum(folder) -> None:
    """What someone who can write the backup folder does after changing a file: update its checksum."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {p.name: backup._sha256(p) for p in sorted(folder.iterdir()) if p.name != "manifest.json"}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_restore_never_executes_text_from_the_backup_folder(store, tmp_path):
    """Issue 31: restore ran the folder's schema.sql / load.sql, so a planted `COPY … TO` wrote a file as the
    restoring user. Now the schema comes from the migrations and tables load from Parquet by a fixed statement."""
    folder = tmp_path / "b"
    backup.backup(store, str(folder))
    planted = tmp_path / "planted.csv"
    for name in ("schema.sql", "load.sql"):
        (folder / name).write_text(f"COPY (SELECT 'owned') TO '{planted}';\n")
    _rechecksum(folder)
    backup.restore(str(folder), str(tmp_path / "r.duckdb"))
    assert not planted.exists()
    assert contents(str(tmp_path / "r.duckdb")) == contents(store)


def test_a_table_the_schema_does_not_know_is_refused(store, tmp_path):
    folder = tmp_path / "b"
    backup.backup(store, str(folder))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["tables"]['x"; DROP TABLE patients; --'] = {"rows": 0, "content": "0:0"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="tables this kdash's schema has not"):
        backup.restore(str(folder), str(tmp_path / "r.duckdb"))
    assert not list(tmp_path.glob("r.duckdb*"))


def test_an_authenticated_manifest_refuses_a_change_and_a_downgrade(store, tmp_path, monkeypatch):
    phrase = "violet ferry under lantern"
    folder = tmp_path / "e"
    backup.backup(store, str(folder), passphrase=phrase)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["authentication"]["key"] == "passphrase"
    changed = dict(manifest, made_at="2020-01-01T00:00:00")
    (folder / "manifest.json").write_text(json.dumps(changed))
    with pytest.raises(StoreError, match="HMAC does not match"):
        backup.restore(str(folder), str(tmp_path / "r1.duckdb"), passphrase=phrase)
    # a downgrade: the folder rewritten as a plain backup (someone's own Parquet, the encryption dropped)
    plain = tmp_path / "plain"
    backup.backup(store, str(plain))
    (plain / "manifest.json").write_text(json.dumps({k: v for k, v in json.loads(
        (plain / "manifest.json").read_text()).items() if k != "authentication"}))
    with pytest.raises(StoreError, match="says the backup is not encrypted"):
        backup.restore(str(plain), str(tmp_path / "r2.duckdb"), passphrase=phrase)
    # a plain backup made with KDASH_BACKUP_KEY is authenticated by it, and a change is refused
    monkeypatch.setenv("KDASH_BACKUP_KEY", "kept apart from the backups")
    keyed = tmp_path / "k"
    backup.backup(store, str(keyed))
    assert backup.restore(str(keyed), str(tmp_path / "r3.duckdb"))["authenticated"] is True
    manifest = json.loads((keyed / "manifest.json").read_text())
    manifest["tables"]["patients"]["rows"] += 0
    manifest["schema_version"] = 1
    (keyed / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="HMAC does not match"):
        backup.restore(str(keyed), str(tmp_path / "r4.duckdb"))
    assert not any((tmp_path / n).exists() for n in ("r1.duckdb", "r2.duckdb", "r4.duckdb"))
