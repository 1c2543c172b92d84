"""The store: schema, migrations, the one write path, and plain errors for bad stores."""

import duckdb
import pytest

from kdash.store import db


def test_new_store_has_current_schema(tmp_path):
    con = db.connect(str(tmp_path / "s.duckdb"))
    assert db.schema_version(con) == db.SCHEMA_VERSION == 21
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"patients", "antidepressant_trials", "screening", "sessions", "vitals", "assessments",
            "side_effects", "eligibility_decisions", "audit_log", "users", "chairs", "meta", "score_points",
            "session_facts", "course_facts", "course_scores", "effect_facts", "signins", "flag_acks", "checkin_codes", "struck_assessments"} <= tables


def test_old_store_is_migrated_on_open_keeping_its_rows(tmp_path):
    path = str(tmp_path / "old.duckdb")
    con = db.connect(path, upto=1)
    assert db.schema_version(con) == 1
    con.execute("INSERT INTO patients (patient_id, birth_date, sex) VALUES ('P1', DATE '1980-01-01', 'F')")
    con.close()
    con = db.connect(path)
    assert db.schema_version(con) == db.SCHEMA_VERSION
    assert con.execute("SELECT patient_id FROM patients").fetchall() == [("P1",)]
    con.execute("INSERT INTO audit_log (logged_at, action) VALUES (now(), 'test')")  # v2 table usable


def test_a_read_only_open_of_an_older_store_migrates_it_first(tmp_path):
    """A CLI report (read-only) on a store an earlier kdash wrote: the new tables are there to read."""
    from kdash import settings
    from kdash.clinical import side_effects
    from kdash import demo
    path = str(tmp_path / "older.duckdb")
    demo.build(path, patients=20, seed=3)
    con = db.connect(path)
    con.execute("DROP TABLE effect_facts")
    con.execute("UPDATE meta SET value = '10' WHERE key = 'schema_version'")
    con.close()
    con = db.connect(path, read_only=True)
    try:
        assert db.schema_version(con) == db.SCHEMA_VERSION
        assert not side_effects.rates(con, settings.load()).empty
    finally:
        con.close()


def test_reopening_a_current_store_changes_nothing(tmp_path):
    path = str(tmp_path / "s.duckdb")
    db.connect(path).close()
    con = db.connect(path)
    assert db.migrate(con) == db.SCHEMA_VERSION
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(db.SCHEMA_VERSION),)


def test_failed_write_leaves_the_store_as_it_was(tmp_path):
    con = db.connect(str(tmp_path / "s.duckdb"))
    con.execute("INSERT INTO patients (patient_id, birth_date, sex) VALUES ('P1', DATE '1980-01-01', 'F')")
    with pytest.raises(duckdb.ConstraintException):
        with db.transaction(con) as cur:
            cur.execute("INSERT INTO patients (patient_id, birth_date, sex) VALUES ('P2', DATE '1981-01-01', 'M')")
            cur.execute("INSERT INTO patients (patient_id, birth_date, sex) VALUES ('P3', DATE '1981-01-01', 'Q')")
    assert con.execute("SELECT patient_id FROM patients ORDER BY 1").fetchall() == [("P1",)]


def test_a_file_that_is_not_duckdb_is_refused_plainly(tmp_path):
    bad = tmp_path / "notes.duckdb"
    bad.write_text("not a database")
    with pytest.raises(db.StoreError, match="not a kdash store"):
        db.connect(str(bad))


def test_a_folder_or_missing_store_is_refused_plainly(tmp_path):
    with pytest.raises(db.StoreError, match="folder"):
        db.connect(str(tmp_path))
    with pytest.raises(db.StoreError, match="no store at"):
        db.connect(str(tmp_path / "missing.duckdb"), read_only=True)


def test_a_newer_schema_is_refused(tmp_path):
    path = str(tmp_path / "s.duckdb")
    con = db.connect(path)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(db.StoreError, match="schema version 99"):
        db.connect(path)


def test_named_queries_load():
    assert "SELECT" in db.sql("course_outcomes")


def test_migration_17_rebuilds_derived_rows_built_before_the_tie_breakers(tmp_path):
    """A store at schema 16 keeps the derived rows its writes built; 17 rebuilds them from the record and unstamps
    the settings-stamped tables, so the dashboard rebuilds those on opening (derived.ensure_current)."""
    from kdash import settings
    from kdash import demo
    from kdash.store import derived
    path = str(tmp_path / "old.duckdb")
    demo.build(path, patients=20, seed=3)
    con = db.connect(path)
    expected = con.execute("SELECT * FROM score_points ORDER BY ALL").fetchall()
    con.execute("UPDATE score_points SET after_session = after_session + 1")     # as an old ordering left them
    con.execute("DELETE FROM session_facts WHERE k = 1")
    con.execute("UPDATE meta SET value = '16' WHERE key = 'schema_version'")
    con.close()
    con = db.connect(path)
    assert db.schema_version(con) == db.SCHEMA_VERSION
    assert con.execute("SELECT * FROM score_points ORDER BY ALL").fetchall() == expected
    assert db.scalar(con, "SELECT count(*) FROM session_facts WHERE k = 1") == 20 - db.scalar(
        con, "SELECT count(*) FROM patients WHERE patient_id NOT IN (SELECT patient_id FROM sessions "
             "WHERE status = 'completed')")
    assert db.meta(con, "flag_log_settings") is None
    assert derived.ensure_current(con, settings.load(path))
    con.close()
