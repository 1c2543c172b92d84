"""The Throughput page's view: bookings, chairs and waiting (kdash.clinical.throughput) with their charts."""

from __future__ import annotations

import duckdb

from kdash.clinical import deid
from kdash.clinical.throughput import (
    chair_count,
    chair_time,
    headline,
    induction_stops,
    lead_times,
    monitoring,
    occupancy,
    offered_hours,
    params,
    periods,
    phases,
    previous_totals,
    waiting_list,
)
from kdash.present import charts
from kdash.store import db


def page_view(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> dict:
    """Everything the throughput page draws for one set of filters, built once so the page caches it whole
    (compare_start / compare_end: the period the headline figures are compared with)."""
    compare = {"compare_start": filters.pop("compare_start", None), "compare_end": filters.pop("compare_end", None)}
    per = periods(con, cfg, **filters)
    if per.empty:
        return {"periods": per}
    grain = filters.get("grain", "week")
    def before_(con_, cfg_, **f):
        return previous_totals(con_, cfg_, **compare, **f)

    before, occ, times, leads, waiting, ph, stops, checks = db.parallel(
        [before_, occupancy, chair_time, lead_times, waiting_list, phases, induction_stops, monitoring],
        con, cfg, filters)
    tot = {"now": headline(per, leads, offered_hours(con, cfg, params(cfg, **filters))),   # as totals(), fetched once
           "before": before}
    observe = cfg["safety"]["esketamine_observation_minutes"]
    return {
        "periods": per, "totals": tot, "occupancy": occ, "chair_time": times,
        "lead_times": leads, "waiting": waiting, "phases": ph, "stops": stops, "monitoring": checks,
        "charts": {
            "bookings": charts.bookings_by_period(per, grain).to_dict(),
            "no_shows": charts.rates_by_period(per, {"no_show_rate": ("No-shows", charts.VERMILLION),
                                                     "late_cancel_rate": ("Late cancellations", charts.ORANGE)},
                                               f"No-shows and late cancellations per {grain}",
                                               {0.05: "median no-shows 5 %"}, grain).to_dict(),
            "utilisation": charts.rates_by_period(per, {"scheduled_utilisation": ("Scheduled", charts.SKY),
                                                        "actual_utilisation": ("Actual", charts.BLUE)},
                                                  f"Chair utilisation per {grain}",
                                                  {0.8: "scheduled median 80 %", 0.7: "actual median 70 %"},
                                                  grain).to_dict(),
            "occupancy": charts.occupancy_heatmap(occ, chair_count(con, filters.get("chair"))).to_dict()
            if len(occ) else None,
            "chair_time": charts.chair_time_bars(times, observe).to_dict() if len(times) else None,
            # counts and rates only: a lead time or a route resting on fewer than 5 patients is left out
            "lead_times": charts.lead_time_bars(leads[leads["patients"] >= deid.MIN_CELL]).to_dict()
            if (leads["patients"] >= deid.MIN_CELL).any() else None,
            "phases": charts.phase_counts(ph, grain).to_dict(),
            "stops": charts.induction_reach(big).to_dict()
            if len(big := stops[stops.groupby("route")["patients"].transform("sum") >= deid.MIN_CELL]) else None,
        },
    }
