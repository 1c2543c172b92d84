"""Score points stay equal to a fresh build after every kind of write."""

import datetime as dt

from kdash import db, demo, importing, recording, settings
from tests.conftest import ROOT

CFG = settings.load()


def fresh(con):
    return sorted(map(tuple, con.execute("SELECT * FROM (" + db.sql("score_points_build") + ")",
                                         {"ids": None}).fetchall()))


def stored(con):
    return sorted(map(tuple, con.execute("SELECT * FROM score_points").fetchall()))


def test_points_follow_demo_import_record_and_delete(tmp_path):
    path = str(tmp_path / "p.duckdb")
    demo.build(path, patients=60, seed=8)
    con = db.connect(path)
    try:
        assert stored(con) and stored(con) == fresh(con)
        assert importing.run(con, CFG, [str(ROOT / "data" / "sample_import")]).ok
        assert stored(con) == fresh(con)
        pid = con.execute("SELECT patient_id FROM sessions WHERE status = 'completed' LIMIT 1").fetchone()[0]
        entry = recording.Entry(patient_id=pid, day=dt.date.today(), route="iv_ketamine", weight_kg=70, dose_mg=35,
                                start=dt.time(9), end=dt.time(10), scores={"MADRS": "12", "PHQ9": "5"})
        sid = recording.save(con, CFG, entry)
        assert stored(con) == fresh(con)
        recording.delete(con, CFG, sid)
        assert stored(con) == fresh(con)
    finally:
        con.close()


def test_a_store_from_before_gets_its_points_on_migration(tmp_path):
    path = str(tmp_path / "old.duckdb")
    demo.build(path, patients=30, seed=5)
    con = db.connect(path)
    con.execute("DROP TABLE score_points")
    con.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    con.close()
    con = db.connect(path)
    try:
        assert db.schema_version(con) == 6
        assert stored(con) and stored(con) == fresh(con)
    finally:
        con.close()
