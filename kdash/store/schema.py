"""The schema: the migrations every store (a DuckDB file, a read model, the PostgreSQL record's DDL) is built by,
each applied once and in order."""

from __future__ import annotations

import secrets

import duckdb

from kdash.store import queries, writer
from kdash.store.errors import StoreError


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
    # the esketamine REMS monitoring form's sent date per session (clinical reference §4), and the flag log rebuilt
    # for the rules that read them (issue 29).
    """
    ALTER TABLE assessments ADD COLUMN IF NOT EXISTS minute INTEGER;
    ALTER TABLE sessions ADD COLUMN IF NOT EXISTS rems_form_sent_on DATE;
    DELETE FROM meta WHERE key IN ('flag_log_settings', 'course_scores_settings');
    """,
    # 19: course scores observed at each timepoint (the completers' analysis set, nothing carried forward) and the
    # first session a score follows (an all-treated timepoint says when the baseline was carried forward); rebuilt by
    # the dashboard on opening the store (clinical reference §1 "analysis sets, said as they are").
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
    # 21: patients' own scores (issue 33, kdash/clinical/checkin.py): an assessment's source ('self_report'; NULL for
    # staff-entered and imported rows), the time it was sent and PHQ-9's difficulty answer (not scored); one-time
    # check-in codes, kept as their SHA-256 only; and self-reports struck by a clinician, moved out of assessments
    # (so no statistic, trend or flag reads them) and kept with who struck them, when and why.
    """
    ALTER TABLE assessments ADD COLUMN IF NOT EXISTS source VARCHAR;
    ALTER TABLE assessments ADD COLUMN IF NOT EXISTS reported_at TIMESTAMP;
    ALTER TABLE assessments ADD COLUMN IF NOT EXISTS difficulty INTEGER;
    CREATE TABLE IF NOT EXISTS checkin_codes (
        code_hash VARCHAR PRIMARY KEY, patient_id VARCHAR NOT NULL, hint VARCHAR NOT NULL, forms VARCHAR NOT NULL,
        issued_by VARCHAR, issued_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL, opened_at TIMESTAMP,
        used_at TIMESTAMP, failed_tries INTEGER NOT NULL DEFAULT 0, revoked_at TIMESTAMP, revoked_by VARCHAR);
    CREATE TABLE IF NOT EXISTS struck_assessments (
        patient_id VARCHAR NOT NULL, assessed_on DATE NOT NULL, scale VARCHAR NOT NULL, total INTEGER NOT NULL,
        items UTINYINT[], session_id VARCHAR, minute INTEGER, source VARCHAR, reported_at TIMESTAMP,
        difficulty INTEGER, struck_by VARCHAR NOT NULL, struck_at TIMESTAMP NOT NULL, reason VARCHAR NOT NULL);
    """,
]


SCHEMA_VERSION = len(MIGRATIONS)


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
        text = queries._INCLUDE.sub(lambda m: queries.sql(m.group(1)).replace("$ids", "NULL").replace("$as_of", "NULL"),
                            MIGRATIONS[version - 1])
        with writer.local_transaction(con) as cur:
            cur.execute(text, {"secret": secrets.token_hex(32)} if "$secret" in text else None)
            cur.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', $v)", {"v": str(version)})
    return max(current, upto)
