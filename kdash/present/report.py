"""The manager's report: one period's throughput, utilisation, waiting times, retention and outcomes against a
comparison period, as a Pack (so the PDF and PPTX are made by kdash.export, like a conference pack).

Built from the same functions as the Throughput and Outcomes pages (throughput.page_view, outcomes.summary and
outcomes.timepoints), so the report and the screen agree. Counts and rates only; a count of 1 to 4 patients is
shown as "<5" and any rate resting on it is left out (deid.MIN_CELL).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from kdash import scales, vocab
from kdash.clinical import checkin, deid, outcomes, throughput
from kdash.present.views import throughput as throughput_view
from kdash.present import charts
from kdash.store import db
from kdash.present.conference import Figure, Pack, Table, outcome_table, rate_cell, small_count

FOOTER = "Confidential · counts and rates only · cells under 5 patients suppressed"


def _fig(key: str, title: str, caption: str, fig) -> Figure:
    """A page's figure (or its dict) in the packs' larger type, like a conference pack's."""
    return Figure(key, title, caption, charts.for_presentation(fig))


def _pct(x) -> str:
    return "—" if x is None or pd.isna(x) else f"{100 * x:.1f} %"


def _change(now, before, points: bool = False, unit: str = "") -> str:
    if now is None or before is None or pd.isna(now) or pd.isna(before):
        return "—"
    if points:
        return f"{100 * (now - before):+.1f} pts"
    return f"{now - before:+,.0f}{unit}"


def manager_report(con: duckdb.DuckDBPyConnection, cfg: dict, start: dt.date, end: dt.date, grain: str,
                   compare_start: dt.date, compare_end: dt.date, period_name: str, compare_name: str,
                   route: str = "all", chair: str | None = None, clinician: str | None = None) -> Pack:
    filters = dict(start=start, end=end, grain=grain, route=route, chair=chair, clinician=clinician)
    view = throughput_view.page_view(con, cfg, **filters, compare_start=compare_start, compare_end=compare_end)
    scope = ", ".join(x for x in (vocab.ROUTES.get(route) if route != "all" else None,
                                  f"chair {chair}" if chair else None,
                                  f"patients of {clinician}" if clinician else None) if x) or "whole clinic"
    title = f"Clinic report: {period_name}, {start:%d %b %Y} to {end:%d %b %Y}"
    pack = Pack("report", title, [f"Scope: {scope}. Compared with {compare_name.lower()}: {compare_start:%d %b %Y} "
                                  f"to {compare_end:%d %b %Y}. Every figure is as the record stood at the end of its "
                                  "period, so this report remade later gives the same numbers."],
                synthetic=db.is_demo(con), footer=FOOTER)
    if view["periods"].empty:
        pack.refusal = "No sessions in this period for this scope."
        return pack
    now, before = view["totals"]["now"], view["totals"]["before"]
    pack.summary.append(
        f"{now['completed']:,} completed sessions ({_change(now['completed'], before['completed'])}); chair use "
        f"{_pct(now['actual_utilisation'])} actual, {_pct(now['scheduled_utilisation'])} booked; no-shows "
        f"{_pct(now['no_show_rate'])}; median referral to first treatment "
        + ("—" if now["median_days_to_treatment"] is None else f"{now['median_days_to_treatment']:.0f} days") + ".")
    pack.tables.append(Table("Headline figures", _headline_table(now, before)))
    own = checkin.self_report_counts(con, cfg, start, end, clinician)
    own_before = checkin.self_report_counts(con, cfg, compare_start, compare_end, clinician)
    pack.tables.append(Table("Self-reported scores (patient check-in)", vocab.readable(pd.DataFrame([
        {"measure": "Depression and anxiety scores sent by the patients themselves",
         "this_period": _share(*own), "comparison_period": _share(*own_before)}]))))

    figs = view["charts"]
    per_name = "week" if grain == "week" else "month"
    pack.figures += [
        _fig("bookings", f"Sessions per {per_name}", f"Bookings by status per {per_name}; a {per_name} cut by the "
             "start or end of the period counts its days inside the period only, hatched, and its rates are open "
             "markers off the line.", figs["bookings"]),
        _fig("utilisation", "Chair utilisation", "Booked chair-hours (each booking's slot) and completed chair-hours "
             "inside opening hours ÷ chairs × opening hours on open days (clinical reference §7); chair time after "
             "closing is in the headline table apart; infusion-centre medians 80 % and 70 %.", figs["utilisation"]),
        _fig("no_shows", "No-shows and late cancellations", "No-shows and cancellations under 24 h ÷ bookings that "
             "fell due.", figs["no_shows"]),
    ]
    if figs["lead_times"] and view["lead_times"]["patients"].min() >= deid.MIN_CELL:
        pack.figures.append(_fig("lead_times", "Waiting times", "Patients referred in the period: referral to "
                                 "consultation to first treatment, median and IQR.", figs["lead_times"]))
    stops = view["stops"]
    stops = stops[stops.groupby("route")["patients"].transform("sum") >= deid.MIN_CELL]
    if len(stops):
        pack.figures.append(_fig("retention", "Induction reach: how far induction got", "Share of the period's "
                                 "patients by the number of induction sessions they reached, against the plan; "
                                 f"routes with fewer than {deid.MIN_CELL} patients left out.",
                                 charts.induction_reach(stops)))
    else:       # the section is always there, and says why it is empty
        pack.summary.append(f"Induction reach (how far induction got): not shown, fewer than {deid.MIN_CELL} patients "
                            "began an induction on any route in this period.")
    pack.tables.append(Table(f"Sessions per {per_name}", _period_table(view["periods"])))
    waiting = view["waiting"]
    if len(waiting):
        pack.tables.append(Table("Waiting list now", vocab.readable(pd.DataFrame({
            "stage": waiting["stage"], "patients": [small_count(n) for n in waiting["patients"]],
            "median_days_waiting": [("—" if 0 < n < deid.MIN_CELL or pd.isna(d) else f"{d:.0f}")
                                    for n, d in zip(waiting["patients"], waiting["median_days_waiting"])]}))))
    _outcomes(con, cfg, pack, start, end, route, clinician)
    return pack


def _share(part: int, whole: int) -> str:
    """'120 of 300 (40%)'; under 5 self-reports (a handful of patients) shown as '<5', as patient counts are."""
    if 0 < part < deid.MIN_CELL:
        return f"<{deid.MIN_CELL} of {whole:,}"
    return f"{part:,} of {whole:,}" + (f" ({part / whole:.0%})" if whole else "")


def _headline_table(now: dict, before: dict) -> pd.DataFrame:
    rows = [("Completed sessions", f"{now['completed']:,}", f"{before['completed']:,}",
             _change(now["completed"], before["completed"])),
             ("Bookings", f"{now['bookings']:,}", f"{before['bookings']:,}", _change(now["bookings"], before["bookings"])),
             ("No-show rate", _pct(now["no_show_rate"]), _pct(before["no_show_rate"]),
              _change(now["no_show_rate"], before["no_show_rate"], points=True)),
             ("Late-cancellation rate", _pct(now["late_cancel_rate"]), _pct(before["late_cancel_rate"]),
              _change(now["late_cancel_rate"], before["late_cancel_rate"], points=True)),
             ("Chair use, actual", _pct(now["actual_utilisation"]), _pct(before["actual_utilisation"]),
              _change(now["actual_utilisation"], before["actual_utilisation"], points=True)),
             ("Chair use, booked", _pct(now["scheduled_utilisation"]), _pct(before["scheduled_utilisation"]),
              _change(now["scheduled_utilisation"], before["scheduled_utilisation"], points=True)),
             ("Chair-hours outside opening hours (not in chair use)", f"{now['out_of_hours_hours']:,.1f}",
              f"{before['out_of_hours_hours']:,.1f}",
              _change(now["out_of_hours_hours"], before["out_of_hours_hours"])),
             ("Referral → first treatment (median days)",
              *(("—" if x is None else f"{x:.0f}") for x in (now["median_days_to_treatment"],
                                                              before["median_days_to_treatment"])),
              _change(now["median_days_to_treatment"], before["median_days_to_treatment"], unit=" d"))]
    return vocab.readable(pd.DataFrame(rows, columns=["measure", "this_period", "comparison_period", "change"]))


def _period_table(per: pd.DataFrame) -> pd.DataFrame:
    return vocab.readable(pd.DataFrame({
        "period_from": [pd.Timestamp(p).strftime("%d %b %Y") for p in per["first_day"]],
        "period_to": [pd.Timestamp(p).strftime("%d %b %Y") for p in per["last_day"]],
        "whole_or_part": ["whole" if not p else f"part: {d} of {f} days"
                          for p, d, f in zip(per["partial"], per["days"], per["full_days"])],
        "open_days": per["open_days"], "completed": per["completed"], "no_show": per["no_show"],
        "no_show_rate": per["no_show_rate"].map(_pct), "actual_utilisation": per["actual_utilisation"].map(_pct),
        "scheduled_utilisation": per["scheduled_utilisation"].map(_pct)}))


def _outcomes(con, cfg: dict, pack: Pack, start: dt.date, end: dt.date, route: str, clinician: str | None) -> None:
    """Response and remission (§1 definitions) of the patients whose first session fell in the 12 months up to the
    period's end: a month's own starters are too few, and too early in their course, to say much."""
    scale = scales.SCALES[cfg["clinic"]["main_scale"]]
    since = throughput._shift_year(end) + dt.timedelta(days=1)
    as_of = end if end < dt.date.today() else None      # as the record stood at the period's end
    f = dict(scale=scale.code, route=route, analysis_set="itt", start=since, end=end, clinician=clinician, as_of=as_of)
    s = outcomes.summary(con, cfg, **f)
    if s["n_evaluable"] < deid.MIN_CELL:
        pack.summary.append(f"Outcomes: fewer than {deid.MIN_CELL} evaluable patients started in the 12 months "
                            "to the period's end, too few to report.")
        return
    pack.summary.append(
        f"Patients who started in the 12 months to {end:%d %b %Y} ({s['n_treated']:,} treated, {s['n_evaluable']:,} evaluable on "
        f"{scale.name}): response " + rate_cell(s["responders"], s["n_evaluable"], s["response_rate"],
                                               *(s["response_ci95"] or (None, None)))
        + (", remission " + rate_cell(s["remitters"], s["n_evaluable"], s["remission_rate"],
                                      *(s["remission_ci95"] or (None, None))) if s["remitters"] is not None else "")
        + " at the last observation.")
    points = outcomes.timepoints(con, cfg, **f)
    shown = deid.hide_small_rates(points)
    pack.figures.append(_fig("outcomes", "Response and remission by timepoint",
                             f"Patients first treated in the 12 months to the period's end; share of evaluable patients with 95 % Wilson "
                             f"intervals (all treated: last score, else baseline, carried forward). Bars resting on fewer than {deid.MIN_CELL} patients "
                             "are left out.", charts.timepoint_rates(shown, scale.name, "all treated")))
    pack.tables.append(Table("Outcomes by timepoint", outcome_table(points)))
    pack.summary.append(outcomes.set_caption("itt", points, count=small_count))
    curves = {r: c for r, c in outcomes.time_to_response(con, cfg, **f)["sessions"].items() if c["n"] >= deid.MIN_CELL}
    if curves:
        pack.figures.append(_fig("time_to_response", "Time to first response",
                                 "The same patients: cumulative incidence of response by route, stopping treatment "
                                 "without a response a competing event (dotted); courses still under way count up to "
                                 f"their last score; routes with fewer than {deid.MIN_CELL} patients left out.",
                                 charts.response_incidence(curves, "sessions")))
