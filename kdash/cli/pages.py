"""Every page's figures as JSON (issue 35): `throughput`, `side-effects`, `roster`, and `outcomes --timepoints` /
`--time-to-response`, each from the same function the page draws from, with the page's own filters and defaults, so
the numbers are the page's. Charts are left out (they are drawings of these numbers); tables come as lists of rows."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from kdash import scales, settings
from kdash.cli.common import ROUTES, UsageError, audit_cli_export, emit, iso_date
from kdash.store import db

CHART_KEYS = ("chart", "charts", "figure")


def plain(value):
    """A view's value as JSON: frames as lists of rows, dates as ISO text, NaN as null; charts dropped."""
    if isinstance(value, pd.DataFrame):
        return [plain(r) for r in value.to_dict("records")]
    if isinstance(value, pd.Series):
        return plain(value.to_dict())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()
                if not any(str(k).endswith(c) for c in CHART_KEYS)}
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT or (value is not None and not isinstance(value, (str, int, float, bool)) and pd.isna(value)):
        return None
    return value


def add_parsers(sub) -> None:
    from kdash.clinical import roster, throughput
    p = sub.add_parser("throughput", help="the Throughput page's figures (clinical reference §7)")
    p.add_argument("--db")
    p.add_argument("--period", default=next(iter(throughput.PRESETS)), choices=[*throughput.PRESETS],
                   help="as on the page (custom: give --start and --end)")
    p.add_argument("--start", type=iso_date)
    p.add_argument("--end", type=iso_date)
    p.add_argument("--compare", default=next(iter(throughput.COMPARISONS)), choices=[*throughput.COMPARISONS])
    p.add_argument("--grain", choices=[*throughput.GRAINS], help="default: the period's own")
    p.add_argument("--route", default="all", choices=("all", *ROUTES))
    p.add_argument("--chair")
    p.add_argument("--clinician")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("side-effects", help="the Side effects page's figures (clinical reference §6)")
    _cohort_args(p, with_scale=False)
    p = sub.add_parser("roster", help="the Patients page: one page of the roster with its filters")
    p.add_argument("--db")
    p.add_argument("--search")
    p.add_argument("--route", choices=ROUTES)
    p.add_argument("--phase", default=roster.ACTIVE, help=f"default {roster.ACTIVE}; 'all' for every patient")
    p.add_argument("--clinician")
    p.add_argument("--status", choices=roster.STATUSES)
    p.add_argument("--flag")
    p.add_argument("--course", choices=("not_on_track",))
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--json", action="store_true")


def _cohort_args(p, with_scale: bool = True) -> None:
    from kdash.clinical import outcomes
    p.add_argument("--db")
    p.add_argument("--start", type=iso_date, help="first session from (default: the page's, the last 24 months)")
    p.add_argument("--end", type=iso_date)
    p.add_argument("--route", default="all", choices=("all", *ROUTES))
    p.add_argument("--diagnosis", choices=("mdd", "bipolar_depression", "pdd", "other"))
    p.add_argument("--age-band", choices=outcomes.AGE_BANDS)
    p.add_argument("--sex", choices=("F", "M", "X"))
    p.add_argument("--clinician")
    if with_scale:
        p.add_argument("--scale", default="MADRS", choices=scales.DEPRESSION_SCALES)
        p.add_argument("--set", dest="analysis_set", default="itt", choices=["itt", "completers"])
    p.add_argument("--json", action="store_true")


def cohort(args, with_scale: bool = True) -> dict:
    """The cohort filters as the page's cohort_filters gives them (same keys and defaults)."""
    from kdash.clinical import outcomes
    start, end = outcomes.default_period(dt.date.today())
    f = {"route": args.route, "diagnosis": args.diagnosis, "age_band": args.age_band, "sex": args.sex,
         "clinician": args.clinician, "start": args.start or start, "end": args.end or end}
    if f["start"] > f["end"]:
        raise UsageError("the period starts after it ends")
    if with_scale:
        f.update(scale=args.scale, analysis_set=args.analysis_set)
    return f


def _open(args):
    path = settings.store_path(args.db)
    return path, settings.load(path), db.connect(path, read_only=True)


def cmd_throughput(args) -> int:
    from kdash.clinical import throughput
    from kdash.present.views import throughput as view
    today = dt.date.today()
    try:
        if args.period == "custom":
            if not (args.start and args.end):
                raise UsageError("throughput: --period custom needs --start and --end")
            throughput.check_range(args.start, args.end)
            start, end, grain = args.start, args.end, None
        else:
            start, end, grain = throughput.preset_period(args.period, today)
    except throughput.RangeError as exc:
        raise UsageError(f"throughput: {exc}") from None
    compare_start, compare_end = throughput.comparison_period(start, end, args.compare, args.period)
    f = dict(start=start, end=end, grain=args.grain or grain or "week", route=args.route, chair=args.chair,
             clinician=args.clinician)
    path, cfg, con = _open(args)
    try:
        v = view.page_view(con, cfg, **f, compare_start=compare_start, compare_end=compare_end)
    finally:
        con.close()
    doc = {"filters": plain({**f, "compare_start": compare_start, "compare_end": compare_end}), **plain(v)}
    emit(args, f"throughput: {start} to {end}, {len(v['periods'])} periods", doc)
    return 0


def cmd_side_effects(args) -> int:
    from kdash.present.views import side_effects as view
    f = cohort(args, with_scale=False)
    path, cfg, con = _open(args)
    try:
        v = view.page_view(con, cfg, **f)
    finally:
        con.close()
    emit(args, f"side-effects: {v['size']['patients']} patients", {"filters": plain(f), **plain(v)})
    return 0


def cmd_roster(args) -> int:
    from kdash.clinical import patient, roster
    if args.search and patient.id_problem(args.search.strip() or "x"):
        raise UsageError("roster: the search has characters an ID or name cannot have")
    if args.page < 1:
        raise UsageError("roster: --page is 1 or more")
    path, cfg, con = _open(args)
    filters = dict(search=args.search, route=args.route, phase=None if args.phase == "all" else args.phase,
                   clinician=args.clinician, status=args.status, flag=args.flag, course=args.course)
    try:
        rows = roster.page(con, cfg, dt.date.today(), page_no=args.page, **filters)
    finally:
        con.close()
    shown = roster.display(rows) if len(rows) else rows
    total = int(rows["total"].iloc[0]) if len(rows) else 0
    audit_cli_export(path, "export_roster", f"roster page {args.page}: {len(rows)} patients")
    emit(args, f"roster: {total} patients match, page {args.page} has {len(rows)}",
         {"filters": plain(filters), "total": total, "page": args.page, "patients": plain(shown)})
    return 0


def outcomes_views(args, path: str, cfg: dict, con) -> dict:
    """outcomes --timepoints / --time-to-response: the Outcomes page's tables for the cohort."""
    from kdash.present.views import outcomes as view
    f = cohort(args)
    v = view.page_view(con, cfg, **f)
    out = {"filters": plain(f)}
    if args.timepoints:
        out["timepoints"] = plain(v.get("points"))
    if args.time_to_response:
        out["time_to_response"] = plain(v.get("curves"))      # per unit (sessions, days) and route
        out["at_risk"] = plain(v.get("at_risk"))
    return out


COMMANDS = {"throughput": cmd_throughput, "side-effects": cmd_side_effects, "roster": cmd_roster}
