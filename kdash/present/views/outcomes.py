"""The Outcomes page's view: the cohort's figures (kdash.clinical.outcomes) and their charts, built once per set of filters."""

from __future__ import annotations

import duckdb

from kdash.clinical import deid
from kdash.clinical.outcomes import (
    MAX_K,
    at_risk_table,
    differencing,
    mean_by_session,
    params,
    remission_threshold,
    retention,
    set_caption,
    summary,
    time_to_response,
    timepoints,
    trajectories,
    waterfall,
)
from kdash.present import charts
from kdash.store import db


def page_view(con: duckdb.DuckDBPyConnection, cfg: dict, hide_small: bool = False, **filters) -> dict:
    """Everything the outcome page draws for one set of filters (numbers, tables and figures), built once
    so the page can cache it whole. hide_small (a manager's view): rates resting on fewer than 5 patients, retention
    steps and response-incidence routes of fewer than 5 are left out."""
    from kdash import scales
    # the cohort and its course outcomes are computed once, on one cursor, and read by every query below
    shared_params = {**params(cfg, **filters), "max_k": MAX_K}
    with db.Shared(con, shared_params, ["course_outcomes"]) as shared:
        summary_ = summary(shared, cfg, **filters)
        if summary_["n_treated"] == 0 or summary_["n_evaluable"] == 0:
            return {"summary": summary_}
        points, means, lines, fall, funnel, curves = (
            fn(shared, cfg, **filters)
            for fn in (timepoints, mean_by_session, trajectories, waterfall, retention, time_to_response))
    if hide_small:
        points = deid.hide_small_rates(points)
        funnel = funnel[~funnel["patients"].between(1, deid.MIN_CELL - 1)]
        curves = {unit: {r: c for r, c in by_route.items() if c["n"] >= deid.MIN_CELL} for unit, by_route in curves.items()}
        lines, fall = lines.iloc[0:0], fall.iloc[0:0]      # counts and rates only: no mark stands for one patient
        reason = differencing(con, cfg, **filters)
        if reason:
            return {"summary": {**summary_, **{k: None for k in summary_ if k not in
                                               ("scale", "route", "set", "n_treated")}}, "suppressed": reason}
    scale = scales.SCALES[filters.get("scale", "MADRS")]
    analysis_set = filters.get("analysis_set", "itt")
    set_name = {"itt": "all treated", "completers": "completers"}[analysis_set]   # the caption says how
    return {
        "summary": summary_, "set_name": set_name, "set_caption": set_caption(analysis_set, points),
        "points": points, "means": means, "funnel": funnel,
        "timepoint_chart": charts.timepoint_rates(points, scale.name, set_name).to_dict(),
        "trajectory_chart": charts.mean_trajectory(means, lines, scale, remission_threshold(cfg, scale.code)).to_dict(),
        "waterfall_chart": charts.waterfall(fall, scale.name, int(fall["n_evaluable"].iloc[0])).to_dict()
        if len(fall) else None,
        "funnel_chart": charts.retention_funnel(funnel).to_dict() if len(funnel) else None,
        "incidence_charts": {unit: charts.response_incidence(c, unit).to_dict() if c else None
                      for unit, c in curves.items()},
        "at_risk": {unit: at_risk_table(by_route, unit) for unit, by_route in curves.items()},
        "curves": curves,                   # the numbers behind the incidence charts (outcomes --time-to-response)
    }
