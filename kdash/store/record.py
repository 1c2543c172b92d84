"""PostgreSQL as the system of record (issue 21): its connection, its schema and triggers, and kdash's SQL in its
dialect. The read model that each process keeps of it is kdash/store/replica.py.

A `postgresql://` store URL makes PostgreSQL hold the record: the base tables, written by any number of app
processes and CLI commands at once, each write in one PostgreSQL transaction. Every process keeps a DuckDB read
model in memory: the same schema as an embedded store, its base tables copied from PostgreSQL (Arrow, through
ADBC) and its derived tables built by the same code as an embedded store's. Every page query then runs on DuckDB
unchanged.

The model is kept current by pulls. A statement trigger on every base table writes, in the writing transaction,
which patients (or which small table, or which audit rows) it changed into `kdash_changes`, with the
transaction's id (`xid8`). A pull reads, in one repeatable-read snapshot, the changes committed since the
snapshot of the previous pull (visible now, not visible then), re-reads those patients' rows whole — so edits and
deletes need no tombstone of their own — and rebuilds their derived rows locally. The process that commits a
write pulls at once, so its user sees the write and its flags immediately; pages pull when the model is older than
`store.max_age_seconds` (default 5 s).

The URL never carries a password (it shows in messages and process lists): libpq reads PGPASSWORD or ~/.pgpass,
and KDASH_DB_PASSWORD_FILE names a secret file (Docker or systemd credentials)."""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any
from urllib.parse import quote, urlsplit

import duckdb
import pandas as pd

from kdash.store import files
from kdash.store.errors import StoreError
from kdash.store.schema import SCHEMA_VERSION


SCHEMES = ("postgresql://", "postgres://")


# Tables every read model derives for itself (kdash/store/derived.py, flag_log.py, course_scores.py): never in PostgreSQL.
DERIVED = ("score_points", "session_facts", "course_facts", "effect_facts", "flag_log", "course_scores")


# Meta keys that describe a read model's own derived tables, not the record.
LOCAL_META = ("schema_version", "flag_log_settings", "course_scores_settings", "derived_phase_settings")


# Small tables a pull re-reads whole when they change; audit rows are pulled by id; every other base table is
# patient-scoped (a patient_id column, or side_effects through its session).
WHOLE = ("meta", "chairs", "users", "signins")


AUDIT = "audit_log"


_LOCK_KEY = 2117_0021          # pg_advisory_xact_lock key for schema changes


class RecordError(StoreError):
    """A PostgreSQL problem, in one line for a person."""


def is_url(path: str | None) -> bool:
    return bool(path) and str(path).startswith(SCHEMES)


def _password() -> str | None:
    path = os.environ.get("KDASH_DB_PASSWORD_FILE")
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError as exc:
        raise RecordError(f"cannot read the password file named by KDASH_DB_PASSWORD_FILE: {exc.strerror}") from None


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.password is not None:
        raise RecordError("the store URL carries a password; give it in PGPASSWORD, ~/.pgpass or a file named by "
                          "KDASH_DB_PASSWORD_FILE instead (a URL shows in messages and process lists)")
    if not parts.hostname or not parts.path.strip("/"):
        raise RecordError(f"a PostgreSQL store URL names a host and a database: postgresql://USER@HOST:PORT/DB, "
                          f"not {url}")


def _explain(url: str, exc: Exception) -> RecordError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    first = re.sub(r"password=\S+", "password=…", first)
    return RecordError(f"cannot reach the store {url}: {first}")


def connect_record(url: str, *, autocommit: bool = False):
    """A psycopg connection to the record (the password from the environment, never the URL)."""
    import psycopg
    check_url(url)
    kwargs = {"password": pw} if (pw := _password()) else {}
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10, application_name="kdash", **kwargs)
    except psycopg.Error as exc:
        raise _explain(url, exc) from None


def _adbc(url: str):
    import adbc_driver_postgresql.dbapi as adbc
    check_url(url)
    uri = url
    if pw := _password():
        parts = urlsplit(url)
        uri = url.replace(f"{parts.username}@", f"{parts.username}:{quote(pw, safe='')}@", 1)
    try:
        return adbc.connect(uri)
    except Exception as exc:         # the driver's errors carry no common base class worth naming
        raise _explain(url, exc) from None


_TYPES = {"VARCHAR": "text", "DOUBLE": "double precision", "UTINYINT[]": "smallint[]", "INTEGER": "integer",
          "BIGINT": "bigint", "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp"}


def record_tables(model: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """table → [(column, DuckDB type, default, nullable)] for every base table of a migrated model."""
    rows = model.execute(
        "SELECT table_name, column_name, data_type, column_default, is_nullable = 'YES' FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
    out: dict[str, list[tuple]] = {}
    for table, column, kind, default, nullable in rows:
        if table not in DERIVED:
            out.setdefault(table, []).append((column, kind, default, nullable))
    return out


def patient_tables(tables: dict[str, list[tuple]]) -> list[str]:
    return sorted(t for t, cols in tables.items() if t not in WHOLE and t != AUDIT)


def _ddl(model: duckdb.DuckDBPyConnection, table: str, columns: list[tuple]) -> str:
    constraints = model.execute(
        "SELECT constraint_type, constraint_text FROM duckdb_constraints() WHERE table_name = $t "
        "AND constraint_type IN ('PRIMARY KEY', 'CHECK')", {"t": table}).fetchall()
    parts = []
    for column, kind, default, nullable in columns:
        part = f'"{column}" {_TYPES[kind]}'
        if default is not None:
            part += f" DEFAULT {default}"
        if not nullable:
            part += " NOT NULL"
        parts.append(part)
    parts += [text for _, text in constraints]
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(parts)})"


def _trigger_sql(table: str, columns: list[str]) -> list[str]:
    """Statement triggers writing which rows a statement changed into kdash_changes (in its own transaction)."""
    if table in WHOLE:
        select = {"ins": f"SELECT 'table', '{table}', '{table}'", "del": f"SELECT 'table', '{table}', '{table}'"}
    elif table == AUDIT:
        select = {"ins": f"SELECT 'audit', audit_id::text, '{table}' FROM new_rows",
                  "del": f"SELECT 'audit', audit_id::text, '{table}' FROM old_rows"}
    elif "patient_id" in columns:
        select = {"ins": f"SELECT DISTINCT 'patient', patient_id, '{table}' FROM new_rows",
                  "del": f"SELECT DISTINCT 'patient', patient_id, '{table}' FROM old_rows"}
    else:                       # side_effects: the patient of the session
        select = {k: f"SELECT DISTINCT 'patient', s.patient_id, '{table}' FROM {rows} r "
                     "JOIN sessions s USING (session_id)" for k, rows in (("ins", "new_rows"), ("del", "old_rows"))}
    out = []
    for event, rows, kinds in (("INSERT", "NEW TABLE AS new_rows", ("ins",)),
                               ("DELETE", "OLD TABLE AS old_rows", ("del",)),
                               ("UPDATE", "NEW TABLE AS new_rows OLD TABLE AS old_rows", ("ins", "del"))):
        fn = f"kdash_log_{table}_{event.lower()}"
        body = " UNION ".join(select[k] for k in kinds)
        out += [f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"INSERT INTO kdash_changes (kind, key, tbl) {body}; RETURN NULL; END $$",
                f"DROP TRIGGER IF EXISTS {fn} ON {table}",
                f"CREATE TRIGGER {fn} AFTER {event} ON {table} REFERENCING {rows} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {fn}()"]
    return out


def has_schema(url: str) -> bool:
    with contextlib.closing(connect_record(url, autocommit=True)) as pg:
        return pg.execute("SELECT to_regclass('public.kdash_changes') IS NOT NULL").fetchone()[0]


def ensure_schema(url: str) -> None:
    """Create (or bring up to date) the record's tables, sequences, change log and triggers, and its shared meta
    rows; one process at a time (an advisory lock), idempotent."""
    model = files.open_file(":memory:")
    try:
        tables = record_tables(model)
        meta = dict(model.execute("SELECT key, value FROM meta").fetchall())
        statements = ["CREATE TABLE IF NOT EXISTS kdash_changes (xid xid8 NOT NULL DEFAULT pg_current_xact_id(), "
                      "kind text NOT NULL, key text NOT NULL)",
                      "ALTER TABLE kdash_changes ADD COLUMN IF NOT EXISTS tbl text",
                      "CREATE INDEX IF NOT EXISTS kdash_changes_xid ON kdash_changes (xid)",
                      # the change log's pruning (prune_changes): horizons taken, and the one pruned below
                      "CREATE TABLE IF NOT EXISTS kdash_horizons (taken_at timestamptz NOT NULL DEFAULT now(), "
                      "oldest xid8 NOT NULL)",
                      "CREATE TABLE IF NOT EXISTS kdash_pruned (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
                      "below xid8 NOT NULL)"]
        for table, columns in tables.items():
            for _, _, default, _ in columns:
                if default and (m := re.match(r"nextval\('(\w+)'\)", default)):
                    statements.append(f"CREATE SEQUENCE IF NOT EXISTS {m.group(1)}")
            statements.append(_ddl(model, table, columns))
            for column, kind, default, nullable in columns:   # columns added by later migrations
                statements.append(f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "{column}" {_TYPES[kind]}'
                                  + (f" DEFAULT {default}" if default is not None else ""))
        statements.append("CREATE INDEX IF NOT EXISTS sessions_patient ON sessions (patient_id)")
        for table, columns in tables.items():
            if table not in WHOLE and table != AUDIT and any(c[0] == "patient_id" for c in columns) \
                    and table not in ("patients", "sessions"):
                statements.append(f"CREATE INDEX IF NOT EXISTS {table}_patient ON {table} (patient_id)")
        statements.append("CREATE INDEX IF NOT EXISTS side_effects_session ON side_effects (session_id)")
        for table, columns in tables.items():
            statements += _trigger_sql(table, [c[0] for c in columns])
    finally:
        model.close()
    pg = connect_record(url)
    try:
        with pg.transaction():
            pg.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            version = None
            if pg.execute("SELECT to_regclass('public.meta') IS NOT NULL").fetchone()[0]:
                row = pg.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                version = int(row[0]) if row else None
            if version is not None and version > SCHEMA_VERSION:
                raise RecordError(f"the store has schema version {version}; this kdash knows up to "
                                  f"{SCHEMA_VERSION}")
            for s in statements:
                pg.execute(s)
            for key, value in meta.items():      # the pseudonym secret: one per store, shared by every replica
                if key not in LOCAL_META:
                    pg.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT DO NOTHING", (key, value))
            pg.execute("INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key) DO UPDATE "
                       "SET value = EXCLUDED.value", (str(SCHEMA_VERSION),))
    except Exception as exc:
        if isinstance(exc, RecordError):
            raise
        raise _explain(url, exc) from None
    finally:
        pg.close()


_NAMED = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


_REPLACE_META = re.compile(r"INSERT OR REPLACE INTO meta VALUES\s*\((.*)\)\s*$", re.S | re.I)


_LIST_CONTAINS = re.compile(r"list_contains\(\$(\w+),\s*([\w.]+)\)")


def translate(text: str, params: Any) -> tuple[str, Any]:
    """DuckDB's dialect of the write statements to psycopg's: $name and ? placeholders, INSERT OR REPLACE on meta,
    list_contains."""
    text = _LIST_CONTAINS.sub(lambda m: f"{m.group(2)} = ANY(${m.group(1)})", text)
    if m := _REPLACE_META.match(text.strip()):
        text = f"INSERT INTO meta VALUES ({m.group(1)}) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
    if params is None:
        return text, None
    text = text.replace("%", "%%")
    if isinstance(params, dict):
        return _NAMED.sub(lambda m: f"%({m.group(1)})s", text), {k: _value(v) for k, v in params.items()}
    return text.replace("?", "%s"), [_value(v) for v in params]


def _value(v):
    """Python values psycopg adapts (numpy scalars and pandas times from frames; NaN/NaT as NULL)."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v.to_pydatetime()
    if hasattr(v, "item") and not isinstance(v, (list, tuple, str, bytes)):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    return v


class RecordCursor:
    """The cursor a write transaction gets on a PostgreSQL store: the same calls as a DuckDB cursor (execute, then
    fetchall / fetchone / df). Derived tables are not in the record: derived.refresh and its kin skip themselves
    on it (`derived_later`) and the pull after the commit rebuilds them in the read model."""

    derived_later = True

    def __init__(self, pg):
        self._pg = pg
        self._cur = pg.cursor()

    def execute(self, text: str, params: Any = None) -> "RecordCursor":
        query, args = translate(text, params)
        self._cur.execute(query, args)
        return self

    def fetchall(self) -> list[tuple]:
        return self._cur.fetchall() if self._cur.description else []

    def fetchone(self):
        return self._cur.fetchone() if self._cur.description else None

    def df(self) -> pd.DataFrame:
        columns = [d.name for d in self._cur.description or []]
        return pd.DataFrame(self._cur.fetchall(), columns=columns)

    def cursor(self) -> "RecordCursor":
        return RecordCursor(self._pg)

    def stage(self, name: str, rows: list[dict], columns: list[str], like: str) -> None:
        """A temporary table `name` of these rows, with `like`'s column types, for an INSERT … SELECT."""
        cols = ", ".join(columns)
        self._cur.execute(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS SELECT {cols} FROM {like} WITH NO DATA")
        with self._cur.copy(f"COPY {name} ({cols}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([_value(r.get(c)) for c in columns])

    def unstage(self, name: str) -> None:
        self._cur.execute(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        self._cur.close()


def _write_error(exc) -> Exception:
    """A refused write as the embedded store would refuse it (a constraint names the problem)."""
    import psycopg
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, psycopg.errors.IntegrityError):
        return duckdb.ConstraintException(f"Constraint Error: {first}")
    return StoreError(f"the store refused the write: {first}")
