"""The thin Streamlit layer shared by pages: the store connection, cached queries, the demo banner.

The only module in kdash that imports Streamlit. Data functions elsewhere take (con, cfg, **params).
"""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path

import streamlit as st

from kdash import db, demo, flag_log, settings

DEMO_PATIENTS = 400


def store_path() -> str:
    return settings.store_path()


@st.cache_resource(show_spinner="Opening the store…", on_release=lambda con: con.close())
def _connection(path: str):
    """One connection per process; queries take their own cursor. The first run builds the demo."""
    if path == settings.DEFAULT_DB and not Path(path).exists():
        demo.build(path, DEMO_PATIENTS, seed=7)
    con = db.connect(path, create=False)
    flag_log.ensure_fresh(con, settings.load(path))   # after an upgrade or a threshold change
    return con


def connection():
    return _connection(store_path())


def today() -> dt.date:
    return dt.date.today()


@st.cache_data(ttl=600, show_spinner=False, max_entries=256)
def _cached(path: str, func: str, params: tuple):
    module, name = func.rsplit(".", 1)
    fn = getattr(importlib.import_module(f"kdash.{module}"), name)
    return fn(_connection(path), settings.load(path), **dict(params))


def fetch(func: str, **params):
    """Call kdash.<module>.<name>(con, cfg, **params) once per store and arguments (cached, ttl 10 min)."""
    return _cached(store_path(), func, tuple(sorted(params.items())))


def clear_caches() -> None:
    """After a write: every cached query result is stale."""
    _cached.clear()


def open_store_or_stop():
    """The connection, or a plain message and a stopped page when the store cannot be opened."""
    try:
        return connection()
    except db.StoreError as exc:
        st.error(f"The store cannot be opened: {exc}", icon=":material/error:")
        st.stop()


def demo_banner(con) -> None:
    if db.meta(con, "demo") == "true":
        st.warning("**Synthetic demo data.** Every patient, name and number shown here is made up by the "
                   "kdash demo generator. Do not use it for clinical decisions.", icon=":material/science:")


def percent(x: float | None, digits: int = 0) -> str:
    return "n/a" if x is None else f"{x:.{digits}%}"


def require_app_frame() -> None:
    """Make sure this page runs inside app.py's frame (banner, navigation, later sign-in).

    Streamlit 1.67 still honours the legacy `pages/` folder on a process's first run (and on every
    AppTest run): a deep link such as /patient?patient_id=P000001 would then run the page script
    alone, without app.py. When a page finds itself run that way it switches the legacy mode off and
    runs app.py in its place, within the same script run (so a button press is not lost), and app.py
    routes back to this page through st.navigation.
    """
    from streamlit.runtime.pages_manager import PagesManager
    if not PagesManager.uses_pages_directory:
        return
    PagesManager.uses_pages_directory = False
    app = Path(__file__).resolve().parents[1] / "app.py"
    code = compile(app.read_text("utf-8"), str(app), "exec")
    exec(code, {"__name__": "__main__", "__file__": str(app)})  # noqa: S102 - our own frame script
    st.stop()


def clinic_settings() -> dict:
    """The open store's clinic settings (defaults merged with the clinic's file)."""
    return settings.load(store_path())


def cohort_filters(with_scale: bool = True, with_period: bool = True) -> dict:
    """The cohort filters shared by the outcome and side-effect pages (same keys as kdash.outcomes.params).
    Without the period (the case-conference page shows no calendar dates) the cohort spans every date."""
    from kdash import outcomes, scales
    routes = {"all": "All routes", "iv_ketamine": "IV ketamine", "esketamine": "Esketamine", "sc_ketamine": "SC ketamine"}
    diagnoses = {None: "All diagnoses", "mdd": "MDD", "bipolar_depression": "Bipolar depression", "pdd": "PDD",
                 "other": "Other"}
    today_ = today()
    c = st.columns(4)
    period = (c[0].date_input("First session between", value=(today_.replace(year=today_.year - 2), today_),
                              min_value=dt.date(1990, 1, 1), max_value=today_, format="YYYY-MM-DD")
              if with_period else (None, None))
    if not with_period:
        c[0].caption("All first-treatment dates (this page shows no calendar dates).")
    route = c[1].selectbox("Route", list(routes), format_func=routes.get)
    diagnosis = c[2].selectbox("Diagnosis", list(diagnoses), format_func=diagnoses.get)
    age_band = c[3].selectbox("Age band", [None, *outcomes.AGE_BANDS], format_func=lambda v: v or "All ages")
    c = st.columns(4)
    sex = c[0].selectbox("Sex", [None, "F", "M", "X"], format_func=lambda v: v or "All")
    clinician = c[1].selectbox("Clinician", [None, *fetch("roster.clinicians")], format_func=lambda v: v or "All")
    filters = {"route": route, "diagnosis": diagnosis, "age_band": age_band, "sex": sex, "clinician": clinician}
    if with_scale:
        filters["scale"] = c[2].selectbox("Scale", [s for s in scales.DEPRESSION_SCALES if s in ("MADRS", "PHQ9",
                                                                                                  "QIDS_SR16", "HAMD17")],
                                          format_func=lambda s: scales.SCALES[s].name)
        filters["analysis_set"] = c[3].selectbox(
            "Analysis set", ["itt", "completers"],
            format_func={"itt": "All treated (last observation carried forward)",
                         "completers": "Completers of induction"}.get)
    if not isinstance(period, (tuple, list)) or len(period) != 2:
        st.info("Choose both ends of the date range.", icon=":material/date_range:")
        st.stop()
    filters["start"], filters["end"] = period
    return filters
