"""The one-writer rule: while the dashboard holds its store, CLI commands end at once with a clear line,
never a hang, a traceback or a damaged file."""

import subprocess
import sys
import time

import duckdb
import pytest

from kdash import demo
from tests.conftest import ROOT
from tests.e2e.browser import sign_in, streamlit_server

COMMANDS = [
    (["import", "data/sample_import"], "write"),
    (["users", "add", "dr.late", "--role", "clinician"], "write"),
    (["demo", "--patients", "10"], "write"),
    (["info", "--json"], "read"),
    (["outcomes", "--json"], "read"),
    (["backup", "--out", "{tmp}/bk"], "read"),
]


def snapshot(path):
    con = duckdb.connect(path, read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*), bit_xor(hash(x)) FROM {t} x").fetchone()
                for t in ("patients", "sessions", "assessments", "vitals", "users", "meta")} | {
            "audit (not the dashboard's sign-in or its views)": con.execute(
                "SELECT count(*) FROM audit_log WHERE action NOT IN ('sign_in', 'sign_out') "
                "AND action NOT LIKE 'view%'").fetchone()}
    finally:
        con.close()


@pytest.fixture(scope="module")
def held(chromium, tmp_path_factory):
    """A store the running dashboard holds (a signed-in page has opened it), and its contents before."""
    tmp = tmp_path_factory.mktemp("held")
    store = str(tmp / "held.duckdb")
    demo.build(store, patients=30)
    before = snapshot(store)
    with streamlit_server(store) as url:
        page = chromium.new_page()
        page.goto(url)
        sign_in(page, "clinician")
        yield store, tmp
        page.close()
    assert snapshot(store) == before          # nothing written, nothing damaged: it opens and reads as before


@pytest.mark.parametrize("args, kind", COMMANDS, ids=[c[0][0] for c in COMMANDS])
def test_cli_against_a_running_dashboard_ends_at_once_with_a_reason(held, args, kind):
    store, tmp = held
    started = time.time()
    out = subprocess.run([sys.executable, "-m", "kdash", *[a.format(tmp=tmp) for a in args], "--db", store],
                         cwd=ROOT, capture_output=True, text=True, input="a long enough password\n", timeout=60)
    took = time.time() - started
    assert out.returncode != 0
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert "is open in another process (the dashboard?)" in out.stderr
    assert "work through the dashboard's pages" in out.stderr and took < 20
