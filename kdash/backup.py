"""Backup and restore: a consistent snapshot of a store as Parquet files with a manifest of checksums.

A backup holds everything in the store: patients with their names, birth dates and MRNs, every session and
score, the audit log, the accounts with their password hashes, and the store's pseudonym key (which turns every
case code back into its patient). So its folder is the owner's only (0700, files 0600), and with a passphrase
(`--passphrase-file`, or KDASH_BACKUP_PASSPHRASE) each file is encrypted with AES-256-GCM under a key derived by
scrypt (the `cryptography` package); the manifest then holds only table names, counts and checksums.

`backup` runs DuckDB's EXPORT DATABASE inside one read transaction (a consistent snapshot even while
rows are being added through the same process), then writes manifest.json: schema version, every table's
row count and a content hash, and the SHA-256 of every file. `restore` checks those checksums first,
imports into a new store, and checks every table's row count and content hash against the manifest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import duckdb

from kdash import db
from kdash.db import StoreError

MANIFEST = "manifest.json"
SCRYPT = {"n": 2 ** 15, "r": 8, "p": 1}
CHECK = b"kdash backup passphrase check"


@contextlib.contextmanager
def _owner_only():
    """Files and folders made meanwhile are the owner's only (umask 077), whatever the shell's umask."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def _key(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    return Scrypt(salt=salt, length=32, **SCRYPT).derive(passphrase.encode("utf-8"))


def _seal(key: bytes, data: bytes, name: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, data, name.encode())      # the name is bound to its contents


def _open(key: bytes, sealed: bytes, name: str) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    try:
        return AESGCM(key).decrypt(sealed[:12], sealed[12:], name.encode())
    except InvalidTag:
        raise StoreError("the passphrase is wrong, or the backup's files were changed") from None


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


def backup(path: str, out: str, passphrase: str | None = None) -> dict:
    """Snapshot the store at `path` into the new folder `out` (owner-only; encrypted with a passphrase);
    returns the manifest."""
    target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise StoreError(f"{out} exists and is not empty; back up into a new folder")
    if passphrase is not None and len(passphrase) < 12:
        raise StoreError("a backup passphrase needs at least 12 characters")
    with _owner_only():
        target.mkdir(parents=True, exist_ok=True)
        os.chmod(target, 0o700)
        plain = Path(tempfile.mkdtemp(prefix="kdash-backup-", dir=target.parent)) if passphrase else target
        try:
            tables, version = _export(path, plain, target)
            manifest = {"kdash_backup": 1, "made_at": dt.datetime.now().isoformat(timespec="seconds"),
                        "schema_version": version,
                        "tables": {t: {"rows": n, "content": digest} for t, (n, digest) in tables.items()}}
            if passphrase:
                salt = os.urandom(16)
                key = _key(passphrase, salt)
                for f in sorted(plain.iterdir()):
                    (target / (f.name + ".enc")).write_bytes(_seal(key, f.read_bytes(), f.name))
                manifest["encryption"] = {"cipher": "AES-256-GCM", "kdf": "scrypt", **SCRYPT, "salt": salt.hex(),
                                          "check": _seal(key, CHECK, "check").hex()}
        finally:
            if plain != target:
                shutil.rmtree(plain, ignore_errors=True)
        manifest["files"] = {p.name: _sha256(p) for p in sorted(target.iterdir()) if p.name != MANIFEST}
        (target / MANIFEST).write_text(json.dumps(manifest, indent=2))
        for f in target.iterdir():
            os.chmod(f, 0o600)
    return manifest


def _export(path: str, into: Path, target: Path) -> tuple[dict, int]:
    con = db.connect(path, create=False)
    try:
        cur = con.cursor()
        cur.execute("BEGIN TRANSACTION")          # counts, hashes and files from one snapshot
        try:
            tables = {t: table_digest(cur, t) for t in _tables(cur)}
            cur.execute(f"EXPORT DATABASE '{_quoted(into)}' (FORMAT parquet)")
            return tables, db.schema_version(cur)
        finally:
            cur.execute("ROLLBACK")
            cur.close()
    except duckdb.Error as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise StoreError(f"backup failed: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


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


def restore(folder: str, path: str, passphrase: str | None = None) -> dict:
    """Rebuild a store at the new path `path` from a verified backup (its passphrase if it is encrypted);
    returns the manifest."""
    manifest = verify(folder)
    if manifest["schema_version"] > db.SCHEMA_VERSION:
        raise StoreError(f"the backup has schema version {manifest['schema_version']}; this kdash knows up to "
                         f"{db.SCHEMA_VERSION}")
    target = Path(path)
    if target.exists():
        raise StoreError(f"{path} exists; restore into a new store path")
    with _owner_only():
        source, plain = _readable(Path(folder), manifest, passphrase, target.parent)
        try:
            _import(source, manifest, target)
        finally:
            if plain:
                shutil.rmtree(plain, ignore_errors=True)
        os.chmod(target, 0o600)
    db.connect(path, create=False).close()   # an older backup's schema is brought up to date
    return manifest


def _readable(folder: Path, manifest: dict, passphrase: str | None, near: Path) -> tuple[Path, Path | None]:
    """The folder to import from: the backup itself, or its files decrypted into a private temporary folder."""
    enc = manifest.get("encryption")
    if not enc:
        return folder, None
    if not passphrase:
        raise StoreError("this backup is encrypted: give its passphrase (--passphrase-file or "
                         "KDASH_BACKUP_PASSPHRASE)")
    key = _key(passphrase, bytes.fromhex(enc["salt"]))
    if _open(key, bytes.fromhex(enc["check"]), "check") != CHECK:
        raise StoreError("the passphrase is wrong")
    plain = Path(tempfile.mkdtemp(prefix="kdash-restore-", dir=near if near.exists() else None))
    try:
        for name in manifest["files"]:
            original = name.removesuffix(".enc")
            (plain / original).write_bytes(_open(key, (folder / name).read_bytes(), original))
    except Exception:
        shutil.rmtree(plain, ignore_errors=True)
        raise
    return plain, plain


def _import(source: Path, manifest: dict, target: Path) -> None:
    partial = target.with_name(target.name + ".restoring")
    partial.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(partial))
        try:
            con.execute(f"IMPORT DATABASE '{_quoted(source)}'")
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
