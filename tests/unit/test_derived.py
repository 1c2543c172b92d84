"""Derived tables (score points, session facts, course facts) stay equal to a fresh build after every kind of write,
and stores from before each one get it on migration."""

import datetime as dt

import pandas as pd
import pytest

from kdash import settings
from kdash.clinical import outcomes, recording
from kdash import demo
from kdash.importers import importing
from kdash.store import course_scores, db, derived
from tests.conftest import ROOT

CFG = settings.load()
DERIVED = list(derived.TABLES)


def fresh(con, table):
    text = "SELECT * FROM (" + db.sql(f"{table}_build") + ")"
    return sorted(map(tuple, con.execute(text, db.bind(text, {"ids": None, "as_of": None})).fetchall()), key=repr)


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
        assert importing.run(con, CFG, [str(ROOT / "data" / "sample_import")], into_demo=True).ok
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


@pytest.mark.parametrize("table, version", [("score_points", 5), ("session_facts", 6), ("course_facts", 8), ("effect_facts", 10)])
def test_a_store_from_before_gets_the_table_on_migration(tmp_path, table, version):
    path = str(tmp_path / "old.duckdb")
    demo.build(path, patients=30, seed=5)
    con = db.connect(path)
    before_scores = ["course_scores"] if version < 10 else []           # course scores: migration 10
    for later in DERIVED[DERIVED.index(table):] + before_scores:
        con.execute(f"DROP TABLE {later}")
    con.execute("DELETE FROM meta WHERE key = ?", [course_scores.META_KEY])
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(version)])
    con.close()
    con = db.connect(path)
    try:
        assert db.schema_version(con) == db.SCHEMA_VERSION
        assert all_current(con)
    finally:
        con.close()


def scores_current(con):
    """The stored course scores equal a fresh build with the stamped (default) settings."""
    text = "SELECT * FROM (" + db.sql("course_scores_build") + ")"
    fresh_rows = con.execute(text, db.bind(text, {**course_scores.settings_params(CFG), "patient_ids": None,
                                                  "ids": None, "as_of": None})).fetchall()
    return sorted(map(tuple, fresh_rows), key=repr) == stored(con, "course_scores")


def test_course_scores_follow_writes_and_a_settings_change_until_rebuilt(tmp_path):
    path = str(tmp_path / "c.duckdb")
    demo.build(path, patients=60, seed=8)
    con = db.connect(path)
    try:
        assert stored(con, "course_scores") and scores_current(con)
        assert importing.run(con, CFG, [str(ROOT / "data" / "sample_import")], into_demo=True).ok
        pid = con.execute("SELECT patient_id FROM course_facts LIMIT 1").fetchone()[0]
        entry = recording.Entry(patient_id=pid, day=dt.date.today(), route="iv_ketamine", weight_kg=70, dose_mg=35,
                                start=dt.time(9), end=dt.time(10), scores={"MADRS": "3"})
        recording.save(con, CFG, entry)
        assert scores_current(con)
        # a clinic that widens its baseline look-back: the stored rows are stale, readers compute live rows
        wider = {**CFG, "outcomes": {**CFG["outcomes"], "baseline_lookback_days": 60}}
        params = outcomes.params(wider, "MADRS")
        assert not course_scores.is_current(con, params)
        by_patient = lambda: outcomes.per_patient(con, wider, scale="MADRS").sort_values("patient_id", ignore_index=True)
        live = by_patient()
        assert derived.ensure_current(con, wider) is True
        assert course_scores.is_current(con, params)
        pd.testing.assert_frame_equal(by_patient(), live)
        assert derived.ensure_current(con, wider) is False
    finally:
        con.close()


def test_a_store_from_before_the_first_of_group_flags_gets_them_on_migration(tmp_path):
    """A version-11 store: session and effect facts filled, without the flag columns (migration 12)."""
    path = str(tmp_path / "v11.duckdb")
    demo.build(path, patients=30, seed=5)
    con = db.connect(path)
    for table, flags in (("session_facts", ("first_in_route", "first_in_dose_band")),
                         ("effect_facts", ("first_of_effect", "first_in_route", "first_in_dose_band",
                                           "first_in_session"))):
        for flag in flags:
            con.execute(f"ALTER TABLE {table} DROP COLUMN {flag}")
    con.execute("UPDATE meta SET value = '11' WHERE key = 'schema_version'")
    con.close()
    con = db.connect(path)
    try:
        assert db.schema_version(con) == db.SCHEMA_VERSION
        assert all_current(con)
        assert con.execute("SELECT count(*) FILTER (WHERE first_of_effect) FROM effect_facts").fetchone()[0] > 0
    finally:
        con.close()


def test_course_scores_built_by_an_earlier_definition_are_rebuilt(tmp_path):
    """A store whose course scores were stamped before time to response was judged on the timepoint scores
    (a stamp of the settings alone): stale, so read live, and rebuilt when the dashboard opens it."""
    import hashlib
    import json
    path = str(tmp_path / "old-scores.duckdb")
    demo.build(path, patients=30, seed=5)
    con = db.connect(path)
    try:
        params = course_scores.settings_params(CFG)
        old = hashlib.sha256(json.dumps({k: params[k] for k in course_scores.SETTINGS},
                                        sort_keys=True).encode()).hexdigest()[:16]
        con.execute("UPDATE meta SET value = ? WHERE key = ?", [old, course_scores.META_KEY])
        assert not course_scores.is_current(con, params)
        assert derived.ensure_current(con, CFG) is True
        assert course_scores.is_current(con, params) and scores_current(con)
    finally:
        con.close()
