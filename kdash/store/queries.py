"""Named queries: kdash/store/sql/NAME.sql with {{includes}} and $parameters, run on a fresh cursor (or on one
Shared cursor whose includes are computed once, as temp tables)."""

from __future__ import annotations

import re
from importlib import resources

import duckdb
import pandas as pd

from kdash.store import freshness


_INCLUDE = re.compile(r"\{\{([a-z_]+)\}\}")


def sql(name: str, shared: frozenset[str] = frozenset()) -> str:
    """A named query from kdash/store/sql/NAME.sql, with any {{other}} replaced by sql/other.sql (or, for an
    include already materialised on a Shared cursor, by a read of its temp table)."""
    text = resources.files("kdash.store").joinpath("sql", f"{name}.sql").read_text("utf-8")
    return _INCLUDE.sub(lambda m: f"SELECT * FROM shared_{m.group(1)}" if m.group(1) in shared
                        else sql(m.group(1), shared), text)


class Shared:
    """One cursor on which named includes (a cohort, its course outcomes) are computed once, as temp tables,
    and read by every query run through it: a page's several statistics over one cohort then share that
    work instead of each re-deriving it. Temp tables belong to the cursor and go when it closes."""

    def __init__(self, con: duckdb.DuckDBPyConnection, params: dict, includes: list[str]):
        self.cursor, self.params, self.includes = con.cursor(), params, frozenset()
        try:
            for name in includes:   # in dependency order: later ones read the earlier tables
                text = sql(name, self.includes)
                self.cursor.execute(f"CREATE TEMP TABLE shared_{name} AS {text}", bind(text, params, con))
                self.includes |= {name}
        except BaseException:
            self.cursor.close()
            raise

    def __enter__(self) -> "Shared":
        return self

    def __exit__(self, *exc) -> None:
        self.cursor.close()


_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def bind(text: str, params: dict, con: duckdb.DuckDBPyConnection | None = None) -> dict:
    """The parameters a composed query names (DuckDB refuses unused ones). A query reading course scores
    learns from the store (con) whether the stored ones were built with these settings."""
    names = set(_PARAM.findall(text))
    bound = {k: v for k, v in params.items() if k in names}
    if "scores_current" in names and "scores_current" not in bound:
        bound["scores_current"] = con is not None and freshness.is_current(con, params)
    return bound


def query(con: "duckdb.DuckDBPyConnection | Shared", name: str, params: dict | None = None) -> pd.DataFrame:
    """Run a named query on a fresh cursor (or on a Shared one, reading its includes) and return its rows."""
    if isinstance(con, Shared):
        text = sql(name, con.includes)
        return con.cursor.execute(text, bind(text, params or {}, con.cursor)).df()
    text = sql(name)
    cur = con.cursor()
    try:
        return cur.execute(text, bind(text, params or {}, con)).df()
    finally:
        cur.close()


def parallel(functions, con, cfg, kwargs: dict) -> list:
    """Run independent query functions on a small thread pool (DuckDB releases the GIL; one cursor each)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(fn, con, cfg, **kwargs) for fn in functions]
        return [f.result() for f in futures]
