"""PostgreSQL as the system of record, and a DuckDB read model in each process (issue 21).

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
import threading
import time
import weakref
from typing import Any, Iterator
from urllib.parse import quote, urlsplit

import duckdb
import pandas as pd

from kdash.store.db import StoreError

SCHEMES = ("postgresql://", "postgres://")

# Tables every read model derives for itself (kdash/store/derived.py, flag_log.py, course_scores.py): never in PostgreSQL.
DERIVED = ("score_points", "session_facts", "course_facts", "effect_facts", "flag_log", "course_scores")
# Meta keys that describe a read model's own derived tables, not the record.
LOCAL_META = ("schema_version", "flag_log_settings", "course_scores_settings", "derived_phase_settings")
# Small tables a pull re-reads whole when they change; audit rows are pulled by id; every other base table is
# patient-scoped (a patient_id column, or side_effects through its session).
WHOLE = ("meta", "chairs", "users", "signins")
AUDIT = "audit_log"
# Above this many changed patients a pull re-reads the patient tables whole (an import on another replica).
BULK_PATIENTS = 2000
_LOCK_KEY = 2117_0021          # pg_advisory_xact_lock key for schema changes
_PRUNE_KEY = 2117_0022         # … and for pruning the change log (one process at a time, the others skip it)
PRUNE_EVERY = 3600.0           # seconds between a replica's turns at pruning the change log


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


# ---------------------------------------------------------------------------------------------------------------
# The schema: the base tables of an embedded store's migrations, translated.

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
    from kdash.store import db
    model = db.connect(":memory:")
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
            if version is not None and version > db.SCHEMA_VERSION:
                raise RecordError(f"the store has schema version {version}; this kdash knows up to "
                                  f"{db.SCHEMA_VERSION}")
            for s in statements:
                pg.execute(s)
            for key, value in meta.items():      # the pseudonym secret: one per store, shared by every replica
                if key not in LOCAL_META:
                    pg.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT DO NOTHING", (key, value))
            pg.execute("INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key) DO UPDATE "
                       "SET value = EXCLUDED.value", (str(db.SCHEMA_VERSION),))
    except Exception as exc:
        if isinstance(exc, RecordError):
            raise
        raise _explain(url, exc) from None
    finally:
        pg.close()


# ---------------------------------------------------------------------------------------------------------------
# Writes: a cursor that speaks the embedded store's SQL to PostgreSQL.

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


# ---------------------------------------------------------------------------------------------------------------
# The read model.

class Replica:
    """A process's DuckDB read model of a PostgreSQL record."""

    def __init__(self, url: str, model: duckdb.DuckDBPyConnection, cfg: dict, derived: bool = True,
                 max_age: float = 5.0, keep_days: float = 7.0):
        self.url, self.cfg, self.derived, self.max_age, self.keep_days = url, cfg, derived, max_age, keep_days
        self.pruned_at = time.time()      # a replica's first turn at pruning comes an hour after its start
        self._model = weakref.ref(model)
        self.tables = record_tables(model)
        self.snapshot: str | None = None
        self.pulled_at = 0.0
        self._pull_lock = threading.Lock()
        self._writer = None
        self._reader = None
        self.last_error: str | None = None
        self.listeners: list = []     # called with the set of patients (or tables) a pull changed

    # -- connections (each used under a lock: the writer under db's writer lock, the reader under _pull_lock)
    def _connection(self, which: str):
        pg = getattr(self, which)
        if pg is None or pg.closed or pg.broken:
            pg = connect_record(self.url)
            setattr(self, which, pg)
        return pg

    def writer(self):
        """The writing connection, checked first (a restarted or failed-over primary leaves it dead, and libpq
        then finds the host that takes writes among the URL's), so a save after a failover is not the one that
        fails. The check is an empty query through libpq: one round trip, no transaction begun."""
        from psycopg import pq
        pg = self._connection("_writer")
        if pg.pgconn.exec_(b"").status != pq.ExecStatus.EMPTY_QUERY or pg.pgconn.status != pq.ConnStatus.OK:
            pg.close()
            pg = self._connection("_writer")
        return pg

    def close(self) -> None:
        for which in ("_writer", "_reader"):
            pg = getattr(self, which)
            if pg is not None and not pg.closed:
                pg.close()

    # -- bootstrap
    def bootstrap(self) -> None:
        """Copy every base table from one repeatable-read snapshot (Arrow through ADBC, two connections sharing an
        exported snapshot, each table inserted as it arrives), then derive the rest."""
        import queue
        from kdash.store import db
        with contextlib.closing(_adbc(self.url)) as lead, contextlib.closing(_adbc(self.url)) as second:
            cur = lead.cursor()
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute("SELECT pg_export_snapshot(), pg_current_snapshot()::text")
            exported, snapshot = cur.fetchone()
            cur2 = second.cursor()
            cur2.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur2.execute(f"SET TRANSACTION SNAPSHOT '{exported}'")
            cur.execute("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace")
            size = dict(cur.fetchall())
            shares: list[list[str]] = [[], []]
            load = [0.0, 0.0]
            for table in sorted(self.tables, key=lambda t: -size.get(t, 0)):   # the largest first, to the lighter
                k = load.index(min(load))
                shares[k].append(table)
                load[k] += max(size.get(table, 0), 1)
            arrived: "queue.Queue" = queue.Queue()

            def fetch(c, tables):
                try:
                    for table in tables:
                        c.execute(f"SELECT * FROM {table}")
                        arrived.put((table, c.fetch_arrow_table()))
                except Exception as exc:        # handed to the inserting thread, which raises it
                    arrived.put((None, exc))

            threads = [threading.Thread(target=fetch, args=(c, t), daemon=True)
                       for c, t in ((cur, shares[0]), (cur2, shares[1]))]
            for t in threads:
                t.start()
            with db.local_transaction(self.model) as local:
                for _ in self.tables:
                    table, arrow = arrived.get()
                    if table is None:
                        raise _explain(self.url, arrow)
                    self._replace(local, table, arrow)
            for t in threads:
                t.join()
            lead.rollback()
            second.rollback()
        self._read_settings()
        if self.derived:
            self._derive_all()
        self.snapshot, self.pulled_at = snapshot, time.time()

    def _read_settings(self) -> bool:
        """The clinic settings kept in the record (if any) become this process's for the store; True if changed."""
        from kdash import settings
        text = self.model.execute("SELECT value FROM meta WHERE key = $k", {"k": settings.RECORD_KEY}).fetchone()
        text = text[0] if text else None
        if text == settings._in_record.get(self.url):
            return False
        if text is None:
            settings._in_record.pop(self.url, None)
        else:
            settings._in_record[self.url] = text
        self.cfg = settings.load(self.url)
        return True

    def _derive_all(self) -> None:
        """Every derived table, as a pull derives a patient's (building the flag log and course scores side by side
        on two threads was measured: no gain on 2 cores, DuckDB already uses both)."""
        from kdash.store import db
        with db.local_transaction(self.model) as local:
            self._derive(local, None)

    def _replace(self, local, table: str, rows, where: str = "", params: dict | None = None) -> None:
        """Delete the model's rows of `table` (matching `where`) and insert `rows` (Arrow or a frame) by name."""
        keep_local = " AND key NOT IN (SELECT unnest($local))" if table == "meta" else ""
        args = {**(params or {}), **({"local": list(LOCAL_META)} if keep_local else {})}
        cond = (f" WHERE {where}" if where else " WHERE TRUE") + keep_local
        local.execute(f"DELETE FROM {table}{cond}", args or None).fetchall()
        if len(rows):
            local.register("pulled", rows)
            filt = " WHERE key NOT IN (SELECT unnest($local))" if table == "meta" else ""
            local.execute(f"INSERT INTO {table} BY NAME SELECT * FROM pulled{filt}",
                          {"local": list(LOCAL_META)} if filt else None).fetchall()
            local.unregister("pulled")

    def _derive(self, local, patient_ids: list[str] | None) -> None:
        from kdash.store import derived
        derived.derive_phases(local, self.cfg, patient_ids)
        derived.refresh(local, patient_ids)
        derived.refresh_stamped(self.model, local, self.cfg, patient_ids)

    # -- pulls
    @property
    def model(self) -> duckdb.DuckDBPyConnection:
        return self._model()

    def stale(self) -> bool:
        return time.time() - self.pulled_at > self.max_age

    def pull(self) -> set:
        """Bring in what was committed since the last pull; returns what changed ({'patient:ID', 'table:NAME', …})."""
        from kdash.store import db
        with self._pull_lock:
            for attempt in (1, 2):           # a connection a restart or failover left dead: once more, anew
                pg = self._connection("_reader")
                try:
                    changed, fetched, snapshot = self._read_changes(pg)
                    break
                except Exception as exc:
                    with contextlib.suppress(Exception):
                        pg.close()
                    if attempt == 2:
                        raise _explain(self.url, exc) from None
            if fetched == "copy anew":        # the change log was pruned past this model's last pull
                self.bootstrap()
                fetched, snapshot, changed = None, self.snapshot, {"table:*"}
            if fetched:
                with db.local_transaction(self.model) as local:
                    patients = self._apply(local, fetched)
                    if self.derived and patients is not None:
                        self._derive(local, sorted(patients) if patients != "all" else None)
                if "meta" in fetched and self._read_settings() and self.derived:
                    from kdash.store import derived       # new thresholds or induction lengths: rebuild what they stamp
                    derived.ensure_current(self.model, self.cfg)
            self.snapshot, self.pulled_at = snapshot, time.time()
            if self.pulled_at - self.pruned_at > PRUNE_EVERY:
                self.pruned_at = self.pulled_at
                with contextlib.suppress(Exception):      # housekeeping: the next turn tries again
                    prune_changes(self.url, self.keep_days)
        if changed - {c for c in changed if c.startswith(("audit:", "table:signins"))}:
            for listener in list(self.listeners):
                listener(changed)
        return changed

    def _read_changes(self, pg):
        import psycopg
        pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        pg.read_only = True
        with pg.transaction():
            snapshot = pg.execute("SELECT pg_current_snapshot()::text").fetchone()[0]
            behind = pg.execute("SELECT below > pg_snapshot_xmin(%(s)s::pg_snapshot) FROM kdash_pruned",
                                {"s": self.snapshot}).fetchone()
            rows = [] if behind and behind[0] else self._changes_since(pg)
            changed = {f"{k}:{v}" for k, v, _ in rows}
            fetched: dict = {}
            by_table: dict[str, set] = {}
            for kind, key, table in rows:
                if kind == "patient":
                    by_table.setdefault(table, set()).add(key)
            whole = len(set().union(*by_table.values())) > BULK_PATIENTS
            for table in patient_tables(self.tables):
                patients = sorted(by_table.get(table, ()))
                if not patients and not (whole and by_table):
                    continue
                if whole:                 # Arrow, in this pull's snapshot (an import on another replica)
                    fetched[table] = ("all", None)
                elif table == "side_effects":
                    fetched[table] = (patients, self._frame(
                        pg, "SELECT r.* FROM side_effects r JOIN sessions s USING (session_id) "
                            "WHERE s.patient_id = ANY(%s)", (patients,)))
                else:
                    fetched[table] = (patients, self._frame(pg, f"SELECT * FROM {table} WHERE patient_id = ANY(%s)",
                                                            (patients,)))
            for table in sorted({v for k, v, _ in rows if k == "table"}):
                fetched[table] = ("all", self._frame(pg, f"SELECT * FROM {table}", None))
            if whole:
                exported = pg.execute("SELECT pg_export_snapshot()").fetchone()[0]
                self._whole_tables(exported, fetched)
            audit_ids = [int(v) for k, v, _ in rows if k == "audit"]
            if audit_ids:
                fetched[AUDIT] = (audit_ids, self._frame(pg, "SELECT * FROM audit_log WHERE audit_id = ANY(%s)",
                                                         (audit_ids,)))
        pg.read_only = False
        pg.isolation_level = None
        if behind and behind[0]:
            return {"table:*"}, "copy anew", snapshot
        return changed, fetched, snapshot

    def _changes_since(self, pg) -> list[tuple]:
        """(kind, key, table) of every change committed since the last pull's snapshot (visible now, not then)."""
        return pg.execute("SELECT DISTINCT kind, key, tbl FROM kdash_changes WHERE xid >= "
                          "pg_snapshot_xmin(%(s)s::pg_snapshot) AND NOT pg_visible_in_snapshot(xid, %(s)s::pg_snapshot)",
                          {"s": self.snapshot}).fetchall()

    def _whole_tables(self, exported: str, fetched: dict) -> None:
        """The tables marked ("all", None) read whole through ADBC, in the snapshot the pull exported."""
        with contextlib.closing(_adbc(self.url)) as a:
            cur = a.cursor()
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute(f"SET TRANSACTION SNAPSHOT '{exported}'")
            for table, (keys, rows) in list(fetched.items()):
                if keys == "all" and rows is None:
                    cur.execute(f"SELECT * FROM {table}")
                    fetched[table] = ("all", cur.fetch_arrow_table())
            a.rollback()

    def _frame(self, pg, text: str, params) -> pd.DataFrame:
        cur = pg.execute(text, params)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])

    def _apply(self, local, fetched: dict):
        patients: set | str = set()
        # side effects first: the model finds a patient's side effects through its sessions as they were
        order = sorted(fetched, key=lambda t: t != "side_effects")
        for table in order:
            keys, frame = fetched[table]
            if isinstance(frame, pd.DataFrame):
                frame = _typed(frame, self.tables[table])
            if keys == "all":
                self._replace(local, table, frame)
                if table in patient_tables(self.tables):
                    patients = "all"
            elif table == AUDIT:
                self._replace(local, table, frame, "list_contains($ids, audit_id)", {"ids": keys})
            elif table == "side_effects":
                self._replace(local, table, frame, "session_id IN (SELECT session_id FROM sessions "
                                                   "WHERE list_contains($ids, patient_id))", {"ids": keys})
                patients = patients if patients == "all" else patients | set(keys)
            else:
                self._replace(local, table, frame, "list_contains($ids, patient_id)", {"ids": keys})
                patients = patients if patients == "all" else patients | set(keys)
        return patients or None

    def record_row(self, text: str, params: dict | None) -> tuple | None:
        from kdash.store import db
        with db._WRITER:          # the writer connection, between writes
            pg = self._connection("_writer")
            try:
                with pg.transaction():
                    return RecordCursor(pg).execute(text, params).fetchone()
            except Exception as exc:
                import psycopg
                if isinstance(exc, psycopg.Error):
                    raise db.StoreError(str(_explain(self.url, exc))) from None
                raise


def _typed(frame: pd.DataFrame, columns: list[tuple]) -> pd.DataFrame:
    """Object columns that are all None read as NULL of the right type: DuckDB infers none from them."""
    if frame.empty:
        return frame
    for column, kind, _, _ in columns:
        if column in frame and frame[column].isna().all() and kind != "UTINYINT[]":
            frame[column] = pd.Series([None] * len(frame), dtype="object")
    return frame


# One replica per model connection (the app shares one connection; a CLI command opens its own). Weak keys: a model
# connection no longer referenced takes its replica, and the replica's PostgreSQL connections, with it.
_REPLICAS: "weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, Replica]" = weakref.WeakKeyDictionary()


def prune_changes(url: str, keep_days: float) -> int:
    """Forget the changes older than `keep_days`; returns how many rows went.

    A change may go once every replica has pulled past it, but the record does not know its replicas. So each turn
    notes a horizon (the oldest transaction still running: every older one has ended) and deletes the changes of
    transactions older than the newest horizon noted at least `keep_days` ago. That horizon is also kept as the
    pruned bound: a replica whose last pull began before it may have missed a deleted change, and copies the
    record anew at its next pull. A transaction's rows are stamped with its id, not a time, so a transaction that
    ran for days is not pruned before it could be pulled."""
    with contextlib.closing(connect_record(url)) as pg, pg.transaction():
        if not pg.execute("SELECT pg_try_advisory_xact_lock(%s)", (_PRUNE_KEY,)).fetchone()[0]:
            return 0                          # another process is at it
        pg.execute("INSERT INTO kdash_horizons (oldest) SELECT pg_snapshot_xmin(pg_current_snapshot())")
        row = pg.execute("SELECT taken_at, oldest::text FROM kdash_horizons WHERE taken_at <= now() - "
                         "%s * interval '1 day' ORDER BY taken_at DESC, oldest DESC LIMIT 1", (keep_days,)).fetchone()
        if row is None:
            return 0
        taken_at, horizon = row
        gone = pg.execute("DELETE FROM kdash_changes WHERE xid < %s::xid8", (horizon,)).rowcount
        pg.execute("DELETE FROM kdash_horizons WHERE taken_at < %s", (taken_at,))
        pg.execute("INSERT INTO kdash_pruned (below) VALUES (%s::xid8) ON CONFLICT (one) DO UPDATE SET below = "
                   "greatest(kdash_pruned.below, EXCLUDED.below)", (horizon,))
        return gone


def replica_of(con) -> Replica | None:
    try:
        return _REPLICAS.get(con)
    except TypeError:          # not a connection (a Shared cursor bundle, a test double)
        return None


def open_replica(url: str, *, create: bool = True, derived: bool = True) -> duckdb.DuckDBPyConnection:
    """A DuckDB read model of the record at `url`, bootstrapped and registered (db.transaction writes to the
    record through it)."""
    from kdash import settings
    from kdash.store import db
    check_url(url)
    if not has_schema(url):
        if not create:
            raise RecordError(f"no kdash store at {url} (make one with: python -m kdash init --db {url})")
        ensure_schema(url)
    else:
        with contextlib.closing(connect_record(url, autocommit=True)) as pg:
            row = pg.execute("SELECT value, to_regclass('public.kdash_pruned') IS NOT NULL FROM meta "
                             "WHERE key = 'schema_version'").fetchone()
        if row is None or int(row[0]) < db.SCHEMA_VERSION or not row[1]:
            ensure_schema(url)
        elif int(row[0]) > db.SCHEMA_VERSION:
            raise RecordError(f"the store has schema version {row[0]}; this kdash knows up to {db.SCHEMA_VERSION}")
    model = _model_file()
    cfg = settings.load(url)
    store = cfg.get("store", {})
    rep = Replica(url, model, cfg, derived=derived, max_age=float(store.get("max_age_seconds", 5)),
                  keep_days=float(store.get("change_log_days", 7)))
    rep.bootstrap()
    _REPLICAS[model] = rep
    weakref.finalize(model, Replica.close, rep)
    return model


def _model_file() -> duckdb.DuckDBPyConnection:
    """The read model: a DuckDB file in a private temporary folder (removed with the model), not an in-memory
    database, so that its tables are compressed and carry statistics as an embedded store's do (patient pages
    scan 1.3-1.9x slower in memory at 100,000 patients) and its memory is the buffer pool's, not every row."""
    import tempfile
    from kdash.store import db
    root = os.environ.get("KDASH_MODEL_DIR") or tempfile.gettempdir()
    sweep_orphans(root)
    folder = tempfile.mkdtemp(prefix=f"kdash-model-{os.getpid()}-", dir=root)
    os.chmod(folder, 0o700)
    with open(os.path.join(folder, "owner"), "w") as owner:     # which machine's process (a pid is per machine)
        owner.write(_host())
    _FOLDERS.add(folder)
    model = db.connect(os.path.join(folder, "model.duckdb"))
    weakref.finalize(model, _discard, folder)
    return model


_FOLDERS: set[str] = set()        # this process's read models' folders
_ORPHAN = re.compile(r"kdash-model-(\d+)-")


def _discard(folder: str) -> None:
    import shutil
    shutil.rmtree(folder, ignore_errors=True)
    _FOLDERS.discard(folder)


def discard_models() -> None:
    """Remove every read model of this process from disk (the server's shutdown: a SIGTERM ends the process
    without running finalizers, and a model is a copy of the record)."""
    for folder in list(_FOLDERS):
        _discard(folder)


def _host() -> str:
    import socket
    return socket.gethostname()


def sweep_orphans(root: str) -> list[str]:
    """Remove the read models left by processes of this machine that are gone (killed, or a crash); returns what
    went. A folder another machine or container made (a shared KDASH_MODEL_DIR) is left to it."""
    import shutil
    gone = []
    for name in os.listdir(root):
        m = _ORPHAN.match(name)
        if not m or int(m.group(1)) == os.getpid():
            continue
        try:
            with open(os.path.join(root, name, "owner")) as owner:
                if owner.read() != _host():
                    continue
        except OSError:
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
            gone.append(name)
        except PermissionError:           # alive, another user's
            pass
    return gone


def close(con) -> None:
    rep = _REPLICAS.pop(con, None)
    if rep is not None:
        rep.close()


@contextlib.contextmanager
def write(rep: Replica) -> Iterator[RecordCursor]:
    """One PostgreSQL transaction (the caller holds db's writer lock); after the commit the model pulls, so this
    process reads its own write at once."""
    pg = rep.writer()
    try:
        with pg.transaction():
            cur = RecordCursor(pg)
            yield cur
    except Exception as exc:
        import psycopg
        if isinstance(exc, psycopg.Error):
            if pg.broken:
                pg.close()
            raise _write_error(exc) from None
        raise
    if rep.derived:        # an app process: its user sees the write, and its flags, at once
        rep.pull()
    else:                  # a base-only model (a CLI command, a recording station) reads the record when stale
        rep.pulled_at = 0.0


def _write_error(exc) -> Exception:
    """A refused write as the embedded store would refuse it (a constraint names the problem)."""
    import psycopg
    from kdash.store import db
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, psycopg.errors.IntegrityError):
        return duckdb.ConstraintException(f"Constraint Error: {first}")
    return db.StoreError(f"the store refused the write: {first}")

