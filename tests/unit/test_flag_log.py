"""The flag log: current after every write, stamped with the settings it used, never trusted when stale."""

import datetime as dt

from kdash import db, demo, derived, flag_log, rules, settings
from tests.builders import Clinic, day

CFG = settings.load()


def live(con, cfg, today):
    since = today - dt.timedelta(days=cfg["safety"]["flag_window_days"])
    p = {**rules.flag_params(cfg, since, today)}
    return db.query(con, "open_flags", p)


def as_set(df):
    return {(p, r, str(d)[:10], v) for p, r, d, v in zip(df.patient_id, df.rule, df.day, df.value)}


def test_demo_store_log_is_current_and_equals_live_evaluation(tmp_path):
    path = str(tmp_path / "d.duckdb")
    demo.build(path, patients=150, seed=3)
    con = db.connect(path)
    today = dt.date.today()
    assert flag_log.is_fresh(con, CFG)
    logged = rules.clinic_open_flags(con, CFG, today)
    assert len(logged) > 10
    assert as_set(logged) == as_set(live(con, CFG, today))
    con.close()


def test_a_threshold_change_makes_the_log_stale_and_readers_evaluate_live(tmp_path):
    path = str(tmp_path / "d.duckdb")
    demo.build(path, patients=150, seed=3)
    con = db.connect(path)
    today = dt.date.today()
    stricter = {**CFG, "safety": {**CFG["safety"], "cadss_max": 30}}
    assert not flag_log.is_fresh(con, stricter)
    fewer = rules.clinic_open_flags(con, stricter, today)
    assert as_set(fewer) == as_set(live(con, stricter, today))
    assert (fewer["rule"] == "dissociation").sum() < (rules.clinic_open_flags(con, CFG, today)["rule"]
                                                      == "dissociation").sum()
    assert derived.ensure_current(con, stricter) is True          # what the dashboard does on opening the store
    assert flag_log.is_fresh(con, stricter) and not flag_log.is_fresh(con, CFG)
    assert as_set(rules.clinic_open_flags(con, stricter, today)) == as_set(fewer)
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
