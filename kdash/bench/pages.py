"""`python -m kdash bench` (kdash.bench.main): every page, cold and warm, on a large store, against a full-table reference R.

Not run in CI. Cold = caches cleared and a fresh AppTest (median of --cold-runs); warm = median of N reruns of the same page.
R = one full pass over the store's largest table (every column) in this process, so the figures
travel between machines as multiples of R. Targets: warm ≤ 1 R, cold ≤ 5 R.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from pathlib import Path

from kdash.store import db

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["pages/home.py", "pages/roster.py", "pages/patient.py", "pages/eligibility.py", "pages/record_session.py",
         "pages/outcomes.py", "pages/side_effects.py", "pages/throughput.py", "pages/conference.py",
         "pages/import_data.py", "pages/audit.py", "pages/users.py"]


def reference_pass(path: str) -> tuple[str, float]:
    con = db.connect(path, read_only=True)
    try:
        tables = con.execute("SELECT table_name, estimated_size FROM duckdb_tables() ORDER BY estimated_size DESC").fetchall()
        largest = tables[0][0]
        times = []
        for _ in range(3):
            t = time.perf_counter()
            con.execute(f"SELECT min(COLUMNS(*)) FROM {largest}").fetchall()
            times.append(time.perf_counter() - t)
        return largest, statistics.median(times)
    finally:
        con.close()


def _page_times(page: str, warm_runs: int, query: dict | None = None) -> tuple[float, float, str | None]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    from kdash import access
    stem = page.rsplit("/", 1)[-1].removesuffix(".py")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.session_state["user"] = {"name": "bench", "role": next(r for r in access.ROLES if access.may_open(r, stem)),
                                "seen": time.time()}      # signed in as a role that may open the page
    at.run()                                             # registers the url paths
    st.cache_data.clear()
    if not os.environ.get("KDASH_DB", "").startswith(("postgresql://", "postgres://")):
        st.cache_resource.clear()      # a replica keeps its read model: a cold page is one with no cached data
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.switch_page(page)
    t = time.perf_counter()
    at.run()
    cold = time.perf_counter() - t
    warm = [cold]
    for _ in range(warm_runs):
        t = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t)
    error = str(at.exception[0].value) if at.exception else None
    if not error and not at.title:
        error = "the page drew no title"
    return cold, statistics.median(warm[1:] or warm), error, (at.title[0].value if at.title else "")


def run(args, path: str) -> int:
    """Each page (or those --page names) cold and warm, as multiples of R."""
    os.environ["KDASH_DB"] = path
    os.chdir(ROOT)
    largest, r = reference_pass(path)
    print(f"store {path}; R = full pass over {largest}: {r * 1000:.0f} ms")
    print(f"{'page':<28}{'cold ms':>10}{'warm ms':>10}{'cold/R':>9}{'warm/R':>9}  {'verdict':<12}title seen")
    pages = [p for p in PAGES if not args.page or any(part in p for part in args.page)]
    for page in pages:   # imports (plotly, scipy) happen once per process: not part of a page's cold run
        _page_times(page, 0, {"patient_id": "P000001"} if "patient" in page else None)
    failures = 0
    for page in pages:
        query = {"patient_id": "P000001"} if "patient" in page else None
        cold, warm, error, title = _page_times(page, args.warm_runs, query)
        colds = [cold] + [_page_times(page, 0, query)[0] for _ in range(args.cold_runs - 1)]
        cold = statistics.median(colds)    # one cold run swings by ±20 % on a 2-core machine
        ok = error is None and warm <= r and cold <= 5 * r
        failures += not ok
        verdict = "ok" if ok else ("ERROR " + error[:60] if error else "over target")
        print(f"{page:<28}{cold * 1000:>10.0f}{warm * 1000:>10.0f}{cold / r:>9.2f}{warm / r:>9.2f}  {verdict:<12}{title}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS) {peak_mb:,.0f} MB; targets warm ≤ 1 R, cold ≤ 5 R; {failures} page(s) over")
    return 0
