"""Derived tables (score points, session facts, course facts) stay equal to a fresh build after every kind of write,
and stores from before each one get it on migration."""

import datetime as dt

import pytest

from kdash import db, demo, derived, importing, recording, settings
from tests.conftest import ROOT

CFG = settings.load()
DERIVED = list(derived.TABLES)


def fresh(con, table):
    return sorted(map(tuple, con.execute("SELECT * FROM (" + db.sql(f"{table}_build") + ")",
                                         {"ids": None}).fetchall()), key=repr)


def stored(con, table):
    return sorted(map(tuple, con.execute(f"SELECT * FROM {table}").fetchall()), key=repr)


def all_current(con):
    return all(stored(con, t) and stored(con, t) == fresh(con, t) for t in DERIVED)


def test_derived_rows_follow_demo_import_record_and_delete(tmp_path):
    path = str(tmp_path / "p.duckdb")
    demo.build(path, patients=60, seed=8)
    con = db.connect(path)
    try:
        assert all_current(con)
        assert importing.run(con, CFG, [str(ROOT / "data" / "sample_import")]).ok
        assert all_current(con)
        pid = con.execute("SELECT patient_id FROM sessions WHERE status = 'completed' LIMIT 1").fetchone()[0]
        entry = recording.Entry(patient_id=pid, day=dt.date.today(), route="iv_ketamine", weight_kg=70, dose_mg=35,
                                start=dt.time(9), end=dt.time(10), scores={"MADRS": "12", "PHQ9": "5"}, cadss=9,
                                vitals=[{"minute": -5, "systolic": 150, "diastolic": 95},
                                        {"minute": 40, "systolic": 186, "diastolic": 104}])
        before = con.execute("SELECT count(*) FROM session_facts WHERE patient_id = ?", [pid]).fetchone()[0]
        sid = recording.save(con, CFG, entry)
        assert all_current(con)
        row = con.execute("SELECT k, post_systolic, post_diastolic, cadss_max FROM session_facts WHERE session_id = ?",
                          [sid]).fetchone()
        assert row == (before + 1, 186, 104, 9)
        recording.delete(con, CFG, sid)
        assert all_current(con)
    finally:
        con.close()


@pytest.mark.parametrize("table, version", [("score_points", 5), ("session_facts", 6), ("course_facts", 8)])
def test_a_store_from_before_gets_the_table_on_migration(tmp_path, table, version):
    path = str(tmp_path / "old.duckdb")
    demo.build(path, patients=30, seed=5)
    con = db.connect(path)
    for later in DERIVED[DERIVED.index(table):]:
        con.execute(f"DROP TABLE {later}")
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(version)])
    con.close()
    con = db.connect(path)
    try:
        assert db.schema_version(con) == db.SCHEMA_VERSION
        assert all_current(con)
    finally:
        con.close()
