"""The store: open, migrate, read through cursors, write in one transaction.

A path is an embedded DuckDB store. A postgresql:// URL is a PostgreSQL record read through a DuckDB model in this
process (kdash/store/pg.py): reads are the same; db.transaction writes to the record and then refreshes the model."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb
import pandas as pd

# Clinics run offline: never fetch an extension.
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class StoreError(Exception):
    """A store problem explained in one line for a person (no traceback)."""


MIGRATIONS: list[str] = [
    # 1: the clinical record.
    """
    CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
    CREATE TABLE patients (
        patient_id VARCHAR PRIMARY KEY,
        given_name VARCHAR, family_name VARCHAR,
        birth_date DATE NOT NULL,
        sex VARCHAR NOT NULL CHECK (sex IN ('F', 'M', 'X')),
        referral_date DATE, consultation_date DATE,
        primary_diagnosis VARCHAR CHECK (primary_diagnosis IN ('mdd', 'bipolar_depression', 'pdd', 'other')),
        clinician VARCHAR, mrn VARCHAR);
    CREATE TABLE antidepressant_trials (
        patient_id VARCHAR NOT NULL, drug VARCHAR NOT NULL, dose_mg_per_day DOUBLE NOT NULL,
        start_date DATE NOT NULL, end_date DATE,
        outcome VARCHAR NOT NULL CHECK (outcome IN ('no_response', 'partial_response', 'response', 'intolerance', 'ongoing')),
        current_episode BOOLEAN NOT NULL DEFAULT TRUE);
    CREATE TABLE screening (
        patient_id VARCHAR NOT NULL, item VARCHAR NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN ('present', 'absent', 'unknown')),
        assessed_on DATE);
    CREATE TABLE chairs (chair VARCHAR PRIMARY KEY, active BOOLEAN NOT NULL DEFAULT TRUE);
    CREATE TABLE sessions (
        session_id VARCHAR PRIMARY KEY, patient_id VARCHAR NOT NULL,
        scheduled_at TIMESTAMP NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN ('scheduled', 'completed', 'cancelled', 'no_show')),
        route VARCHAR NOT NULL CHECK (route IN ('iv_ketamine', 'esketamine', 'im_ketamine', 'sc_ketamine', 'oral_ketamine')),
        phase VARCHAR CHECK (phase IN ('induction', 'maintenance')),
        dose_mg DOUBLE, weight_kg DOUBLE, chair VARCHAR, clinician VARCHAR,
        started_at TIMESTAMP, ended_at TIMESTAMP, cancelled_at TIMESTAMP);
    CREATE TABLE vitals (
        session_id VARCHAR, minute INTEGER, patient_id VARCHAR NOT NULL, measured_at TIMESTAMP,
        systolic INTEGER NOT NULL, diastolic INTEGER NOT NULL, heart_rate INTEGER, spo2 INTEGER);
    CREATE TABLE assessments (
        patient_id VARCHAR NOT NULL, assessed_on DATE NOT NULL, scale VARCHAR NOT NULL,
        total INTEGER NOT NULL, items UTINYINT[], session_id VARCHAR);
    CREATE TABLE side_effects (
        session_id VARCHAR NOT NULL, effect VARCHAR NOT NULL,
        severity VARCHAR CHECK (severity IN ('mild', 'moderate', 'severe')), note VARCHAR);
    """,
    # 2: clinicians' decisions and the audit trail.
    """
    CREATE SEQUENCE audit_seq;
    CREATE TABLE eligibility_decisions (
        patient_id VARCHAR NOT NULL, route VARCHAR NOT NULL, kind VARCHAR NOT NULL CHECK (kind IN ('sign_off', 'override')),
        verdict VARCHAR NOT NULL CHECK (verdict IN ('eligible', 'not_eligible', 'needs_review')),
        reason VARCHAR, decided_by VARCHAR NOT NULL, decided_at TIMESTAMP NOT NULL);
    CREATE TABLE audit_log (
        audit_id BIGINT PRIMARY KEY DEFAULT nextval('audit_seq'), logged_at TIMESTAMP NOT NULL,
        username VARCHAR, role VARCHAR, action VARCHAR NOT NULL, patient_id VARCHAR, detail VARCHAR);
    """,
    # 3: local accounts.
    """
    CREATE TABLE users (
        username VARCHAR PRIMARY KEY, role VARCHAR NOT NULL CHECK (role IN ('clinician', 'manager', 'presenter', 'admin')),
        password_hash VARCHAR NOT NULL, disabled BOOLEAN NOT NULL DEFAULT FALSE,
        failed_attempts INTEGER NOT NULL DEFAULT 0, locked_until TIMESTAMP, created_at TIMESTAMP NOT NULL);
    """,
    # 4: every safety flag of the record, kept current on each write (kdash/store/flag_log.py), so the roster
    # and the home page read open flags instead of evaluating every rule over the clinic.
    """
    CREATE TABLE flag_log (
        patient_id VARCHAR NOT NULL, rule VARCHAR NOT NULL, severity VARCHAR NOT NULL, day DATE NOT NULL,
        value VARCHAR);
    """,
    # 5: a trial whose outcome the source does not say (FHIR medication records): 'unknown', never counted
    # as a failure. DuckDB cannot alter a CHECK constraint, so the table is rebuilt.
    """
    CREATE TABLE antidepressant_trials_v5 (
        patient_id VARCHAR NOT NULL, drug VARCHAR NOT NULL, dose_mg_per_day DOUBLE NOT NULL,
        start_date DATE NOT NULL, end_date DATE,
        outcome VARCHAR NOT NULL CHECK (outcome IN ('no_response', 'partial_response', 'response', 'intolerance',
                                                    'ongoing', 'unknown')),
        current_episode BOOLEAN NOT NULL DEFAULT TRUE);
    INSERT INTO antidepressant_trials_v5 SELECT * FROM antidepressant_trials;
    DROP TABLE antidepressant_trials;
    ALTER TABLE antidepressant_trials_v5 RENAME TO antidepressant_trials;
    """,
    # 6: score points (kdash/store/derived.py), built here for the scores already in the store.
    """
    CREATE TABLE score_points (
        patient_id VARCHAR NOT NULL, scale VARCHAR NOT NULL, assessed_on DATE NOT NULL, total INTEGER NOT NULL,
        after_session BIGINT NOT NULL, days_after INTEGER, has_next BOOLEAN NOT NULL, first_after BOOLEAN NOT NULL);
    INSERT INTO score_points SELECT * FROM ({{score_points_build}}) ORDER BY patient_id, scale, assessed_on;
    """,
    # 7: session facts (kdash/store/derived.py): each completed session's number, dose band and measured
    # extremes, for the side-effect and safety-event pages (filled by migration 12, which adds its last columns).
    """
    CREATE TABLE session_facts (
        session_id VARCHAR NOT NULL, patient_id VARCHAR NOT NULL, route VARCHAR NOT NULL, scheduled_at TIMESTAMP,
        k BIGINT NOT NULL, dose_band VARCHAR NOT NULL, has_pre BOOLEAN NOT NULL, has_post BOOLEAN NOT NULL,
        pre_systolic INTEGER, pre_diastolic INTEGER, post_systolic INTEGER, post_diastolic INTEGER,
        cadss_max INTEGER, moaas_min INTEGER);
    """,
    # 8: the store's own secret for de-identified pseudonyms (kdash/clinical/deid.py): random per store, never exported.
    """
    INSERT INTO meta VALUES ('deid_secret', $secret) ON CONFLICT DO NOTHING;
    """,
    # 9: course facts (kdash/store/derived.py): each treated patient's course, read by every clinic-wide cohort.
    """
    CREATE TABLE course_facts (
        patient_id VARCHAR NOT NULL, route VARCHAR NOT NULL, first_day DATE NOT NULL, last_day DATE NOT NULL,
        n_sessions BIGINT NOT NULL, n_induction BIGINT NOT NULL, n_maintenance BIGINT NOT NULL);
    INSERT INTO course_facts SELECT * FROM ({{course_facts_build}}) ORDER BY patient_id;
    """,
    # 10: course scores (kdash/store/course_scores.py), built by the first writer with the clinic's settings; until
    # then readers compute them live.
    """
    CREATE TABLE course_scores (
        patient_id VARCHAR NOT NULL, scale VARCHAR NOT NULL, baseline INTEGER, last_score INTEGER, last_on DATE,
        after_2 INTEGER, after_4 INTEGER, after_6 INTEGER, end_of_induction INTEGER, last_observation INTEGER,
        response_session BIGINT, response_day BIGINT, last_scored_session BIGINT, last_scored_day BIGINT);
    """,
    # 11: effect facts (kdash/store/derived.py): each side-effect report with its session's facts (filled by 12).
    """
    CREATE TABLE effect_facts (
        session_id VARCHAR NOT NULL, patient_id VARCHAR NOT NULL, route VARCHAR NOT NULL, dose_band VARCHAR NOT NULL,
        k BIGINT NOT NULL, effect VARCHAR NOT NULL, severity VARCHAR);
    """,
    # 12: first-of-group flags on session and effect facts (kdash/store/derived.py), so the side-effect rates count
    # patients per group by summing flags. Migrations 7 and 11 create the tables; this fills them.
    """
    ALTER TABLE session_facts ADD COLUMN IF NOT EXISTS first_in_route BOOLEAN;
    ALTER TABLE session_facts ADD COLUMN IF NOT EXISTS first_in_dose_band BOOLEAN;
    DELETE FROM session_facts;
    INSERT INTO session_facts SELECT * FROM ({{session_facts_build}}) ORDER BY patient_id, scheduled_at;
    ALTER TABLE effect_facts ADD COLUMN IF NOT EXISTS first_of_effect BOOLEAN;
    ALTER TABLE effect_facts ADD COLUMN IF NOT EXISTS first_in_route BOOLEAN;
    ALTER TABLE effect_facts ADD COLUMN IF NOT EXISTS first_in_dose_band BOOLEAN;
    ALTER TABLE effect_facts ADD COLUMN IF NOT EXISTS first_in_session BOOLEAN;
    DELETE FROM effect_facts;
    INSERT INTO effect_facts SELECT * FROM ({{effect_facts_build}}) ORDER BY patient_id, k;
    """,
    # 13: imported rows that leave optional fields blank (data-contract §3). A session without a phase gets one
    # derived from the induction length (kdash/store/derived.py derive_phases), marked so that it can be derived again;
    # a reading named by session and minute is taken at the session's start (else its scheduled time) plus the
    # minute, as the record form stores it.
    """
    ALTER TABLE sessions ADD COLUMN IF NOT EXISTS phase_derived BOOLEAN DEFAULT FALSE;
    UPDATE sessions SET phase_derived = (phase IS NULL);
    UPDATE vitals SET measured_at = coalesce(s.started_at, s.scheduled_at) + to_minutes(vitals.minute)
    FROM sessions s
    WHERE vitals.session_id = s.session_id AND vitals.measured_at IS NULL AND vitals.minute IS NOT NULL;
    """,
    # 14: what the clinician acknowledged before dosing (kdash/clinical/recording.py: no eligibility decision, an open urgent
    # flag, no vitals), kept with the session it allowed.
    """
    ALTER TABLE sessions ADD COLUMN IF NOT EXISTS acknowledged VARCHAR;
    """,
    # 15: sign-ins that outlive a browser tab (kdash/access/signins.py): a reload or a second tab carries an HttpOnly
    # cookie whose SHA-256 is the row's id; the row ends at sign-out, idle time, expiry or when the account is
    # disabled or its password reset, and every replica sees that at its next run.
    """
    CREATE TABLE IF NOT EXISTS signins (
        signin_id VARCHAR PRIMARY KEY, username VARCHAR NOT NULL, role VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL, last_seen TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL,
        ended_at TIMESTAMP, ended_why VARCHAR);
    """,
    # 16: flags that stay open until acknowledged or cleared (kdash/clinical/worklist.py). The flag log gains each piece of
    # evidence's time and each rule's latest clearing observation (rebuilt: the settings stamp changes); an
    # acknowledgement covers a patient's evidence for a rule up to a day; an account may name the clinician it is
    # (patients.clinician) for "my patients".
    """
    ALTER TABLE flag_log ADD COLUMN IF NOT EXISTS evidence_at TIMESTAMP;
    DELETE FROM meta WHERE key = 'flag_log_settings';
    CREATE SEQUENCE IF NOT EXISTS ack_seq;
    CREATE TABLE IF NOT EXISTS flag_acks (
        ack_id BIGINT PRIMARY KEY DEFAULT nextval('ack_seq'), patient_id VARCHAR NOT NULL, rule VARCHAR NOT NULL,
        through_day DATE NOT NULL, action VARCHAR NOT NULL, note VARCHAR,
        acknowledged_by VARCHAR NOT NULL, acknowledged_at TIMESTAMP NOT NULL);
    ALTER TABLE users ADD COLUMN IF NOT EXISTS clinician VARCHAR;
    """,
    # 17: derived rows that no longer depend on the order rows were written (issue 21: tie-breakers by session_id and
    # by every column), rebuilt for the rows already stored; the settings-stamped flag log and course scores are
    # unstamped, so the dashboard rebuilds them when it opens the store.
    """
    DELETE FROM score_points;
    INSERT INTO score_points SELECT * FROM ({{score_points_build}}) ORDER BY patient_id, scale, assessed_on;
    DELETE FROM session_facts;
    INSERT INTO session_facts SELECT * FROM ({{session_facts_build}}) ORDER BY patient_id, scheduled_at;
    DELETE FROM course_facts;
    INSERT INTO course_facts SELECT * FROM ({{course_facts_build}}) ORDER BY patient_id;
    DELETE FROM effect_facts;
    INSERT INTO effect_facts SELECT * FROM ({{effect_facts_build}}) ORDER BY patient_id, k;
    DELETE FROM meta WHERE key IN ('flag_log_settings', 'course_scores_settings');
    """,
    # 18: in-session ratings by minute (data-contract §3: CADSS and MOAA/S several times a session, as vitals are),
    # the esketamine REMS monitoring form's sent date per session (clinical-reference §4), and the flag log rebuilt
    # for the rules that read them (issue 29).
    """
    ALTER TABLE assessments ADD COLUMN IF NOT EXISTS minute INTEGER;
    ALTER TABLE sessions ADD COLUMN IF NOT EXISTS rems_form_sent_on DATE;
    DELETE FROM meta WHERE key IN ('flag_log_settings', 'course_scores_settings');
    """,
    # 19: course scores observed at each timepoint (the completers' analysis set, nothing carried forward) and the
    # first session a score follows (an all-treated timepoint says when the baseline was carried forward); rebuilt by
    # the dashboard on opening the store (clinical-reference §1 "analysis sets, said as they are").
    """
    ALTER TABLE course_scores ADD COLUMN IF NOT EXISTS obs_2 INTEGER;
    ALTER TABLE course_scores ADD COLUMN IF NOT EXISTS obs_4 INTEGER;
    ALTER TABLE course_scores ADD COLUMN IF NOT EXISTS obs_6 INTEGER;
    ALTER TABLE course_scores ADD COLUMN IF NOT EXISTS obs_end INTEGER;
    ALTER TABLE course_scores ADD COLUMN IF NOT EXISTS obs_last INTEGER;
    ALTER TABLE course_scores ADD COLUMN IF NOT EXISTS first_scored_session BIGINT;
    DELETE FROM course_scores;
    DELETE FROM meta WHERE key = 'course_scores_settings';
    """,
    # 20: what a record says that the import used to drop (issue 30): a patient's death (deceased, with its date
    # where the source gives one), identifiers other than the MRN, and where a screening answer came from ("from the
    # record: Condition 'Bipolar I disorder with psychotic features', 2019-04-02").
    """
    ALTER TABLE patients ADD COLUMN IF NOT EXISTS deceased BOOLEAN DEFAULT FALSE;
    ALTER TABLE patients ADD COLUMN IF NOT EXISTS deceased_on DATE;
    UPDATE patients SET deceased = FALSE WHERE deceased IS NULL;
    ALTER TABLE screening ADD COLUMN IF NOT EXISTS source VARCHAR;
    CREATE TABLE IF NOT EXISTS patient_identifiers (
        patient_id VARCHAR NOT NULL, system VARCHAR, value VARCHAR NOT NULL, type VARCHAR);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

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


def connect(path: str, *, read_only: bool = False, create: bool = True,
            upto: int = SCHEMA_VERSION, derived: bool = True) -> duckdb.DuckDBPyConnection:
    """Open a store and bring its schema up to date (a read-only open of an older store migrates it first).
    A PostgreSQL URL gives this process's read model of it (without derived tables: base rows only, for a CLI
    command that only writes or validates)."""
    from kdash.store import pg
    if pg.is_url(path):
        try:
            return pg.open_replica(path, create=create and not read_only, derived=derived)
        except pg.RecordError as exc:
            raise StoreError(str(exc)) from None
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
        connect(path, upto=upto).close()
        return connect(path, read_only=True, upto=upto)
    return con


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


def is_demo(con: duckdb.DuckDBPyConnection) -> bool:
    """A store built by the demo generator (synthetic patients, published demo accounts)."""
    return meta(con, "demo") == "true"


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    cur = con.cursor()
    has_meta = cur.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'").fetchone()[0]
    if not has_meta:
        return 0
    row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection, upto: int = SCHEMA_VERSION) -> int:
    """Apply the migrations this store has not had yet, each in its own transaction."""
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        raise StoreError(f"the store has schema version {current}; this kdash knows up to {SCHEMA_VERSION}")
    for version in range(current + 1, upto + 1):
        text = _INCLUDE.sub(lambda m: sql(m.group(1)).replace("$ids", "NULL").replace("$as_of", "NULL"),
                            MIGRATIONS[version - 1])
        with transaction(con) as cur:
            cur.execute(text, {"secret": secrets.token_hex(32)} if "$secret" in text else None)
            cur.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', $v)", {"v": str(version)})
    return max(current, upto)


# One writer at a time in this process (the dashboard's sessions share one connection): DuckDB would
# otherwise fail the second of two overlapping writes to the same derived rows with a conflict.
_WRITER = threading.RLock()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """The one write path: everything inside commits together or not at all, one writer at a time in this
    process. On a PostgreSQL store the cursor writes to the record (any number of processes at once) and the
    read model pulls right after the commit."""
    from kdash.store import pg
    replica = pg.replica_of(con)
    with _WRITER:
        if replica is None:
            with _transaction(con) as cur:
                yield cur
        else:
            with pg.write(replica) as cur:
                yield cur


@contextlib.contextmanager
def local_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """A transaction on this process's DuckDB (the embedded store, or a read model's derived tables)."""
    with _WRITER:
        with _transaction(con) as cur:
            yield cur


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


def fresh(con: duckdb.DuckDBPyConnection) -> None:
    """Before a page run: a read model older than its max age pulls from the record (an embedded store is always
    current). A record that cannot be reached leaves the model as it is: the page says how old it is."""
    from kdash.store import pg
    replica = pg.replica_of(con)
    if replica is not None and replica.stale():
        try:
            replica.pull()
        except pg.RecordError as exc:
            replica.last_error = str(exc)
        else:
            replica.last_error = None


def on_change(con: duckdb.DuckDBPyConnection, listener: Callable[[set], None]) -> None:
    """Call listener after a pull brought in another process's writes (a read model; nothing for a file)."""
    from kdash.store import pg
    replica = pg.replica_of(con)
    if replica is not None:
        replica.listeners.append(listener)


def record_row(con: duckdb.DuckDBPyConnection, text: str, params: dict | None = None) -> tuple | None:
    """The first row of a small query read from the record itself, never a model a few seconds old (a sign-in
    ended on another replica is over at this replica's next run)."""
    from kdash.store import pg
    replica = pg.replica_of(con)
    if replica is None:
        return row(con, text, params)
    return replica.record_row(text, params)


def close(con: duckdb.DuckDBPyConnection) -> None:
    from kdash.store import pg
    pg.close(con)
    con.close()


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


def write(con: duckdb.DuckDBPyConnection, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
    with transaction(con) as cur:
        return fn(cur)


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
        from kdash.store import course_scores
        bound["scores_current"] = con is not None and course_scores.is_current(con, params)
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


def parallel(functions, con, cfg, kwargs: dict) -> list:
    """Run independent query functions on a small thread pool (DuckDB releases the GIL; one cursor each)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(fn, con, cfg, **kwargs) for fn in functions]
        return [f.result() for f in futures]
