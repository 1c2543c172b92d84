"""Backup and restore: a consistent snapshot of a store as Parquet files with a manifest of checksums.

A backup holds everything in the store: patients with their names, birth dates and MRNs, every session and
score, the audit log, the accounts with their password hashes, and the store's pseudonym key (which turns every
case code back into its patient). So its folder is the owner's only (0700, files 0600), and with a passphrase
(`--passphrase-file`, or KDASH_BACKUP_PASSPHRASE) each file is encrypted with AES-256-GCM under a key derived by
scrypt (the `cryptography` package); the manifest then holds only table names, counts and checksums.

`backup` writes every table as Parquet inside one read transaction (a consistent snapshot even while rows are being
added through the same process), then manifest.json: schema version, every table's row count and a content hash,
the sequences' positions, the SHA-256 of every file, and an HMAC of all of it under the passphrase (or under
KDASH_BACKUP_KEY for a backup without one), so a changed or downgraded manifest is refused.

`restore` never executes text from the folder (issue 31: a `COPY … TO` planted in an exported schema.sql ran as the
restoring user): the schema comes from this kdash's own migrations, each table is loaded from its Parquet file by a
fixed statement, by a table name this schema knows; then every table's row count and content hash is checked.
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

from kdash.store import db
from kdash.store.db import StoreError

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
            tables, version, sequences = _export(path, plain, target)
            manifest = {"kdash_backup": 1, "made_at": dt.datetime.now().isoformat(timespec="seconds"),
                        "schema_version": version, "sequences": sequences,
                        "tables": {t: {"rows": n, "content": digest} for t, (n, digest) in tables.items()}}
            key = None
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
        sign(manifest, key)
        (target / MANIFEST).write_text(json.dumps(manifest, indent=2))
        for f in target.iterdir():
            os.chmod(f, 0o600)
    return manifest


KEY_ENV = "KDASH_BACKUP_KEY"


def _mac_key(key: bytes | None) -> tuple[bytes, str] | None:
    """The key a manifest is authenticated with: derived from the passphrase's key, else from KDASH_BACKUP_KEY."""
    if key is not None:
        return hashlib.sha256(b"kdash manifest hmac" + key).digest(), "passphrase"
    secret = os.environ.get(KEY_ENV)
    if secret:
        return hashlib.sha256(b"kdash manifest hmac" + secret.encode("utf-8")).digest(), KEY_ENV
    return None


def _canonical(manifest: dict) -> bytes:
    return json.dumps({k: v for k, v in manifest.items() if k != "authentication"}, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


def sign(manifest: dict, key: bytes | None) -> None:
    import hmac
    found = _mac_key(key)
    if found:
        mac_key, by = found
        manifest["authentication"] = {"hmac": hmac.new(mac_key, _canonical(manifest), "sha256").hexdigest(),
                                      "key": by}


def authenticate(manifest: dict, key: bytes | None, passphrase_given: bool) -> bool:
    """Refuse a manifest that was changed or downgraded; True when it is authenticated. A passphrase given for a
    backup whose manifest says it is not encrypted is a downgrade; an encrypted backup made before manifests were
    authenticated has its files authenticated by AES-GCM; with KDASH_BACKUP_KEY set, a plain backup must carry an
    HMAC under it."""
    import hmac
    if passphrase_given and not manifest.get("encryption"):
        raise StoreError("a passphrase was given but the manifest says the backup is not encrypted: refused (a "
                         "manifest can be rewritten to look unencrypted)")
    auth = manifest.get("authentication")
    found = _mac_key(key)
    if auth is None:
        if found is not None and key is None:
            raise StoreError(f"the manifest is not authenticated under {KEY_ENV}: refused")
        return key is not None              # encrypted: every file is authenticated by AES-GCM
    if found is None:
        return False
    mac_key, by = found
    if auth.get("key") != by or not hmac.compare_digest(
            auth.get("hmac", ""), hmac.new(mac_key, _canonical(manifest), "sha256").hexdigest()):
        raise StoreError("the backup's manifest was changed since it was made (its HMAC does not match): refused")
    return True


def _export(path: str, into: Path, target: Path) -> tuple[dict, int, dict]:
    con = db.connect(path, create=False)
    try:
        cur = con.cursor()
        cur.execute("BEGIN TRANSACTION")          # counts, hashes and files from one snapshot
        try:
            tables = {t: table_digest(cur, t) for t in _tables(cur)}
            for t in tables:
                cur.execute(f"COPY (SELECT * FROM \"{t}\") TO '{_quoted(into / (t + '.parquet'))}' (FORMAT parquet)")
            sequences = {name: int(last) for name, last in cur.execute(
                "SELECT sequence_name, coalesce(last_value, 0) FROM duckdb_sequences() WHERE NOT temporary").fetchall()}
            return tables, db.schema_version(cur), sequences
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
    returns the manifest, with "authenticated" saying whether its manifest's origin was checked."""
    manifest = verify(folder)
    if manifest["schema_version"] > db.SCHEMA_VERSION:
        raise StoreError(f"the backup has schema version {manifest['schema_version']}; this kdash knows up to "
                         f"{db.SCHEMA_VERSION}")
    target = Path(path)
    if target.exists():
        raise StoreError(f"{path} exists; restore into a new store path")
    with _owner_only():
        source, plain, key = _readable(Path(folder), manifest, passphrase, target.parent)
        try:
            authenticated = authenticate(manifest, key, passphrase is not None)
            _import(source, manifest, target)
        finally:
            if plain:
                shutil.rmtree(plain, ignore_errors=True)
        os.chmod(target, 0o600)
    db.connect(path, create=False).close()   # an older backup's schema is brought up to date
    return {**manifest, "authenticated": authenticated}


def _readable(folder: Path, manifest: dict, passphrase: str | None,
              near: Path) -> tuple[Path, Path | None, bytes | None]:
    """The folder to import from: the backup itself, or its files decrypted into a private temporary folder; and
    the passphrase's key."""
    enc = manifest.get("encryption")
    if not enc:
        return folder, None, None
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
    return plain, plain, key


def _import(source: Path, manifest: dict, target: Path) -> None:
    """The schema from this kdash's migrations at the backup's version; each table's rows from its Parquet file by a
    fixed statement (never a statement from the folder); the sequences moved on to where they were."""
    partial = target.with_name(target.name + ".restoring")
    partial.unlink(missing_ok=True)
    try:
        con = db.connect(str(partial), upto=manifest["schema_version"])
        try:
            known = set(_tables(con))
            unknown = sorted(set(manifest["tables"]) - known)
            if unknown:
                raise StoreError(f"the backup names tables this kdash's schema has not: {', '.join(unknown)}")
            with db.transaction(con) as cur:
                for table in sorted(manifest["tables"]):
                    data = source / f"{table}.parquet"
                    if not data.is_file():
                        raise StoreError(f"backup file {table}.parquet is missing")
                    cur.execute(f'DELETE FROM "{table}"')            # rows a migration wrote (meta, derived)
                    cur.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM read_parquet($f)', {"f": str(data)})
                for name, last in (manifest.get("sequences") or _sequences_from(cur, manifest)).items():
                    if last > 0 and cur.execute("SELECT count(*) FROM duckdb_sequences() WHERE sequence_name = $s",
                                                {"s": name}).fetchone()[0]:
                        cur.execute(f"SELECT max(nextval('{_identifier(name)}')) FROM range($n)", {"n": int(last)})
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


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise StoreError(f"the backup names a sequence {name!r} that is not an identifier")
    return name


def _sequences_from(cur, manifest: dict) -> dict:
    """A backup made before the manifest kept its sequences: each sequence moves past the ids of its table."""
    out = {}
    for name, table, column in (("audit_seq", "audit_log", "audit_id"), ("ack_seq", "flag_acks", "ack_id")):
        if table in manifest["tables"]:
            out[name] = int(cur.execute(f'SELECT coalesce(max("{column}"), 0) FROM "{table}"').fetchone()[0])
    return out
