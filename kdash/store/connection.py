"""Opening a store and writing to it, whichever it is.

A path is an embedded DuckDB store (kdash/store/files.py). A postgresql:// URL is the clinic network's record,
read through a DuckDB model in this process (kdash/store/replica.py). Either way `connect` returns a DuckDB
connection the read layer uses as it is; `transaction` is the one write path, and it alone knows which kind of
store it writes to."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import duckdb

from kdash.store import files, reads, record, replica, writer
from kdash.store.errors import StoreError
from kdash.store.schema import SCHEMA_VERSION


def connect(path: str, *, read_only: bool = False, create: bool = True,
            upto: int = SCHEMA_VERSION, derived: bool = True) -> duckdb.DuckDBPyConnection:
    """Open a store and bring its schema up to date (a read-only open of an older store migrates it first).
    A PostgreSQL URL gives this process's read model of it (without derived tables: base rows only, for a CLI
    command that only writes or validates)."""
    if record.is_url(path):
        try:
            return replica.open_replica(path, create=create and not read_only, derived=derived)
        except record.RecordError as exc:
            raise StoreError(str(exc)) from None
    return files.open_file(path, read_only=read_only, create=create, upto=upto)


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """The one write path: everything inside commits together or not at all, one writer at a time in this
    process. On a PostgreSQL store the cursor writes to the record (any number of processes at once) and the
    read model pulls right after the commit."""
    rep = replica.replica_of(con)
    with writer._WRITER:
        if rep is None:
            with writer._transaction(con) as cur:
                yield cur
        else:
            with replica.write(rep) as cur:
                yield cur


def fresh(con: duckdb.DuckDBPyConnection) -> None:
    """Before a page run: a read model older than its max age pulls from the record (an embedded store is always
    current). A record that cannot be reached leaves the model as it is: the page says how old it is."""
    rep = replica.replica_of(con)
    if rep is not None and rep.stale():
        try:
            rep.pull()
        except record.RecordError as exc:
            rep.last_error = str(exc)
        else:
            rep.last_error = None


def on_change(con: duckdb.DuckDBPyConnection, listener: Callable[[set], None]) -> None:
    """Call listener after a pull brought in another process's writes (a read model; nothing for a file)."""
    rep = replica.replica_of(con)
    if rep is not None:
        rep.listeners.append(listener)


def record_row(con: duckdb.DuckDBPyConnection, text: str, params: dict | None = None) -> tuple | None:
    """The first row of a small query read from the record itself, never a model a few seconds old (a sign-in
    ended on another replica is over at this replica's next run)."""
    rep = replica.replica_of(con)
    if rep is None:
        return reads.row(con, text, params)
    return rep.record_row(text, params)


def close(con: duckdb.DuckDBPyConnection) -> None:
    replica.close(con)
    con.close()


def write(con: duckdb.DuckDBPyConnection, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
    with transaction(con) as cur:
        return fn(cur)


def is_demo(con: duckdb.DuckDBPyConnection) -> bool:
    """A store built by the demo generator (synthetic patients, published demo accounts)."""
    return reads.meta(con, "demo") == "true"
