"""The one writer of this process and the DuckDB transaction every write runs in.

DuckDB would fail the second of two overlapping writes to the same derived rows with a conflict, so the dashboard's
sessions (one shared connection) write one at a time. A PostgreSQL write cursor says so (`derived_later`): its
derived rows are rebuilt by the read model's pull after the commit."""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import duckdb
import pandas as pd


# One writer at a time in this process (the dashboard's sessions share one connection): DuckDB would
# otherwise fail the second of two overlapping writes to the same derived rows with a conflict.
_WRITER = threading.RLock()


@contextlib.contextmanager
def local_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """A transaction on this process's DuckDB (the embedded store, or a read model's derived tables)."""
    with _WRITER:
        with _transaction(con) as cur:
            yield cur


@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    cur = con.cursor()
    cur.execute("BEGIN TRANSACTION")
    try:
        yield cur
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    else:
        cur.execute("COMMIT")
    finally:
        cur.close()


def is_record(cur) -> bool:
    """A write cursor on a PostgreSQL record: derived rows are rebuilt by the pull after its commit."""
    return getattr(cur, "derived_later", False)


def stage(cur, name: str, rows: list[dict], columns: list[str], like: str) -> None:
    """Rows as a table `name` for an INSERT … SELECT inside a write (a registered frame, or a temp table)."""
    if is_record(cur):
        cur.stage(name, rows, columns, like)
    else:
        cur.register(name, pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns))


def unstage(cur, name: str) -> None:
    if is_record(cur):
        cur.unstage(name)
    else:
        cur.unregister(name)
