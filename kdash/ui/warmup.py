"""Start-up warm-up: the server fills the shared cache before the first person of the day signs in, and keeps it
filled.

Each page's opening view (its default filters, for each role that sees it) is one cached call of kdash.ui; the
first person to open a page with a cold cache pays for everyone (Outcomes: about 0.8 s at 100,000 patients). So
the server computes them in a background thread when it starts (app.py's lifespan), again soon after a write
makes them stale (kdash.ui.clear_caches starts a new generation), and again before an entry's ten-minute lifetime
runs out. The thread calls the very function the pages call with the very arguments they pass
(tests/app/test_warmup.py holds the two together), so a page shows the same numbers whether the thread or a person
filled the entry. A second thread computes clinic-wide aggregates that a page found stale (refresh_soon).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time

from kdash.ui import cache, refresh

DONE = threading.Event()          # the first warm-up is over (web.py's /_kdash/ready says so)
DONE.set()                        # ...or there is none (AppTest, the CLI); lifespan clears it as the server starts
AFTER_WRITE_SECONDS = 2.0         # a burst of writes (an import, a clinician's form) warms once
REFRESH_SECONDS = 420             # under the cache's 600 s lifetime: no entry expires under a visitor
_log = logging.getLogger("kdash.warmup")     # counts and seconds only: never a name or an ID


def opening_views(today: dt.date) -> list[tuple[str, dict]]:
    """(function, parameters) of every page's first draw with its default filters, as kdash.ui.fetch calls them
    (the per-person worklists are in warm)."""
    from kdash.clinical import outcomes, throughput
    start, end = outcomes.default_period(today)
    cohort = dict(route="all", diagnosis=None, age_band=None, sex=None, clinician=None, start=start, end=end)
    preset, comparison = next(iter(throughput.PRESETS)), next(iter(throughput.COMPARISONS))
    start, end, grain = throughput.preset_period(preset, today)
    compare_start, compare_end = throughput.comparison_period(start, end, comparison, preset)
    views = [
        ("clinic.at_a_glance", dict(today=today)),
        ("clinic.sessions_per_week", dict(today=today, weeks=12)),
        ("checkin.todays_sessions", dict(today=today)),
        ("course.reference_for", dict(route="iv_ketamine")),
        ("course.reference_for", dict(route="esketamine")),
        ("roster.clinicians", {}),
        ("users.clinician_names", {}),
        ("roster.page", dict(today=today, page_no=1, search=None, route=None, phase="active", clinician=None,
                             status=None, flag=None, course=None)),
        ("course.not_on_track", dict(today=today)),
        ("quality.page_view", dict(today=today)),
        ("eligibility.awaiting", dict(limit=100, today=today)),
        ("throughput.chairs", {}),
        ("throughput.page_view", dict(start=start, end=end, grain=grain or "week", route="all", chair=None,
                                      clinician=None, compare_start=compare_start, compare_end=compare_end)),
        ("worklist.loop_by_week", dict(today=today, weeks=12)),
        ("conference.recent_cases", {}),
        ("audit_view.actions", {}),
        ("worklist.rule_frequency", dict(days=90, today=today)),
    ]
    months = dict(cohort, **dict(zip(("start", "end"), outcomes.whole_months(cohort["start"], cohort["end"], today))))
    for hide_small, period in ((False, cohort), (True, months)):   # a clinician's view; a manager's, in whole months
        views.append(("outcomes.page_view", dict(**period, scale="MADRS", analysis_set="itt", today=today,
                                                 hide_small=hide_small)))
        views.append(("side_effects.page_view", dict(**period, hide_small=hide_small)))
    return views


def clinician_accounts(con) -> list[str]:
    return [u for (u,) in con.execute("SELECT username FROM users WHERE role = 'clinician' AND NOT disabled "
                                      "ORDER BY username").fetchall()]


def warm(path: str, refresh: bool = False, after_write: bool = False) -> tuple[int, float]:
    """Compute every opening view into the shared cache (with refresh: anew, so none is near its expiry), and each
    clinician account's own worklist; returns how many and the seconds it took. After a write the clinic-wide
    aggregates go to the background refresher instead (their previous figures are shown meanwhile), so the views
    that must be current come first."""
    t = time.perf_counter()
    con = cache._connection(path)

    def fetch(func: str, params: dict):
        key = tuple(sorted(params.items()))
        if after_write and func in cache.CLINIC_WIDE:
            return refresh.refresh_soon(path, func, key)
        return cache.compute(path, func, key, renew=refresh)

    today = dt.date.today()
    views = opening_views(today)
    for func, params in views:
        fetch(func, params)
    n = len(views)
    for username in clinician_accounts(con):     # "My patients" on the home page and the roster's worklist
        clinician = fetch("worklist.my_clinician", dict(username=username))
        n += 1
        if clinician:
            fetch("worklist.items", dict(clinician=clinician, today=today))
            n += 1
    return n, time.perf_counter() - t


def _refresher() -> None:
    while True:
        path, func, params = refresh.QUEUE.get()
        try:
            cache.compute(path, func, params)
        except Exception as e:       # the next visitor computes it in the page, with the page's own error handling
            _log.warning("background refresh failed: %s", type(e).__name__)
        finally:
            refresh.done(path, func, params)


def _keep_warm(path: str) -> None:
    from streamlit.logger import get_logger
    global _log
    _log = get_logger("kdash.warmup")          # into the server's log, in its format
    # This thread calls the cached functions outside any script run, which Streamlit warns about once per call.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    refresh = woken = False
    while True:
        try:
            n, seconds = warm(path, refresh, after_write=woken)
            _log.info("warm-up: %d views in %.1f s", n, seconds)
        except Exception as e:        # the pages compute what they need themselves; never stop the server
            _log.warning("warm-up failed: %s", type(e).__name__)
        DONE.set()
        woken = refresh.WAKE.wait(timeout=REFRESH_SECONDS)
        if woken:                     # after a write: warm the new generation; else renew before expiry
            time.sleep(AFTER_WRITE_SECONDS)
            refresh.WAKE.clear()
        refresh = not woken


def start(path: str) -> threading.Thread:
    thread = threading.Thread(target=_keep_warm, args=(path,), name="kdash-warmup", daemon=True)
    thread.start()
    threading.Thread(target=_refresher, name="kdash-refresh", daemon=True).start()
    refresh.STARTED.set()
    return thread


@contextlib.asynccontextmanager
async def lifespan(app):
    """st.App's start-up hook: warm in the background while the server already answers."""
    from kdash import settings
    from kdash.store import pg
    DONE.clear()
    start(settings.store_path())
    try:
        yield
    finally:
        pg.discard_models()       # a PostgreSQL store's read model is a copy of the record: it goes with the server
