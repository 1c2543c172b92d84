"""Operations on a PostgreSQL record while the app runs: fill it from an embedded store (demo, a clinic moving onto
PostgreSQL), back it up with pg_dump from one snapshot, restore it with pg_restore.

A backup folder of a PostgreSQL store holds record.dump (pg_dump's custom format, encrypted like an embedded
backup's files when a passphrase is given) and manifest.json: every base table's row count and content hash,
taken in the very snapshot pg_dump exports (pg_export_snapshot), so a restore can prove it is whole."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import duckdb

from kdash.store import backup, db, pg
from kdash.store.db import StoreError

DUMP = "record.dump"


def push(model: duckdb.DuckDBPyConnection, url: str) -> dict[str, int]:
    """Copy every base table of an embedded store into an empty record (Arrow through ADBC, one transaction);
    the store's pseudonym key comes along, so its case codes stay the same. Returns rows per table."""
    pg.ensure_schema(url)
    tables = pg.record_tables(model)
    with contextlib.closing(pg.connect_record(url, autocommit=True)) as check:
        for table in tables:
            if table != "meta" and check.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:
                raise StoreError(f"{url} already holds {table}: a store is copied into an empty record only")
    counts = {}
    with contextlib.closing(pg._adbc(url)) as a:
        cur = a.cursor()
        cur.execute("DELETE FROM meta WHERE key <> 'schema_version'")
        for table, columns in tables.items():
            select = ", ".join(f'"{c}"::SMALLINT[] AS "{c}"' if kind == "UTINYINT[]" else f'"{c}"'
                               for c, kind, _, _ in columns)
            where = (" WHERE key NOT IN (" + ", ".join(f"'{k}'" for k in pg.LOCAL_META) + ")") if table == "meta" else ""
            arrow = model.sql(f"SELECT {select} FROM {table}{where}").to_arrow_table()
            counts[table] = arrow.num_rows
            if arrow.num_rows:
                cur.adbc_ingest(table, arrow, mode="append")
        for seq, table, column in (("audit_seq", "audit_log", "audit_id"), ("ack_seq", "flag_acks", "ack_id")):
            cur.execute(f"SELECT setval('{seq}', coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)")
        a.commit()
    return counts


def _program(name: str) -> str:
    from kdash.store import pg_cluster
    folder = pg_cluster.bin_dir()
    found = (folder / name) if folder and (folder / name).exists() else shutil.which(name)
    if not found:
        raise StoreError(f"{name} is not installed (apt-get install -y postgresql-client)")
    return str(found)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    if pw := pg._password():
        env["PGPASSWORD"] = pw
    return env


def _digests(pgc, tables) -> dict:
    out = {}
    for table in tables:
        n, h = pgc.execute(f"SELECT count(*), coalesce(sum(hashtext(t::text)::bigint), 0)::text FROM {table} t"
                           ).fetchone()
        out[table] = {"rows": int(n), "content": h}
    return out


def backup_record(url: str, out: str, passphrase: str | None = None) -> dict:
    """pg_dump of the record into the new folder `out`, online: writers go on meanwhile."""
    target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise StoreError(f"{out} exists and is not empty; back up into a new folder")
    if passphrase is not None and len(passphrase) < 12:
        raise StoreError("a backup passphrase needs at least 12 characters")
    model = db.connect(":memory:")
    tables = list(pg.record_tables(model))
    model.close()
    pgc = pg.connect_record(url)
    try:
        # one snapshot for the counts, the hashes and pg_dump: under READ COMMITTED each count would see the
        # writers' later rows, and the restore's check would then find the dump short of the manifest
        from psycopg import IsolationLevel
        pgc.isolation_level = IsolationLevel.REPEATABLE_READ
        with pgc.transaction():
            snapshot = pgc.execute("SELECT pg_export_snapshot()").fetchone()[0]
            digests = _digests(pgc, tables)
            version = int(pgc.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
            with backup._owner_only():
                target.mkdir(parents=True, exist_ok=True)
                os.chmod(target, 0o700)
                plain = Path(tempfile.mkdtemp(prefix="kdash-backup-", dir=target.parent))
                try:
                    done = subprocess.run([_program("pg_dump"), "--format=custom", f"--snapshot={snapshot}",
                                           "--no-owner", "--no-privileges", "-f", str(plain / DUMP), url],
                                          capture_output=True, text=True, env=_env())
                    if done.returncode:
                        raise StoreError(f"pg_dump failed: {done.stderr.strip().splitlines()[-1:]}")
                    manifest = {"kdash_backup": 1, "kind": "pg_dump",
                                "made_at": dt.datetime.now().isoformat(timespec="seconds"),
                                "schema_version": version, "tables": digests}
                    data = (plain / DUMP).read_bytes()
                    key = None
                    if passphrase:
                        salt = os.urandom(16)
                        key = backup._key(passphrase, salt)
                        (target / (DUMP + ".enc")).write_bytes(backup._seal(key, data, DUMP))
                        manifest["encryption"] = {"cipher": "AES-256-GCM", "kdf": "scrypt", **backup.SCRYPT,
                                                  "salt": salt.hex(), "check": backup._seal(key, backup.CHECK,
                                                                                            "check").hex()}
                    else:
                        (target / DUMP).write_bytes(data)
                finally:
                    shutil.rmtree(plain, ignore_errors=True)
                manifest["files"] = {p.name: backup._sha256(p) for p in sorted(target.iterdir())
                                     if p.name != backup.MANIFEST}
                backup.sign(manifest, key)
                (target / backup.MANIFEST).write_text(json.dumps(manifest, indent=2))
                for f in target.iterdir():
                    os.chmod(f, 0o600)
    finally:
        pgc.close()
    return manifest


def restore_record(folder: str, url: str, passphrase: str | None = None) -> dict:
    """A backup (of a PostgreSQL record, or of an embedded store) into a database holding no kdash store yet."""
    manifest = backup.verify(folder)
    if manifest["schema_version"] > db.SCHEMA_VERSION:
        raise StoreError(f"the backup has schema version {manifest['schema_version']}; this kdash knows up to "
                         f"{db.SCHEMA_VERSION}")
    pg.check_url(url)
    if pg.has_schema(url):
        raise StoreError(f"{url} holds a kdash store already; restore into an empty database")
    if manifest.get("kind") != "pg_dump":      # an embedded store's backup: restore it to a file, then copy it
        with tempfile.TemporaryDirectory(prefix="kdash-restore-") as tmp:
            path = str(Path(tmp) / "store.duckdb")
            backup.restore(folder, path, passphrase)
            model = db.connect(path, create=False)
            try:
                push(model, url)
            finally:
                model.close()
        return manifest
    with backup._owner_only():
        source, plain, key = backup._readable(Path(folder), manifest, passphrase, Path(tempfile.gettempdir()))
        try:
            # pg_restore runs the statements of the dump: only a dump whose manifest is authenticated (under its
            # passphrase, or KDASH_BACKUP_KEY) is given to it, never one anyone who could write the folder made
            if not backup.authenticate(manifest, key, passphrase is not None):
                raise StoreError("a PostgreSQL backup is restored only when its manifest is authenticated: give its "
                                 f"passphrase, or set {backup.KEY_ENV} to the key it was made with")
            done = subprocess.run([_program("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction",
                                   "--exit-on-error", "-d", url, str(source / DUMP)],
                                  capture_output=True, text=True, env=_env())
            if done.returncode:
                raise StoreError(f"pg_restore failed: {done.stderr.strip().splitlines()[-1:]}")
        finally:
            if plain:
                shutil.rmtree(plain, ignore_errors=True)
    with contextlib.closing(pg.connect_record(url, autocommit=True)) as pgc:
        found = _digests(pgc, list(manifest["tables"]))
    for table, expected in manifest["tables"].items():
        if found[table] != expected:
            raise StoreError(f"restored table {table} differs from the backup ({found[table]['rows']} rows, "
                             f"expected {expected['rows']})")
    pg.ensure_schema(url)            # an older backup's schema is brought up to date
    return manifest
