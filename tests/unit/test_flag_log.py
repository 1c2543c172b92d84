"""The flag log: current after every write, stamped with the settings it used, never trusted when stale."""

import datetime as dt

from kdash import settings
from kdash.clinical import rules
from kdash import demo
from kdash.store import db, derived, flag_log
from tests.builders import Clinic, day

CFG = settings.load()


def live(con, cfg, today):
    p = {**rules.flag_params(cfg, flag_log.ALL_TIME[0], today)}
    return db.query(con, "open_flags", p)


def as_set(df):
    return {(p, r, str(d)[:10], v) for p, r, d, v in zip(df.patient_id, df.rule, df.day, df.value)}


def test_demo_store_log_is_current_and_equals_live_evaluation(tmp_path):
    path = str(tmp_path / "d.duckdb")
    demo.build(path, patients=150, seed=3)
    con = db.connect(path)
    today = dt.date.today()
    assert flag_log.is_fresh(con, CFG)
    logged = flag_log.evidence(con, CFG, flag_log.ALL_TIME[0], today)
    assert len(logged) > 100 and "clear" not in set(logged["severity"])
    assert as_set(logged) == as_set(live(con, CFG, today))
    # the open flags read from the log are those the rules give live (a stale stamp makes readers evaluate live)
    from kdash.clinical import worklist
    from_log = as_set(worklist.open_rows(con, CFG, today))
    con.execute("UPDATE meta SET value = 'stale' WHERE key = $k", {"k": flag_log.META_KEY})
    assert not flag_log.is_fresh(con, CFG)
    assert from_log == as_set(worklist.open_rows(con, CFG, today)) and from_log
    con.close()


def test_a_threshold_change_makes_the_log_stale_and_readers_evaluate_live(tmp_path):
    path = str(tmp_path / "d.duckdb")
    demo.build(path, patients=150, seed=3)
    con = db.connect(path)
    today = dt.date.today()
    stricter = {**CFG, "safety": {**CFG["safety"], "cadss_max": 30}}
    assert not flag_log.is_fresh(con, stricter)
    fewer = flag_log.evidence(con, stricter, flag_log.ALL_TIME[0], today)
    assert as_set(fewer) == as_set(live(con, stricter, today))
    assert (fewer["rule"] == "dissociation").sum() < (flag_log.evidence(con, CFG, flag_log.ALL_TIME[0], today)["rule"]
                                                      == "dissociation").sum()
    assert derived.ensure_current(con, stricter) is True          # what the dashboard does on opening the store
    assert flag_log.is_fresh(con, stricter) and not flag_log.is_fresh(con, CFG)
    assert as_set(flag_log.evidence(con, stricter, flag_log.ALL_TIME[0], today)) == as_set(fewer)
    con.close()


def test_refreshing_one_patient_after_a_write(tmp_path):
    c = Clinic(str(tmp_path / "w.duckdb"))
    c.patient("W1")
    c.patient("W2")
    s1 = c.session("W1", 10)
    c.session("W2", 10)
    with db.transaction(c.con) as cur:
        flag_log.refresh(cur, CFG)
    assert flag_log.is_fresh(c.con, CFG)
    assert rules.clinic_open_flags(c.con, CFG, day(12)).empty
    c.bp("W1", s1, 40, 190, 100)                     # a new post-dose reading above the limit
    with db.transaction(c.con) as cur:
        flag_log.refresh(cur, CFG, ["W1"])
    flags = rules.clinic_open_flags(c.con, CFG, day(12))
    assert list(flags["rule"]) == ["emergent_hypertension"] and list(flags["patient_id"]) == ["W1"]
    c.close()
