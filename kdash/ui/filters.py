"""The cohort filters of the outcome, side-effect and case-conference pages."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from kdash.ui.cache import today
from kdash.ui.guard import counts_only, fetch


def cohort_filters(with_scale: bool = True, with_period: bool = True) -> dict:
    """The cohort filters shared by the outcome and side-effect pages (same keys as kdash.outcomes.params).
    Without the period (the case-conference page shows no calendar dates) the cohort spans every date."""
    from kdash import scales, vocab
    from kdash.clinical import outcomes
    routes = {"all": "All routes", "iv_ketamine": "IV ketamine", "esketamine": "Esketamine", "sc_ketamine": "SC ketamine"}
    diagnoses = {None: "All diagnoses", "mdd": "MDD", "bipolar_depression": "Bipolar depression", "pdd": "PDD",
                 "other": "Other"}
    today_ = today()
    c = st.columns(4)
    period = (c[0].date_input("First session between", value=outcomes.default_period(today_),
                              min_value=dt.date(1990, 1, 1), max_value=today_, format="YYYY-MM-DD")
              if with_period else (None, None))
    if not with_period:
        c[0].caption("All first-treatment dates (this page shows no calendar dates).")
    route = c[1].selectbox("Route", list(routes), format_func=routes.get)
    diagnosis = c[2].selectbox("Diagnosis", list(diagnoses), format_func=diagnoses.get)
    age_band = c[3].selectbox("Age band", [None, *outcomes.AGE_BANDS], format_func=lambda v: v or "All ages")
    c = st.columns(4)
    sex = c[0].selectbox("Sex", [None, "F", "M", "X"], format_func=lambda v: vocab.SEX.get(v, "All"))
    clinician = c[1].selectbox("Clinician", [None, *fetch("roster.clinicians")], format_func=lambda v: v or "All")
    filters = {"route": route, "diagnosis": diagnosis, "age_band": age_band, "sex": sex, "clinician": clinician}
    if with_scale:
        filters["scale"] = c[2].selectbox("Scale", list(scales.DEPRESSION_SCALES),   # BDI-II: remission not defined
                                          format_func=lambda s: scales.SCALES[s].name)
        filters["analysis_set"] = c[3].selectbox(
            "Analysis set", ["itt", "completers"],
            format_func={"itt": "All treated", "completers": "Completers of induction"}.get,
            help="All treated: every treated patient; without a score at a timepoint, the last score is carried "
                 "forward (the baseline where there is none since). Completers: patients who completed the planned "
                 "induction, with the scores observed at each timepoint only.")
    if not isinstance(period, (tuple, list)) or len(period) != 2:
        st.info("Choose both ends of the date range.", icon=":material/date_range:")
        st.stop()
    filters["start"], filters["end"] = period
    if counts_only() and with_period:            # whole months: two periods a day apart are one period
        filters["start"], filters["end"] = outcomes.whole_months(*period, today_)
        if (filters["start"], filters["end"]) != tuple(period):
            st.caption(f"Counts and rates cover whole months: {filters['start']:%d %b %Y} to {filters['end']:%d %b %Y}.")
    return filters
