"""A streaming standby as the README's network deployment makes one (pg_basebackup -R): it follows the primary, and
when the primary is lost and the standby promoted, an app process whose URL names both hosts
(target_session_attrs=read-write) goes on writing and reading without a restart (issue 21)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from kdash import settings
from kdash.clinical import recording
from kdash.importers import importing
from kdash.store import clinic_store, db, pg
from kdash.store.pg_cluster import Cluster
from tests.unit.test_record import FHIR, entry, rows


@pytest.fixture
def primary_and_standby(monkeypatch):
    primary = Cluster().start()
    standby = None
    try:
        standby = primary.standby()
        monkeypatch.setenv("PGPASSWORD", primary.password)
        yield primary, standby
    finally:
        for cluster in (standby, primary):
            if cluster is not None:
                cluster.stop()


def on_standby(standby: Cluster, sql: str) -> str:
    return standby.psql(sql, database="kdash").strip()


def caught_up(standby: Cluster, sessions: int, seconds: float = 30) -> float:
    """Seconds until the standby holds `sessions` sessions."""
    started = time.time()
    while int(on_standby(standby, "SELECT count(*) FROM sessions") or 0) != sessions:
        assert time.time() - started < seconds, "the standby did not catch up"
        time.sleep(0.05)
    return time.time() - started


def test_a_promoted_standby_takes_over_without_restarting_the_app(primary_and_standby):
    primary, standby = primary_and_standby
    url = (f"postgresql://kdash@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/kdash"
           "?target_session_attrs=read-write")
    cfg = settings.load(url)
    con = clinic_store.create(url, cfg)
    importing.run(con, cfg, [FHIR], skip_invalid=True)
    pid = con.execute("SELECT patient_id FROM patients ORDER BY 1 LIMIT 1").fetchone()[0]
    today = dt.date.today()
    first = recording.save(con, cfg, entry(pid, today - dt.timedelta(days=2)), username="doc")
    n = db.scalar(con, "SELECT count(*) FROM sessions")
    assert caught_up(standby, n) < 5                            # streaming: well within seconds
    assert on_standby(standby, "SELECT pg_is_in_recovery()") == "t"       # a standby, read-only

    primary.stop()                                  # the primary is lost (an immediate shutdown, its folder gone)
    standby.promote()
    assert on_standby(standby, "SELECT pg_is_in_recovery()") == "f"

    second = recording.save(con, cfg, entry(pid, today), username="doc")   # the same process, the same URL
    sessions = {r[0] for r in con.execute("SELECT session_id FROM sessions").fetchall()}
    assert {first, second} <= sessions                          # its own write at once, by a pull from the standby
    assert on_standby(standby, f"SELECT count(*) FROM sessions WHERE session_id = '{second}'") == "1"
    assert not pg.replica_of(con).last_error
    fresh = db.connect(url, create=False)           # a replica started now bootstraps from the promoted standby
    for table in ("sessions", "vitals", "side_effects", "flag_log", "session_facts"):
        assert rows(fresh, table) == rows(con, table), table
