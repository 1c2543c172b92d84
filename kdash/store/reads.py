"""Small reads on a fresh cursor (the app's sessions share one connection; a cursor is one thread's)."""

from __future__ import annotations

from typing import Any

import duckdb


def scalar(con: duckdb.DuckDBPyConnection, text: str, params: dict | None = None) -> Any:
    cur = con.cursor()
    try:
        row = cur.execute(text, params or {}).fetchone()
        return row[0] if row else None
    finally:
        cur.close()


def row(con: duckdb.DuckDBPyConnection, text: str, params: dict | None = None) -> tuple | None:
    """The first row of a small query on a fresh cursor (the app's sessions share one connection)."""
    cur = con.cursor()
    try:
        return cur.execute(text, params or {}).fetchone()
    finally:
        cur.close()


def meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    return scalar(con, "SELECT value FROM meta WHERE key = $k", {"k": key})
