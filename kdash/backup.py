"""Backup and restore: a consistent snapshot of a store as Parquet files with a manifest of checksums.

`backup` runs DuckDB's EXPORT DATABASE inside one read transaction (a consistent snapshot even while
rows are being added through the same process), then writes manifest.json: schema version, every table's
row count and a content hash, and the SHA-256 of every file. `restore` checks those checksums first,
imports into a new store, and checks every table's row count and content hash against the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import duckdb

from kdash import db
from kdash.db import StoreError

MANIFEST = "manifest.json"


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary "
                                      "ORDER BY table_name").fetchall()]


def table_digest(con: duckdb.DuckDBPyConnection, table: str) -> tuple[int, str]:
    """Row count and an order-independent hash of every row's content."""
    n, digest = con.execute(f'SELECT count(*), coalesce(bit_xor(hash(t)), 0)::VARCHAR || \':\' || '
                            f'coalesce(sum(hash(t) % 1000003), 0)::VARCHAR FROM "{table}" t').fetchone()
    return int(n), digest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def backup(path: str, out: str) -> dict:
    """Snapshot the store at `path` into the new folder `out`; returns the manifest."""
    target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise StoreError(f"{out} exists and is not empty; back up into a new folder")
    con = db.connect(path, create=False)
    try:
        cur = con.cursor()
        cur.execute("BEGIN TRANSACTION")          # counts, hashes and files from one snapshot
        try:
            tables = {t: table_digest(cur, t) for t in _tables(cur)}
            target.mkdir(parents=True, exist_ok=True)
            cur.execute(f"EXPORT DATABASE '{_quoted(target)}' (FORMAT parquet)")
            version = db.schema_version(cur)
        finally:
            cur.execute("ROLLBACK")
            cur.close()
    except duckdb.Error as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise StoreError(f"backup failed: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    manifest = {"kdash_backup": 1, "made_at": dt.datetime.now().isoformat(timespec="seconds"),
                "schema_version": version,
                "tables": {t: {"rows": n, "content": digest} for t, (n, digest) in tables.items()},
                "files": {p.name: _sha256(p) for p in sorted(target.iterdir()) if p.name != MANIFEST}}
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def _quoted(p: Path) -> str:
    return str(p.resolve()).replace("'", "''")


def verify(folder: str) -> dict:
    """The manifest of a backup folder whose files are all present and unchanged (else StoreError)."""
    src = Path(folder)
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError:
        raise StoreError(f"{folder} is not a kdash backup (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"{folder}/{MANIFEST} cannot be read: {exc}") from None
    if manifest.get("kdash_backup") != 1:
        raise StoreError(f"{folder}/{MANIFEST} is not a kdash backup manifest")
    for name, digest in manifest["files"].items():
        f = src / name
        if not f.exists():
            raise StoreError(f"backup file {name} is missing from {folder}")
        if _sha256(f) != digest:
            raise StoreError(f"backup file {name} does not match its checksum: the backup is damaged")
    return manifest


def restore(folder: str, path: str) -> dict:
    """Rebuild a store at the new path `path` from a verified backup; returns the manifest."""
    manifest = verify(folder)
    if manifest["schema_version"] > db.SCHEMA_VERSION:
        raise StoreError(f"the backup has schema version {manifest['schema_version']}; this kdash knows up to "
                         f"{db.SCHEMA_VERSION}")
    target = Path(path)
    if target.exists():
        raise StoreError(f"{path} exists; restore into a new store path")
    partial = target.with_name(target.name + ".restoring")
    partial.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(partial))
        try:
            con.execute(f"IMPORT DATABASE '{_quoted(Path(folder))}'")
            for table, expected in manifest["tables"].items():
                n, digest = table_digest(con, table)
                if (n, digest) != (expected["rows"], expected["content"]):
                    raise StoreError(f"restored table {table} differs from the backup ({n} rows, expected "
                                     f"{expected['rows']})")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        partial.rename(target)           # the store appears only once it is whole
    except duckdb.Error as exc:
        raise StoreError(f"restore failed: {str(exc).splitlines()[0]}") from None
    finally:
        partial.unlink(missing_ok=True)
        Path(str(partial) + ".wal").unlink(missing_ok=True)
    db.connect(path, create=False).close()   # an older backup's schema is brought up to date
    return manifest
