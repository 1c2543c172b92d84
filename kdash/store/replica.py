"""Each process's DuckDB read model of the PostgreSQL record (kdash/store/record.py), kept current by pulls.

Every page query runs on the model unchanged; its derived tables are built by the same code as an embedded
store's (kdash/store/derived.py). A pull reads, in one repeatable-read snapshot, the changes committed since the
snapshot of the previous pull, re-reads those patients' rows whole and rebuilds their derived rows locally. The
process that commits a write pulls at once; pages pull when the model is older than `store.max_age_seconds`."""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import weakref
from typing import Iterator

import duckdb
import pandas as pd

from kdash.store import derived, files, writer
from kdash.store.errors import StoreError
from kdash.store.record import (AUDIT, LOCAL_META, RecordCursor, RecordError, _adbc, _explain,
                                 _write_error, check_url, connect_record, ensure_schema, has_schema,
                                 patient_tables, record_tables)
from kdash.store.schema import SCHEMA_VERSION


# Above this many changed patients a pull re-reads the patient tables whole (an import on another replica).
BULK_PATIENTS = 2000


_PRUNE_KEY = 2117_0022         # … and for pruning the change log (one process at a time, the others skip it)


PRUNE_EVERY = 3600.0           # seconds between a replica's turns at pruning the change log


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
            with writer.local_transaction(self.model) as local:
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
        with writer.local_transaction(self.model) as local:
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
                with writer.local_transaction(self.model) as local:
                    patients = self._apply(local, fetched)
                    if self.derived and patients is not None:
                        self._derive(local, sorted(patients) if patients != "all" else None)
                if "meta" in fetched and self._read_settings() and self.derived:
                    # new thresholds or induction lengths: rebuild what they stamp
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
        with writer._WRITER:          # the writer connection, between writes
            pg = self._connection("_writer")
            try:
                with pg.transaction():
                    return RecordCursor(pg).execute(text, params).fetchone()
            except Exception as exc:
                import psycopg
                if isinstance(exc, psycopg.Error):
                    raise StoreError(str(_explain(self.url, exc))) from None
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
    check_url(url)
    if not has_schema(url):
        if not create:
            raise RecordError(f"no kdash store at {url} (make one with: python -m kdash init --db {url})")
        ensure_schema(url)
    else:
        with contextlib.closing(connect_record(url, autocommit=True)) as pg:
            row = pg.execute("SELECT value, to_regclass('public.kdash_pruned') IS NOT NULL FROM meta "
                             "WHERE key = 'schema_version'").fetchone()
        if row is None or int(row[0]) < SCHEMA_VERSION or not row[1]:
            ensure_schema(url)
        elif int(row[0]) > SCHEMA_VERSION:
            raise RecordError(f"the store has schema version {row[0]}; this kdash knows up to {SCHEMA_VERSION}")
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
    root = os.environ.get("KDASH_MODEL_DIR") or tempfile.gettempdir()
    sweep_orphans(root)
    folder = tempfile.mkdtemp(prefix=f"kdash-model-{os.getpid()}-", dir=root)
    os.chmod(folder, 0o700)
    with open(os.path.join(folder, "owner"), "w") as owner:     # which machine's process (a pid is per machine)
        owner.write(_host())
    _FOLDERS.add(folder)
    model = files.open_file(os.path.join(folder, "model.duckdb"))
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
