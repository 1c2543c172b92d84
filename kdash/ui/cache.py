"""The store connection and the shared cache of data-function results: one connection per process, reads cached per store, arguments and write generation, clinic-wide aggregates refreshed in the background."""

from __future__ import annotations

import datetime as dt
import importlib
import threading
import time
from pathlib import Path

import streamlit as st

from kdash import settings
from kdash import demo
from kdash.store import db, derived
from kdash.ui import refresh

DEMO_PATIENTS = 400


def store_path() -> str:
    return settings.store_path()


@st.cache_resource(show_spinner="Opening the store…", on_release=lambda con: db.close(con))
def _connection(path: str):
    """One connection per process; queries take their own cursor. The first run builds the demo."""
    if path == settings.DEFAULT_DB and not Path(path).exists():
        demo.build(path, DEMO_PATIENTS, seed=7)
    con = db.connect(path, create=False)
    derived.ensure_current(con, settings.load(path))   # after an upgrade or a threshold change
    db.on_change(con, lambda changed: clear_caches())  # another replica's writes, pulled into the read model
    return con


def connection():
    con = _connection(store_path())
    db.fresh(con)         # a PostgreSQL store's read model pulls when older than its max age
    return con


def today() -> dt.date:
    return dt.date.today()


@st.cache_data(ttl=600, show_spinner=False, max_entries=256)
def _cached(path: str, func: str, params: tuple, generation: int = 0):
    """kdash.<func> on the store; `generation` (the count of writes this process has made) is part of the key, so
    a write makes every later read compute anew."""
    return data_function(func)(_connection(path), settings.load(path), **dict(params))


# A data function's name ("outcomes.page_view") is what kdash.access grants a role and what the cache is keyed by;
# these are the modules that hold each name's functions, first match wins (a page's view before its statistics).
DATA_MODULES = {
    "clinic": ("kdash.clinical.clinic",), "roster": ("kdash.clinical.roster",),
    "worklist": ("kdash.clinical.worklist",), "patient": ("kdash.present.views.patient", "kdash.clinical.patient"),
    "eligibility": ("kdash.clinical.eligibility",), "recording": ("kdash.clinical.recording",),
    "decisions": ("kdash.clinical.decisions",), "checkin": ("kdash.clinical.checkin",),
    "course": ("kdash.clinical.course",), "quality": ("kdash.clinical.quality",),
    "outcomes": ("kdash.present.views.outcomes", "kdash.clinical.outcomes"),
    "side_effects": ("kdash.present.views.side_effects", "kdash.clinical.side_effects"),
    "throughput": ("kdash.present.views.throughput", "kdash.clinical.throughput"),
    "report": ("kdash.present.report",), "conference": ("kdash.present.conference",),
    "audit_view": ("kdash.access.audit_view",), "users": ("kdash.access.users",),
    "importing": ("kdash.importers.importing",),
}


def data_function(func: str):
    """The function a data-function name stands for ("outcomes.page_view": kdash.present.views.outcomes.page_view)."""
    module, name = func.rsplit(".", 1)
    for path in DATA_MODULES.get(module, ()):
        try:
            found = importlib.import_module(path)
        except ModuleNotFoundError:
            continue
        if hasattr(found, name):
            return getattr(found, name)
    raise LookupError(f"no data function {func}")


# Clinic-wide aggregates over every patient: after a write, a server with its warm-up thread running shows the
# previous figures (saying so) for at most STALE_SECONDS while the thread computes the new ones, instead of making
# each next visitor wait 1–4 s (20 people, one clinician recording: issue 20). Everything else is always current.
CLINIC_WIDE = frozenset({"quality.page_view", "course.reference_for", "course.check", "course.proof", "course.not_on_track", "outcomes.page_view", "side_effects.page_view", "throughput.page_view",
                         "clinic.sessions_per_week", "worklist.loop_by_week", "worklist.rule_frequency"})


STALE_SECONDS = 30


_writes = {"generation": 0, "at": {}}          # generation → when the write that started it was made


_done: dict[tuple, int] = {}                    # (path, func, params) → newest generation computed


_writes_lock = threading.Lock()


def generation() -> int:
    return _writes["generation"]


def compute(path: str, func: str, params: tuple, renew: bool = False):
    """The value at the current generation (computed unless cached; with renew, computed anew)."""
    g = generation()
    if renew:
        _cached.clear(path, func, params, g)
    value = _cached(path, func, params, g)
    with _writes_lock:
        if _done.get((path, func, params), -1) < g:
            _done[(path, func, params)] = g
    return value


def read(path: str, func: str, params: tuple):
    """A cached call of kdash.<func>, or a clinic-wide aggregate's previous value while its new one is computed."""
    g = generation()
    done = _done.get((path, func, params))
    if func in CLINIC_WIDE and done is not None and done < g and refresh.running():
        stale_since = _writes["at"].get(done + 1, 0.0)
        if time.time() - stale_since <= STALE_SECONDS:
            refresh.refresh_soon(path, func, params)
            stale_note(stale_since)
            return _cached(path, func, params, done)
    return compute(path, func, params)


def stale_note(since: float) -> None:
    st.caption(f"Figures as of {dt.datetime.fromtimestamp(since):%H:%M:%S}: the latest sessions are being added "
               "(a few seconds; open the page again to see them).", help="Clinic-wide figures are recomputed in "
               "the background after each write, so that nobody waits for them.")


def clear_caches() -> None:
    """After a write: every cached query result is stale. A new generation: later reads compute anew (clinic-wide
    aggregates in the background, kdash/ui/warmup.py), and the warm-up thread computes the opening views again."""
    with _writes_lock:
        _writes["generation"] += 1
        _writes["at"][_writes["generation"]] = time.time()
    refresh.after_write()


def clinic_settings() -> dict:
    """The open store's clinic settings (defaults merged with the clinic's file)."""
    return settings.load(store_path())
