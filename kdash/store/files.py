"""The embedded store: a DuckDB file (or :memory:), opened offline, owner-only, migrated."""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from kdash.store.errors import StoreError
from kdash.store.schema import SCHEMA_VERSION, migrate, schema_version


# Clinics run offline: never fetch an extension.
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


_LOCK_HINT = re.compile(r"lock", re.IGNORECASE)


def _explain(path: str, exc: Exception) -> StoreError:
    text = str(exc)
    if "not a valid DuckDB database" in text:
        return StoreError(f"{path} is not a kdash store (not a DuckDB database file)")
    if _LOCK_HINT.search(text):
        return StoreError(f"the store {path} is open in another process (the dashboard?), and DuckDB lets only "
                          "that process use a store it writes: work through the dashboard's pages (Import, Users, "
                          "the reports) or stop it first")
    if "version" in text.lower() and "storage" in text.lower():
        return StoreError(f"{path} was written by an incompatible DuckDB version")
    return StoreError(f"cannot open the store {path}: {text.splitlines()[0]}")


def private_files() -> None:
    """Every file this process makes from now on is its owner's only (umask 077): the store and its WAL (DuckDB
    makes the WAL anew after each checkpoint), temporary files, exports, rejects files. A store holds every patient,
    the password hashes and the pseudonym key (issue 31)."""
    os.umask(0o077)


def owner_only(path: str) -> None:
    """The store file and its WAL, 0600 (a store made by an earlier kdash under umask 022 is tightened too)."""
    for f in (Path(path), Path(path + ".wal")):
        try:
            if f.exists() and f.stat().st_uid == os.getuid() and f.stat().st_mode & 0o077:
                os.chmod(f, 0o600)
        except OSError:
            pass


def exposure(path: str) -> list[str]:
    """Why a store's files or folder can be read by other users of the machine (for `info`), or nothing."""
    out = []
    for f in (Path(path), Path(path + ".wal")):
        if f.exists() and f.stat().st_mode & 0o077:
            out.append(f"{f} is readable or writable by other users (mode {f.stat().st_mode & 0o777:o}); "
                       f"chmod 600 {f}")
    folder = Path(path).resolve().parent
    if folder.exists() and folder.stat().st_mode & 0o007:
        out.append(f"the folder {folder} is open to every user of the machine (mode "
                   f"{folder.stat().st_mode & 0o777:o}); chmod 700 {folder}")
    return out


def open_file(path: str, *, read_only: bool = False, create: bool = True,
              upto: int = SCHEMA_VERSION) -> duckdb.DuckDBPyConnection:
    """Open an embedded store (a DuckDB file, or :memory:) and bring its schema up to date (a read-only open of
    an older store migrates it first)."""
    if path != ":memory:":
        private_files()
        p = Path(path)
        if not p.exists() and (read_only or not create):
            raise StoreError(f"no store at {path} (make a clinic's own store with: python -m kdash init --db {path}; "
                             f"or a synthetic one with: python -m kdash demo --db {path})")
        if p.is_dir():
            raise StoreError(f"{path} is a folder, not a store file")
        if not p.exists():
            parent = p.resolve().parent
            try:
                if not parent.exists():
                    parent.mkdir(parents=True, mode=0o700)
            except OSError as exc:
                raise StoreError(f"cannot create the folder {parent}: {exc.strerror}") from None
            if not os.access(parent, os.W_OK):
                raise StoreError(f"cannot write a store in {parent}: permission denied")
    try:
        con = duckdb.connect(path, read_only=read_only, config=dict(_CONFIG))
    except duckdb.Error as exc:
        raise _explain(path, exc) from None
    if path != ":memory:" and not read_only:
        owner_only(path)
    if not read_only:
        migrate(con, upto=upto)
        return con
    version = schema_version(con)
    if version == 0:
        con.close()
        raise StoreError(f"{path} is not a kdash store (no kdash tables)")
    if version < upto:       # a store from an earlier kdash: bring it up to date once, then read
        con.close()
        open_file(path, upto=upto).close()
        return open_file(path, read_only=True, upto=upto)
    return con
