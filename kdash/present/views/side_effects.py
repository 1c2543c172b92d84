"""The Side effects page's view: rates and excursions (kdash.clinical.side_effects) with their charts."""

from __future__ import annotations

import duckdb

from kdash.clinical import deid
from kdash.clinical.side_effects import TRIAL_RATES, cohort_size, excursions, rates
from kdash.present import charts
from kdash.store import db


def page_view(con: duckdb.DuckDBPyConnection, cfg: dict, hide_small: bool = False, **filters) -> dict:
    """Everything the side-effect page draws for one set of filters, built once so the page caches it whole.
    hide_small (a manager's view): the figures leave out every rate resting on fewer than 5 patients."""
    size = cohort_size(con, cfg, **filters)
    if size["patients"] == 0:
        return {"size": size}
    all_rates, events = db.parallel([rates, excursions], con, cfg, filters)
    if hide_small:
        all_rates = all_rates[~all_rates["patients"].between(1, deid.MIN_CELL - 1)]
    overall = all_rates[all_rates["by"] == "all"]
    top = list(overall.sort_values("patients", ascending=False)["effect"].head(6))
    view = {"size": size, "overall": overall, "events": events}
    if overall.empty:
        return view
    return {**view,
            "frequency_chart": charts.effect_frequencies(overall, TRIAL_RATES).to_dict(),
            "route_chart": charts.grouped_rates(all_rates[all_rates["by"] == "route"], "per_patient",
                                                "Per patient, by route (top effects)", "Route", top).to_dict(),
            "dose_chart": charts.grouped_rates(all_rates[all_rates["by"] == "dose_band"], "per_session",
                                               "Per session, by dose (IV/SC in mg/kg; esketamine in mg)", "Dose",
                                               top).to_dict(),
            "session_chart": charts.by_session_number(all_rates[all_rates["by"] == "k"], top[:5]).to_dict(),
            "severity_chart": charts.severity_split(overall).to_dict()}
