"""A clinic's own store (data-contract §1–2, `init`): empty, migrated, not a demo store, no accounts yet."""

from __future__ import annotations

from pathlib import Path

import duckdb

from kdash import settings
from kdash.store import db, derived, pg


def create(path: str, cfg: dict | None = None) -> duckdb.DuckDBPyConnection:
    """A new, empty store at `path` (which must not exist), marked as a clinic's own (never a demo store), with the
    settings-stamped tables stamped, so that the first import keeps them current instead of leaving them stale."""
    if exists(path):
        raise db.StoreError(f"{path} exists already; init makes a new store (choose another --db)")
    con = db.connect(path)
    with db.transaction(con) as cur:
        cur.execute("INSERT OR REPLACE INTO meta VALUES ('demo', 'false')")
        derived.refresh_stamped(con, cur, cfg or settings.load(path), None)
    return con


def _record_exists(url: str) -> bool:
    try:
        return pg.has_schema(url)
    except pg.RecordError as exc:
        raise db.StoreError(str(exc)) from None


def exists(path: str) -> bool:
    """A store is there already: a file, or a PostgreSQL database holding kdash's tables."""
    return _record_exists(path) if pg.is_url(path) else Path(path).exists()
