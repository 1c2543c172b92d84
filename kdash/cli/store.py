"""The store itself: init, demo, info, backup, restore and a PostgreSQL store's settings."""


from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from kdash import settings
from kdash.cli.common import UsageError, emit, iso_date, os_user, positive, read_password
from kdash.store import db


def add_parsers(sub) -> None:
    p = sub.add_parser("init", help="create an empty store for a clinic's own data, with its first administrator")
    p.add_argument("--db")
    p.add_argument("--admin", help="the first administrator's user name (asked for when not given on a terminal; "
                                   "default admin)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("demo", help="build a synthetic demo clinic store")
    p.add_argument("--db", help="store path (default $KDASH_DB or data/kdash.duckdb)")
    p.add_argument("--patients", type=positive, default=400)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--as-of", type=iso_date, default=None, help="the demo's 'today' (default: today)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("info", help="store path, schema version and counts")
    p.add_argument("--db")
    p.add_argument("--json", action="store_true")
    p.add_argument("--calibration", action="store_true", help="add the demo's figures against their targets")
    p = sub.add_parser("backup", help="a consistent snapshot of a store: Parquet files, manifest, checksums")
    p.add_argument("--db")
    p.add_argument("--out", required=True, help="a new (or empty) folder")
    p.add_argument("--passphrase-file", help="encrypt the backup with the passphrase in this file "
                   "(or set KDASH_BACKUP_PASSPHRASE)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("restore", help="a new store from a backup folder (checksums checked first)")
    p.add_argument("folder")
    p.add_argument("--db", required=True, help="the new store's path (must not exist)")
    p.add_argument("--passphrase-file", help="the passphrase of an encrypted backup (or KDASH_BACKUP_PASSPHRASE)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("settings", help="a PostgreSQL store's clinic settings, shared by every replica")
    p.add_argument("--db")
    p.add_argument("--set", metavar="FILE", help="keep this TOML settings file in the record (every replica uses it)")
    p.add_argument("--clear", action="store_true", help="drop the record's settings (back to the defaults)")
    p.add_argument("--json", action="store_true")


def cmd_init(args) -> int:
    from kdash.access import users
    from kdash.store import clinic_store
    path = settings.store_path(args.db)
    if clinic_store.exists(path):
        raise db.StoreError(f"init: {path} exists already; init makes a new store (choose another --db)")
    cfg = settings.load(path)
    name = args.admin
    if name is None:
        name = (input("First administrator's user name [admin]: ").strip() or "admin") if sys.stdin.isatty() \
            else "admin"
    try:   # everything that can be wrong is checked before the store exists, so a refusal leaves no file
        name = users.check_name(name)
        password = read_password(f"Password for {name}: ")
        users.check_password(password, cfg, name)
    except users.UserError as exc:
        raise UsageError(f"init: {exc}") from None
    con = clinic_store.create(path, cfg)
    try:
        users.add(con, cfg, name, "admin", password, by=f"cli:{os.environ.get('USER', 'unknown')}")
    finally:
        con.close()
    emit(args, f"init: created {path} (empty, schema {db.SCHEMA_VERSION}) with administrator {name}; next: "
                f"python -m kdash import --db {path} FOLDER", {"store": path, "schema_version": db.SCHEMA_VERSION,
                                                             "admin": name})
    return 0


def cmd_demo(args) -> int:
    from kdash import demo
    path = settings.store_path(args.db)
    started = time.perf_counter()
    counts = demo.build(path, args.patients, args.seed, args.as_of)
    seconds = time.perf_counter() - started
    emit(args, f"demo: built {path} with {counts['patients']:,} patients and {counts['sessions']:,} "
                f"sessions in {seconds:.1f} s (seed {args.seed})", {"store": path, "seconds": round(seconds, 2), **counts})
    return 0


def cmd_info(args) -> int:
    from kdash.clinical import store_info
    path = settings.store_path(args.db)
    con = db.connect(path, read_only=True)
    try:
        doc = store_info.info(con, path)
        if args.calibration:
            doc["calibration"] = store_info.calibration(con, settings.load(path))
    finally:
        con.close()
    s = doc["sessions"]
    from kdash.store import pg
    doc["exposure"] = [] if pg.is_url(path) else db.exposure(path)
    for warning in doc["exposure"]:
        print(f"warning: {warning}", file=sys.stderr)
    emit(args, f"info: {path}: schema {doc['schema_version']}, {doc['patients']:,} patients, "
                f"{sum(s.values()):,} sessions ({s['completed']:,} completed)", doc)
    if args.calibration and not args.json:
        json.dump(doc["calibration"], sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


def _passphrase(args) -> str | None:
    """From --passphrase-file (its first line) or KDASH_BACKUP_PASSPHRASE; never from the command line itself,
    where other users of the machine could read it."""
    if args.passphrase_file:
        try:
            return Path(args.passphrase_file).read_text("utf-8").splitlines()[0]
        except (OSError, IndexError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the passphrase file {args.passphrase_file}: "
                             f"{getattr(exc, 'strerror', None) or 'empty or not text'}") from None
    return os.environ.get("KDASH_BACKUP_PASSPHRASE") or None


def cmd_backup(args) -> int:
    from kdash.store import backup, pg, pg_ops
    path = settings.store_path(args.db)
    if pg.is_url(path):
        manifest = pg_ops.backup_record(path, args.out, _passphrase(args))
    else:
        manifest = backup.backup(path, args.out, _passphrase(args))
    rows = sum(t["rows"] for t in manifest["tables"].values())
    emit(args, f"backup: {len(manifest['tables'])} tables, {rows:,} rows → {args.out}", manifest)
    return 0


def cmd_restore(args) -> int:
    from kdash.store import backup, pg, pg_ops
    if pg.is_url(args.db):
        manifest = pg_ops.restore_record(args.folder, args.db, _passphrase(args))
    else:
        manifest = backup.restore(args.folder, args.db, _passphrase(args))
    rows = sum(t["rows"] for t in manifest["tables"].values())
    emit(args, f"restore: {len(manifest['tables'])} tables, {rows:,} rows checked → {args.db}"
                + ("" if manifest.get("authenticated", True) else
                   " (the manifest is not authenticated: set KDASH_BACKUP_KEY when backing up, or use a passphrase)"),
          manifest)
    return 0


def cmd_settings(args) -> int:
    """Show, set or clear the clinic settings a PostgreSQL record holds (an embedded store reads settings.toml
    beside it, or KDASH_SETTINGS)."""
    from kdash.access import audit
    from kdash.store import pg
    path = settings.store_path(args.db)
    if not pg.is_url(path):
        raise UsageError("settings: only a PostgreSQL store keeps its settings in the record; an embedded store "
                         "reads settings.toml beside it, or the file named by KDASH_SETTINGS")
    text = None
    if args.set:
        try:
            text = Path(args.set).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"settings: cannot read {args.set}: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            settings.check_text(text)
        except ValueError as exc:
            raise UsageError(f"settings: {args.set}: {exc}") from None
    con = db.connect(path, create=False, derived=False)
    try:
        if args.set or args.clear:
            with db.transaction(con) as cur:
                if args.clear:
                    cur.execute("DELETE FROM meta WHERE key = $k", {"k": settings.RECORD_KEY})
                else:
                    cur.execute("INSERT OR REPLACE INTO meta VALUES ($k, $v)", {"k": settings.RECORD_KEY, "v": text})
                audit.log(cur, "settings_changed", username=os_user(), role="cli",
                          detail="cleared" if args.clear else args.set)
        current = db.meta(con, settings.RECORD_KEY) if not (args.set or args.clear) else text
    finally:
        db.close(con)
    verb = "cleared" if args.clear else "set from " + args.set if args.set else "shown"
    emit(args, f"settings: {verb}; every replica derives with them at its next pull", {"settings": current})
    if not args.json and current and not (args.set or args.clear):
        print(current)
    return 0


COMMANDS = {"init": cmd_init, "demo": cmd_demo, "info": cmd_info, "backup": cmd_backup, "restore": cmd_restore, "settings": cmd_settings}
