"""Flags as work (kdash/clinical/worklist.py): open until acknowledged or cleared, whatever their age; new evidence opens a
new flag; urgent flags overdue after the clinic's time. Each case is checked on the live rules and on the log."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from kdash import settings
from kdash.clinical import worklist
from kdash.store import db, flag_log
from tests.builders import Clinic, day

CFG = settings.load()
ACTION = CFG["flags"]["actions"][0]


@pytest.fixture(params=["live", "logged"])
def clinic(request, tmp_path):
    c = Clinic(str(tmp_path / "w.duckdb"))
    c.mode = request.param
    yield c
    c.close()


def opened(c: Clinic, today: dt.date, pid: str | None = None, but=("iv_unscored",)) -> set[tuple[str, str]]:
    """Open flags (patient, rule), but those of the rules named (a hand-built IV course without scores has one)."""
    if c.mode == "logged":
        with db.transaction(c.con) as cur:
            flag_log.refresh(cur, CFG)
        assert flag_log.is_fresh(c.con, CFG)
    rows = worklist.items(c.con, CFG, today, patient_ids=None if pid is None else [pid])
    return {(p, r) for p, r in zip(rows["patient_id"], rows["rule"]) if r not in but}


def phq9(item9: int) -> list[int]:
    return [2, 2, 2, 2, 2, 2, 2, 2, item9]


def ack(c, pid, rule, n_day, action=ACTION):
    return worklist.acknowledge(c.con, CFG, pid, rule, action, "called her", by="dr.a", today=day(n_day),
                                now=dt.datetime.combine(day(n_day), dt.time(10)))


def test_a_suicide_answer_stays_open_until_a_clinician_acts_whatever_comes_later(clinic):
    """clinical-reference §4 preamble: an urgent flag closes only when a clinician acknowledges it with an action; a
    later, lower answer is shown on the flag as new evidence, never a reason to close it."""
    c = clinic
    c.patient("A")
    c.session("A", 0)
    c.score("A", 1, "PHQ9", items=phq9(2))
    assert opened(c, day(1)) == {("A", "suicidal_thoughts")}
    assert opened(c, day(200)) == {("A", "suicidal_thoughts")}          # no 30-day window
    c.score("A", 210, "PHQ9", items=phq9(0))                             # a later answer of 0 …
    assert opened(c, day(210)) == {("A", "suicidal_thoughts")}          # … does not close it
    row = worklist.items(c.con, CFG, day(210)).iloc[0]
    assert row["evidence"] == "PHQ-9 item 9 = 2"
    assert row["newer_value"] == "PHQ-9 item 9 = 0" and str(row["newer_day"])[:10] == str(day(210))
    assert worklist.newer_text(row) == f"later: PHQ-9 item 9 = 0 on {day(210):%d %b %Y}"
    ack(c, "A", "suicidal_thoughts", 211)
    assert opened(c, day(211)) == set()
    c.score("A", 220, "CSSRS", total=4)                                  # new evidence opens a new flag
    assert opened(c, day(220)) == {("A", "suicidal_thoughts")}
    assert pd.isna(worklist.items(c.con, CFG, day(220)).iloc[0]["newer_value"])


def test_a_severe_total_without_its_suicide_item_waits_for_a_clinician_a_milder_one_clears(clinic):
    """§4 "suicide item unknown": review, urgent in the severe band; a later answer to the item clears only the
    review prompt."""
    c = clinic
    for pid, total in (("S1", 22), ("S2", 12)):
        c.patient(pid)
        c.session(pid, 0)
        c.score(pid, 1, "PHQ9", total=total)
    assert opened(c, day(1)) == {("S1", "suicide_item_unknown"), ("S2", "suicide_item_unknown")}
    rows = worklist.items(c.con, CFG, day(1))
    assert dict(zip(rows["patient_id"], rows["severity"])) == {"S1": "urgent", "S2": "review"}
    for pid in ("S1", "S2"):
        c.score(pid, 5, "PHQ9", items=phq9(0))
    assert opened(c, day(5)) == {("S1", "suicide_item_unknown")}
    row = worklist.items(c.con, CFG, day(5)).iloc[0]
    assert row["newer_value"] == "recorded: PHQ-9 item 9 = 0"


def test_a_further_dose_rise_after_an_acknowledgement_reopens_dose_creep(clinic):
    c = clinic
    c.patient("K")
    for n in range(6):
        c.session("K", n)
    for n, mg in ((10, 50.0), (20, 60.0)):                               # 0.50 → 0.60 mg/kg: creep
        c.session("K", n, phase="maintenance", dose_mg=mg, weight_kg=100.0)
    assert opened(c, day(20)) == {("K", "dose_creep")}
    ack(c, "K", "dose_creep", 21)
    c.session("K", 30, phase="maintenance", dose_mg=60.0, weight_kg=100.0)  # the same dose again: nothing new
    assert opened(c, day(30)) == set()
    c.session("K", 40, phase="maintenance", dose_mg=70.0, weight_kg=100.0)  # a further rise
    assert opened(c, day(40)) == {("K", "dose_creep")}
    rows = worklist.items(c.con, CFG, day(40))
    assert rows[rows["rule"] == "dose_creep"].iloc[0]["evidence"] == "0.50 → 0.70 mg/kg"


def test_an_acknowledgement_closes_the_flag_and_new_evidence_opens_a_new_one(clinic):
    c = clinic
    c.patient("B")
    c.session("B", 0)
    c.score("B", 1, "PHQ9", items=phq9(1))
    c.score("B", 3, "PHQ9", items=phq9(2))
    assert opened(c, day(4)) == {("B", "suicidal_thoughts")}
    assert ack(c, "B", "suicidal_thoughts", 4) == day(3)                 # covers both answers
    assert opened(c, day(4)) == set()
    assert opened(c, day(3)) == {("B", "suicidal_thoughts")}            # as of before it was acknowledged
    c.score("B", 9, "PHQ9", items=phq9(1))
    rows = worklist.items(c.con, CFG, day(9))
    if c.mode == "logged":
        assert opened(c, day(9)) == {("B", "suicidal_thoughts")}
    else:
        assert list(rows["n_evidence"]) == [1] and str(rows["first_day"].iloc[0])[:10] == str(day(9))
    history = worklist.history(c.con, "B")
    assert list(history["action"]) == [ACTION] and list(history["acknowledged_by"]) == ["dr.a"]
    audit = c.con.execute("SELECT username, action, patient_id, detail FROM audit_log "
                          "WHERE action = 'flag_acknowledged'").fetchall()
    assert audit == [("dr.a", "flag_acknowledged", "B", f"suicidal_thoughts: {ACTION}")]


def test_acknowledging_what_is_not_open_or_with_a_bad_action_changes_nothing(clinic):
    c = clinic
    c.patient("C")
    c.session("C", 0)
    c.score("C", 1, "PHQ9", items=phq9(2))
    opened(c, day(2))
    for args, message in [(("C", "predose_bp", ACTION), "not open"), (("C", "suicidal_thoughts", "Ignored it"),
                                                                          "clinic's actions"),
                          (("C", "no_such_rule", ACTION), "no rule"), (("C\x00", "suicidal_thoughts", ACTION), "ID")]:
        with pytest.raises(worklist.AckError, match=message):
            worklist.acknowledge(c.con, CFG, *args, None, by="dr.a", today=day(2))
    with pytest.raises(worklist.AckError, match="at most"):
        worklist.acknowledge(c.con, CFG, "C", "suicidal_thoughts", ACTION, "x" * 501, by="dr.a", today=day(2))
    assert c.con.execute("SELECT count(*) FROM flag_acks").fetchone()[0] == 0
    assert c.con.execute("SELECT count(*) FROM audit_log WHERE action = 'flag_acknowledged'").fetchone()[0] == 0


def test_blood_pressure_and_dissociation_clear_on_a_later_session_within_the_line(clinic):
    c = clinic
    c.patient("D")
    s1 = c.session("D", 0)
    c.bp("D", s1, -5, 150, 95)
    c.bp("D", s1, 40, 190, 100)
    assert opened(c, day(1)) == {("D", "predose_bp"), ("D", "emergent_hypertension")}
    s2 = c.session("D", 3)
    c.bp("D", s2, -5, 130, 80)                                            # pre-dose fine, no post-dose reading
    assert opened(c, day(3)) == {("D", "emergent_hypertension")}
    c.bp("D", s2, 40, 150, 85)
    assert opened(c, day(3)) == set()


def test_dissociation_fires_on_a_rise_not_on_high_early_values(clinic):
    c = clinic
    c.patient("E")
    for k, cadss in enumerate([30, 20, 12, 8]):                          # high but falling: no flag
        sid = c.session("E", 2 * k)
        c.score("E", 2 * k, "CADSS", total=cadss, session_id=sid)
    assert opened(c, day(8)) == set()
    sid = c.session("E", 10)
    c.score("E", 10, "CADSS", total=25, session_id=sid)                   # above the last 3 (20, 12, 8)
    assert opened(c, day(10)) == {("E", "dissociation")}
    rows = worklist.items(c.con, CFG, day(10))
    assert rows["evidence"].iloc[0] == "CADSS 25 (earlier 20, 12, 8)"
    sid = c.session("E", 12)
    c.score("E", 12, "CADSS", total=3, session_id=sid)                    # settled at the next session
    assert opened(c, day(12)) == set()


def test_urgent_flags_are_overdue_after_the_clinics_time_and_the_worklist_is_ordered(clinic):
    c = clinic
    for pid in ("F1", "F2"):
        c.patient(pid)
        c.session(pid, 0)
    c.score("F1", 1, "PHQ9", items=phq9(1))                               # urgent, day 1 (no time: 00:00)
    s = c.session("F2", 2)
    c.bp("F2", s, -5, 150, 95)                                            # caution
    opened(c, day(2))
    noon = dt.datetime.combine(day(1), dt.time(12))
    rows = worklist.items(c.con, CFG, day(1), now=noon)
    assert list(rows["overdue"]) == [False]
    rows = worklist.items(c.con, CFG, day(2), now=noon + dt.timedelta(hours=13))
    assert list(rows["patient_id"]) == ["F1", "F2"] and list(rows["overdue"]) == [True, False]
    assert worklist.counts(c.con, CFG, day(2), now=noon + dt.timedelta(hours=13)) == {
        "urgent": 1, "high": 0, "caution": 1, "review": 0, "overdue": 1}
    assert list(worklist.items(c.con, CFG, day(2), clinician="Dr Nobody")["patient_id"]) == []
    assert len(worklist.items(c.con, CFG, day(2), clinician="Dr Test")) == 2


def test_a_rules_severity_is_the_clinics(clinic, tmp_path):
    c = clinic
    c.patient("G")
    s = c.session("G", 0)
    c.bp("G", s, -5, 150, 95)
    cfg = {**CFG, "flags": {**CFG["flags"], "severity": {**CFG["flags"]["severity"], "predose_bp": "high"}}}
    if c.mode == "logged":
        with db.transaction(c.con) as cur:
            flag_log.refresh(cur, cfg)
    rows = worklist.items(c.con, cfg, day(1))
    assert list(rows["severity"]) == ["high"]


def test_long_term_use_is_dated_when_reached_so_later_sessions_do_not_reopen_it(tmp_path):
    c = Clinic(str(tmp_path / "l.duckdb"))
    c.patient("L")
    c.session("L", 0)
    c.session("L", 366)
    rows = worklist.items(c.con, CFG, day(366))
    assert list(rows["rule"]) == ["long_term_use"] and str(rows["last_day"].iloc[0])[:10] == str(day(366))
    ack(c, "L", "long_term_use", 367)
    for n in (370, 400, 500):
        c.session("L", n)
        assert "long_term_use" not in set(worklist.items(c.con, CFG, day(n))["rule"])
    c.close()
